// Checksums for bytes on disk and on the wire. CRC-32 (zlib's polynomial) from node:zlib is
// native and fast (about 1 GB/s); it detects torn writes and bit flips, not adversaries.
import { crc32 } from "node:zlib";

/** CRC-32 of `bytes[start, end)`, optionally continuing from a previous value. */
export function checksum(bytes: Uint8Array, start = 0, end = bytes.length, seed = 0): number {
  return crc32(bytes.subarray(start, end), seed) >>> 0;
}
