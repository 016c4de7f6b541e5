// Goal: the submission queue is bounded by weight (commands), keeps FIFO order, never splits
// an entry, and never returns more than the weight asked for beyond its first entry. Method:
// random pushes and takes checked against a plain array model.
import assert from "node:assert/strict";
import { test } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
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

test("a taken entry is not kept alive by the queue (partial and full takes)", async () => {
  // Without the cleared slots, taken submissions stayed reachable from the consumed head of
  // the backing array until the next compaction, so every request survived scavenges.
  setFlagsFromString("--expose-gc");
  const collect = runInNewContext("gc") as () => void;
  const queue = new BoundedQueue<{ readonly payload: number[] }>(100, () => 1);
  // Pushed from a helper: a suspended async function's frame could itself keep a local alive.
  const refs = [0, 1, 2].map((index) => pushTracked(queue, index));
  assert.equal(queue.take(1).length, 1);
  assert.equal(queue.take(1).length, 1);
  await new Promise((resolve) => setImmediate(resolve));
  collect();
  assert.equal(refs[0]?.deref(), undefined, "first taken entry collected");
  assert.equal(refs[1]?.deref(), undefined, "second taken entry collected");
  assert.notEqual(refs[2]?.deref(), undefined, "the waiting entry is kept");
  assert.equal(queue.takeAll().length, 1);
  await new Promise((resolve) => setImmediate(resolve));
  collect();
  assert.equal(refs[2]?.deref(), undefined, "an emptied queue holds nothing");
});

function pushTracked(queue: BoundedQueue<{ readonly payload: number[] }>, index: number) {
  const item = { payload: [index] };
  queue.push(item);
  return new WeakRef(item);
}
