// `txgrid bench`: runs the REST load (src/bench) against a server, or against a fresh server
// it starts itself (--spawn, in a temporary data directory, stopped by pid afterwards),
// once or --runs times, and prints each result and, for several runs, the medians; with
// --report it also writes the results as JSON or as an HTML page with plots.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SingleBar } from "cli-progress";
import {
  type BenchOptions,
  type BenchReport,
  buildReportFile,
  formatReport,
  type PeerResult,
  parsePeers,
  renderReportHtml,
  runBench,
  type ServerProcess,
  shellQuote,
  startReferenceProcess,
  startServerProcess,
} from "../bench/index.ts";
import { REQUEST_TRANSFERS_MAX } from "../constants.ts";
import { ErrorCode, TxgridError } from "../stdx/index.ts";
import { choiceFlag, integerFlag, parseFlags, stringFlag } from "./args.ts";

export const benchUsage = `usage: txgrid bench [options]

TiMPE's user-to-user load: transfers between two random accounts, amount 1..100. Prints
count, tx/s, mean, median, p68.27/p95.45/p99.73, p99.9 and max latency in microseconds, then
checks that money is conserved.

      --protocol P       http (default) | tcp (binary protocol, TypeScript client) |
                         embedded (the engine in this process, no network)
  -t, --transactions N   transfers to send (default 200000)
  -c, --concurrency N    requests in flight (default 64); http: one connection each
  -b, --batch N          transfers per request (default 1; http needs --api v1 for > 1)
      --rate R           open loop: R transfers/s whatever the answers (default 0:
                         closed loop); latency counts from when a request was due
  -i, --immediate        both phases per request (POST /transactions/immediately);
                         without it, phase 1 per request and one /transactions/process
      --api timpe|v1     TiMPE routes (default) or POST /v1/transfers with client ids
      --accounts N       accounts created for the run (default 100000)
      --hot P            P% of transfers touch the 10 hot accounts (default 0: uniform)
      --duration S       stop after S seconds even if -t is not reached (default 600)
      --url URL          server to load (default http://127.0.0.1:9100)
      --tcp-url URL      tcp: its binary address (default txgrid://127.0.0.1:9101)
      --spawn            start a fresh server in a temporary directory for the run
      --reference        run the same load against a bare node:http server that does
                         no work (Node's HTTP ceiling on this machine, same client)
      --fsync POLICY     with --spawn or embedded: always | batch | lazy (default batch)
      --runs N           repeat the run N times and print medians (default 1)
      --seed N           workload seed (default 1)
      --json FILE        also write the raw results as JSON
      --report FILE      also write a report: FILE.html (self-contained page with
                         throughput, percentile and histogram plots, durability and
                         machine) or FILE.json (the same model as data)
      --peers FILE       with --report: a JSON array of systems measured side by side,
                         [{"name","durability","txPerSecond","p50Us","p99Us"}], drawn
                         as bar charts next to txgrid
`;

const flags = {
  protocol: { type: "string", default: "http" },
  batch: { type: "string", short: "b", default: "1" },
  rate: { type: "string", default: "0" },
  "tcp-url": { type: "string", default: "txgrid://127.0.0.1:9101" },
  transactions: { type: "string", short: "t", default: "200000" },
  concurrency: { type: "string", short: "c", default: "64" },
  immediate: { type: "boolean", short: "i", default: false },
  api: { type: "string", default: "timpe" },
  accounts: { type: "string", default: "100000" },
  hot: { type: "string", default: "0" },
  duration: { type: "string", default: "600" },
  url: { type: "string", default: "http://127.0.0.1:9100" },
  spawn: { type: "boolean", default: false },
  reference: { type: "boolean", default: false },
  fsync: { type: "string", default: "batch" },
  runs: { type: "string", default: "1" },
  seed: { type: "string", default: "1" },
  json: { type: "string" },
  report: { type: "string" },
  peers: { type: "string" },
} as const;

