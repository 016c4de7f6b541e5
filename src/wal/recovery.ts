// Recovery: reads the log at startup, replays the records after a snapshot, and cuts a torn
// tail. Synchronous: nothing else runs before the shard has its state back.
//
// The rule (docs/design/wal.md has the argument):
// 1. Segments are ordered by the lsnFirst in their names. Replay starts in the last segment
//    whose lsnFirst <= lsnAfter + 1; older segments are covered by the snapshot and are not
//    read. If every segment starts later, records are missing: CORRUPT (a gap).
// 2. Inside a segment, frames must be intact and their lsns consecutive; across segments, a
//    segment must start right after the previous one ends. Records with lsn <= lsnAfter are
//    checked but not applied.
// 3. The first damaged frame (or header) is a torn tail only if it is in the last segment and
//    no intact frame after it claims (lsnDurable) that the damaged record was already durable.
//    Then the file is cut there (or deleted if its header is damaged). Otherwise the damage
//    hit synced data: CORRUPT, and nothing on disk is changed. Damage in a segment that is
//    not the last is always CORRUPT, because the writer syncs a segment completely before it
//    creates the next one.
// 4. A header with a valid checksum but another format version: VERSION.
// 5. Zeros from the end of the last intact frame to the end of a segment's file are the space
//    the writer fills ahead of the log (WAL_PREALLOCATE_BYTES): the end of the segment, kept
//    as it is, not damage. Zeros are never an intact frame (lsn 0 is invalid), so they cannot
//    be evidence either; and records zeroed at the end of a segment that is not the last
//    still show, as a gap before the next segment.
// Every change to the disk (truncate, unlink) happens after the whole log has been checked,
// and is made durable, together with the tail that was kept (it may have been written
// without fdatasync before a process crash), before the log accepts appends.
import { join } from "node:path";
import type { Storage } from "../io/index.ts";
import { assert, ErrorCode, TxgridError } from "../stdx/index.ts";
import {
  decodeFrame,
  decodeSegmentHeader,
  parseSegmentName,
  peekLsn,
  viewOf,
  WAL_FORMAT_VERSION,
  WAL_FRAME_ALIGNMENT_BYTES,
  WAL_FRAME_HEADER_BYTES,
  WAL_SEGMENT_HEADER_BYTES,
} from "./format.ts";

export interface SegmentEntry {
  readonly lsnFirst: number;
  readonly name: string;
}

export interface Recovery {
  /** Every segment file left in the directory, by lsnFirst. */
  readonly segments: SegmentEntry[];
  /**
   * The last segment, if the next record may be appended to it: where its records end and
   * how long the file is (longer when zero-filled space follows the records).
   */
  readonly tail: {
    readonly segment: SegmentEntry;
    readonly sizeBytes: number;
    readonly fileBytes: number;
  } | null;
  /** Last lsn of the log, or lsnAfter if the log ends before it. */
  readonly lsnLast: number;
  readonly recordCount: number;
  readonly truncatedBytes: number;
}

interface SegmentScan {
  /** The lsn the next frame would need. */
  readonly lsnNext: number;
  /** End of the last intact frame (0 if the header is damaged); zeros may follow it. */
  readonly validEnd: number;
  readonly damage: string | null;
  readonly appliedCount: number;
}

interface Context {
  readonly storage: Storage;
  readonly dir: string;
  readonly lsnAfter: number;
  readonly payloadBytesMax: number;
  readonly apply: (lsn: number, payload: Uint8Array) => void;
}

