// Goal: recovery keeps every record that was durable before the damage, never applies a
// damaged one, cuts a torn tail so that appending continues with the right lsn, and refuses
// to start (CORRUPT) when synced data was damaged or records are missing; the writer's
// zero-filled space after the records is the end of the log, kept as it is. Method: write a
// log, then truncate it at every byte offset of its last records, zero it from every such
// offset on (a torn write into zero-filled space), and separately flip every byte there and
// bytes of the zeros, on a real file system (NodeStorage in a temporary directory); the same
// for a lazily written tail, segment headers and several segments on MemoryStorage; and
// random damage to a log must only ever give a clean recovery or a CORRUPT/VERSION error.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import fc from "fast-check";
import { MemoryStorage, NodeStorage, type Storage } from "../io/index.ts";
import { checksum, ErrorCode, isTxgridError } from "../stdx/index.ts";
import { frameBytes, segmentName, WAL_SEGMENT_HEADER_BYTES } from "./format.ts";
import { appendThrough, firstMismatch, payloadFor, range, reopen } from "./testing.ts";

const isCorrupt = (error: unknown) => isTxgridError(error, ErrorCode.CORRUPT);
const seed = Number(process.env.SEED ?? Date.now() % 2 ** 31);

/** End offset of each record's frame in a single-segment log: ends[lsn]; ends[0] = header. */
function frameEnds(lsnLast: number): number[] {
  const ends = [WAL_SEGMENT_HEADER_BYTES];
  for (const lsn of range(1, lsnLast)) {
    ends.push((ends[lsn - 1] as number) + frameBytes(payloadFor(lsn).length));
  }
  return ends;
}

/** Records 1..count whose frames end at or before `offset`. */
const completeBefore = (ends: number[], offset: number) =>
  ends.filter((end, lsn) => lsn > 0 && end <= offset).length;

/** After a cut, appending continues at the right lsn and survives another reopen. */
async function checkContinues(storage: Storage, dir: string, lsnLast: number): Promise<void> {
  const opened = reopen(storage, dir);
  assert.deepEqual(opened.lsns, range(1, lsnLast));
  assert.equal(opened.wal.append(payloadFor(lsnLast + 1, 9)), lsnLast + 1);
  await opened.wal.close();
  const again = reopen(storage, dir);
  assert.deepEqual(again.lsns, range(1, lsnLast + 1));
  assert.deepEqual(again.payloads[lsnLast], payloadFor(lsnLast + 1, 9));
  await again.wal.close();
}

