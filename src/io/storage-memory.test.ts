// Goal: MemoryStorage keeps the promises of its fault model, since the log's crash tests are
// only as good as it. Method: write, sync or not, crash in each mode, and check what is left:
// synced data and names always survive; "keep" keeps everything; "lose" loses everything
// unsynced; "random" never damages synced bytes; injected faults fail with STORAGE.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ErrorCode, isTxgridError } from "../stdx/index.ts";
import { MemoryStorage } from "./storage-memory.ts";

const bytesOf = (length: number, seed: number) =>
  Uint8Array.from({ length }, (_, index) => (index * 7 + seed) & 0xff);

async function fileWithSyncedPrefix(storage: MemoryStorage): Promise<void> {
  storage.mkdirp("/data/wal");
  const file = storage.open("/data/wal/a", "create");
  await file.write(bytesOf(1000, 1), 0);
  await file.datasync();
  await storage.syncDir("/data/wal");
  await file.write(bytesOf(3000, 2), 1000);
  file.close();
}

test("synced data and names survive every crash mode; unsynced data per mode", async () => {
  for (const mode of ["keep", "lose", "random"] as const) {
    const storage = new MemoryStorage({ seed: 7 });
    await fileWithSyncedPrefix(storage);
    storage.crash(mode);
    const read = storage.read("/data/wal/a");
    assert.deepEqual(read.subarray(0, 1000), bytesOf(1000, 1), `synced prefix (${mode})`);
    if (mode === "keep") assert.deepEqual(read.subarray(1000), bytesOf(3000, 2));
    if (mode === "lose") assert.equal(read.length, 1000);
    assert.ok(read.length <= 4000);
  }
});

test("random crashes tear unsynced writes by sector, sometimes keeping later sectors", async () => {
  const expected = bytesOf(3000, 2); // written at offset 1000, unsynced
  const sectorState = (read: Uint8Array, start: number) => {
    const sector = read.subarray(start, start + 512);
    if (sector.every((byte, index) => byte === expected[start - 1000 + index])) return "kept";
    return sector.every((byte) => byte === 0) ? "lost" : "other";
  };
  let holes = 0;
  for (let seed = 1; seed <= 40; seed++) {
    const storage = new MemoryStorage({ seed });
    await fileWithSyncedPrefix(storage);
    storage.crash("random");
    const read = storage.read("/data/wal/a");
    const states = [1024, 1536, 2048, 2560, 3072, 3584].map((start) => sectorState(read, start));
    const firstLost = states.indexOf("lost");
    if (firstLost !== -1 && states.lastIndexOf("kept") > firstLost) holes++;
  }
  assert.ok(holes > 0, "some crash kept a later sector while losing an earlier one");
});

test("unsynced names: create, rename and unlink are undone by a crash without syncDir", async () => {
  const storage = new MemoryStorage({ seed: 3 });
  storage.mkdirp("/d");
  const file = storage.open("/d/x.tmp", "create");
  await file.write(bytesOf(10, 0), 0);
  await file.datasync();
  file.close();
  storage.rename("/d/x.tmp", "/d/x");
  storage.crash("lose");
  assert.deepEqual(storage.list("/d"), [], "the unsynced create is lost with its rename");

  const again = storage.open("/d/x.tmp", "create");
  await again.write(bytesOf(10, 0), 0);
  await again.datasync();
  again.close();
  await storage.syncDir("/d");
  storage.rename("/d/x.tmp", "/d/x");
  storage.crash("lose");
  assert.deepEqual(storage.list("/d"), ["x.tmp"], "a rename without syncDir is lost");
  storage.rename("/d/x.tmp", "/d/x");
  await storage.syncDir("/d");
  storage.unlink("/d/x");
  storage.crash("keep");
  assert.deepEqual(storage.list("/d"), [], "crash(keep) keeps the unsynced unlink");
  assert.deepEqual(storage.list("/"), ["d"]);
});

test("random crashes keep a prefix of the unsynced directory operations", () => {
  for (let seed = 1; seed <= 30; seed++) {
    const storage = new MemoryStorage({ seed });
    storage.mkdirp("/d");
    for (const name of ["a", "b", "c", "d"]) storage.open(`/d/${name}`, "create").close();
    storage.crash("random");
    const names = storage.list("/d");
    assert.deepEqual(names, ["a", "b", "c", "d"].slice(0, names.length));
  }
});

test("handles from before a crash fail with STORAGE; injected faults fail once", async () => {
  const storage = new MemoryStorage();
  storage.mkdirp("/d");
  const file = storage.open("/d/f", "create");
  storage.crash("keep");
  await assert.rejects(file.write(bytesOf(1, 0), 0), (error) =>
    isTxgridError(error, ErrorCode.STORAGE),
  );
  const fresh = storage.open("/d/f", "write");
  storage.failNext("datasync");
  await fresh.write(bytesOf(4, 0), 0);
  await assert.rejects(fresh.datasync(), (error) => isTxgridError(error, ErrorCode.STORAGE));
  await fresh.datasync();
  assert.throws(
    () => storage.open("/d/f", "create"),
    (error) => isTxgridError(error, ErrorCode.STORAGE),
  );
  assert.throws(
    () => storage.read("/d/missing"),
    (error) => isTxgridError(error, ErrorCode.STORAGE),
  );
});

test("truncate is unsynced until datasync", async () => {
  const storage = new MemoryStorage();
  storage.mkdirp("/d");
  const file = storage.open("/d/f", "create");
  await file.write(bytesOf(100, 0), 0);
  await file.datasync();
  await storage.syncDir("/d");
  file.truncate(10);
  assert.equal(file.sizeBytes(), 10);
  storage.crash("lose");
  assert.equal(storage.read("/d/f").length, 100);
  const reopened = storage.open("/d/f", "write");
  reopened.truncate(10);
  reopened.datasyncSync();
  storage.crash("lose");
  assert.equal(storage.read("/d/f").length, 10);
});
