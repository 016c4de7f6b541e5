// Goal: snapshots are atomic and self-checking. A written snapshot reads back byte for byte;
// the newest valid one wins and a damaged, truncated or misnamed newest one falls back to the
// previous; leftover .tmp files are ignored and cleaned; older snapshots beyond the previous
// one are deleted; a crash at any step of a write leaves the new or the previous snapshot,
// and the new one once the write returned. Method: MemoryStorage (crashes at every step) and
// NodeStorage in a temporary directory.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { type FaultKind, MemoryStorage, NodeStorage, type Storage } from "../io/index.ts";
import { checksum, ErrorCode, isTxgridError } from "../stdx/index.ts";
import { encodeHeader, SNAPSHOT_HEADER_BYTES, snapshotName, tmpName } from "./format.ts";
import { readLatestSnapshot, writeSnapshot } from "./index.ts";

const dir = "/data/snapshots";

const bodyFor = (lsn: number, length = 1000 + lsn * 17) =>
  Uint8Array.from({ length }, (_, index) => (index * 31 + lsn) & 0xff);

function memory(): MemoryStorage {
  const storage = new MemoryStorage({ seed: 3 });
  storage.mkdirp(dir);
  return storage;
}

async function put(storage: Storage, path: string, bytes: Uint8Array): Promise<void> {
  const file = storage.open(path, "create");
  await file.write(bytes, 0);
  await file.datasync();
  file.close();
}

async function replaceByte(storage: Storage, path: string, offset: number): Promise<void> {
  const file = storage.open(path, "write");
  const byte = storage.read(path)[offset] as number;
  await file.write(Uint8Array.of(byte ^ 0x10), offset);
  await file.datasync();
  file.close();
}

