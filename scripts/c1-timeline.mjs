#!/usr/bin/env node
// One call at a time against a running txgrid, with the time line kept: where in a run the
// slow calls fall (warm-up, periodic stalls) and how the p50 moves from window to window, which
// a bench report's percentiles alone do not show.
//
// It creates two accounts of its own, then sends `createTransfer` calls one after another
// (warm-up calls first, not counted) and prints: the percentiles of the timed calls, the calls
// over 1 ms after the first second with their time from the start, and the p50 of every window
// of 2,000 calls. Nothing is pinned and nothing polls; the server is whatever is running.
//
// Usage: node scripts/c1-timeline.mjs URLS [CALLS] [WARMUP]
//   URLS    txgrid://host:port, or every replica's address comma-separated (the client follows
//           the primary)
//   CALLS   timed calls (default 20000); WARMUP: calls before them (default 0)
// Env: DIST=dir of a built tree's dist/ (default this work tree's), for A/B between builds.
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";

const dist = resolve(process.env.DIST ?? fileURLToPath(new URL("../dist", import.meta.url)));
const { connect } = await import(join(dist, "src/client/index.js"));
const urls = (process.argv[2] ?? "").split(",").filter((url) => url !== "");
if (urls.length === 0) {
  console.error("usage: node scripts/c1-timeline.mjs URLS [CALLS] [WARMUP]");
  process.exit(2);
}
const calls = Number(process.argv[3] ?? 20_000);
const warmupCalls = Number(process.argv[4] ?? 0);
const windowCalls = 2_000;
const slowUs = 1_000;

const client = await connect(urls.length === 1 ? urls[0] : urls, {});
const tag = `tl${Date.now().toString(36)}`;
const debitId = `${tag}-a`;
const creditId = `${tag}-b`;
await client.createAccounts([
  { id: debitId, balance: 10n ** 15n },
  { id: creditId, balance: 0n },
]);
let serial = 0;
const transfer = () =>
  client.createTransfer({ id: `${tag}-${serial++}`, debitId, creditId, amount: 1n });
for (let call = 0; call < warmupCalls; call++) await transfer();

const latencyUs = new Float64Array(calls);
const startedMs = new Float64Array(calls);
const t0 = performance.now();
for (let call = 0; call < calls; call++) {
  const start = performance.now();
  await transfer();
  latencyUs[call] = (performance.now() - start) * 1000;
  startedMs[call] = start - t0;
}
await client.close();

const sorted = Float64Array.from(latencyUs).sort();
const at = (fraction) => Math.round(sorted[Math.floor(fraction * (calls - 1))]);
const meanUs = latencyUs.reduce((sum, value) => sum + value, 0) / calls;
console.log(
  `calls ${calls} (after ${warmupCalls} warm-up) mean ${Math.round(meanUs)} p50 ${at(0.5)} ` +
    `p90 ${at(0.9)} p99 ${at(0.99)} p99.9 ${at(0.999)} max ${at(1)} µs`,
);
const slow = [];
for (let call = 0; call < calls; call++) {
  if (latencyUs[call] > slowUs && startedMs[call] > 1000) {
    slow.push(`${Math.round(startedMs[call])}ms:${Math.round(latencyUs[call])}us`);
  }
}
console.log(
  `over ${slowUs} µs after the first second: ${slow.length}  ${slow.slice(0, 40).join(" ")}`,
);
const windows = [];
for (let start = 0; start < calls; start += windowCalls) {
  const part = Float64Array.from(latencyUs.subarray(start, start + windowCalls)).sort();
  windows.push(Math.round(part[part.length >> 1]));
}
console.log(`p50 per ${windowCalls} calls: ${windows.join(" ")}`);
