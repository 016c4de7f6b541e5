// Checksums for bytes on disk and on the wire. CRC-32 (zlib's polynomial) from node:zlib is
// native and fast (about 1 GB/s); it detects torn writes and bit flips, not adversaries.
import { createHash } from "node:crypto";
import { crc32 } from "node:zlib";

/** CRC-32 of `bytes[start, end)`, optionally continuing from a previous value. */
export function checksum(bytes: Uint8Array, start = 0, end = bytes.length, seed = 0): number {
  return crc32(bytes.subarray(start, end), seed) >>> 0;
}

/** A SHA-256 hex digest, for comparing replica states and snapshots (not on hot paths). */
export function digestHex(chunks: readonly Uint8Array[]): string {
  const digest = createDigest();
  for (const chunk of chunks) digest.update(chunk);
  return digest.hex();
}

/** A SHA-256 fed piece by piece (update copies what it is given into the hash state). */
export interface Digest {
  update(bytes: Uint8Array): void;
  hex(): string;
}

export function createDigest(): Digest {
  const hash = createHash("sha256");
  return {
    update: (bytes) => {
      hash.update(bytes);
    },
    hex: () => hash.digest("hex"),
  };
}
