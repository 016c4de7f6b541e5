// The text block `txgrid bench` prints at the end of a run: what was run, on what, with
// which durability, then TxTest-style statistics in microseconds, then the verdict on money.
import type { BenchReport } from "./bench.ts";

const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const oneDecimal = new Intl.NumberFormat("en-US", {
  minimumFractionDigits: 1,
  maximumFractionDigits: 1,
});

function row(label: string, value: string): string {
  return `  ${label.padEnd(22)}${value}`;
}

export function formatReport(report: BenchReport): string {
  const { options, latency, machine } = report;
  const workload = options.hotPercent > 0 ? `hot ${options.hotPercent}%` : "uniform";
  const pace =
    options.ratePerSecond > 0
      ? `open loop at ${integer.format(options.ratePerSecond)} transfers/s (≤ ${options.concurrency} in flight)`
      : `${options.concurrency} concurrent`;
  const batch = options.batchSize > 1 ? `, ${options.batchSize} transfers per request` : "";
  const bare = options.protocol === "tcp" ? "bare TCP floor (txgrid frames)" : "bare node:http";
  const target = options.reference === true ? `REFERENCE ${bare}` : "txgrid bench";
  const lines = [
    `${target}: ${report.route}, ${pace}${batch}, ` +
      `${integer.format(options.accountCount)} accounts, ${workload}`,
    options.reference === true
      ? "  durability: none (the reference does no work)"
      : `  durability: fsync=${report.durability.fsync}, replication=${report.durability.replication}`,
    ...((options.warmupCount ?? 0) > 0
      ? [
          `  warm-up: ${integer.format(options.warmupCount ?? 0)} transfers before timing (not counted)`,
        ]
      : []),
    `  machine: ${machine.coreCount} cores, ${machine.cpuModel}, ${machine.memoryGiB} GiB, ` +
      `node ${machine.node}` +
      (options.protocol === "embedded"
        ? "; engine in this process"
        : `; server ${options.protocol === "tcp" ? options.tcpUrl : options.url}`),
    "",
    row("count", integer.format(report.okCount + report.refusedCount + report.errorCount)),
    row("  acknowledged", integer.format(report.okCount)),
    row("  refused (ledger)", integer.format(report.refusedCount)),
    row("  errors", integer.format(report.errorCount)),
    row("elapsed", `${oneDecimal.format(report.elapsedMs / 1000)} s`),
    row("tx/s", integer.format(report.transfersPerSecond)),
    ...(options.batchSize > 1
      ? [row("requests", `${integer.format(report.requestCount)} (latency below is per request)`)]
      : []),
    row("mean µs", oneDecimal.format(latency.meanUs)),
    row("median µs", integer.format(latency.p50Us)),
    row("p68.27 µs", integer.format(latency.p68Us)),
    row("p95.45 µs", integer.format(latency.p95Us)),
    row("p99.73 µs", integer.format(latency.p997Us)),
    row("p99.9 µs", integer.format(latency.p999Us)),
    row("max µs", integer.format(latency.maxUs)),
  ];
  if (report.placement !== null) {
    const { sampleCount, sameCpuCount } = report.placement;
    lines.push(
      row(
        "placement",
        `bench and server on the same CPU in ${sameCpuCount} of ${sampleCount} samples`,
      ),
    );
  }
  if (report.process !== null) {
    lines.push(
      row(
        "phase 2 (/process)",
        `${oneDecimal.format(report.process.durationMs)} ms, ` +
          `${integer.format(report.process.processedCount)} processed, ` +
          `${report.process.failedCount} failed`,
      ),
    );
  }
  for (const sample of report.errorSamples) lines.push(`  error: ${sample}`);
  lines.push("");
  if (report.options.reference === true) {
    lines.push(`reference run: ${bare} answering every request, no ledger and no log;`);
    lines.push("the money and durability checks do not apply");
    return lines.join("\n");
  }
  const { verify } = report;
  if (report.moneyConserved) {
    lines.push(
      `money conserved: the ${integer.format(verify.accountCount)} balances sum to ` +
        `${verify.balanceSum} = the sum of initial balances; every invariant holds`,
    );
  } else {
    lines.push(
      `MONEY NOT CONSERVED: balances ${verify.balanceSum}, initial ${verify.initialSum}; ` +
        `problems: ${verify.problems.join("; ") || "none reported"}`,
    );
  }
  const acknowledged = report.okCount;
  const agrees = report.recordedTransferCount === acknowledged;
  lines.push(
    `transfers recorded by the server: ${integer.format(report.recordedTransferCount)} ` +
      (agrees
        ? "(= acknowledged)"
        : `(acknowledged ${integer.format(acknowledged)}${report.errorCount > 0 ? "; some requests failed, their outcome is unknown" : ""})`),
  );
  return lines.join("\n");
}
