// metrics: the node's Prometheus metrics (GET /metrics) and the per-second live series the
// console draws. Fed by the shard's events and the HTTP face's answered requests.
export { type LivePoint, LiveSeries } from "./live-series.ts";
export {
  NodeMetrics,
  type NodeMetricsOptions,
  type ReplicationLagSample,
  type ReplicationRoleSample,
} from "./node-metrics.ts";
export {
  Counter,
  exponentialBuckets,
  formatSampleValue,
  Gauge,
  Histogram,
  METRICS_CONTENT_TYPE,
  MetricsRegistry,
} from "./registry.ts";
export { WindowHistogram } from "./window-histogram.ts";
