// The byte format of snapshot files: names, and a header that makes a file self-checking.
// Pure functions over bytes, shared by the writer and the reader (paired checks).
//
// A snapshot of the state after lsn N is the file `<N zero-padded to 16 digits>.snapshot`,
// so names sort by lsn; it is written as `<name>.tmp` and renamed once durable. Little-endian.
//
//   offset  size  field
//   0       8     magic "TXGRDSNP"
//   8       4     format version (SNAPSHOT_FORMAT_VERSION)
//   12      4     header checksum: CRC-32 of bytes [0, 12) then [16, 40)
//   16      8     lsn: the state includes every log record <= lsn; equals the name's number
//   24      8     bodyBytes: length of the body
//   32      4     body checksum: CRC-32 of the body
//   36      4     reserved, zero
//   40      n     body (the engine's snapshot encoding, opaque here)
//
// The file size must be exactly 40 + bodyBytes: a short file is a torn write, a longer one
// is not ours. Either way the reader skips it and falls back to an older snapshot.
import { BytesReader, BytesWriter, checksum } from "../stdx/index.ts";

/**
 * Version of the snapshot file format (the header above, not the body's encoding, which the
 * engine versions itself). History:
 *   1  first format.
 */
export const SNAPSHOT_FORMAT_VERSION = 1;
export const SNAPSHOT_HEADER_BYTES = 40;

const magic = new TextEncoder().encode("TXGRDSNP");
const lsnDigits = 16;
const namePattern = /^(\d{16})\.snapshot$/;
const tmpNamePattern = /^(\d{16})\.snapshot\.tmp$/;

export function snapshotName(lsn: number): string {
  return `${String(lsn).padStart(lsnDigits, "0")}.snapshot`;
}

export function tmpName(lsn: number): string {
  return `${snapshotName(lsn)}.tmp`;
}

/** The lsn in a snapshot file name; null if the name is not a finished snapshot's. */
export function parseSnapshotName(name: string): number | null {
  return parseLsn(namePattern.exec(name));
}

/** The lsn in a leftover temporary file's name; null if the name is not one. */
export function parseTmpName(name: string): number | null {
  return parseLsn(tmpNamePattern.exec(name));
}

function parseLsn(match: RegExpExecArray | null): number | null {
  if (match === null) return null;
  const lsn = Number(match[1]);
  return Number.isSafeInteger(lsn) ? lsn : null;
}

export function encodeHeader(lsn: number, body: Uint8Array): Uint8Array {
  const writer = new BytesWriter(SNAPSHOT_HEADER_BYTES, SNAPSHOT_HEADER_BYTES);
  writer.raw(magic);
  writer.u32(SNAPSHOT_FORMAT_VERSION);
  writer.u32(0);
  writer.u53(lsn);
  writer.u53(body.length);
  writer.u32(checksum(body));
  writer.u32(0);
  const bytes = writer.view();
  writer.patchU32(12, headerChecksum(bytes));
  return writer.copy();
}

function headerChecksum(bytes: Uint8Array): number {
  return checksum(bytes, 16, SNAPSHOT_HEADER_BYTES, checksum(bytes, 0, 12));
}

export type Decoded =
  | { readonly kind: "valid"; readonly lsn: number; readonly body: Uint8Array }
  | { readonly kind: "damaged"; readonly reason: string }
  | { readonly kind: "version"; readonly version: number };

/** Checks a whole snapshot file. Never throws: the bytes come from a disk. */
export function decodeSnapshotFile(bytes: Uint8Array): Decoded {
  if (bytes.length < SNAPSHOT_HEADER_BYTES) return { kind: "damaged", reason: "short header" };
  const reader = new BytesReader(bytes, 0, SNAPSHOT_HEADER_BYTES);
  for (let index = 0; index < magic.length; index++) {
    if (reader.u8() !== magic[index]) return { kind: "damaged", reason: "magic" };
  }
  const version = reader.u32();
  if (reader.u32() !== headerChecksum(bytes)) return { kind: "damaged", reason: "header checksum" };
  if (version !== SNAPSHOT_FORMAT_VERSION) return { kind: "version", version };
  // The checksum matched, so the fields are as the writer wrote them: u53 reads cannot fail.
  const lsn = reader.u53();
  const bodyBytes = reader.u53();
  const bodyChecksum = reader.u32();
  if (bytes.length !== SNAPSHOT_HEADER_BYTES + bodyBytes) {
    return { kind: "damaged", reason: `size ${bytes.length}, header says 40 + ${bodyBytes}` };
  }
  const body = bytes.subarray(SNAPSHOT_HEADER_BYTES);
  if (checksum(body) !== bodyChecksum) return { kind: "damaged", reason: "body checksum" };
  return { kind: "valid", lsn, body };
}