test("a snapshot reads back as written, on node:fs and in memory", async () => {
  const root = mkdtempSync(join(tmpdir(), "txgrid-snapshot-"));
  try {
    const node = new NodeStorage();
    node.mkdirp(join(root, "snapshots"));
    for (const [storage, where] of [
      [node, join(root, "snapshots")],
      [memory(), dir],
    ] as const) {
      assert.equal(readLatestSnapshot(storage, where), null);
      await writeSnapshot(storage, where, 0, new Uint8Array(0));
      assert.deepEqual(readLatestSnapshot(storage, where), { lsn: 0, body: new Uint8Array(0) });
      await writeSnapshot(storage, where, 12, bodyFor(12, 300_000));
      assert.deepEqual(readLatestSnapshot(storage, where), { lsn: 12, body: bodyFor(12, 300_000) });
      assert.deepEqual(storage.list(where), [snapshotName(0), snapshotName(12)]);
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("older snapshots beyond the previous one are deleted", async () => {
  const storage = memory();
  for (const lsn of [3, 9, 20, 21]) await writeSnapshot(storage, dir, lsn, bodyFor(lsn));
  assert.deepEqual(storage.list(dir), [snapshotName(20), snapshotName(21)]);
});

test("a damaged, truncated or misnamed newest snapshot falls back to the previous", async () => {
  const damages: ((storage: MemoryStorage) => Promise<void>)[] = [
    (storage) => replaceByte(storage, `${dir}/${snapshotName(9)}`, 3), // magic
    (storage) => replaceByte(storage, `${dir}/${snapshotName(9)}`, 17), // lsn
    (storage) => replaceByte(storage, `${dir}/${snapshotName(9)}`, SNAPSHOT_HEADER_BYTES + 500),
    async (storage) => {
      const file = storage.open(`${dir}/${snapshotName(9)}`, "write");
      file.truncate(SNAPSHOT_HEADER_BYTES + 10);
      file.datasyncSync();
      file.close();
    },
    async (storage) => {
      // A valid file under the wrong name.
      storage.unlink(`${dir}/${snapshotName(9)}`);
      const body = bodyFor(8);
      await put(storage, `${dir}/${snapshotName(9)}`, concat(encodeHeader(8, body), body));
    },
  ];
  for (const damage of damages) {
    const storage = memory();
    await writeSnapshot(storage, dir, 4, bodyFor(4));
    await writeSnapshot(storage, dir, 9, bodyFor(9));
    await damage(storage);
    assert.deepEqual(readLatestSnapshot(storage, dir), { lsn: 4, body: bodyFor(4) });
  }
  const storage = memory();
  await writeSnapshot(storage, dir, 4, bodyFor(4));
  await replaceByte(storage, `${dir}/${snapshotName(4)}`, 30);
  assert.equal(readLatestSnapshot(storage, dir), null, "no valid snapshot: none");
});

test("leftover .tmp files are ignored, and removed by the next write", async () => {
  const storage = memory();
  await writeSnapshot(storage, dir, 4, bodyFor(4));
  const body = bodyFor(50);
  await put(storage, `${dir}/${tmpName(50)}`, concat(encodeHeader(50, body), body));
  await put(storage, `${dir}/${tmpName(6)}`, new Uint8Array(7));
  assert.deepEqual(readLatestSnapshot(storage, dir), { lsn: 4, body: bodyFor(4) });
  await writeSnapshot(storage, dir, 6, bodyFor(6));
  assert.deepEqual(storage.list(dir), [snapshotName(4), snapshotName(6)]);
  assert.deepEqual(readLatestSnapshot(storage, dir), { lsn: 6, body: bodyFor(6) });
});

test("a snapshot with another format version: VERSION", async () => {
  const storage = memory();
  const body = bodyFor(5);
  const header = encodeHeader(5, body);
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  view.setUint32(8, 2, true);
  view.setUint32(12, checksum(header, 16, 40, checksum(header, 0, 12)), true);
  await put(storage, `${dir}/${snapshotName(5)}`, concat(header, body));
  assert.throws(
    () => readLatestSnapshot(storage, dir),
    (error) => isTxgridError(error, ErrorCode.VERSION),
  );
});

test("a crash at any step of a write leaves the new or the previous snapshot", async () => {
  const steps: FaultKind[] = ["open", "write", "datasync", "rename", "syncDir"];
  for (const step of steps) {
    for (const mode of ["random", "lose", "keep"] as const) {
      for (let seed = 1; seed <= 8; seed++) {
        const storage = new MemoryStorage({ seed });
        storage.mkdirp(dir);
        await writeSnapshot(storage, dir, 4, bodyFor(4));
        storage.crashNext(step, mode);
        await assert.rejects(writeSnapshot(storage, dir, 9, bodyFor(9)));
        const found = readLatestSnapshot(storage, dir);
        assert.ok(found !== null, `${step} ${mode} ${seed}`);
        assert.deepEqual(found.body, bodyFor(found.lsn));
      }
    }
  }
  for (let seed = 1; seed <= 20; seed++) {
    const storage = new MemoryStorage({ seed });
    storage.mkdirp(dir);
    await writeSnapshot(storage, dir, 4, bodyFor(4));
    await writeSnapshot(storage, dir, 9, bodyFor(9));
    storage.crash("random");
    assert.deepEqual(readLatestSnapshot(storage, dir), { lsn: 9, body: bodyFor(9) });
  }
});

test("concurrent writes to one directory are serialized", async () => {
  const storage = memory();
  await Promise.all([
    writeSnapshot(storage, dir, 7, bodyFor(7)),
    writeSnapshot(storage, dir, 7, bodyFor(7)),
    writeSnapshot(storage, dir, 8, bodyFor(8)),
  ]);
  assert.deepEqual(readLatestSnapshot(storage, dir), { lsn: 8, body: bodyFor(8) });
  assert.deepEqual(storage.list(dir), [snapshotName(7), snapshotName(8)]);
});

function concat(first: Uint8Array, second: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(first.length + second.length);
  bytes.set(first);
  bytes.set(second, first.length);
  return bytes;
}
