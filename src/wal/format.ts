// The byte format of log segments: names, the segment header and record frames. Pure
// functions over bytes; the writer (writer.ts) and recovery (recovery.ts) share them so that
// what is checked at replay is exactly what was computed at append (paired checks).
//
// A segment file is named after the lsn of its first record, zero-padded so that names sort
// by lsn: `0000000000000001.wal`. All integers are little-endian.
//
// Segment header (24 bytes, written in the same write as the segment's first record):
//   offset  size  field
//   0       8     magic "TXGRDWAL"
//   8       4     format version (WAL_FORMAT_VERSION)
//   12      4     checksum: CRC-32 of bytes [0, 12) then [16, 24)
//   16      8     lsnFirst: lsn of the first record; equals the number in the file name
//
// Record frame (24-byte header + payload + zero padding to a multiple of 8 bytes):
//   offset  size  field
//   0       4     payloadBytes: length of the payload, <= WAL_RECORD_BYTES_MAX
//   4       4     checksum: CRC-32 of bytes [0, 4) then [8, frame end): length, lsn,
//                 lsnDurable, payload and padding
//   8       8     lsn: position in the log, consecutive from 1
//   16      8     lsnDurable: every record <= lsnDurable had been fdatasync'ed before this
//                 frame was encoded (always < lsn)
//   24      n     payload
//   24+n    0..7  zero padding
//
// Why this shape: frames start 8-byte aligned, so the length and checksum share one aligned
// 8-byte word that never straddles a sector and cannot be half-written (etcd's argument);
// the lsn in the frame catches stale or misplaced frames; lsnDurable lets recovery tell a
// torn write (nothing after the damage was known durable) from corruption of a record that
// had been synced (a later intact frame says so); see recovery.ts.
import { BytesReader, type BytesWriter, checksum } from "../stdx/index.ts";

/**
 * Version of the segment format. Bump on any change to the tables above, and keep reading
 * the old versions or refuse them with a VERSION error. History:
 *   1  first format: 24-byte segment header; 24-byte frame header with lsnDurable.
 */
export const WAL_FORMAT_VERSION = 1;

export const WAL_SEGMENT_HEADER_BYTES = 24;
export const WAL_FRAME_HEADER_BYTES = 24;
export const WAL_FRAME_ALIGNMENT_BYTES = 8;

const magic = new TextEncoder().encode("TXGRDWAL");
const lsnDigits = 16;
const segmentNamePattern = /^(\d{16})\.wal$/;

export function segmentName(lsnFirst: number): string {
  return `${String(lsnFirst).padStart(lsnDigits, "0")}.wal`;
}

/** The lsnFirst in a segment file name, or null if the name is not a segment's. */
export function parseSegmentName(name: string): number | null {
  const match = segmentNamePattern.exec(name);
  if (match === null) return null;
  const lsnFirst = Number(match[1]);
  return Number.isSafeInteger(lsnFirst) && lsnFirst >= 1 ? lsnFirst : null;
}

/** Bytes a frame with a payload of `payloadBytes` takes, padding included. */
export function frameBytes(payloadBytes: number): number {
  const unpadded = WAL_FRAME_HEADER_BYTES + payloadBytes;
  return Math.ceil(unpadded / WAL_FRAME_ALIGNMENT_BYTES) * WAL_FRAME_ALIGNMENT_BYTES;
}

export function encodeSegmentHeader(writer: BytesWriter, lsnFirst: number): void {
  const start = writer.offset;
  writer.raw(magic);
  writer.u32(WAL_FORMAT_VERSION);
  writer.u32(0);
  writer.u53(lsnFirst);
  const bytes = writer.view();
  const sum = checksum(bytes, start + 16, start + 24, checksum(bytes, start, start + 12));
  writer.patchU32(start + 12, sum);
}

export type SegmentHeader =
  | { readonly kind: "valid"; readonly lsnFirst: number }
  | { readonly kind: "damaged"; readonly reason: string }
  | { readonly kind: "version"; readonly version: number };

export function decodeSegmentHeader(bytes: Uint8Array): SegmentHeader {
  if (bytes.length < WAL_SEGMENT_HEADER_BYTES) return { kind: "damaged", reason: "short header" };
  const reader = new BytesReader(bytes, 0, WAL_SEGMENT_HEADER_BYTES);
  for (let index = 0; index < magic.length; index++) {
    if (reader.u8() !== magic[index]) return { kind: "damaged", reason: "magic" };
  }
  const version = reader.u32();
  const sum = checksum(bytes, 16, 24, checksum(bytes, 0, 12));
  if (reader.u32() !== sum) return { kind: "damaged", reason: "header checksum" };
  if (version !== WAL_FORMAT_VERSION) return { kind: "version", version };
  // The checksum matched, so lsnFirst is as the writer wrote it: the u53 read cannot fail.
  return { kind: "valid", lsnFirst: reader.u53() };
}

export function encodeFrame(
  writer: BytesWriter,
  lsn: number,
  lsnDurable: number,
  payload: Uint8Array,
): void {
  const start = writer.offset;
  writer.u32(payload.length);
  writer.u32(0);
  writer.u53(lsn);
  writer.u53(lsnDurable);
  writer.raw(payload);
  writer.align(WAL_FRAME_ALIGNMENT_BYTES);
  const bytes = writer.view();
  writer.patchU32(start + 4, frameChecksum(bytes, start, writer.offset));
}

function frameChecksum(bytes: Uint8Array, start: number, end: number): number {
  return checksum(bytes, start + 8, end, checksum(bytes, start, start + 4));
}

export interface Frame {
  readonly lsn: number;
  readonly lsnDurable: number;
  /** A view into the segment's bytes. */
  readonly payload: Uint8Array;
  /** Offset of the byte after the frame's padding. */
  readonly end: number;
}

/**
 * The frame at `offset`, or a reason why there is no intact one there. Never throws and never
 * reads past the end: the bytes come from a disk and may be anything.
 */
export function decodeFrame(
  bytes: Uint8Array,
  view: DataView,
  offset: number,
  payloadBytesMax: number,
): Frame | string {
  if (bytes.length - offset < WAL_FRAME_HEADER_BYTES) return "short frame header";
  const payloadBytes = view.getUint32(offset, true);
  if (payloadBytes > payloadBytesMax) return "length over the limit";
  const end = offset + frameBytes(payloadBytes);
  if (end > bytes.length) return "frame past the end of the file";
  if (view.getUint32(offset + 4, true) !== frameChecksum(bytes, offset, end)) return "checksum";
  const lsn = readU53(view, offset + 8);
  const lsnDurable = readU53(view, offset + 16);
  if (lsn < 1 || lsnDurable < 0 || lsnDurable >= lsn) return "lsn fields out of range";
  const payloadStart = offset + WAL_FRAME_HEADER_BYTES;
  return {
    lsn,
    lsnDurable,
    payload: bytes.subarray(payloadStart, payloadStart + payloadBytes),
    end,
  };
}

/** The lsn field at `offset` without checking the frame: a cheap filter for scans. */
export function peekLsn(view: DataView, offset: number): number {
  return readU53(view, offset + 8);
}

export function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A u53 stored in 8 bytes, or -1 if the high bits are set (not a valid lsn). */
function readU53(view: DataView, offset: number): number {
  const high = view.getUint32(offset + 4, true);
  if (high >= 2 ** 21) return -1;
  return high * 2 ** 32 + view.getUint32(offset, true);
}
