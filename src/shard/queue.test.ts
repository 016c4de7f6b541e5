// Goal: the submission queue is bounded by weight (commands), keeps FIFO order, never splits
// an entry, and never returns more than the weight asked for beyond its first entry. Method:
// random pushes and takes checked against a plain array model.
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { BoundedQueue } from "./queue.ts";

test("weight-bounded FIFO matches a plain array model", () => {
  const step = fc.oneof(
    fc.record({ push: fc.integer({ min: 1, max: 40 }) }),
    fc.record({ take: fc.integer({ min: 1, max: 100 }) }),
  );
  fc.assert(
    fc.property(fc.array(step, { maxLength: 300 }), (steps) => {
      const queue = new BoundedQueue<{ n: number; weight: number }>(100, (item) => item.weight);
      const model: { n: number; weight: number }[] = [];
      let n = 0;
      for (const s of steps) {
        const modelWeight = model.reduce((sum, item) => sum + item.weight, 0);
        assert.equal(queue.length, modelWeight);
        if ("push" in s) {
          const fits = modelWeight + s.push <= 100;
          assert.equal(queue.hasRoom(s.push), fits);
          if (!fits) continue;
          const item = { n: n++, weight: s.push };
          queue.push(item);
          model.push(item);
        } else {
          const taken = queue.take(s.take);
          let weight = 0;
          let count = 0;
          while (count < model.length) {
            const next = (model[count] as { weight: number }).weight;
            if (count > 0 && weight + next > s.take) break;
            weight += next;
            count++;
          }
          assert.deepEqual(taken, model.splice(0, count));
        }
      }
      assert.deepEqual(queue.takeAll(), model);
      assert.equal(queue.length, 0);
    }),
    { numRuns: 300 },
  );
});
