// The log writer: appends records to segment files with group commit.
//
//   append(payload)         ──► copy into the pending buffer (frame encoded, lsn assigned) ──► lsn
//   flush(sync, background) ──► swap buffers ──► one write per segment touched ──► fdatasync if sync
//   writeNow()              ──► flush(false) done synchronously, unless a new segment is due
//
// append is synchronous and cheap: the caller's payload view may be reused at once. flush
// writes everything pending with one blocking write call (more only when the batch crosses
// into a new segment): a write into the page cache costs 3 µs, a round trip through the libuv
// thread pool 100-150 µs on this project's machines (docs/design/wal.md). The fdatasync that
// follows when `sync` is set runs in one of two ways, chosen per flush by the caller:
//   blocking    (background false) on the event loop: the cheapest form when nothing else is
//               waiting (one request at a time), because the thread-pool hop costs more than
//               the CPU it would free;
//   background  (background true) on the libuv thread pool: the event loop goes on reading
//               and parsing requests (and, in the shard's pipeline, answering the previous
//               batch) while the disk works, which is what a loaded server needs.
// Appends made while a flush runs go to the other buffer and wait for the next flush. One
// flush at a time.
//
// Zero-filled space ahead: when fewer than WAL_PREALLOCATE_BYTES / 2 written zeros are left
// after the records, the flush writes WAL_PREALLOCATE_BYTES more (capped at the segment
// size) right after its records, and its fdatasync covers them. Later records overwrite
// that space, so their fdatasync changes no file size and ext4 need not commit its journal
// for them (measured cheaper, docs/design/wal.md). Zeros are not a frame: recovery reads
// them as the end of the log.
//
// Guarantees:
// - lsnDurable advances only after the fdatasync covering those records returned.
// - A segment is complete and synced before the next one is created, and a new segment's
//   name is made durable (directory fsync) before any record in it is written, hence before
//   any record in it can count as durable. So damage before the last segment is never a
//   torn write (recovery.ts relies on this), even under fsync=lazy.
// - A segment grows past segmentBytesMax only when it holds a single record that is larger.
// - After a failed write or fdatasync the writer refuses everything with STORAGE: what the
//   disk holds is unknown, and only a restart (recovery) may find out.
import { join } from "node:path";
import { WAL_PREALLOCATE_BYTES, WAL_RECORD_BYTES_MAX } from "../constants.ts";
import type { Storage, StorageFile } from "../io/index.ts";
import { assert, BytesWriter, ErrorCode, isTxgridError, TxgridError } from "../stdx/index.ts";
import {
  encodeFrame,
  encodeSegmentHeader,
  frameBytes,
  segmentName,
  WAL_FRAME_ALIGNMENT_BYTES,
  WAL_SEGMENT_HEADER_BYTES,
} from "./format.ts";
import type { Recovery, SegmentEntry } from "./recovery.ts";

/** Bytes pending between two flushes: at most one largest record and a segment header. */
const pendingBytesMax = WAL_SEGMENT_HEADER_BYTES + frameBytes(WAL_RECORD_BYTES_MAX);
const pendingBytesInitial = 64 * 1024;

/** A run of pending bytes that goes to one segment, in append order. */
interface PendingRange {
  /** Set when the range starts a new segment (its bytes begin with the segment header). */
  readonly lsnFirstNew: number | null;
  readonly start: number;
  end: number;
  lsnLast: number;
}

interface ActiveSegment {
  readonly segment: SegmentEntry;
  readonly file: StorageFile;
  sizeBytes: number;
  /** Length of the file: the records, then written zeros up to here. */
  zeroedBytes: number;
  /** Written since the last fdatasync. */
  dirty: boolean;
}

export class WalWriter {
  readonly #storage: Storage;
  readonly #dir: string;
  readonly #segmentBytesMax: number;
  readonly #segments: SegmentEntry[];
  #active: ActiveSegment | null = null;
  /** Size the newest segment will have once pending bytes are written; null: start a new one. */
  #tailBytes: number | null;
  #pending = new BytesWriter(pendingBytesInitial, pendingBytesMax);
  #spare = new BytesWriter(pendingBytesInitial, pendingBytesMax);
  #ranges: PendingRange[] = [];
  #lsnLast: number;
  #lsnWritten: number;
  #lsnDurable: number;
  #flushing = false;
  #closed = false;
  #failure: unknown = null;