export function recover(
  storage: Storage,
  dir: string,
  lsnAfter: number,
  payloadBytesMax: number,
  apply: (lsn: number, payload: Uint8Array) => void,
): Recovery {
  assert(Number.isSafeInteger(lsnAfter) && lsnAfter >= 0, "lsnAfter");
  const context: Context = { storage, dir, lsnAfter, payloadBytesMax, apply };
  const segments = listSegments(storage, dir);
  if (segments.length === 0) {
    return { segments, tail: null, lsnLast: lsnAfter, recordCount: 0, truncatedBytes: 0 };
  }
  const startIndex = findStart(segments, lsnAfter, dir);
  let lsnNext = (segments[startIndex] as SegmentEntry).lsnFirst;
  let recordCount = 0;
  let last: { scan: SegmentScan; bytes: Uint8Array } | null = null;
  for (let index = startIndex; index < segments.length; index++) {
    const segment = segments[index] as SegmentEntry;
    const path = join(dir, segment.name);
    if (segment.lsnFirst !== lsnNext) {
      throw corrupt(`${path} starts at lsn ${segment.lsnFirst}, expected ${lsnNext}: a gap`);
    }
    const bytes = storage.read(path);
    const scan = scanSegment(context, bytes, segment);
    recordCount += scan.appliedCount;
    if (scan.damage !== null && index < segments.length - 1) {
      throw corrupt(
        `${path}: ${describeDamage(scan)} and later segments exist, so it had been synced`,
      );
    }
    lsnNext = scan.lsnNext;
    last = { scan, bytes };
  }
  assert(last !== null, "the last segment was scanned");
  return { ...finish(context, segments, last.scan, last.bytes), recordCount };
}

function listSegments(storage: Storage, dir: string): SegmentEntry[] {
  const segments: SegmentEntry[] = [];
  for (const name of storage.list(dir)) {
    const lsnFirst = parseSegmentName(name);
    if (lsnFirst !== null) segments.push({ lsnFirst, name });
  }
  // Storage.list sorts by name, which is lsn order for these names; sorting by number says so.
  segments.sort((a, b) => a.lsnFirst - b.lsnFirst);
  return segments;
}

/** Index of the last segment whose lsnFirst <= lsnAfter + 1. */
function findStart(segments: readonly SegmentEntry[], lsnAfter: number, dir: string): number {
  let startIndex = -1;
  for (let index = 0; index < segments.length; index++) {
    if ((segments[index] as SegmentEntry).lsnFirst <= lsnAfter + 1) startIndex = index;
  }
  if (startIndex === -1) {
    const first = segments[0] as SegmentEntry;
    throw corrupt(
      `${join(dir, first.name)}: the log starts at lsn ${first.lsnFirst} but the state ends at ` +
        `lsn ${lsnAfter}: records ${lsnAfter + 1}..${first.lsnFirst - 1} are missing`,
    );
  }
  return startIndex;
}

/** Checks a segment's header and frames, applying records after lsnAfter, up to damage. */
function scanSegment(context: Context, bytes: Uint8Array, segment: SegmentEntry): SegmentScan {
  const { lsnAfter, payloadBytesMax, apply } = context;
  const header = decodeSegmentHeader(bytes);
  if (header.kind === "version") {
    throw new TxgridError(
      ErrorCode.VERSION,
      `wal segment ${segment.name} has format version ${header.version}; this build reads ` +
        `${WAL_FORMAT_VERSION}`,
    );
  }
  if (header.kind === "damaged") {
    return { lsnNext: segment.lsnFirst, validEnd: 0, damage: header.reason, appliedCount: 0 };
  }
  if (header.lsnFirst !== segment.lsnFirst) {
    throw corrupt(`wal segment ${segment.name} says its first lsn is ${header.lsnFirst}`);
  }
  const view = viewOf(bytes);
  let offset = WAL_SEGMENT_HEADER_BYTES;
  let lsnNext = segment.lsnFirst;
  let appliedCount = 0;
  while (offset < bytes.length) {
    const frame = decodeFrame(bytes, view, offset, payloadBytesMax);
    const damage =
      typeof frame === "string" ? frame : frame.lsn !== lsnNext ? `lsn ${frame.lsn}` : null;
    if (damage !== null) {
      // Only zeros after the records: the writer's zero-filled space, the segment's end.
      const zeroTail = isZero(bytes, offset);
      return { lsnNext, validEnd: offset, damage: zeroTail ? null : damage, appliedCount };
    }
    assert(typeof frame !== "string", "an undamaged frame decoded");
    if (frame.lsn > lsnAfter) {
      apply(frame.lsn, frame.payload);
      appliedCount++;
    }
    lsnNext++;
    offset = frame.end;
  }
  assert(offset === bytes.length, "frames end at the end of the file");
  return { lsnNext, validEnd: offset, damage: null, appliedCount };
}

