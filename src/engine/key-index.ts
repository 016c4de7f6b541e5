// Primary keys to slots for the column tables: open addressing (linear probing) over one
// Int32Array of (hash, slot + 1) pairs, the keys' characters one byte each, key after key, in
// one Uint8Array. Inserting a key allocates no Map entry (a Map insert with string keys costs
// 300-900 ns on the target VM and a big Map grows slowly) and keeps no string: it writes one
// pair and copies the characters. A table of a million transfers is then a few typed arrays
// and no million strings for the garbage collector to copy, promote and mark (keeping the
// command's id string cost a scavenge copy and a promotion per transfer); keyAt() builds the
// string again when a row is read.
//
// Guarantees:
// - Keys are strings of characters below 256 (Latin-1); canHold() tells. Column tables hold
//   ids (ASCII) only; inserting another key is a programmer error (assert).
// - Slots are dense and given in insertion order: the n-th key inserted has slot n.
// - The only removal is of the newest key (the rollback of an insert). It needs no tombstone:
//   no key inserted earlier can have probed across the newest key's bucket, because that
//   bucket was empty whenever an earlier key was placed.
// - The load factor stays at or below 1/2, so a probe for an absent key ends quickly, and
//   comparing the stored hash first keeps most probes away from the key strings.
// - Hashing decides only where a key sits in the pair array, never an order anyone observes,
//   so it has no effect on results, snapshots or digests. The hash (FNV-1a over UTF-16 code
//   units with MurmurHash3's final mix) is not keyed: ids chosen to collide would slow
//   probes, never change an answer.
//
// Two memos serve the generic executor's access pattern: the last two keys found (a
// transaction looks a row up again when a later operation or a ref names it), and the empty
// bucket where the last absent key's probe ended (an insert follows the check that its key is
// absent). The ledger's transfer path hashes each id once, while checking that it is a valid
// id (validIdHash), and passes the hash in (findHashed, insertHashed).
import { ID_BYTES_MAX } from "../constants.ts";
import { assert, type BytesWriter } from "../stdx/index.ts";
import { idCharacters } from "./values.ts";

const pairsInitial = 16;
const empty = 0;
const bytesInitial = 256;
const keyPieceLength = 4096;

export class KeyIndex {
  /** The characters of every key, in slot order. */
  #bytes = new Uint8Array(bytesInitial);
  /** Per slot, where its key starts in #bytes; at [size], where the next key will start. */
  #starts = new Int32Array(pairsInitial);
  #size = 0;
  /** Per bucket: [hash, slot + 1]; slot + 1 === 0 marks an empty bucket. */
  #pairs = new Int32Array(pairsInitial * 2);
  #recentKey0 = "";
  #recentSlot0 = -1;
  #recentKey1 = "";
  #recentSlot1 = -1;
  #absentKey = "";
  #absentBucket = -1;

  /** Whether `key` can be stored: every character below 256. */
  static canHold(key: string): boolean {
    for (let index = 0; index < key.length; index++) {
      if (key.charCodeAt(index) > 0xff) return false;
    }
    return true;
  }

  get size(): number {
    return this.#size;
  }

