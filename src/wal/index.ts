// wal: the segmented write-ahead log. Records are opaque payloads (one batch each) numbered
// by consecutive lsns from 1. openWal() recovers the log synchronously (replaying the records
// after a snapshot, cutting a torn tail, refusing damage to synced data) and returns a Wal
// that appends with group commit. Format and argument: docs/design/wal.md, format.ts.
//
// Fsync policies (chosen by the shard, carried out through flush(sync)):
//   always, batch  flush(true): a record counts as durable (lsnDurable) once fdatasync'ed;
//                  it survives a process crash and a power loss.
//   lazy           flush(false): written to the OS, survives a process crash; a later
//                  flush(true) makes it survive a power loss too.
import { WAL_RECORD_BYTES_MAX, WAL_SEGMENT_BYTES_MAX } from "../constants.ts";
import type { Storage } from "../io/index.ts";
import { assert } from "../stdx/index.ts";
import { recover } from "./recovery.ts";
import { WalWriter } from "./writer.ts";

export { WAL_FORMAT_VERSION } from "./format.ts";

export type FsyncPolicy = "always" | "batch" | "lazy";

export interface Wal {
  /** Lsn of the last appended record (or the state's lsn after recovery). */
  readonly lsnLast: number;
  /** Every record <= lsnDurable is fdatasync'ed. */
  readonly lsnDurable: number;
  /** Copies `payload` into the pending buffer; returns its lsn. LIMIT_EXCEEDED if too large. */
  append(payload: Uint8Array): number;
  /**
   * Writes everything pending; with `sync`, one fdatasync, on the libuv thread pool when
   * `background` (the event loop runs meanwhile), else blocking. STORAGE on failure (fatal).
   */
  flush(sync: boolean, background?: boolean): Promise<void>;
  /**
   * flush(false) synchronously: true once everything pending is written; false (nothing
   * written) when a pending record starts a new segment, which only flush can create.
   */
  writeNow(): boolean;
  /** Flushes with sync (unless failed) and closes. */
  close(): Promise<void>;
  /** Deletes whole segments whose records are all <= lsn and durable; never the newest. */
  removeSegmentsThrough(lsn: number): void;
}

export interface ReplayReport {
  /** Records applied (those with lsn > lsnAfter). */
  readonly recordCount: number;
  /** Bytes cut from a torn tail (a truncated file end or a deleted torn segment). */
  readonly truncatedBytes: number;
}

export interface WalOptions {
  readonly storage: Storage;
  readonly dir: string;
  /** A segment is closed once the next record would take it past this; tests make it small. */
  readonly segmentBytesMax?: number;
}

/**
 * Recovers the log in `options.dir` and opens it for appending. Calls `apply` for every
 * intact record with lsn > lsnAfter, in order; the payload is a view into bytes read for
 * recovery that are never reused. Throws CORRUPT when records after lsnAfter are missing or
 * synced records are damaged, VERSION for an unknown format, STORAGE on I/O errors.
 */
export function openWal(
  options: WalOptions,
  lsnAfter: number,
  apply: (lsn: number, payload: Uint8Array) => void,
): { wal: Wal; replay: ReplayReport } {
  const segmentBytesMax = options.segmentBytesMax ?? WAL_SEGMENT_BYTES_MAX;
  assert(Number.isSafeInteger(segmentBytesMax) && segmentBytesMax > 0, "segmentBytesMax");
  const recovery = recover(options.storage, options.dir, lsnAfter, WAL_RECORD_BYTES_MAX, apply);
  assert(recovery.lsnLast >= lsnAfter, "the log continues after the state");
  const wal = new WalWriter(options.storage, options.dir, segmentBytesMax, recovery);
  return {
    wal,
    replay: { recordCount: recovery.recordCount, truncatedBytes: recovery.truncatedBytes },
  };
}
