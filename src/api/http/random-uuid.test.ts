// Goal: randomUuid gives what crypto.randomUUID gives: version-4 UUIDs in the same textual
// form, never twice the same, with every random digit actually random. Method: draw more than
// one pool's worth (so the pool is refilled), check the form of each, count distinct values,
// and check that each of the 30 random hex positions takes many values.
import assert from "node:assert/strict";
import { test } from "node:test";
import { randomUuid } from "./random-uuid.ts";

const v4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test("randomUuid gives distinct version-4 UUIDs in crypto.randomUUID's form", () => {
  const drawn = Array.from({ length: 5000 }, () => randomUuid());
  for (const uuid of drawn) assert.match(uuid, v4);
  assert.equal(new Set(drawn).size, drawn.length);
  for (let position = 0; position < 36; position++) {
    if ([8, 13, 14, 18, 23].includes(position)) continue;
    const seen = new Set(drawn.map((uuid) => uuid[position]));
    const expected = position === 19 ? 4 : 16;
    assert.equal(seen.size, expected, `position ${position}`);
  }
});
