// `txgrid bench --report FILE`: the results of a bench as a file, JSON (the model below) or a
// self-contained HTML page with plots: throughput per second, the latency percentile curve
// (HDR style, "nines" axis), the latency histogram, and, when peers ran side by side
// (PostgreSQL, Redis, ... measured the same way), bar charts comparing them. Every figure is
// shown with its durability setting and the machine, because a number without them means
// nothing.
//
// Guarantees: the HTML loads nothing (inline CSS, inline SVG from src/plot, no script), so it
// renders offline and from a mail attachment; every text from the run or the peers is
// escaped; the JSON is the same model the HTML is drawn from (format and version fields let a
// reader check what it holds).
import { type as osType, release } from "node:os";
import { barChart, escapeXml, formatCompact, formatMicros, lineChart } from "../plot/index.ts";
import { ErrorCode, TxgridError } from "../stdx/index.ts";
import { type BenchReport, describeMachine, type Machine } from "./bench.ts";
import { median } from "./median.ts";

/** A system measured beside txgrid with the same workload (the side-by-side mode). */
export interface PeerResult {
  readonly name: string;
  /** Its durability setting in words, e.g. "synchronous_commit=on" or "appendfsync always". */
  readonly durability: string;
  readonly txPerSecond: number;
  readonly p50Us: number;
  readonly p99Us: number;
}

/** The fields of one run's BenchReport that the report keeps. */
export type ReportRun = Pick<
  BenchReport,
  | "route"
  | "startedAt"
  | "okCount"
  | "refusedCount"
  | "errorCount"
  | "elapsedMs"
  | "transfersPerSecond"
  | "latency"
  | "percentileCurve"
  | "latencyHistogram"
  | "completedPerSecond"
  | "moneyConserved"
>;

export interface BenchReportFile {
  readonly format: "txgrid-bench-report";
  readonly version: 1;
  readonly generatedAt: string;
  readonly commandLine: string;
  readonly durability: { readonly fsync: string; readonly replication: string };
  readonly machine: Machine & { readonly os: string };
  readonly workload: {
    readonly protocol: string;
    readonly api: string;
    readonly concurrency: number;
    readonly batchSize: number;
    readonly ratePerSecond: number;
    readonly accountCount: number;
    readonly hotPercent: number;
    readonly transferCount: number;
    readonly reference: boolean;
  };
  readonly runs: readonly ReportRun[];
  /** Medians over the runs (the figures a comparison uses). */
  readonly summary: {
    readonly txPerSecond: number;
    readonly p50Us: number;
    readonly p99Us: number;
  };
  readonly peers: readonly PeerResult[];
}

export interface ReportContext {
  readonly commandLine: string;
  readonly peers?: readonly PeerResult[];
  readonly generatedAt?: string;
  readonly machine?: Machine & { readonly os: string };
}

/** bench's median, with 0 for a report without runs. */
function medianOrZero(values: readonly number[]): number {
  return values.length === 0 ? 0 : median(values);
}

/** Quotes an argument for a POSIX shell only when it needs it. */
export function shellQuote(argument: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(argument)
    ? argument
    : `'${argument.replace(/'/g, "'\\''")}'`;
}

export function buildReportFile(
  reports: readonly BenchReport[],
  context: ReportContext,
): BenchReportFile {
  const first = reports[0];
  if (first === undefined) throw new TxgridError(ErrorCode.BAD_REQUEST, "no run to report");
  const options = first.options;
  return {
    format: "txgrid-bench-report",
    version: 1,
    generatedAt: context.generatedAt ?? new Date().toISOString(),
    commandLine: context.commandLine,
    durability: { fsync: first.durability.fsync, replication: first.durability.replication },
    machine: context.machine ?? { ...describeMachine(), os: `${osType()} ${release()}` },
    workload: {
      protocol: options.protocol,
      api: options.api,
      concurrency: options.concurrency,
      batchSize: options.batchSize,
      ratePerSecond: options.ratePerSecond,
      accountCount: options.accountCount,
      hotPercent: options.hotPercent,
      transferCount: options.transferCount,
      reference: options.reference === true,
    },
    runs: reports.map((report) => ({
      route: report.route,
      startedAt: report.startedAt,
      okCount: report.okCount,
      refusedCount: report.refusedCount,
      errorCount: report.errorCount,
      elapsedMs: report.elapsedMs,
      transfersPerSecond: report.transfersPerSecond,
      latency: report.latency,
      percentileCurve: report.percentileCurve,
      latencyHistogram: report.latencyHistogram,
      completedPerSecond: report.completedPerSecond,
      moneyConserved: report.moneyConserved,
    })),
    summary: {
      txPerSecond: medianOrZero(reports.map((report) => report.transfersPerSecond)),
      p50Us: medianOrZero(reports.map((report) => report.latency.p50Us)),
      p99Us: medianOrZero(reports.map((report) => report.latency.p99Us)),
    },
    peers: context.peers ?? [],
  };
}

