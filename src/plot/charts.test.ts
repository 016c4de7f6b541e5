// Goal: the charts are safe and honest for any data: text is escaped, missing values break a
// line instead of drawing a zero, a lone point is still visible, empty charts say so, ticks
// are round numbers, and the output is well-formed SVG for random input. Method: examples on
// the SVG text, and fast-check series (with nulls, NaN, infinities, negatives) whose output
// must parse as balanced XML tags with no "NaN" or "Infinity" in any attribute.
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { barChart, formatCompact, formatMicros, lineChart, niceTicks } from "./charts.ts";

function assertWellFormed(svg: string): void {
  assert.ok(svg.startsWith("<svg") && svg.endsWith("</svg>"));
  assert.doesNotMatch(svg, /="[^"]*(NaN|Infinity)[^"]*"/);
  const stack: string[] = [];
  for (const match of svg.matchAll(/<(\/?)([a-z]+)[^>]*?(\/?)>/g)) {
    const [, closing, name, selfClosing] = match as unknown as [string, string, string, string];
    if (selfClosing === "/") continue;
    if (closing === "/") assert.equal(stack.pop(), name, `unbalanced </${name}>`);
    else stack.push(name);
  }
  assert.deepEqual(stack, []);
}

test("text is escaped and titles are kept", () => {
  const svg = lineChart({
    title: 'a<b>&"c"',
    series: [
      {
        name: "<script>",
        color: '"red"',
        points: [
          [0, 1],
          [1, 2],
        ],
      },
    ],
  });
  assert.doesNotMatch(svg, /<script>|<b>/);
  assert.match(svg, /a&lt;b&gt;&amp;&quot;c&quot;/);
  assertWellFormed(svg);
});

test("a null breaks the line into two paths; a lone point becomes a dot", () => {
  const svg = lineChart({
    title: "t",
    series: [
      {
        name: "s",
        color: "#000",
        points: [
          [0, 1],
          [1, 2],
          [2, null],
          [3, 4],
          [4, 5],
          [5, null],
          [6, 3],
        ],
      },
    ],
  });
  assert.equal((svg.match(/<path /g) ?? []).length, 2);
  assert.equal((svg.match(/<circle /g) ?? []).length, 1);
});

test("empty charts render a frame and say there is no data", () => {
  const line = lineChart({ title: "empty", series: [] });
  assert.match(line, /no data yet/);
  assertWellFormed(line);
  const bars = barChart({ title: "empty", seriesNames: [], colors: [], groups: [] });
  assert.match(bars, /no data/);
  assertWellFormed(bars);
});

test("nice ticks are round and cover the range", () => {
  assert.deepEqual(niceTicks(0, 10, 5), [0, 2, 4, 6, 8, 10]);
  assert.deepEqual(niceTicks(0, 4300, 4), [0, 2000, 4000]);
  assert.deepEqual(niceTicks(3, 3, 4), [3]);
  assert.deepEqual(niceTicks(5, 1, 4), []);
  assert.equal(formatCompact(1234), "1234");
  assert.equal(formatCompact(12_345), "12.3k");
  assert.equal(formatCompact(2_500_000), "2.5M");
  assert.equal(formatMicros(850), "850 µs");
  assert.equal(formatMicros(12_500), "12.5 ms");
  assert.equal(formatMicros(2_000_000), "2 s");
});

test("any data gives well-formed SVG on every scale", () => {
  const value = fc.oneof(
    fc.double({ min: -1e9, max: 1e9 }),
    fc.constantFrom(null, Number.NaN, Number.POSITIVE_INFINITY, 0),
  );
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.double({ min: 0, max: 100, noNaN: true }), value), { maxLength: 40 }),
      fc.constantFrom("linear" as const, "log" as const),
      fc.constantFrom("linear" as const, "nines" as const),
      (points, yScale, xScale) => {
        assertWellFormed(
          lineChart({ title: "p", xScale, yScale, series: [{ name: "s", color: "#123", points }] }),
        );
        const groups = points.map(([x, y], index) => ({ label: `g${index}:${x}`, values: [y] }));
        assertWellFormed(barChart({ title: "b", seriesNames: ["s"], colors: ["#123"], groups }));
      },
    ),
  );
});