async function withTempLog(
  lsnLast: number,
  body: (storage: Storage, dir: string, path: string) => Promise<void>,
) {
  const root = mkdtempSync(join(tmpdir(), "txgrid-recovery-"));
  try {
    const storage = new NodeStorage();
    const dir = join(root, "wal");
    storage.mkdirp(dir);
    const { wal } = reopen(storage, dir);
    await appendThrough(wal, lsnLast, true);
    await wal.close();
    await body(storage, dir, join(dir, segmentName(1)));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** Offsets from `from` to the records' end one by one, then a few in the zeros after them. */
function offsetsFrom(from: number, recordsEnd: number, fileBytes: number): number[] {
  const offsets = range(from, recordsEnd + 16);
  offsets.push(recordsEnd + 4096, fileBytes - 1);
  return offsets.filter((offset) => offset < fileBytes);
}

/** The log file as withTempLog wrote it: the records, then only zeros to its end. */
function zeroFilledFile(path: string, recordsEnd: number): Buffer {
  const original = readFileSync(path);
  assert.ok(original.length > recordsEnd, "zero-filled space follows the records");
  assert.ok(original.subarray(recordsEnd).every((byte) => byte === 0));
  return original;
}

test("a tail cut at every byte offset keeps the complete records and continues", async () => {
  await withTempLog(6, async (storage, dir, path) => {
    const ends = frameEnds(6);
    const recordsEnd = ends[6] as number;
    const original = zeroFilledFile(path, recordsEnd);
    for (const cut of offsetsFrom(ends[3] as number, recordsEnd, original.length)) {
      writeFileSync(path, original.subarray(0, cut));
      const complete = completeBefore(ends, cut);
      const { wal, replay } = reopen(storage, dir);
      assert.equal(replay.recordCount, complete, `cut at ${cut}`);
      // Whatever follows the last complete record is cut, unless it is only zeros.
      const zerosOnly = cut >= recordsEnd;
      assert.equal(replay.truncatedBytes, zerosOnly ? 0 : cut - (ends[complete] as number));
      await wal.close();
      await checkContinues(storage, dir, complete);
    }
  });
});

test("a tail zeroed from every byte offset on (torn into zero-filled space) is cut there", async () => {
  await withTempLog(6, async (storage, dir, path) => {
    const ends = frameEnds(6);
    const recordsEnd = ends[6] as number;
    const original = zeroFilledFile(path, recordsEnd);
    for (let from = ends[3] as number; from <= recordsEnd; from++) {
      const torn = Buffer.from(original);
      torn.fill(0, from, recordsEnd);
      writeFileSync(path, torn);
      // Zeroing bytes that were zeros (padding, payload) changes nothing: the tear is at the
      // first byte it changed.
      let changed = from;
      while (changed < recordsEnd && original[changed] === 0) changed++;
      const complete = completeBefore(ends, changed);
      const { wal, replay } = reopen(storage, dir);
      assert.equal(replay.recordCount, complete, `zeroed from ${from}`);
      // At a frame boundary only zeros follow: the end of the log, kept. Inside a frame its
      // first bytes are damage: the file is cut after the last complete record.
      const atBoundary = ends[complete] === changed;
      const expected = atBoundary ? 0 : original.length - (ends[complete] as number);
      assert.equal(replay.truncatedBytes, expected, `zeroed from ${from}`);
      await wal.close();
      await checkContinues(storage, dir, complete);
    }
  });
});

test("a flipped byte in the last record cuts it; in an earlier synced record: CORRUPT", async () => {
  await withTempLog(6, async (storage, dir, path) => {
    const ends = frameEnds(6);
    const recordsEnd = ends[6] as number;
    const original = zeroFilledFile(path, recordsEnd);
    for (const offset of offsetsFrom(ends[3] as number, recordsEnd, original.length)) {
      const damaged = Buffer.from(original);
      damaged[offset] = (damaged[offset] as number) ^ 0x5a;
      writeFileSync(path, damaged);
      const lsnDamaged = completeBefore(ends, offset) + 1;
      if (lsnDamaged < 6) {
        assert.throws(() => reopen(storage, dir), isCorrupt, `flip at ${offset}`);
        assert.deepEqual(readFileSync(path), damaged, "a refused log is left as it was");
        continue;
      }
      // Damage in the last record, or garbage in the zeros after it: cut there.
      const complete = lsnDamaged - 1;
      const { wal, replay } = reopen(storage, dir);
      assert.equal(replay.recordCount, complete, `flip at ${offset}`);
      assert.equal(replay.truncatedBytes, original.length - (ends[complete] as number));
      await wal.close();
      await checkContinues(storage, dir, complete);
    }
  });
});

/** A MemoryStorage log: records 1..synced flushed with fdatasync, the rest without. */
async function memoryLog(synced: number, lsnLast: number, segmentBytesMax?: number) {
  const storage = new MemoryStorage({ seed: 5 });
  storage.mkdirp("/wal");
  const { wal } = reopen(storage, "/wal", 0, segmentBytesMax);
  await appendThrough(wal, synced, true);
  await appendThrough(wal, lsnLast, false);
  return { storage, wal };
}

/** Writes a new file durably, name included. */
async function put(storage: MemoryStorage, path: string, bytes: Uint8Array) {
  const file = storage.open(path, "create");
  await file.write(bytes, 0);
  file.datasyncSync();
  file.close();
  storage.syncDirSync("/wal");
}

async function overwrite(storage: Storage, path: string, offset: number, bytes: Uint8Array) {
  const file = storage.open(path, "write");
  await file.write(bytes, offset);
  file.datasyncSync();
  file.close();
}

test("a flipped byte in a lazily written tail cuts there, even with intact records after", async () => {
  const ends = frameEnds(6);
  const path = `/wal/${segmentName(1)}`;
  for (let offset = ends[2] as number; offset < (ends[6] as number); offset++) {
    const built = await memoryLog(3, 6);
    const byte = built.storage.read(path)[offset] as number;
    await overwrite(built.storage, path, offset, Uint8Array.of(byte ^ 0x5a));
    const lsnDamaged = completeBefore(ends, offset) + 1;
    if (lsnDamaged <= 3) {
      // Record 4 was encoded after record 3 had been synced, and says so.
      assert.throws(() => reopen(built.storage, "/wal"), isCorrupt, `flip at ${offset}`);
      continue;
    }
    const { lsns } = reopen(built.storage, "/wal");
    assert.deepEqual(lsns, range(1, lsnDamaged - 1), `flip at ${offset}`);
  }
});

test("a torn header of the newest segment (crash after rollover) removes that segment", async () => {
  const built = await memoryLog(5, 5, 256); // record 5 alone in the newest segment
  const path = `/wal/${segmentName(5)}`;
  const original = built.storage.read(path);
  const recordEnd = WAL_SEGMENT_HEADER_BYTES + frameBytes(payloadFor(5).length);
  assert.ok(original.length > recordEnd, "zero-filled space follows the record");
  for (let cut = 0; cut < recordEnd; cut++) {
    const storage = new MemoryStorage();
    storage.mkdirp("/wal");
    for (const name of built.storage.list("/wal")) {
      const bytes = built.storage.read(`/wal/${name}`);
      await put(storage, `/wal/${name}`, name === segmentName(5) ? bytes.subarray(0, cut) : bytes);
    }
    const { wal, lsns, replay } = reopen(storage, "/wal", 0, 256);
    assert.deepEqual(lsns, [1, 2, 3, 4], `cut at ${cut}`);
    assert.equal(replay.truncatedBytes, cut < WAL_SEGMENT_HEADER_BYTES ? cut : cut - 24);
    const segmentCount = built.storage.list("/wal").length;
    const expectedCount = cut < WAL_SEGMENT_HEADER_BYTES ? segmentCount - 1 : segmentCount;
    assert.equal(storage.list("/wal").length, expectedCount);
    assert.equal(wal.append(payloadFor(5, 3)), 5);
    await wal.close();
    assert.deepEqual(reopen(storage, "/wal", 0, 256).payloads[4], payloadFor(5, 3));
  }
});

test("a damaged header of a segment with synced records: CORRUPT, not a deleted segment", async () => {
  const built = await memoryLog(6, 6);
  const path = `/wal/${segmentName(1)}`;
  for (let offset = 0; offset < WAL_SEGMENT_HEADER_BYTES; offset++) {
    const storage = new MemoryStorage();
    storage.mkdirp("/wal");
    const bytes = built.storage.read(path);
    bytes[offset] = (bytes[offset] as number) ^ 0x01;
    await put(storage, path, bytes);
    assert.throws(() => reopen(storage, "/wal"), isCorrupt, `flip at ${offset}`);
  }
});

test("a segment header with another format version: VERSION", async () => {
  const built = await memoryLog(2, 2);
  const path = `/wal/${segmentName(1)}`;
  const header = built.storage.read(path).subarray(0, WAL_SEGMENT_HEADER_BYTES);
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  view.setUint32(8, 2, true);
  view.setUint32(12, checksum(header, 16, 24, checksum(header, 0, 12)), true);
  await overwrite(built.storage, path, 0, header);
  assert.throws(
    () => reopen(built.storage, "/wal"),
    (error) => isTxgridError(error, ErrorCode.VERSION),
  );
});

test("damage in a segment that is not the last, or a missing segment: CORRUPT", async () => {
  const built = await memoryLog(40, 40, 2048);
  const names = built.storage.list("/wal");
  assert.ok(names.length >= 4);
  const second = `/wal/${names[1]}`;
  const bytes = built.storage.read(second);
  // The last byte of a segment is in its last record's padding or payload: a torn-looking tail.
  await overwrite(
    built.storage,
    second,
    bytes.length - 1,
    Uint8Array.of((bytes.at(-1) as number) ^ 1),
  );
  assert.throws(
    () => reopen(built.storage, "/wal", 0, 2048),
    (error) => isCorrupt(error) && /later segments/.test((error as Error).message),
  );
  const gap = await memoryLog(40, 40, 2048);
  gap.storage.unlink(`/wal/${names[2]}`);
  assert.throws(
    () => reopen(gap.storage, "/wal", 0, 2048),
    (error) => isCorrupt(error) && /gap/.test((error as Error).message),
  );
  // A snapshot past the missing segment does not need it.
  const lsnAfter = Number(names[3]?.slice(0, 16)) - 1;
  const { lsns } = reopen(gap.storage, "/wal", lsnAfter, 2048);
  assert.deepEqual(lsns, range(lsnAfter + 1, 40));
});

test("random damage to a log gives a clean recovery of a prefix, or CORRUPT/VERSION", async () => {
  const built = await memoryLog(4, 7);
  const original = built.storage.read(`/wal/${segmentName(1)}`);
  const damage = fc.record({
    writes: fc.array(fc.record({ offset: fc.nat(original.length + 64), value: fc.nat(255) }), {
      maxLength: 4,
    }),
    cut: fc.option(fc.nat(original.length + 64)),
    tail: fc.uint8Array({ maxLength: 96 }),
  });
  await fc.assert(
    fc.asyncProperty(damage, async ({ writes, cut, tail }) => {
      const storage = new MemoryStorage();
      storage.mkdirp("/wal");
      const bytes = new Uint8Array(original.length + tail.length);
      bytes.set(original);
      bytes.set(tail, original.length);
      for (const { offset, value } of writes) if (offset < bytes.length) bytes[offset] = value;
      await put(storage, `/wal/${segmentName(1)}`, bytes.subarray(0, cut ?? bytes.length));
      let opened: ReturnType<typeof reopen>;
      try {
        opened = reopen(storage, "/wal");
      } catch (error) {
        assert.ok(
          isCorrupt(error) || isTxgridError(error, ErrorCode.VERSION),
          `unexpected ${String(error)}`,
        );
        return;
      }
      assert.deepEqual(opened.lsns, range(1, opened.lsns.length));
      assert.equal(firstMismatch(opened), null);
    }),
    { seed, numRuns: 300 },
  );
});
