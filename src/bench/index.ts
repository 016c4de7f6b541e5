// bench: the load generator behind `txgrid bench` (REST today), its workload, latency
// statistics and reports (text, and JSON or HTML with plots), the side-by-side runs against
// PostgreSQL and Redis (peers/), and the helper that starts a real server process for it and
// tests.
export {
  type BenchOptions,
  type BenchReport,
  describeMachine,
  type Machine,
  runBench,
} from "./bench.ts";
export { type BenchApi, type BenchProtocol, type Driver, openDriver } from "./drivers.ts";
export { HttpConnection } from "./http-connection.ts";
export { type LatencyBucket, LatencyRecorder, type LatencySummary } from "./latency.ts";
export { median } from "./median.ts";
export {
  type ComparisonRow,
  comparisonRows,
  formatComparison,
  type PeerReport,
  type PeerSpec,
  parsePeerList,
  preparePeers,
  runPeers,
} from "./peers/index.ts";
export { formatReport } from "./report.ts";
export {
  type BenchReportFile,
  buildReportFile,
  type PeerResult,
  parsePeers,
  type ReportContext,
  type ReportRun,
  renderReportHtml,
  shellQuote,
} from "./report-file.ts";
export {
  type ServerProcess,
  type ServerProcessOptions,
  startReferenceProcess,
  startServerProcess,
  startTcpReferenceProcess,
} from "./server-process.ts";
export { referenceReply, TCP_REFERENCE_FSYNC } from "./tcp-reference.ts";
export { HOT_ACCOUNT_COUNT, Workload } from "./workload.ts";
