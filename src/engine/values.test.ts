// Goal: isValidId, a character-table loop, accepts exactly the ids the documented pattern
// /^[A-Za-z0-9._:-]+$/ with 1..ID_BYTES_MAX characters accepts. Method: fast-check compares
// both on strings drawn from the id alphabet, from all of UTF-16, and around the length limit.
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { ID_BYTES_MAX } from "../constants.ts";
import { isValidId } from "./values.ts";

const seed = Number(process.env.SEED ?? Date.now() % 2 ** 31);
const pattern = /^[A-Za-z0-9._:-]+$/;
const idCharacter = fc.constantFrom(
  ..."ABCZabcz0189._:-".split(""),
  " ",
  "/",
  "\n",
  "é",
  "\u{1F600}",
  "\u0000",
);

test("isValidId accepts exactly the documented ids", () => {
  const candidate = fc.oneof(
    fc.string({ unit: idCharacter, maxLength: 10 }),
    fc.string({ unit: idCharacter, minLength: ID_BYTES_MAX - 2, maxLength: ID_BYTES_MAX + 2 }),
    fc.string({ unit: "binary", maxLength: 10 }),
  );
  fc.assert(
    fc.property(candidate, (id) => {
      const expected = id.length <= ID_BYTES_MAX && pattern.test(id);
      assert.equal(isValidId(id), expected, JSON.stringify(id));
    }),
    { seed, numRuns: 5000 },
  );
});
