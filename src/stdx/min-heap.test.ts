// Goal: the heap pops items in exactly the order a sort by the same relation gives, for any
// mix of pushes and pops, ties included (broken by the relation itself). Method: fast-check
// operation lists against a sorted-array model.
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { MinHeap } from "./min-heap.ts";

interface Item {
  readonly key: number;
  readonly sequence: number;
}

const isBefore = (a: Item, b: Item) =>
  a.key < b.key || (a.key === b.key && a.sequence < b.sequence);

test("pops in the relation's order, like a sorted array", () => {
  const step = fc.oneof(fc.integer({ min: 0, max: 20 }), fc.constant(-1));
  fc.assert(
    fc.property(fc.array(step, { maxLength: 400 }), (steps) => {
      const heap = new MinHeap<Item>(isBefore);
      let model: Item[] = [];
      let sequence = 0;
      for (const s of steps) {
        if (s >= 0) {
          const item = { key: s, sequence: sequence++ };
          heap.push(item);
          model.push(item);
          model = model.sort((a, b) => (isBefore(a, b) ? -1 : 1));
        } else {
          assert.equal(heap.pop(), model.shift());
        }
        assert.equal(heap.size, model.length);
        assert.equal(heap.peek(), model[0]);
      }
    }),
    { numRuns: 300 },
  );
});
