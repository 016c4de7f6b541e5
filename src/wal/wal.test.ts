// Goal: the log's contract in normal operation. Records of any size round-trip through
// segments and reopen; a flush is one write and one fdatasync; lsnDurable moves only after
// fdatasync; appends during a flush wait for the next; writeNow writes at once unless a new
// segment is due; limits and storage failures give
// their TxgridError codes; old segments are removed only when whole and durable; a log that
// ends before the snapshot continues after it. Method: MemoryStorage for most cases (fast,
// crashable), NodeStorage in a temporary directory for the round trip.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { WAL_RECORD_BYTES_MAX } from "../constants.ts";
import { MemoryStorage, NodeStorage, type Storage } from "../io/index.ts";
import { ErrorCode, isTxgridError } from "../stdx/index.ts";
import { openWal } from "./index.ts";
import {
  appendThrough,
  CountingStorage,
  firstMismatch,
  payloadFor,
  range,
  reopen,
} from "./testing.ts";

const dir = "/data/wal";
const segmentBytesMax = 2048;

function memory(): MemoryStorage {
  const storage = new MemoryStorage({ seed: 11 });
  storage.mkdirp(dir);
  return storage;
}

async function roundTrip(storage: Storage, walDir: string): Promise<void> {
  const first = reopen(storage, walDir, 0, segmentBytesMax);
  assert.deepEqual(first.lsns, []);
  // Mixed batching: 1 to 4 appends per flush, alternating sync and lazy flushes.
  for (let lsn = 1; lsn <= 120; ) {
    const count = 1 + (lsn % 4);
    for (let index = 0; index < count; index++) first.wal.append(payloadFor(lsn++));
    await first.wal.flush(lsn % 3 !== 0);
  }
  await first.wal.close();
  const second = reopen(storage, walDir, 0, segmentBytesMax);
  assert.deepEqual(second.lsns, range(1, second.wal.lsnLast));
  assert.ok(second.wal.lsnLast >= 120);
  assert.equal(firstMismatch(second), null);
  const segments = storage.list(walDir);
  assert.ok(segments.length > 10, `${segments.length} segments`);
  for (const name of segments) {
    const bytes = storage.read(join(walDir, name)).length;
    assert.ok(bytes <= segmentBytesMax || bytes > 3000, `${name}: ${bytes} bytes`);
  }
  await appendThrough(second.wal, second.wal.lsnLast + 5, true);
  await second.wal.close();
  const third = reopen(storage, walDir, 0, segmentBytesMax);
  assert.equal(third.lsns.length, second.lsns.length + 5);
  await third.wal.close();
}

test("records of varied sizes round-trip across segment rollovers (memory)", async () => {
  await roundTrip(memory(), dir);
});

