// bench/peers: the same transfer workload against private PostgreSQL and Redis instances, for
// `txgrid bench --peers`, and the side-by-side table with txgrid's throughput ratios.
export { parsePgbenchSummary, parseRedisBenchmark } from "./output.ts";
export {
  comparisonRows,
  formatComparison,
  type PeerComparisonOptions,
  parsePeerList,
  preparePeers,
  runPeers,
  throughputRatio,
} from "./run-peers.ts";
export {
  type ComparisonRow,
  PEER_NAMES,
  PEER_SETTINGS,
  type PeerName,
  type PeerReport,
  type PeerRun,
  type PeerSpec,
  type PeerWorkload,
} from "./types.ts";
