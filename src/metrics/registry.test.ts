// Goal: /metrics output is valid Prometheus text exposition and stays bounded. Method: a
// golden rendering of each metric type (names, escaping, cumulative buckets, +Inf, _sum,
// _count); fast-check properties that histogram buckets are cumulative and end at _count for
// any observations; the series limit refuses one more label combination with
// TXG_ERR_LIMIT_EXCEEDED; bad names assert.
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { METRICS_SERIES_PER_FAMILY_MAX } from "../constants.ts";
import { AssertionFailure, ErrorCode, isTxgridError } from "../stdx/index.ts";
import { exponentialBuckets, MetricsRegistry } from "./registry.ts";

test("renders counters, gauges and histograms in the text format", () => {
  const registry = new MetricsRegistry();
  const requests = registry.counter("app_requests_total", "Requests.\nSecond line", ["route"]);
  requests.series('/a"b\\c\nd').inc(2);
  requests.series("/x").inc();
  registry.gauge("app_depth_commands", "Depth.").series().set(7);
  const latency = registry.histogram("app_latency_seconds", "Latency.", ["m"], [0.1, 1]);
  latency.series("GET").observe(0.05);
  latency.series("GET").observe(0.5);
  latency.series("GET").observe(3);
  assert.equal(
    registry.render(),
    [
      "# HELP app_requests_total Requests.\\nSecond line",
      "# TYPE app_requests_total counter",
      'app_requests_total{route="/a\\"b\\\\c\\nd"} 2',
      'app_requests_total{route="/x"} 1',
      "# HELP app_depth_commands Depth.",
      "# TYPE app_depth_commands gauge",
      "app_depth_commands 7",
      "# HELP app_latency_seconds Latency.",
      "# TYPE app_latency_seconds histogram",
      'app_latency_seconds_bucket{m="GET",le="0.1"} 1',
      'app_latency_seconds_bucket{m="GET",le="1"} 2',
      'app_latency_seconds_bucket{m="GET",le="+Inf"} 3',
      'app_latency_seconds_sum{m="GET"} 3.55',
      'app_latency_seconds_count{m="GET"} 3',
      "",
    ].join("\n"),
  );
});

test("collectors run before each render", () => {
  const registry = new MetricsRegistry();
  const gauge = registry.gauge("app_value", "A value read at scrape time.");
  let source = 1;
  registry.onCollect(() => gauge.series().set(source));
  assert.match(registry.render(), /^app_value 1$/m);
  source = 42;
  assert.match(registry.render(), /^app_value 42$/m);
});

test("histogram buckets are cumulative and end at _count, for any observations", () => {
  fc.assert(
    fc.property(
      fc.array(fc.double({ min: 0, max: 100, noNaN: true }), { maxLength: 200 }),
      (xs) => {
        const registry = new MetricsRegistry();
        const histogram = registry.histogram("h_seconds", "h", [], exponentialBuckets(0.01, 3, 6));
        const series = histogram.series();
        for (const x of xs) series.observe(x);
        const text = registry.render();
        const buckets = [...text.matchAll(/^h_seconds_bucket\{le="([^"]+)"\} (\S+)$/gm)];
        assert.equal(buckets.length, 7);
        const counts = buckets.map((match) => Number(match[2]));
        for (let index = 1; index < counts.length; index++) {
          assert.ok((counts[index] as number) >= (counts[index - 1] as number));
        }
        assert.equal(buckets.at(-1)?.[1], "+Inf");
        assert.equal(counts.at(-1), xs.length);
        assert.match(text, new RegExp(`^h_seconds_count ${xs.length}$`, "m"));
        // Every bucket counts exactly the observations at or below its bound.
        for (const [index, match] of buckets.entries()) {
          const bound = match[1] === "+Inf" ? Number.POSITIVE_INFINITY : Number(match[1]);
          assert.equal(counts[index], xs.filter((x) => x <= bound).length);
        }
      },
    ),
  );
});

test("a family refuses one series beyond METRICS_SERIES_PER_FAMILY_MAX", () => {
  const registry = new MetricsRegistry();
  const counter = registry.counter("c_total", "c", ["id"]);
  for (let index = 0; index < METRICS_SERIES_PER_FAMILY_MAX; index++) counter.series(`${index}`);
  counter.series("0").inc(); // an existing series is still found
  assert.throws(
    () => counter.series("one-more"),
    (error) => isTxgridError(error, ErrorCode.LIMIT_EXCEEDED),
  );
  assert.equal(counter.seriesCount, METRICS_SERIES_PER_FAMILY_MAX);
});

test("bad names, wrong label counts and decreasing counters are programmer errors", () => {
  const registry = new MetricsRegistry();
  assert.throws(() => registry.counter("bad-name_total", "x"), AssertionFailure);
  assert.throws(() => registry.counter("no_suffix", "x"), AssertionFailure);
  assert.throws(() => registry.gauge("g", "x", ["le"]), AssertionFailure);
  const counter = registry.counter("ok_total", "x", ["a"]);
  assert.throws(() => counter.series(), AssertionFailure);
  assert.throws(() => counter.series("v").inc(-1), AssertionFailure);
  assert.throws(() => registry.counter("ok_total", "x"), AssertionFailure);
  assert.throws(() => registry.histogram("h", "x", [], [2, 1]), AssertionFailure);
});

test("exponential buckets read as the numbers they mean", () => {
  assert.deepEqual(exponentialBuckets(0.00005, 2, 4), [0.00005, 0.0001, 0.0002, 0.0004]);
  assert.deepEqual(exponentialBuckets(1, 2, 3), [1, 2, 4]);
});
