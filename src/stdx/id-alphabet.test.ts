// Goal: the id alphabet table accepts exactly what /^[A-Za-z0-9._:-]*$/ accepts, for ASCII,
// Latin-1, astral and surrogate characters alike (a wrong table entry would let a bad id onto
// the wire or refuse a good one). Method: random strings compared with the regular expression.
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { hasIdCharactersOnly } from "./id-alphabet.ts";

test("the id alphabet matches the regular expression", () => {
  const reference = /^[A-Za-z0-9._:-]*$/;
  const text = fc.oneof(
    fc.string({ unit: fc.constantFrom("a", "Z", "5", ".", "_", ":", "-"), maxLength: 20 }),
    fc.string({ unit: "binary", maxLength: 20 }),
    fc.string({ unit: fc.integer({ min: 0, max: 0x1ff }).map((c) => String.fromCharCode(c)) }),
  );
  fc.assert(
    fc.property(text, (value) => {
      assert.equal(hasIdCharactersOnly(value), reference.test(value), JSON.stringify(value));
    }),
    { numRuns: 2000 },
  );
  for (let code = 0; code < 0x300; code++) {
    const value = String.fromCharCode(code);
    assert.equal(hasIdCharactersOnly(value), reference.test(value), `code ${code}`);
  }
});