/** Reads a peers file (a JSON array of PeerResult), checking every field. */
export function parsePeers(text: string, source: string): PeerResult[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new TxgridError(ErrorCode.BAD_REQUEST, `${source}: not JSON`, { cause: error });
  }
  if (!Array.isArray(parsed)) {
    throw new TxgridError(ErrorCode.BAD_REQUEST, `${source}: expected an array of peers`);
  }
  return parsed.map((item: unknown, index) => {
    const peer = item as Record<string, unknown>;
    const bad = (field: string) =>
      new TxgridError(ErrorCode.BAD_REQUEST, `${source}[${index}].${field} is missing or wrong`);
    if (typeof peer.name !== "string" || peer.name === "") throw bad("name");
    if (typeof peer.durability !== "string") throw bad("durability");
    for (const field of ["txPerSecond", "p50Us", "p99Us"]) {
      const value = peer[field];
      if (typeof value !== "number" || !Number.isFinite(value) || value < 0) throw bad(field);
    }
    return {
      name: peer.name,
      durability: peer.durability,
      txPerSecond: peer.txPerSecond as number,
      p50Us: peer.p50Us as number,
      p99Us: peer.p99Us as number,
    };
  });
}

const runColors = ["#1f6feb", "#e8590c", "#2da44e", "#8250df", "#bf3989", "#0a7f8c"];

const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

function runName(index: number, count: number): string {
  return count === 1 ? "txgrid" : `run ${index + 1}`;
}

function keyValueRows(rows: readonly (readonly [string, string])[]): string {
  return rows
    .map(([key, value]) => `<tr><th>${escapeXml(key)}</th><td>${escapeXml(value)}</td></tr>`)
    .join("");
}

function workloadText(file: BenchReportFile): string {
  const w = file.workload;
  const pace =
    w.ratePerSecond > 0
      ? `open loop at ${integer.format(w.ratePerSecond)} transfers/s (≤ ${w.concurrency} in flight)`
      : `closed loop, ${w.concurrency} in flight`;
  const batch = w.batchSize > 1 ? `, ${w.batchSize} transfers per request` : "";
  const hot = w.hotPercent > 0 ? `, ${w.hotPercent}% on 10 hot accounts` : ", uniform";
  return `${pace}${batch}; ${integer.format(w.accountCount)} accounts${hot}`;
}