  constructor(storage: Storage, dir: string, segmentBytesMax: number, recovery: Recovery) {
    assert(segmentBytesMax >= WAL_SEGMENT_HEADER_BYTES + frameBytes(0), "segmentBytesMax");
    this.#storage = storage;
    this.#dir = dir;
    this.#segmentBytesMax = segmentBytesMax;
    this.#segments = recovery.segments;
    // Recovery synced everything it kept: the whole recovered log is durable.
    this.#lsnLast = recovery.lsnLast;
    this.#lsnWritten = recovery.lsnLast;
    this.#lsnDurable = recovery.lsnLast;
    this.#tailBytes = null;
    if (recovery.tail !== null) {
      const { segment, sizeBytes, fileBytes } = recovery.tail;
      assert(segment === this.#segments[this.#segments.length - 1], "the tail is the last segment");
      assert(sizeBytes % WAL_FRAME_ALIGNMENT_BYTES === 0, "the tail ends aligned");
      const file = storage.open(join(dir, segment.name), "write");
      this.#active = { segment, file, sizeBytes, zeroedBytes: fileBytes, dirty: false };
      this.#tailBytes = sizeBytes;
    }
  }

  get lsnLast(): number {
    return this.#lsnLast;
  }

  get lsnDurable(): number {
    return this.#lsnDurable;
  }

  append(payload: Uint8Array): number {
    assert(!this.#closed, "append after close");
    this.#refuseIfFailed();
    if (payload.length > WAL_RECORD_BYTES_MAX) {
      throw new TxgridError(
        ErrorCode.LIMIT_EXCEEDED,
        `log record of ${payload.length} bytes exceeds WAL_RECORD_BYTES_MAX (${WAL_RECORD_BYTES_MAX})`,
      );
    }
    const lsn = this.#lsnLast + 1;
    const bytes = frameBytes(payload.length);
    const tailBytes = this.#tailBytes;
    const tailHasRecords = tailBytes !== null && tailBytes > WAL_SEGMENT_HEADER_BYTES;
    const rollover =
      tailBytes === null || (tailHasRecords && tailBytes + bytes > this.#segmentBytesMax);
    const pending = this.#pending;
    const start = pending.offset;
    if (start + bytes + (rollover ? WAL_SEGMENT_HEADER_BYTES : 0) > pendingBytesMax) {
      throw new TxgridError(
        ErrorCode.LIMIT_EXCEEDED,
        `${start} bytes of log records are pending: flush before appending more`,
      );
    }
    let range = this.#ranges[this.#ranges.length - 1];
    if (rollover || range === undefined) {
      range = { lsnFirstNew: rollover ? lsn : null, start, end: start, lsnLast: lsn };
      this.#ranges.push(range);
    }
    if (rollover) encodeSegmentHeader(pending, lsn);
    encodeFrame(pending, lsn, this.#lsnDurable, payload);
    assert(pending.offset - start === bytes + (rollover ? WAL_SEGMENT_HEADER_BYTES : 0), "size");
    range.end = pending.offset;
    range.lsnLast = lsn;
    this.#tailBytes = (rollover ? WAL_SEGMENT_HEADER_BYTES : (tailBytes ?? 0)) + bytes;
    this.#lsnLast = lsn;
    return lsn;
  }

  /**
   * Writes everything pending, then fdatasyncs if `sync`: on the thread pool when
   * `background`, else blocking. One flush at a time.
   */
  async flush(sync: boolean, background = false): Promise<void> {
    this.#startFlush();
    try {
      await this.#writePending();
      if (sync) await this.#syncActive(background);
    } catch (error) {
      throw this.#failed(error);
    } finally {
      this.#flushing = false;
    }
    assert(this.#lsnDurable <= this.#lsnWritten, "durable records were written");
    assert(!sync || this.#lsnDurable === this.#lsnWritten, "a sync flush makes all durable");
  }

  /**
   * flush(false) at once, when it can be done without waiting: writes everything pending (no
   * fdatasync) and returns true. Returns false, having written nothing, when a pending record
   * starts a new segment (creating one syncs the directory, which flush awaits). The shard's
   * lazy path takes this to log, apply and answer a batch without a promise per step.
   */
  writeNow(): boolean {
    if (this.#ranges.length === 0) return true;
    for (const range of this.#ranges) if (range.lsnFirstNew !== null) return false;
    this.#startFlush();
    try {
      const bytes = this.#takePending();
      for (const range of this.#ranges) this.#writeRange(bytes, range);
    } catch (error) {
      throw this.#failed(error);
    } finally {
      this.#ranges = [];
      this.#flushing = false;
    }
    return true;
  }

  #startFlush(): void {
    assert(!this.#closed, "flush after close");
    assert(!this.#flushing, "one flush at a time");
    this.#refuseIfFailed();
    this.#flushing = true;
  }

  /** Records a failed write or fdatasync (fatal) and returns the error to throw. */
  #failed(error: unknown): unknown {
    this.#failure = error;
    return isTxgridError(error, ErrorCode.STORAGE)
      ? error
      : new TxgridError(ErrorCode.STORAGE, "wal: flush failed", { cause: error });
  }

  /** Swaps the pending buffers (appends go to the other one); returns the bytes to write. */
  #takePending(): Uint8Array {
    const writer = this.#pending;
    this.#pending = this.#spare;
    this.#pending.reset();
    this.#spare = writer;
    return writer.view();
  }

  async #writePending(): Promise<void> {
    const ranges = this.#ranges;
    if (ranges.length === 0) return;
    const bytes = this.#takePending();
    this.#ranges = [];
    for (const range of ranges) {
      if (range.lsnFirstNew !== null) await this.#rollover(range.lsnFirstNew);
      this.#writeRange(bytes, range);
    }
  }

  /** One write of a range's records at the end of the active segment. */
  #writeRange(bytes: Uint8Array, range: PendingRange): void {
    const active = this.#active;
    assert(active !== null, "a segment to write to");
    active.file.writeSync(bytes.subarray(range.start, range.end), active.sizeBytes);
    active.sizeBytes += range.end - range.start;
    active.dirty = true;
    this.#fillAhead(active);
    assert(range.lsnLast > this.#lsnWritten, "written lsns grow");
    this.#lsnWritten = range.lsnLast;
  }

  async #syncActive(background: boolean): Promise<void> {
    const active = this.#active;
    if (active === null || !active.dirty) {
      assert(this.#lsnDurable === this.#lsnWritten, "nothing unsynced outside a dirty segment");
      return;
    }
    const lsnWritten = this.#lsnWritten;
    // No write can come in while this waits (one flush at a time), so the fdatasync covers
    // exactly the records written so far.
    if (background) await active.file.datasync();
    else active.file.datasyncSync();
    active.dirty = false;
    this.#lsnDurable = lsnWritten;
  }

  /** Keeps at least WAL_PREALLOCATE_BYTES / 2 of written zeros after the records. */
  #fillAhead(active: ActiveSegment): void {
    const filledEnd = Math.max(active.sizeBytes, active.zeroedBytes);
    if (filledEnd - active.sizeBytes >= WAL_PREALLOCATE_BYTES / 2) return;
    const end = Math.min(active.sizeBytes + WAL_PREALLOCATE_BYTES, this.#segmentBytesMax);
    if (end > filledEnd) {
      active.file.writeSync(zeros().subarray(0, end - filledEnd), filledEnd);
      active.dirty = true;
    }
    active.zeroedBytes = Math.max(end, filledEnd);
  }

  /** Completes the current segment (synced, closed), then creates the next one durably. */
  async #rollover(lsnFirst: number): Promise<void> {
    if (this.#active !== null) {
      await this.#syncActive(false);
      this.#active.file.close();
      this.#active = null;
    }
    const last = this.#segments[this.#segments.length - 1];
    assert(last === undefined || last.lsnFirst < lsnFirst, "segments are created in lsn order");
    assert(lsnFirst === this.#lsnWritten + 1, "a new segment continues the written log");
    const segment = { lsnFirst, name: segmentName(lsnFirst) };
    const file = this.#storage.open(join(this.#dir, segment.name), "create");
    this.#segments.push(segment);
    this.#active = { segment, file, sizeBytes: 0, zeroedBytes: 0, dirty: false };
    await this.#storage.syncDir(this.#dir);
  }

  /** Syncs what is pending (unless the log failed) and closes the segment file. */
  async close(): Promise<void> {
    if (this.#closed) return;
    assert(!this.#flushing, "close during a flush");
    try {
      if (this.#failure === null) await this.flush(true);
    } finally {
      this.#closed = true;
      this.#active?.file.close();
      this.#active = null;
    }
  }

  /**
   * Deletes every segment whose records are all <= lsn and durable, oldest first. The newest
   * segment is always kept: it is the one being written. Deletions need no directory fsync:
   * a segment that comes back after a crash is older than the snapshot and never read.
   */
  removeSegmentsThrough(lsn: number): void {
    assert(!this.#closed, "remove after close");
    assert(Number.isSafeInteger(lsn) && lsn >= 0, "lsn");
    let removeCount = 0;
    try {
      for (let index = 0; index + 1 < this.#segments.length; index++) {
        const next = this.#segments[index + 1] as SegmentEntry;
        const lsnLastOfSegment = next.lsnFirst - 1;
        if (lsnLastOfSegment > lsn || lsnLastOfSegment > this.#lsnDurable) break;
        const segment = this.#segments[index] as SegmentEntry;
        assert(segment !== this.#active?.segment, "the segment being written is never removed");
        this.#storage.unlink(join(this.#dir, segment.name));
        removeCount++;
      }
    } finally {
      this.#segments.splice(0, removeCount);
    }
  }

  #refuseIfFailed(): void {
    if (this.#failure === null) return;
    throw new TxgridError(ErrorCode.STORAGE, "wal: the log failed earlier; restart to recover", {
      cause: this.#failure,
    });
  }
}

let zeroBytes: Uint8Array | null = null;

/** WAL_PREALLOCATE_BYTES of zeros, allocated on first use and never written to. */
function zeros(): Uint8Array {
  zeroBytes ??= new Uint8Array(WAL_PREALLOCATE_BYTES);
  return zeroBytes;
}