export async function benchCommand(argv: readonly string[]): Promise<number> {
  const values = parseFlags(argv, flags);
  const fsync = choiceFlag(values, "fsync", ["always", "batch", "lazy"] as const);
  const options: BenchOptions = {
    protocol: choiceFlag(values, "protocol", ["http", "tcp", "embedded"] as const),
    url: stringFlag(values, "url") ?? "http://127.0.0.1:9100",
    tcpUrl: stringFlag(values, "tcp-url") ?? "txgrid://127.0.0.1:9101",
    fsync,
    batchSize: integerFlag(values, "batch", 1, REQUEST_TRANSFERS_MAX),
    ratePerSecond: integerFlag(values, "rate", 0, 100_000_000),
    transferCount: integerFlag(values, "transactions", 1, 100_000_000),
    concurrency: integerFlag(values, "concurrency", 1, 4096),
    immediate: values.immediate === true,
    api: choiceFlag(values, "api", ["timpe", "v1"] as const),
    accountCount: integerFlag(values, "accounts", 2, 10_000_000),
    hotPercent: integerFlag(values, "hot", 0, 100),
    durationMs: integerFlag(values, "duration", 1, 86_400) * 1000,
    seed: integerFlag(values, "seed", 0, 2 ** 31 - 1),
    requestTimeoutMs: 30_000,
    reference: values.reference === true,
  };
  if (options.batchSize > 1 && options.protocol === "http" && options.api !== "v1") {
    throw new TxgridError(ErrorCode.BAD_REQUEST, "--batch > 1 over http needs --api v1");
  }
  const reportPath = stringFlag(values, "report");
  if (reportPath !== undefined && !/\.(html?|json)$/.test(reportPath)) {
    throw new TxgridError(ErrorCode.BAD_REQUEST, "--report FILE must end in .html or .json");
  }
  const peersPath = stringFlag(values, "peers");
  if (peersPath !== undefined && reportPath === undefined) {
    throw new TxgridError(ErrorCode.BAD_REQUEST, "--peers needs --report");
  }
  const peers = peersPath === undefined ? [] : readPeers(peersPath);
  const runCount = integerFlag(values, "runs", 1, 100);
  const reports: BenchReport[] = [];
  for (let run = 0; run < runCount; run++) {
    const report = await benchOnce(options, values.spawn === true ? fsync : null, run);
    process.stdout.write(`${runCount > 1 ? `run ${run + 1} of ${runCount}: ` : ""}`);
    process.stdout.write(`${formatReport(report)}\n\n`);
    reports.push(report);
  }
  if (runCount > 1) process.stdout.write(`${formatMedians(reports)}\n`);
  const jsonPath = stringFlag(values, "json");
  if (jsonPath !== undefined) {
    writeFileSync(
      jsonPath,
      `${JSON.stringify(reports.length === 1 ? reports[0] : reports, null, 2)}\n`,
    );
  }
  if (reportPath !== undefined) {
    const commandLine = ["txgrid", "bench", ...argv].map(shellQuote).join(" ");
    const file = buildReportFile(reports, { commandLine, peers });
    const text = reportPath.endsWith(".json")
      ? `${JSON.stringify(file, null, 2)}\n`
      : renderReportHtml(file);
    writeFileSync(reportPath, text);
    process.stdout.write(`report written to ${reportPath}\n`);
  }
  const failed = reports.some(
    (report) =>
      report.errorCount > 0 || (!report.moneyConserved && report.options.reference !== true),
  );
  return failed ? 1 : 0;
}

function readPeers(path: string): PeerResult[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new TxgridError(ErrorCode.BAD_REQUEST, `--peers: cannot read ${path}`, { cause: error });
  }
  return parsePeers(text, path);
}

async function benchOnce(base: BenchOptions, spawnFsync: string | null, run: number) {
  let server: ServerProcess | null = null;
  let dataDir: string | null = null;
  if (base.protocol === "embedded") {
    // Nothing to start: the driver opens the engine in this process.
  } else if (base.reference === true) {
    server = await startReferenceProcess();
  } else if (spawnFsync !== null) {
    dataDir = mkdtempSync(join(tmpdir(), "txgrid-bench-"));
    server = await startServerProcess({ dataDir, fsync: spawnFsync });
  }
  const bar = new SingleBar({
    format: "  transfers [{bar}] {percentage}% {value}/{total}  {eta}s left",
    noTTYOutput: true,
    notTTYSchedule: 2000,
    stream: process.stderr,
    hideCursor: false,
  });
  bar.start(base.transferCount, 0);
  try {
    return await runBench({
      ...base,
      url: server?.url ?? base.url,
      tcpUrl: server?.tcpUrl ?? base.tcpUrl,
      seed: base.seed + run,
      onProgress: (doneCount) => bar.update(doneCount),
    });
  } finally {
    bar.stop();
    await server?.kill("SIGTERM");
    if (dataDir !== null) rmSync(dataDir, { recursive: true, force: true });
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((left, right) => left - right);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

function formatMedians(reports: readonly BenchReport[]): string {
  const pick = (select: (report: BenchReport) => number) => Math.round(median(reports.map(select)));
  const first = reports[0] as BenchReport;
  return [
    `median of ${reports.length} runs (${first.route}, c=${first.options.concurrency}, ` +
      `fsync=${first.durability.fsync}, replication=${first.durability.replication}):`,
    `  tx/s ${pick((r) => r.transfersPerSecond)}  p50 ${pick((r) => r.latency.p50Us)} µs  ` +
      `p99.73 ${pick((r) => r.latency.p997Us)} µs  p99.9 ${pick((r) => r.latency.p999Us)} µs  ` +
      `max ${pick((r) => r.latency.maxUs)} µs`,
    `  tx/s of each run: ${reports.map((r) => Math.round(r.transfersPerSecond)).join(", ")}`,
  ].join("\n");
}