test("records of varied sizes round-trip across segment rollovers (node:fs)", async () => {
  const root = mkdtempSync(join(tmpdir(), "txgrid-wal-"));
  try {
    const storage = new NodeStorage();
    storage.mkdirp(join(root, "wal"));
    await roundTrip(storage, join(root, "wal"));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("a flush is one write and one fdatasync, however many records it carries", async () => {
  const storage = new CountingStorage(memory());
  const { wal } = reopen(storage, dir);
  wal.append(payloadFor(1));
  await wal.flush(true); // creates the first segment
  const writesBefore = storage.writeCount;
  const syncsBefore = storage.datasyncCount;
  for (const lsn of range(2, 40)) assert.equal(wal.append(payloadFor(lsn)), lsn);
  await wal.flush(true);
  assert.equal(storage.writeCount - writesBefore, 1);
  assert.equal(storage.datasyncCount - syncsBefore, 1);
  assert.equal(wal.lsnDurable, 40);
  await wal.flush(true);
  assert.equal(storage.datasyncCount - syncsBefore, 1, "nothing to sync, no fdatasync");
  await wal.close();
});

test("lsnDurable advances only after fdatasync, and that is what survives a power loss", async () => {
  const storage = memory();
  const { wal } = reopen(storage, dir);
  await appendThrough(wal, 3, true);
  assert.equal(wal.lsnDurable, 3);
  await appendThrough(wal, 6, false);
  assert.equal(wal.lsnLast, 6);
  assert.equal(wal.lsnDurable, 3);
  storage.crash("lose");
  const afterLoss = reopen(storage, dir);
  assert.deepEqual(afterLoss.lsns, [1, 2, 3]);
  await appendThrough(afterLoss.wal, 6, false);
  await afterLoss.wal.flush(true);
  assert.equal(afterLoss.wal.lsnDurable, 6);
  storage.crash("lose");
  assert.deepEqual(reopen(storage, dir).lsns, range(1, 6));
});

test("appends made while a flush runs wait for the next flush", async () => {
  const storage = memory();
  const { wal } = reopen(storage, dir);
  wal.append(payloadFor(1));
  const flushing = wal.flush(true);
  assert.equal(wal.append(payloadFor(2)), 2);
  await flushing;
  assert.equal(wal.lsnDurable, 1);
  await wal.flush(true);
  assert.equal(wal.lsnDurable, 2);
  await wal.close();
  const reopened = reopen(storage, dir);
  assert.deepEqual(reopened.payloads, [payloadFor(1), payloadFor(2)]);
});

test("writeNow writes what is pending at once, no fdatasync; not when a segment is due", async () => {
  const inner = memory();
  const storage = new CountingStorage(inner);
  const { wal } = reopen(storage, dir, 0, segmentBytesMax);
  wal.append(payloadFor(1));
  assert.equal(wal.writeNow(), false, "the first record creates a segment: only flush can");
  assert.equal(storage.writeCount, 0);
  await wal.flush(false);
  const writesBefore = storage.writeCount;
  for (const lsn of range(2, 4)) wal.append(payloadFor(lsn));
  assert.equal(wal.writeNow(), true);
  assert.equal(storage.writeCount - writesBefore, 1, "one write for the records pending");
  assert.equal(storage.datasyncCount, 0);
  assert.equal(wal.lsnDurable, 0);
  assert.equal(wal.writeNow(), true, "nothing pending: nothing to do");
  assert.equal(storage.writeCount - writesBefore, 1);
  // Records written so survive a process crash, as after flush(false).
  inner.crash("keep");
  const reopened = reopen(inner, dir, 0, segmentBytesMax);
  assert.deepEqual(reopened.lsns, range(1, 4));
  // Up to a rollover: writeNow refuses and leaves everything to flush.
  let lsn = reopened.wal.lsnLast;
  while (reopened.wal.writeNow()) reopened.wal.append(payloadFor(++lsn));
  await reopened.wal.flush(true);
  await reopened.wal.close();
  assert.deepEqual(reopen(inner, dir, 0, segmentBytesMax).lsns, range(1, lsn));
});

test("a failed writeNow throws STORAGE; the log refuses more", async () => {
  const storage = memory();
  const { wal } = reopen(storage, dir);
  await appendThrough(wal, 2, true);
  storage.failNext("write");
  wal.append(payloadFor(3));
  assert.throws(
    () => wal.writeNow(),
    (error) => isTxgridError(error, ErrorCode.STORAGE),
  );
  assert.throws(
    () => wal.append(payloadFor(4)),
    (error) => isTxgridError(error, ErrorCode.STORAGE),
  );
  await wal.close();
  storage.crash("lose");
  assert.deepEqual(reopen(storage, dir).lsns, [1, 2]);
});

test("a record over WAL_RECORD_BYTES_MAX fails with LIMIT_EXCEEDED and changes nothing", async () => {
  const { wal } = reopen(memory(), dir);
  assert.throws(
    () => wal.append(new Uint8Array(WAL_RECORD_BYTES_MAX + 1)),
    (error) => isTxgridError(error, ErrorCode.LIMIT_EXCEEDED),
  );
  assert.equal(wal.lsnLast, 0);
  assert.equal(wal.append(payloadFor(1)), 1);
  await wal.close();
});

test("a failed write or fdatasync fails the flush with STORAGE; the log refuses more", async () => {
  for (const kind of ["write", "datasync"] as const) {
    const storage = memory();
    const { wal } = reopen(storage, dir);
    await appendThrough(wal, 2, true);
    storage.failNext(kind);
    wal.append(payloadFor(3));
    await assert.rejects(wal.flush(true), (error) => isTxgridError(error, ErrorCode.STORAGE));
    assert.equal(wal.lsnDurable, 2);
    assert.throws(
      () => wal.append(payloadFor(4)),
      (error) => isTxgridError(error, ErrorCode.STORAGE),
    );
    await assert.rejects(wal.flush(true), (error) => isTxgridError(error, ErrorCode.STORAGE));
    await wal.close();
    storage.crash("lose");
    assert.deepEqual(reopen(storage, dir).lsns, [1, 2]);
  }
});

test("removeSegmentsThrough deletes whole durable segments, never the newest", async () => {
  const storage = memory();
  const { wal } = reopen(storage, dir, 0, segmentBytesMax);
  await appendThrough(wal, 60, true);
  const before = storage.list(dir);
  const firsts = before.map((name) => Number(name.slice(0, 16)));
  const lsnCut = (firsts[3] as number) + 1; // inside the fourth segment
  wal.removeSegmentsThrough(lsnCut);
  assert.deepEqual(storage.list(dir), before.slice(3), "segments 1-3 end before lsnCut");
  wal.removeSegmentsThrough(1e9);
  assert.deepEqual(storage.list(dir), before.slice(-1), "the newest segment stays");
  await appendThrough(wal, 61, true);
  await wal.close();
  const fromSnapshot = reopen(storage, dir, 60, segmentBytesMax);
  assert.deepEqual(fromSnapshot.lsns, [61]);
  await fromSnapshot.wal.close();
  assert.throws(
    () => reopen(storage, dir, lsnCut, segmentBytesMax),
    (error) => isTxgridError(error, ErrorCode.CORRUPT) && /missing/.test(error.message),
  );
});

test("under lazy flushes, a segment is still synced before the next one is created", async () => {
  const storage = memory();
  const { wal } = reopen(storage, dir, 0, 256);
  await appendThrough(wal, 8, false);
  const segmentCount = storage.list(dir).length;
  assert.ok(segmentCount > 2);
  assert.ok(wal.lsnDurable > 0 && wal.lsnDurable < 8, `lsnDurable ${wal.lsnDurable}`);
  storage.crash("lose");
  const reopened = reopen(storage, dir, 0, 256);
  assert.equal(storage.list(dir).length, segmentCount - 1, "only the newest segment was lost");
  assert.ok(reopened.lsns.length >= wal.lsnDurable);
  await reopened.wal.close();
});

test("an empty directory is a fresh log; after a snapshot it continues at lsnAfter + 1", async () => {
  const storage = memory();
  const fresh = reopen(storage, dir, 41);
  assert.equal(fresh.wal.lsnLast, 41);
  assert.equal(fresh.wal.append(payloadFor(42)), 42);
  await fresh.wal.close();
  assert.deepEqual(storage.list(dir), ["0000000000000042.wal"]);
  assert.deepEqual(reopen(storage, dir, 41).lsns, [42]);
});

test("a log that ends before the snapshot continues after it, in a new segment", async () => {
  const storage = memory();
  const { wal } = reopen(storage, dir);
  await appendThrough(wal, 5, true);
  await wal.close();
  // A lazy shard can snapshot state (lsn 9) whose last records never reached the disk.
  const ahead = reopen(storage, dir, 9);
  assert.deepEqual(ahead.lsns, []);
  assert.equal(ahead.wal.lsnLast, 9);
  assert.equal(ahead.wal.append(payloadFor(10)), 10);
  await ahead.wal.close();
  assert.deepEqual(storage.list(dir), ["0000000000000001.wal", "0000000000000010.wal"]);
  assert.deepEqual(reopen(storage, dir, 9).lsns, [10]);
  // Falling back to an older state (lsn 3) needs records 6..9, which are gone.
  assert.throws(
    () => reopen(storage, dir, 3),
    (error) => isTxgridError(error, ErrorCode.CORRUPT) && /gap/.test(error.message),
  );
});

test("openWal replays only records after lsnAfter, in order", async () => {
  const storage = memory();
  const { wal } = reopen(storage, dir, 0, segmentBytesMax);
  await appendThrough(wal, 30, true);
  await wal.close();
  const seen: number[] = [];
  const { wal: reopened, replay } = openWal(
    { storage, dir, segmentBytesMax },
    17,
    (lsn, payload) => {
      assert.deepEqual(payload, payloadFor(lsn));
      seen.push(lsn);
    },
  );
  assert.deepEqual(seen, range(18, 30));
  assert.deepEqual(replay, { recordCount: 13, truncatedBytes: 0 });
  assert.equal(reopened.lsnLast, 30);
  assert.equal(reopened.lsnDurable, 30);
  await reopened.close();
});
