// `txgrid bench`: runs the REST load (src/bench) against a server, or against a fresh server
// it starts itself (--spawn, in a temporary data directory, stopped by pid afterwards),
// once or --runs times, and prints each result and, for several runs, the medians; with
// --peers, then the same workload against PostgreSQL and Redis, side by side; with --report
// it also writes the results as JSON or as an HTML page with plots.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SingleBar } from "cli-progress";
import {
  type BenchOptions,
  type BenchReport,
  buildReportFile,
  type ComparisonRow,
  comparisonRows,
  formatComparison,
  formatReport,
  median,
  type PeerReport,
  parsePeerList,
  preparePeers,
  renderReportHtml,
  runBench,
  runPeers,
  type ServerProcess,
  shellQuote,
  startReferenceProcess,
  startServerProcess,
  startTcpReferenceProcess,
} from "../bench/index.ts";
import {
  BENCH_WARMUP_TRANSFERS_MAX,
  BUSY_POLL_US_MAX,
  REQUEST_TRANSFERS_MAX,
} from "../constants.ts";
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
      --warmup N         first send N transfers the same way, untimed and uncounted
                         (default 0): steady-state figures of a fresh process
      --url URL          server to load (default http://127.0.0.1:9100)
      --tcp-url URL      tcp: its binary address (default txgrid://127.0.0.1:9101); for a
                         replicated shard give every replica, comma-separated: the
                         client follows the primary through failovers (--url too:
                         the first that answers is read)
      --spawn            start a fresh server in a temporary directory for the run
      --reference        run the same load against a bare server that does no work,
                         with the same client: node:http (Node's HTTP ceiling on this
                         machine), or with --protocol tcp a node:net server that cuts,
                         checksums and answers txgrid frames (all OK) with no engine
                         and no log: the floor for TCP figures, measured in the same
                         minutes as them
      --fsync POLICY     with --spawn or embedded: always | batch | lazy (default batch)
      --busy-poll-us N   tcp: the client busy-polls up to N µs for each answer, and with
                         --spawn the server gets --busy-poll-us N (default 0: off)
      --http-front on|off  with --spawn: the server's --http-front (default on)
      --runs N           repeat the run N times and print medians (default 1)
      --seed N           workload seed (default 1)
      --json FILE        also write the raw results as JSON
      --report FILE      also write a report: FILE.html (self-contained page with
                         throughput, percentile and histogram plots, durability,
                         machine and, with --peers, the comparison as bar charts) or
                         FILE.json (the same model as data)
      --peers LIST       then run the same workload against private PostgreSQL and
                         Redis instances and print a side-by-side table with ratios:
                         redis, postgres, redis:everysec, postgres:off (default
                         setting: appendfsync=always / synchronous_commit=on, the
                         relaxed ones with --fsync lazy); -c, -b, --hot, --accounts
                         and --runs apply to them too
      --peer-duration S  seconds per peer run (default: as long as txgrid's run)
      --install-peers    install missing peers first (scripts/setup-peers.sh, root)
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
  warmup: { type: "string", default: "0" },
  url: { type: "string", default: "http://127.0.0.1:9100" },
  spawn: { type: "boolean", default: false },
  reference: { type: "boolean", default: false },
  fsync: { type: "string", default: "batch" },
  runs: { type: "string", default: "1" },
  seed: { type: "string", default: "1" },
  json: { type: "string" },
  peers: { type: "string" },
  "peer-duration": { type: "string" },
  "install-peers": { type: "boolean", default: false },
  report: { type: "string" },
  "busy-poll-us": { type: "string", default: "0" },
  "http-front": { type: "string", default: "on" },
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
    warmupCount: integerFlag(values, "warmup", 0, BENCH_WARMUP_TRANSFERS_MAX),
    reference: values.reference === true,
    busyPollUs: integerFlag(values, "busy-poll-us", 0, BUSY_POLL_US_MAX),
    httpFront: choiceFlag(values, "http-front", ["on", "off"] as const) === "on",
  };
  if (options.batchSize > 1 && options.protocol === "http" && options.api !== "v1") {
    throw new TxgridError(ErrorCode.BAD_REQUEST, "--batch > 1 over http needs --api v1");
  }
  if (options.reference === true && options.protocol === "embedded") {
    throw new TxgridError(ErrorCode.BAD_REQUEST, "--reference needs --protocol http or tcp");
  }
  const reportPath = stringFlag(values, "report");
  if (reportPath !== undefined && !/\.(html?|json)$/.test(reportPath)) {
    throw new TxgridError(ErrorCode.BAD_REQUEST, "--report FILE must end in .html or .json");
  }
  const runCount = integerFlag(values, "runs", 1, 100);
  const peerList = stringFlag(values, "peers");
  const peerSpecs = peerList === undefined ? [] : parsePeerList(peerList, fsync);
  const installPeers = values["install-peers"] === true;
  const log = (line: string) => process.stderr.write(`  ${line}\n`);
  if (peerSpecs.length > 0) await preparePeers(peerSpecs, options.concurrency, installPeers, log);
  const reports: BenchReport[] = [];
  for (let run = 0; run < runCount; run++) {
    const report = await benchOnce(options, values.spawn === true ? fsync : null, run);
    process.stdout.write(`${runCount > 1 ? `run ${run + 1} of ${runCount}: ` : ""}`);
    process.stdout.write(`${formatReport(report)}\n\n`);
    reports.push(report);
  }
  if (runCount > 1) process.stdout.write(`${formatMedians(reports)}\n`);
  let peers: PeerReport[] = [];
  let comparison: ComparisonRow[] = [];
  if (peerSpecs.length > 0) {
    const txgridSeconds = median(reports.map((report) => report.elapsedMs)) / 1000;
    const peerSeconds =
      values["peer-duration"] === undefined
        ? Math.max(1, Math.round(txgridSeconds))
        : integerFlag(values, "peer-duration", 1, 3600);
    peers = await runPeers({
      peers: peerSpecs,
      workload: {
        accountCount: options.accountCount,
        hotPercent: options.hotPercent,
        concurrency: options.concurrency,
        batchSize: options.batchSize,
        durationMs: peerSeconds * 1000,
      },
      runCount,
      install: installPeers,
      log,
    });
    comparison = comparisonRows(reports, peers);
    process.stdout.write(
      `\n${formatComparison(comparison, peers, (reports[0] as BenchReport).route)}\n`,
    );
  }
  const jsonPath = stringFlag(values, "json");
  if (jsonPath !== undefined) {
    const txgrid = reports.length === 1 ? reports[0] : reports;
    const json = peerSpecs.length === 0 ? txgrid : { txgrid, peers, comparison };
    writeFileSync(jsonPath, `${JSON.stringify(json, null, 2)}\n`);
  }
  if (reportPath !== undefined) {
    const commandLine = ["txgrid", "bench", ...argv].map(shellQuote).join(" ");
    // The report's comparison: every peer row of the side-by-side table (txgrid is the run).
    const peerRows = comparison.filter((row) => row.name !== "txgrid");
    const file = buildReportFile(reports, { commandLine, peers: peerRows });
    const text = reportPath.endsWith(".json")
      ? `${JSON.stringify(file, null, 2)}\n`
      : renderReportHtml(file);
    writeFileSync(reportPath, text);
    process.stdout.write(`report written to ${reportPath}\n`);
  }
  const failed =
    reports.some(
      (report) =>
        report.errorCount > 0 || (!report.moneyConserved && report.options.reference !== true),
    ) || peers.some((peer) => !peer.moneyConserved || peer.errorCount > 0);
  return failed ? 1 : 0;
}

async function benchOnce(base: BenchOptions, spawnFsync: string | null, run: number) {
  let server: ServerProcess | null = null;
  let dataDir: string | null = null;
  if (base.protocol === "embedded") {
    // Nothing to start: the driver opens the engine in this process.
  } else if (base.reference === true) {
    server =
      base.protocol === "tcp" ? await startTcpReferenceProcess() : await startReferenceProcess();
  } else if (spawnFsync !== null) {
    dataDir = mkdtempSync(join(tmpdir(), "txgrid-bench-"));
    const busyPollUs = base.busyPollUs ?? 0;
    const extraArgs = busyPollUs === 0 ? [] : ["--busy-poll-us", String(busyPollUs)];
    if (base.httpFront === false) extraArgs.push("--http-front", "off");
    server = await startServerProcess({ dataDir, fsync: spawnFsync, extraArgs });
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
      ...(server === null ? {} : { serverPid: server.pid }),
      onProgress: (doneCount) => bar.update(doneCount),
    });
  } finally {
    bar.stop();
    await server?.kill("SIGTERM");
    if (dataDir !== null) rmSync(dataDir, { recursive: true, force: true });
  }
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