  /** The key at `slot`, as a new string. */
  keyAt(slot: number): string {
    assert(slot >= 0 && slot < this.#size, "slot out of range");
    const start = this.#starts[slot] as number;
    const end = this.#starts[slot + 1] as number;
    // Ids are short (ID_BYTES_MAX); a longer key (a snapshot may hold any) goes in pieces, as
    // apply() passes every character as an argument on the stack.
    let key = "";
    for (let at = start; at < end; at += keyPieceLength) {
      const piece = this.#bytes.subarray(at, Math.min(end, at + keyPieceLength));
      key += String.fromCharCode.apply(null, piece as unknown as number[]);
    }
    return key;
  }

  /**
   * Writes the key at `slot` as BytesWriter.string(keyAt(slot)) would (u32 UTF-8 length, then
   * the bytes), without building the string: an ASCII key's bytes are its UTF-8. A snapshot or
   * digest writes every key of every row, so this is most of what encoding a table costs.
   */
  encodeKeyAt(writer: BytesWriter, slot: number): void {
    assert(slot >= 0 && slot < this.#size, "slot out of range");
    const start = this.#starts[slot] as number;
    const end = this.#starts[slot + 1] as number;
    // Latin-1 beyond ASCII takes two UTF-8 bytes a character: through the string.
    if (!writer.asciiBytes(this.#bytes, start, end)) writer.string(this.keyAt(slot));
  }

  /** The slot of `key`, or -1 when it is absent. */
  find(key: string): number {
    if (this.#recentSlot0 >= 0 && key === this.#recentKey0) return this.#recentSlot0;
    if (this.#recentSlot1 >= 0 && key === this.#recentKey1) return this.#recentSlot1;
    const slot = this.#probe(key, hashKey(key));
    if (slot >= 0) {
      this.#recentKey1 = this.#recentKey0;
      this.#recentSlot1 = this.#recentSlot0;
      this.#recentKey0 = key;
      this.#recentSlot0 = slot;
    }
    return slot;
  }

  /**
   * find() for a caller that has hashed `key` already (`hash` from hashKey or validIdHash).
   * It skips the memos: they serve lookups repeated within a transaction, which this caller
   * does not make.
   */
  findHashed(key: string, hash: number): number {
    return this.#probe(key, hash | 0);
  }

  /**
   * findHashed() for a key given as bytes[start, start + length) (one character per byte, as
   * keys are stored), so that a caller reading ids from a buffer needs no string.
   */
  findHashedBytes(bytes: Uint8Array, start: number, length: number, hash: number): number {
    const pairs = this.#pairs;
    const mask = (pairs.length >> 1) - 1;
    const hashSigned = hash | 0;
    for (let bucket = hashSigned & mask; ; bucket = (bucket + 1) & mask) {
      const entry = pairs[bucket * 2 + 1] as number;
      if (entry === empty) return -1;
      if (pairs[bucket * 2] === hashSigned && this.#holdsBytes(entry - 1, bytes, start, length)) {
        return entry - 1;
      }
    }
  }

  /**
   * insertHashed() for a key given as bytes (findHashedBytes), which must be absent: the
   * caller has just looked it up with findHashedBytes and changed nothing since.
   */
  insertHashedBytes(bytes: Uint8Array, start: number, length: number, hashAny: number): number {
    const hash = hashAny | 0;
    const slot = this.#size;
    this.#absentBucket = -1;
    if ((slot + 1) * 4 > this.#pairs.length) this.#grow();
    const pairs = this.#pairs;
    const mask = (pairs.length >> 1) - 1;
    let bucket = hash & mask;
    // The walk to the empty bucket passes every key of this hash: none may be this key.
    for (let entry = pairs[bucket * 2 + 1] as number; entry !== empty; ) {
      const same = pairs[bucket * 2] === hash && this.#holdsBytes(entry - 1, bytes, start, length);
      assert(!same, "key inserted twice");
      bucket = (bucket + 1) & mask;
      entry = pairs[bucket * 2 + 1] as number;
    }
    this.#pairs[bucket * 2] = hash;
    this.#pairs[bucket * 2 + 1] = slot + 1;
    const keyStart = this.#starts[slot] as number;
    const end = keyStart + length;
    if (end > this.#bytes.length) this.#bytes = grownUint8(this.#bytes, end);
    if (slot + 2 > this.#starts.length) this.#starts = grownInt32(this.#starts, slot + 2);
    const keys = this.#bytes;
    for (let index = 0; index < length; index++)
      keys[keyStart + index] = bytes[start + index] as number;
    this.#starts[slot + 1] = end;
    this.#size = slot + 1;
    return slot;
  }

  /**
   * The entry of the first bucket of `hash`'s probe (slot + 1 of the key there, 0 when empty;
   * not necessarily the key hashed). Prefetching only: reading it soon before a find() brings
   * the bucket into the cache (transfer-path.ts); it changes nothing.
   */
  firstEntry(hash: number): number {
    const pairs = this.#pairs;
    return pairs[(hash & ((pairs.length >> 1) - 1)) * 2 + 1] as number;
  }

  /** The first character code of the key at `slot` (0 for none). Prefetching only. */
  touchKey(slot: number): number {
    return this.#bytes[this.#starts[slot] ?? 0] ?? 0;
  }

  /** Adds `key`, which must be absent, at the next slot; returns that slot. */
  insert(key: string): number {
    return this.insertHashed(key, hashKey(key));
  }

  /** insert() for a caller that has hashed `key` already (hashKey, or validIdHash unsigned). */
  insertHashed(key: string, hashAny: number): number {
    const hash = hashAny | 0;
    if (key !== this.#absentKey || this.#absentBucket < 0) {
      assert(this.#probe(key, hash) === -1, "key inserted twice");
    }
    const slot = this.#size;
    let bucket = this.#absentBucket;
    this.#absentBucket = -1;
    if ((slot + 1) * 4 > this.#pairs.length) {
      this.#grow();
      bucket = this.#emptyBucket(hash);
    }
    this.#pairs[bucket * 2] = hash;
    this.#pairs[bucket * 2 + 1] = slot + 1;
    this.#append(key);
    return slot;
  }

  /** Removes the newest key (the rollback of its insert). */
  removeNewest(): void {
    assert(this.#size > 0, "removeNewest on an empty index");
    const slot = this.#size - 1;
    const key = this.keyAt(slot);
    this.#size = slot;
    const pairs = this.#pairs;
    const mask = (pairs.length >> 1) - 1;
    let bucket = hashKey(key) & mask;
    while (pairs[bucket * 2 + 1] !== slot + 1) {
      assert(pairs[bucket * 2 + 1] !== empty, "newest key missing from its probe chain");
      bucket = (bucket + 1) & mask;
    }
    pairs[bucket * 2 + 1] = empty;
    this.#absentBucket = -1;
    if (this.#recentSlot0 === slot) this.#recentSlot0 = -1;
    if (this.#recentSlot1 === slot) this.#recentSlot1 = -1;
  }

  /** The slot of `key`, or -1 (remembering the empty bucket where the probe ended). */
  #probe(key: string, hash: number): number {
    const pairs = this.#pairs;
    const mask = (pairs.length >> 1) - 1;
    for (let bucket = hash & mask; ; bucket = (bucket + 1) & mask) {
      const entry = pairs[bucket * 2 + 1] as number;
      if (entry === empty) {
        this.#absentKey = key;
        this.#absentBucket = bucket;
        return -1;
      }
      if (pairs[bucket * 2] === hash && this.#holds(entry - 1, key)) return entry - 1;
    }
  }

  /** Whether the key at `slot` is `key`. */
  #holds(slot: number, key: string): boolean {
    const start = this.#starts[slot] as number;
    const length = key.length;
    if ((this.#starts[slot + 1] as number) - start !== length) return false;
    const bytes = this.#bytes;
    for (let index = 0; index < length; index++) {
      if (bytes[start + index] !== key.charCodeAt(index)) return false;
    }
    return true;
  }

  /** Whether the key at `slot` is bytes[start, start + length). */
  #holdsBytes(slot: number, bytes: Uint8Array, start: number, length: number): boolean {
    const keyStart = this.#starts[slot] as number;
    if ((this.#starts[slot + 1] as number) - keyStart !== length) return false;
    const keys = this.#bytes;
    for (let index = 0; index < length; index++) {
      if (keys[keyStart + index] !== bytes[start + index]) return false;
    }
    return true;
  }

  /** Stores the characters of the key of the next slot. */
  #append(key: string): void {
    const slot = this.#size;
    const start = this.#starts[slot] as number;
    const end = start + key.length;
    if (end > this.#bytes.length) this.#bytes = grownUint8(this.#bytes, end);
    if (slot + 2 > this.#starts.length) this.#starts = grownInt32(this.#starts, slot + 2);
    const bytes = this.#bytes;
    for (let index = 0; index < key.length; index++) {
      const code = key.charCodeAt(index);
      assert(code <= 0xff, "keys are Latin-1 (canHold)");
      bytes[start + index] = code;
    }
    this.#starts[slot + 1] = end;
    this.#size = slot + 1;
  }

  /** The first empty bucket of the probe sequence of `hash`. */
  #emptyBucket(hash: number): number {
    const pairs = this.#pairs;
    const mask = (pairs.length >> 1) - 1;
    let bucket = hash & mask;
    while (pairs[bucket * 2 + 1] !== empty) bucket = (bucket + 1) & mask;
    return bucket;
  }

  #grow(): void {
    const old = this.#pairs;
    this.#pairs = new Int32Array(old.length * 2);
    for (let at = 0; at < old.length; at += 2) {
      const entry = old[at + 1] as number;
      if (entry === empty) continue;
      const bucket = this.#emptyBucket(old[at] as number);
      this.#pairs[bucket * 2] = old[at] as number;
      this.#pairs[bucket * 2 + 1] = entry;
    }
  }
}

// The ledger looks the same transfer id up in two tables and then inserts it, so the last
// key's hash is remembered (a pure cache: the same key always gets the same hash).
let hashedKeyLast = "";
let hashLast = mixedHash("");

/** A 32-bit hash of `key`; equal strings get equal hashes. */
export function hashKey(key: string): number {
  if (key === hashedKeyLast) return hashLast;
  hashedKeyLast = key;
  hashLast = mixedHash(key);
  return hashLast;
}

function mixedHash(key: string): number {
  let hash = 0x811c9dc5 | 0;
  for (let index = 0; index < key.length; index++) {
    hash = Math.imul(hash ^ key.charCodeAt(index), 0x01000193);
  }
  return finalMix(hash);
}

/** MurmurHash3's 32-bit finalizer: spreads FNV's low bits, which pick the bucket. */
function finalMix(fnv: number): number {
  let hash = fnv ^ (fnv >>> 16);
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  return hash ^ (hash >>> 16);
}

/**
 * For an id that isValidId accepts, hashKey(id) as an unsigned 32-bit number; -1 for any
 * other string. One pass over the characters both checks and hashes them, so each id of a
 * transfer is read once (key-index.prop.test.ts checks both halves against the originals).
 */
export function validIdHash(id: string): number {
  const length = id.length;
  if (length === 0 || length > ID_BYTES_MAX) return -1;
  let hash = 0x811c9dc5 | 0;
  for (let index = 0; index < length; index++) {
    const code = id.charCodeAt(index);
    if (code >= 128 || idCharacters[code] !== 1) return -1;
    hash = Math.imul(hash ^ code, 0x01000193);
  }
  return finalMix(hash) >>> 0;
}

/**
 * validIdHash for an id given as bytes[start, start + length), one character per byte: the
 * same hash and the same rule, so an id read from a buffer and the same id as a string are
 * found in the same bucket.
 */
export function validIdHashBytes(bytes: Uint8Array, start: number, length: number): number {
  if (length === 0 || length > ID_BYTES_MAX) return -1;
  let hash = 0x811c9dc5 | 0;
  for (let index = start; index < start + length; index++) {
    const code = bytes[index] as number;
    if (code >= 128 || idCharacters[code] !== 1) return -1;
    hash = Math.imul(hash ^ code, 0x01000193);
  }
  return finalMix(hash) >>> 0;
}

function grownUint8(array: Uint8Array, lengthMin: number): Uint8Array<ArrayBuffer> {
  let length = Math.max(array.length * 2, 8);
  while (length < lengthMin) length *= 2;
  const grown = new Uint8Array(length);
  grown.set(array);
  return grown;
}

/** A copy of `array` with room for at least `lengthMin` elements (doubling). */
export function grownInt32(array: Int32Array, lengthMin: number): Int32Array<ArrayBuffer> {
  let length = Math.max(array.length * 2, 8);
  while (length < lengthMin) length *= 2;
  const grown = new Int32Array(length);
  grown.set(array);
  return grown;
}
