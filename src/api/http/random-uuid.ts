// Random version-4 UUIDs (RFC 9562) for TiMPE transfers sent without an id, in the exact form
// crypto.randomUUID gives: 36 lowercase characters, version nibble 4, variant bits 10.
// crypto.randomUUID builds its string by concatenating 20 pieces, about 0.5 KB of garbage per
// call; this writes the 36 characters into one reused buffer and makes one string of it.
//
// Guarantees: the randomness is crypto.randomFillSync's (the CSPRNG), drawn in blocks of
// UUID_POOL_COUNT UUIDs as crypto.randomUUID also draws ahead (it caches 128); every byte of
// the pool is used once.
import { randomFillSync } from "node:crypto";

const UUID_BYTES = 16;
/** UUIDs' worth of entropy fetched per randomFillSync call. */
const UUID_POOL_COUNT = 256;

const pool = Buffer.alloc(UUID_BYTES * UUID_POOL_COUNT);
let poolOffset = pool.length;
const hexDigits = Buffer.from("0123456789abcdef", "latin1");
/** Where the two hex digits of each of the 16 bytes go in xxxxxxxx-xxxx-4xxx-vxxx-xxxxxxxxxxxx. */
const digitPositions = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
const text = Buffer.alloc(36, "-", "latin1");

export function randomUuid(): string {
  if (poolOffset === pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const start = poolOffset;
  poolOffset += UUID_BYTES;
  for (let index = 0; index < UUID_BYTES; index++) {
    let byte = pool[start + index] as number;
    if (index === 6) byte = (byte & 0x0f) | 0x40;
    else if (index === 8) byte = (byte & 0x3f) | 0x80;
    const position = digitPositions[index] as number;
    text[position] = hexDigits[byte >> 4] as number;
    text[position + 1] = hexDigits[byte & 0x0f] as number;
  }
  return text.toString("latin1", 0, 36);
}
