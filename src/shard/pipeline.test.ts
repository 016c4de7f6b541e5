// Goal: the pipelined group commit (fsync=batch, option `pipelined`) keeps its promises. An answer (and the
// state a read sees) never precedes its batch's fdatasync; the next batch's fdatasync starts
// before the previous batch is answered (the overlap the pipeline is for); a failed
// fdatasync of batch k fails k and everything queued after it, applies nothing of them, and
// stops the shard; a crash at any point loses nothing that was answered. Method: a shard on
// a MemoryStorage whose background fdatasyncs (the thread-pool form) wait until the test
// releases or fails them, with every storage event and answer recorded in one ordered trace.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ResultCode } from "../engine/index.ts";
import { MemoryStorage, type OpenMode, type Storage, type StorageFile } from "../io/index.ts";
import { ErrorCode, isTxgridError, Prng } from "../stdx/index.ts";
import { Shard } from "./shard.ts";
import { account, transfer } from "./testing.ts";

interface HeldSync {
  readonly release: () => void;
  readonly fail: (error: Error) => void;
}

/** MemoryStorage whose background datasync() waits for the test; blocking calls pass. */
class GatedStorage implements Storage {
  readonly inner = new MemoryStorage();
  readonly trace: string[] = [];
  readonly held: HeldSync[] = [];
  #syncCount = 0;
  #writeCount = 0;

  mkdirp(dir: string): void {
    this.inner.mkdirp(dir);
  }
  list(dir: string): string[] {
    return this.inner.list(dir);
  }
  read(path: string): Uint8Array {
    return this.inner.read(path);
  }
  rename(pathSource: string, pathTarget: string): void {
    this.inner.rename(pathSource, pathTarget);
  }
  unlink(path: string): void {
    this.inner.unlink(path);
  }
  syncDir(dir: string): Promise<void> {
    return this.inner.syncDir(dir);
  }
  syncDirSync(dir: string): void {
    this.inner.syncDirSync(dir);
  }

  open(path: string, mode: OpenMode): StorageFile {
    const file = this.inner.open(path, mode);
    const trace = this.trace;
    const held = this.held;
    const storage = this;
    return {
      path: file.path,
      sizeBytes: () => file.sizeBytes(),
      write: (bytes, position) => file.write(bytes, position),
      writeSync(bytes, position) {
        storage.#writeCount++;
        trace.push(`write ${storage.#writeCount}`);
        file.writeSync(bytes, position);
      },
      datasync() {
        const number = ++storage.#syncCount;
        trace.push(`sync-start ${number}`);
        return new Promise<void>((resolve, reject) => {
          held.push({
            release: () => {
              trace.push(`sync-done ${number}`);
              file.datasyncSync();
              resolve();
            },
            fail: (error) => {
              trace.push(`sync-failed ${number}`);
              reject(error);
            },
          });
        });
      },
      datasyncSync() {
        const number = ++storage.#syncCount;
        trace.push(`sync-blocking ${number}`);
        file.datasyncSync();
      },
      truncate: (sizeBytes) => file.truncate(sizeBytes),
      close: () => file.close(),
    };
  }
}

