// Goal: KeyIndex maps keys to dense slots in insertion order exactly as a Map and an array
// would, through growth, hash collisions and rollbacks of the newest insert.
// Method: fast-check runs random sequences of insert / find / removeNewest against that model;
// tiny key alphabets and short keys make collisions in the small initial bucket array common,
// and a second property pushes thousands of keys through several doublings. SEED=<n> replays.
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { ID_BYTES_MAX } from "../constants.ts";
import { hashKey, KeyIndex, validIdHash } from "./key-index.ts";
import { isValidId } from "./values.ts";

const seed = Number(process.env.SEED ?? Date.now() % 2 ** 31);
const numRuns = Number(process.env.PROP_RUNS ?? 300);

/** Keys a KeyIndex holds: Latin-1 strings (KeyIndex.canHold). */
const key = fc.oneof(
  fc.string({ unit: fc.constantFrom("a", "b", "1"), maxLength: 4 }),
  fc.string({ maxLength: 12 }).filter((value) => KeyIndex.canHold(value)),
  fc.string({ unit: fc.integer({ min: 0, max: 0xff }).map((code) => String.fromCharCode(code)) }),
);
/** Any string, for the hash functions. */
const anyString = fc.oneof(key, fc.string({ maxLength: 12 }), fc.string({ unit: "grapheme" }));

type Step =
  | { readonly kind: "insert"; readonly key: string }
  | { readonly kind: "find"; readonly key: string }
  | { readonly kind: "removeNewest" };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 5, arbitrary: key.map((value) => ({ kind: "insert" as const, key: value })) },
  { weight: 3, arbitrary: key.map((value) => ({ kind: "find" as const, key: value })) },
  { weight: 1, arbitrary: fc.constant({ kind: "removeNewest" as const }) },
);

/** A copy of `value` that is equal but not the same string object. */
function copyOf(value: string): string {
  return `${value} `.slice(0, -1);
}

function check(index: KeyIndex, keys: readonly string[]): void {
  assert.equal(index.size, keys.length);
  keys.forEach((value, slot) => {
    assert.equal(index.keyAt(slot), value);
    assert.equal(index.find(copyOf(value)), slot);
  });
}

test("KeyIndex agrees with a Map and an array of keys", () => {
  fc.assert(
    fc.property(fc.array(step, { maxLength: 120 }), (steps) => {
      const index = new KeyIndex();
      const keys: string[] = [];
      const slots = new Map<string, number>();
      for (const current of steps) {
        if (current.kind === "insert") {
          if (slots.has(current.key)) continue;
          assert.equal(index.insert(current.key), keys.length);
          slots.set(current.key, keys.length);
          keys.push(current.key);
        } else if (current.kind === "find") {
          assert.equal(index.find(copyOf(current.key)), slots.get(current.key) ?? -1);
        } else if (keys.length > 0) {
          index.removeNewest();
          slots.delete(keys.pop() as string);
        }
      }
      check(index, keys);
    }),
    { seed, numRuns },
  );
});

test("KeyIndex keeps every key through growth and rollbacks", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 5000 }), fc.nat(), (count, removeSeed) => {
      const index = new KeyIndex();
      const keys = Array.from({ length: count }, (_, n) => `id:${n}`);
      for (const value of keys) index.insert(value);
      const removed = removeSeed % (count + 1);
      for (let n = 0; n < removed; n++) index.removeNewest();
      check(index, keys.slice(0, count - removed));
      for (const value of keys.slice(count - removed)) assert.equal(index.find(value), -1);
      // Removed keys can come back, at the slots after the ones kept.
      for (const value of keys.slice(count - removed)) index.insert(value);
      check(index, keys);
    }),
    { seed, numRuns: 20 },
  );
});

test("equal strings hash alike, whatever object holds them", () => {
  fc.assert(
    fc.property(anyString, anyString, (left, right) => {
      assert.equal(hashKey(copyOf(left)), hashKey(left));
      if (hashKey(left) !== hashKey(right)) assert.notEqual(left, right);
    }),
    { seed, numRuns: 1000 },
  );
});

test("validIdHash is isValidId and hashKey in one pass", () => {
  const idCharacter = fc.constantFrom(..."ABZaz09._:-".split(""), " ", "é", "\u0000", "/");
  const candidate = fc.oneof(
    fc.string({ unit: idCharacter, maxLength: 12 }),
    fc.string({ unit: idCharacter, minLength: ID_BYTES_MAX - 1, maxLength: ID_BYTES_MAX + 1 }),
    anyString,
  );
  fc.assert(
    fc.property(candidate, (id) => {
      const hash = validIdHash(id);
      if (!isValidId(id)) assert.equal(hash, -1);
      else assert.equal(hash, hashKey(id) >>> 0);
    }),
    { seed, numRuns: 3000 },
  );
});

test("canHold accepts exactly the strings of characters below 256", () => {
  fc.assert(
    fc.property(anyString, (value) => {
      assert.equal(
        KeyIndex.canHold(value),
        [...value].every((c) => c.charCodeAt(0) <= 0xff),
      );
    }),
    { seed, numRuns: 1000 },
  );
});

test("findHashed and insertHashed agree with find and insert", () => {
  const index = new KeyIndex();
  const ids = Array.from({ length: 500 }, (_, n) => `id-${n}`);
  ids.forEach((id, slot) => {
    assert.equal(index.findHashed(id, validIdHash(id)), -1);
    assert.equal(
      index.insertHashed(copyOf(id), slot % 2 === 0 ? validIdHash(id) : hashKey(id)),
      slot,
    );
  });
  ids.forEach((id, slot) => {
    assert.equal(index.find(copyOf(id)), slot);
    assert.equal(index.findHashed(id, validIdHash(id)), slot);
    assert.equal(index.findHashed(id, hashKey(id)), slot);
  });
});

test("keys longer than an id come back whole", () => {
  const index = new KeyIndex();
  const long = Array.from({ length: 10_000 }, (_, n) => String.fromCharCode(n % 256)).join("");
  index.insert("short");
  index.insert(long);
  assert.equal(index.keyAt(1), long);
  assert.equal(index.find(copyOf(long)), 1);
  index.removeNewest();
  assert.equal(index.find(long), -1);
  assert.equal(index.keyAt(0), "short");
});