/**
 * An intact frame after `from` whose lsnDurable shows that record `lsnDamaged` had been
 * synced, or null. Scans every aligned offset; the lsn filter keeps the checksum work small.
 */
function findDurableEvidence(
  bytes: Uint8Array,
  from: number,
  lsnDamaged: number,
  payloadBytesMax: number,
): { offset: number; lsn: number } | null {
  const view = viewOf(bytes);
  // Each frame takes at least a header, which bounds the lsn a frame in range can carry.
  const lsnMax = lsnDamaged + Math.ceil((bytes.length - from) / WAL_FRAME_HEADER_BYTES);
  const start = Math.ceil(from / WAL_FRAME_ALIGNMENT_BYTES) * WAL_FRAME_ALIGNMENT_BYTES;
  for (let offset = start; offset + WAL_FRAME_HEADER_BYTES <= bytes.length; ) {
    const lsn = peekLsn(view, offset);
    if (lsn >= lsnDamaged && lsn <= lsnMax) {
      const frame = decodeFrame(bytes, view, offset, payloadBytesMax);
      if (typeof frame !== "string") {
        if (frame.lsnDurable >= lsnDamaged) return { offset, lsn: frame.lsn };
        offset = frame.end;
        continue;
      }
    }
    offset += WAL_FRAME_ALIGNMENT_BYTES;
  }
  return null;
}

/** Cuts the torn tail of the last segment (or refuses), syncs, and describes the result. */
function finish(
  context: Context,
  segments: SegmentEntry[],
  scan: SegmentScan,
  bytes: Uint8Array,
): Omit<Recovery, "recordCount"> {
  const { storage, dir, lsnAfter, payloadBytesMax } = context;
  const last = segments[segments.length - 1] as SegmentEntry;
  const path = join(dir, last.name);
  const lsnLast = Math.max(scan.lsnNext - 1, lsnAfter);
  if (scan.damage !== null) {
    const evidence = findDurableEvidence(bytes, scan.validEnd, scan.lsnNext, payloadBytesMax);
    if (evidence !== null) {
      throw corrupt(
        `${path}: ${describeDamage(scan)}, but record ${evidence.lsn} at byte ` +
          `${evidence.offset}, written after it had been synced, is intact: synced data was lost`,
      );
    }
  }
  const truncatedBytes = scan.damage === null ? 0 : bytes.length - scan.validEnd;
  if (scan.validEnd === 0) {
    // The header is torn: the segment never held a durable record.
    storage.unlink(path);
    segments.pop();
    storage.syncDirSync(dir);
    return { segments, tail: null, lsnLast, truncatedBytes };
  }
  const file = storage.open(path, "write");
  try {
    if (truncatedBytes > 0) file.truncate(scan.validEnd);
    file.datasyncSync();
  } finally {
    file.close();
  }
  // The name of the last segment may not be durable yet if a crash followed its creation.
  storage.syncDirSync(dir);
  const fileBytes = scan.damage === null ? bytes.length : scan.validEnd;
  const tail =
    scan.lsnNext - 1 >= lsnAfter ? { segment: last, sizeBytes: scan.validEnd, fileBytes } : null;
  return { segments, tail, lsnLast, truncatedBytes };
}

/** True when every byte from `from` to the end is zero (the writer's zero-filled space). */
function isZero(bytes: Uint8Array, from: number): boolean {
  for (let index = from; index < bytes.length; index++) if (bytes[index] !== 0) return false;
  return true;
}

function describeDamage(scan: SegmentScan): string {
  return scan.validEnd === 0
    ? `the segment header is damaged (${scan.damage})`
    : `record ${scan.lsnNext} at byte ${scan.validEnd} is damaged (${scan.damage})`;
}

function corrupt(message: string): TxgridError {
  return new TxgridError(ErrorCode.CORRUPT, `wal: ${message}`);
}