/** Lets the event loop run a few turns (timers, I/O callbacks, immediates). */
async function turns(count = 5): Promise<void> {
  for (let index = 0; index < count; index++) {
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** Waits until the storage holds `count` background fdatasyncs. */
async function heldCount(storage: GatedStorage, count: number): Promise<void> {
  for (let turn = 0; turn < 1000 && storage.held.length < count; turn++) await turns(1);
  assert.equal(storage.held.length, count, "background fdatasyncs waiting");
}

test("fsync=batch: an answer never precedes its fdatasync; the next batch's fdatasync starts first", async () => {
  const storage = new GatedStorage();
  const shard = await Shard.open({ dir: "/data", storage, fsyncPolicy: "batch", pipelined: true });
  const { trace } = storage;
  // Batch 1 (two commands: the loaded, background form).
  const first = shard
    .submitMany([account("a", 1_000n), account("b", 0n)])
    .then(() => trace.push("answer 1"));
  await heldCount(storage, 1);
  // Batch 2's commands arrive while batch 1's fdatasync runs: they are read and queued.
  const second = Promise.all([1, 2, 3].map((n) => shard.submit(transfer(`t${n}`, 10n)))).then(
    (results) => {
      trace.push("answer 2");
      return results;
    },
  );
  await turns();
  assert.equal(shard.engine.lsn, 0, "nothing is applied (visible) before its fdatasync");
  assert.equal(shard.engine.account("a"), undefined);
  assert.ok(!trace.includes("answer 1"));
  (storage.held[0] as HeldSync).release();
  await heldCount(storage, 2);
  await first;
  // Batch 2 was cut, written and its fdatasync started before batch 1 was answered.
  assert.ok(trace.indexOf("sync-start 2") < trace.indexOf("answer 1"), trace.join(", "));
  assert.ok(trace.indexOf("sync-done 1") < trace.indexOf("answer 1"), trace.join(", "));
  await turns();
  assert.ok(!trace.includes("answer 2"), "batch 2 waits for its own fdatasync");
  assert.equal(shard.engine.lsn, 1, "batch 2 is not applied before its fdatasync");
  assert.equal(shard.lsnLogged, 2);
  assert.equal(shard.lsnDurable, 1);
  (storage.held[1] as HeldSync).release();
  const results = await second;
  assert.ok(results.every((result) => result.code === ResultCode.OK));
  assert.ok(trace.indexOf("sync-done 2") < trace.indexOf("answer 2"), trace.join(", "));
  assert.equal(shard.engine.lsn, 2);
  assert.equal(shard.engine.account("b")?.balance, 30n);
  const closing = shard.close();
  await closing;
});

test("fsync=batch: a failed fdatasync fails its batch and everything after it", async () => {
  const storage = new GatedStorage();
  const shard = await Shard.open({ dir: "/data", storage, fsyncPolicy: "batch", pipelined: true });
  await shard.submit(account("a", 1_000n)); // a batch of one: blocking fdatasync
  const failed = shard.submitMany([account("b", 0n), transfer("t1", 5n)]);
  await heldCount(storage, 1);
  const later = [2, 3, 4].map((n) => shard.submit(transfer(`t${n}`, 5n)));
  await turns();
  const writesBefore = storage.trace.filter((entry) => entry.startsWith("write")).length;
  (storage.held[0] as HeldSync).fail(new Error("EIO"));
  const isStorage = (error: unknown) => isTxgridError(error, ErrorCode.STORAGE);
  await assert.rejects(failed, isStorage);
  for (const submission of later) await assert.rejects(submission, isStorage);
  assert.equal(shard.engine.lsn, 1, "nothing of the failed batch or after it is applied");
  assert.equal(shard.engine.account("b"), undefined);
  assert.equal(
    storage.trace.filter((entry) => entry.startsWith("write")).length,
    writesBefore,
    "nothing after the failed batch was written",
  );
  assert.ok(shard.status().failed);
  await assert.rejects(shard.submit(transfer("t9", 1n)), isStorage);
  await shard.close();
});

test("fsync=batch: a crash at any point of the pipeline loses nothing that was answered", async () => {
  for (let seed = 1; seed <= 20; seed++) {
    const prng = new Prng(seed);
    const storage = new GatedStorage();
    const shard = await Shard.open({
      dir: "/data",
      storage,
      fsyncPolicy: "batch",
      pipelined: true,
    });
    const opening = shard.submitMany([account("a", 1_000_000n), account("b", 0n)]);
    await heldCount(storage, 1);
    (storage.held.shift() as HeldSync).release();
    await opening;
    const answered = new Set<string>();
    let next = 0;
    const rounds = 1 + prng.nextInt(12);
    for (let round = 0; round < rounds; round++) {
      const count = 1 + prng.nextInt(6);
      for (let index = 0; index < count; index++) {
        const id = `t${next++}`;
        shard.submit(transfer(id, 1n)).then(
          () => answered.add(id),
          () => {},
        );
      }
      await turns(2);
      // The last round's fdatasync (if any) stays in flight when the crash comes.
      if (round === rounds - 1) break;
      const waiting = storage.held.splice(0);
      for (const held of waiting) held.release();
      await turns(2);
    }
    // Crash with a background fdatasync possibly in flight: unsynced data is lost (a power
    // loss) or lost, torn or kept sector by sector.
    storage.inner.crash(seed % 2 === 0 ? "lose" : "random");
    const reopened = await Shard.open({
      dir: "/data",
      storage: storage.inner,
      fsyncPolicy: "batch",
    });
    assert.ok(answered.size > 0 || next === 0, `seed ${seed}: some transfers were answered`);
    for (const id of answered) {
      assert.ok(reopened.engine.transfer(id) !== undefined, `seed ${seed}: answered ${id} kept`);
    }
    assert.deepEqual(reopened.engine.checkInvariants(), [], `seed ${seed}`);
    await reopened.close();
  }
});

test("fsync=batch without the pipelined option: blocking fdatasync, one batch at a time", async () => {
  const storage = new GatedStorage();
  const shard = await Shard.open({ dir: "/data", storage, fsyncPolicy: "batch" });
  await shard.submitMany([account("a", 1_000n), account("b", 0n)]);
  await Promise.all([1, 2, 3].map((n) => shard.submit(transfer(`t${n}`, 10n))));
  assert.equal(storage.held.length, 0, "no background fdatasync");
  assert.ok(storage.trace.some((entry) => entry.startsWith("sync-blocking")));
  assert.equal(shard.engine.account("b")?.balance, 30n);
  await shard.close();
});
