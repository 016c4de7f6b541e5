// Goal: the console's per-second p50/p99 are accurate. Method: fast-check draws windows of
// latencies (1 µs .. 100 s) and compares WindowHistogram's percentiles with the exact
// nearest-rank percentile of the sorted values: within 2.2% (half a log bucket), exact for
// p100, null for an empty window, and empty again after reset().
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { WindowHistogram } from "./window-histogram.ts";

function nearestRank(sorted: readonly number[], p: number): number {
  return sorted[Math.ceil((p / 100) * sorted.length) - 1] as number;
}

test("percentiles are within half a bucket of the exact nearest rank", () => {
  fc.assert(
    fc.property(
      fc.array(fc.double({ min: 1, max: 100_000_000, noNaN: true }), {
        minLength: 1,
        maxLength: 300,
      }),
      fc.constantFrom(1, 25, 50, 90, 99, 99.9),
      (values, p) => {
        const histogram = new WindowHistogram();
        for (const value of values) histogram.record(value);
        const exact = nearestRank(
          [...values].sort((a, b) => a - b),
          p,
        );
        const estimate = histogram.percentile(p) as number;
        assert.ok(
          Math.abs(estimate - exact) <= exact * 0.022,
          `p${p}: estimate ${estimate}, exact ${exact}`,
        );
        assert.equal(histogram.percentile(100), Math.max(...values));
      },
    ),
  );
});

test("an empty window answers null, and reset() empties a window", () => {
  const histogram = new WindowHistogram();
  assert.equal(histogram.percentile(50), null);
  histogram.record(10);
  histogram.record(0.2);
  assert.equal(histogram.count, 2);
  // Values below 1 share the first bucket: the answer stays at or below its top.
  assert.ok((histogram.percentile(50) as number) <= 2 ** (1 / 16));
  assert.equal(histogram.percentile(100), 10);
  histogram.reset();
  assert.equal(histogram.count, 0);
  assert.equal(histogram.percentile(99), null);
});