export function renderReportHtml(file: BenchReportFile): string {
  const runs = file.runs;
  const durability = file.workload.reference
    ? "none (reference server: no ledger, no log)"
    : `fsync=${file.durability.fsync}, replication=${file.durability.replication}`;
  const machine = file.machine;
  const totals = runs.reduce(
    (sum, run) => ({
      ok: sum.ok + run.okCount,
      refused: sum.refused + run.refusedCount,
      errors: sum.errors + run.errorCount,
    }),
    { ok: 0, refused: 0, errors: 0 },
  );
  const conserved = runs.every((run) => run.moneyConserved);
  const cards: [string, string][] = [
    ["transfers / s", integer.format(file.summary.txPerSecond)],
    ["p50 latency", formatMicros(file.summary.p50Us)],
    ["p99 latency", formatMicros(file.summary.p99Us)],
    ["acknowledged", integer.format(totals.ok)],
    ["refused (ledger)", integer.format(totals.refused)],
    ["errors", integer.format(totals.errors)],
  ];
  const charts: string[] = [
    lineChart({
      title: "Throughput over time",
      xLabel: "seconds since the load started",
      yLabel: "transfers / s",
      series: runs.map((run, index) => ({
        name: runName(index, runs.length),
        color: runColors[index % runColors.length] as string,
        points: run.completedPerSecond.map((count, second) => [second + 1, count] as const),
      })),
      width: 720,
    }),
    lineChart({
      title: "Latency by percentile",
      xScale: "nines",
      yScale: "log",
      xLabel: "percentile",
      formatX: (p) => `${p}%`,
      formatY: formatMicros,
      series: runs.map((run, index) => ({
        name: runName(index, runs.length),
        color: runColors[index % runColors.length] as string,
        points: run.percentileCurve.map((point) => [point.percentile, point.latencyUs] as const),
      })),
      width: 720,
    }),
    latencyHistogramChart(runs),
  ];
  if (file.peers.length > 0) charts.push(...peerCharts(file));
  const runRows = runs
    .map(
      (run, index) =>
        `<tr><td>${escapeXml(runName(index, runs.length))}</td>` +
        `<td class="num">${integer.format(run.transfersPerSecond)}</td>` +
        `<td class="num">${escapeXml(formatMicros(run.latency.p50Us))}</td>` +
        `<td class="num">${escapeXml(formatMicros(run.latency.p99Us))}</td>` +
        `<td class="num">${escapeXml(formatMicros(run.latency.p999Us))}</td>` +
        `<td class="num">${escapeXml(formatMicros(run.latency.maxUs))}</td>` +
        `<td class="num">${integer.format(run.okCount)}</td>` +
        `<td class="num">${integer.format(run.refusedCount)}</td>` +
        `<td class="num">${integer.format(run.errorCount)}</td>` +
        `<td>${run.moneyConserved ? "conserved" : file.workload.reference ? "n/a" : "NOT conserved"}</td></tr>`,
    )
    .join("");
  const peerRows = file.peers
    .map(
      (peer) =>
        `<tr><td>${escapeXml(peer.name)}</td><td>${escapeXml(peer.durability)}</td>` +
        `<td class="num">${integer.format(peer.txPerSecond)}</td>` +
        `<td class="num">${escapeXml(formatMicros(peer.p50Us))}</td>` +
        `<td class="num">${escapeXml(formatMicros(peer.p99Us))}</td></tr>`,
    )
    .join("");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>txgrid bench report, ${escapeXml(file.generatedAt)}</title>
<style>${reportCss}</style>
</head>
<body>
<main>
<h1>txgrid bench report</h1>
<p class="muted">${escapeXml(file.generatedAt)} · <code>${escapeXml(file.commandLine)}</code></p>
<p class="durability">Durability: <strong>${escapeXml(durability)}</strong>${
    file.workload.reference
      ? ""
      : ` · money ${conserved ? "conserved in every run" : "<strong class='bad'>NOT conserved</strong>"}`
  }</p>
<section class="cards">${cards
    .map(
      ([label, value]) =>
        `<div class="card"><div class="label">${escapeXml(label)}</div>` +
        `<div class="value">${escapeXml(value)}</div></div>`,
    )
    .join("")}</section>
<section class="charts">${charts.map((chart) => `<figure>${chart}</figure>`).join("")}</section>
<h2>Runs</h2>
<table><thead><tr><th>run</th><th class="num">tx/s</th><th class="num">p50</th><th class="num">p99</th>
<th class="num">p99.9</th><th class="num">max</th><th class="num">acknowledged</th>
<th class="num">refused</th><th class="num">errors</th><th>money</th></tr></thead><tbody>${runRows}</tbody></table>
${
  file.peers.length > 0
    ? `<h2>Side by side</h2><table><thead><tr><th>system</th><th>durability</th><th class="num">tx/s</th>` +
      `<th class="num">p50</th><th class="num">p99</th></tr></thead><tbody>` +
      `<tr><td><strong>txgrid</strong></td><td>${escapeXml(durability)}</td>` +
      `<td class="num">${integer.format(file.summary.txPerSecond)}</td>` +
      `<td class="num">${escapeXml(formatMicros(file.summary.p50Us))}</td>` +
      `<td class="num">${escapeXml(formatMicros(file.summary.p99Us))}</td></tr>${peerRows}</tbody></table>`
    : ""
}
<h2>Setup</h2>
<table class="kv"><tbody>${keyValueRows([
    ["command line", file.commandLine],
    ["durability", durability],
    ["protocol", `${file.workload.protocol} (${runs[0]?.route ?? ""})`],
    ["workload", workloadText(file)],
    ["transfers per run", integer.format(file.workload.transferCount)],
    ["CPU", `${machine.cpuModel}, ${machine.coreCount} cores`],
    ["memory", `${machine.memoryGiB} GiB`],
    ["OS", `${machine.os} (${machine.platform})`],
    ["Node.js", machine.node],
  ])}</tbody></table>
<p class="muted">Latency counts from when a request was due (open loop) or sent (closed loop) to its answer; one request carries ${file.workload.batchSize} transfer${file.workload.batchSize === 1 ? "" : "s"}. This file is self-contained: it loads nothing from the network.</p>
</main>
</body>
</html>
`;
}

function latencyHistogramChart(runs: readonly ReportRun[]): string {
  // One set of bucket labels for all runs: the union of their buckets, in order.
  const edges = new Map<number, number>();
  for (const run of runs)
    for (const bucket of run.latencyHistogram) edges.set(bucket.fromUs, bucket.toUs);
  const froms = [...edges.keys()].sort((left, right) => left - right);
  return barChart({
    title: "Latency histogram (requests per bucket)",
    seriesNames: runs.map((_, index) => runName(index, runs.length)),
    colors: runColors,
    groups: froms.map((from) => ({
      label: formatMicros(from),
      values: runs.map(
        (run) => run.latencyHistogram.find((bucket) => bucket.fromUs === from)?.count ?? 0,
      ),
    })),
    yLabel: "requests",
    width: 720,
  });
}

function peerCharts(file: BenchReportFile): string[] {
  const systems = [
    { name: "txgrid", ...file.summary },
    ...file.peers.map((peer) => ({
      name: peer.name,
      txPerSecond: peer.txPerSecond,
      p50Us: peer.p50Us,
      p99Us: peer.p99Us,
    })),
  ];
  return [
    barChart({
      title: "Throughput side by side (transfers / s)",
      seriesNames: ["transfers / s"],
      colors: ["#1f6feb"],
      groups: systems.map((system) => ({ label: system.name, values: [system.txPerSecond] })),
      formatY: formatCompact,
      highlight: "txgrid",
      width: 720,
    }),
    barChart({
      title: "Latency side by side",
      seriesNames: ["p50", "p99"],
      colors: ["#1f6feb", "#e8590c"],
      groups: systems.map((system) => ({
        label: system.name,
        values: [system.p50Us, system.p99Us],
      })),
      formatY: formatMicros,
      highlight: "txgrid",
      width: 720,
    }),
  ];
}

const reportCss = `
:root { color-scheme: light dark; --line: #d0d7de; --muted: #57606a; }
@media (prefers-color-scheme: dark) { :root { --line: #30363d; --muted: #8d96a0; } }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; }
main { max-width: 1100px; margin: 0 auto; padding: 24px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 28px 0 10px; }
.muted { color: var(--muted); }
code { font: 12.5px ui-monospace, SFMono-Regular, Menlo, monospace; }
.durability { font-size: 15px; }
.bad { color: #cf222e; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 12px; margin: 16px 0; }
.card { border: 1px solid var(--line); border-radius: 10px; padding: 12px 14px; }
.card .label { color: var(--muted); font-size: 12px; }
.card .value { font-size: 22px; font-weight: 650; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(480px, 1fr)); gap: 16px; }
figure { margin: 0; border: 1px solid var(--line); border-radius: 10px; padding: 8px; }
svg.chart { width: 100%; height: auto; display: block; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); }
th { color: var(--muted); font-weight: 500; font-size: 12px; }
.num { text-align: right; }
table.kv th { width: 180px; }
`;
