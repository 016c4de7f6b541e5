// Goal: `bench --report` files hold what a reader needs and render offline: durability,
// machine, command line, per-second throughput, percentile curve, histogram, and the peers'
// bar charts when peers are given; text from runs and peers is escaped; a bad peers file is
// refused by field. Method: a BenchReport made by hand (no load), turned into the JSON model
// and the HTML page, whose text is checked (no external URL but the SVG namespace, no
// script, one SVG per plot).
import assert from "node:assert/strict";
import { test } from "node:test";
import { ErrorCode, isTxgridError } from "../stdx/index.ts";
import type { BenchReport } from "./bench.ts";
import { buildReportFile, parsePeers, renderReportHtml, shellQuote } from "./report-file.ts";

const latency = {
  count: 3000,
  meanUs: 900,
  minUs: 100,
  p50Us: 800,
  p68Us: 900,
  p95Us: 1500,
  p99Us: 2500,
  p997Us: 3000,
  p999Us: 4000,
  maxUs: 9000,
};

const report = {
  options: {
    protocol: "http",
    url: "http://127.0.0.1:1",
    tcpUrl: "txgrid://127.0.0.1:2",
    fsync: "batch",
    transferCount: 3000,
    concurrency: 8,
    batchSize: 1,
    ratePerSecond: 0,
    immediate: true,
    api: "timpe",
    accountCount: 300,
    hotPercent: 0,
    durationMs: 600_000,
    seed: 1,
    requestTimeoutMs: 30_000,
  },
  route: "http POST /transactions/immediately",
  durability: { fsync: "always", replication: "none" },
  machine: { cpuModel: "cpu", coreCount: 2, memoryGiB: 24, node: "v20", platform: "linux-x64" },
  startedAt: "2026-01-01T00:00:00.000Z",
  okCount: 2990,
  refusedCount: 10,
  errorCount: 0,
  errorSamples: [],
  requestCount: 3000,
  elapsedMs: 2000,
  transfersPerSecond: 1500,
  latency,
  percentileCurve: [
    { percentile: 50, latencyUs: 800 },
    { percentile: 99, latencyUs: 2500 },
  ],
  latencyHistogram: [
    { fromUs: 794, toUs: 1000, count: 2000 },
    { fromUs: 1000, toUs: 1260, count: 1000 },
  ],
  completedPerSecond: [1400, 1600],
  process: null,
  verify: { ok: true, balanceSum: 1n, initialSum: 1n, transferCount: 3000, problems: [] },
  recordedTransferCount: 2990,
  moneyConserved: true,
} as unknown as BenchReport;

const machine = { ...report.machine, os: "Linux 6" };

test("the JSON model carries durability, machine, command line and every series", () => {
  const file = buildReportFile([report, { ...report, transfersPerSecond: 1700 }], {
    commandLine: "txgrid bench -t 3000",
    generatedAt: "now",
    machine,
  });
  assert.equal(file.format, "txgrid-bench-report");
  assert.deepEqual(file.durability, { fsync: "always", replication: "none" });
  assert.equal(file.machine.os, "Linux 6");
  assert.equal(file.runs.length, 2);
  assert.deepEqual(file.runs[0]?.completedPerSecond, [1400, 1600]);
  assert.equal(file.summary.txPerSecond, 1600);
  assert.deepEqual(file.peers, []);
  assert.doesNotThrow(() => JSON.stringify(file), "the model holds no bigint");
});

test("the HTML page is self-contained, escaped, and draws the peers when given", () => {
  const peers = parsePeers(
    JSON.stringify([
      {
        name: "PostgreSQL <15>",
        durability: "fsync=on",
        txPerSecond: 4000,
        p50Us: 3900,
        p99Us: 9000,
      },
      {
        name: "Redis",
        durability: "appendfsync always",
        txPerSecond: 9000,
        p50Us: 1500,
        p99Us: 4000,
      },
    ]),
    "peers.json",
  );
  const html = renderReportHtml(
    buildReportFile([report], { commandLine: "txgrid bench --x '<y>'", peers, machine }),
  );
  assert.match(html, /^<!doctype html>/);
  assert.doesNotMatch(html, /<script|<link|src=|@import/);
  const urls = [...html.matchAll(/https?:\/\/[^\s"'<)]+/g)].map((match) => match[0]);
  assert.deepEqual([...new Set(urls)], ["http://www.w3.org/2000/svg"]);
  assert.match(html, /fsync=always, replication=none/);
  assert.match(html, /cpu, 2 cores/);
  assert.match(html, /Linux 6 \(linux-x64\)/);
  assert.match(html, /txgrid bench --x &#39;&lt;y&gt;&#39;/);
  assert.match(html, /PostgreSQL &lt;15&gt;/);
  assert.doesNotMatch(html, /PostgreSQL <15>/);
  for (const title of [
    "Throughput over time",
    "Latency by percentile",
    "Latency histogram",
    "Throughput side by side",
    "Latency side by side",
  ]) {
    assert.match(html, new RegExp(`<title>${title}`));
  }
  const withoutPeers = renderReportHtml(buildReportFile([report], { commandLine: "c", machine }));
  assert.doesNotMatch(withoutPeers, /side by side/);
  assert.equal((withoutPeers.match(/<svg /g) ?? []).length, 3);
});

test("a bad peers file is refused with the field that is wrong", () => {
  const refuses = (text: string, pattern: RegExp) =>
    assert.throws(
      () => parsePeers(text, "p.json"),
      (error) => isTxgridError(error, ErrorCode.BAD_REQUEST) && pattern.test(error.message),
    );
  refuses("{", /not JSON/);
  refuses("{}", /array/);
  refuses(
    '[{"name":"x","durability":"d","txPerSecond":-1,"p50Us":1,"p99Us":1}]',
    /\[0\]\.txPerSecond/,
  );
  refuses('[{"durability":"d","txPerSecond":1,"p50Us":1,"p99Us":1}]', /\[0\]\.name/);
});

test("command lines are quoted only where a shell needs it", () => {
  assert.equal(shellQuote("--report"), "--report");
  assert.equal(shellQuote("out dir/r.html"), "'out dir/r.html'");
  assert.equal(shellQuote("it's"), "'it'\\''s'");
});
