#!/usr/bin/env node
// Where a c=1 round trip's time goes on this machine: the same round trip measured with the
// two processes left to the scheduler, on one vCPU, and on two vCPUs, so that a txgrid figure
// at c=1 can be split into sockets, placement, client and server.
//
// Variants (every one a closed loop with one call in flight, 127.0.0.1, Nagle off):
//   bare     a bare node:net client sending one encoded CREATE_TRANSFERS frame of one transfer
//            (104 bytes) to the TCP reference server (src/bench/tcp-reference.ts) and waiting
//            for its 56-byte answer: sockets and two Node event loops, nothing else
//   client   txgrid's client (createTransfer, with its batching, timeouts and promises)
//            against the same reference server: bare + the client's work
//   txgrid   txgrid's client against `txgrid serve --fsync lazy` (replication none): client +
//            server + the log's pwrite
// Placements: `free` (the scheduler decides), `same` (client and server on vCPU 0), `split`
// (client on vCPU 0, server on vCPU 1), set with `taskset -a -p` after the server started.
// The variants and placements are interleaved in rounds so that a shared box's noise falls on
// all of them alike; per cell it prints the median over rounds of each round's p50/p90/p99.
// Pinning is a measuring device only: txgrid itself never pins.
//
// With --busy-poll-us LIST (say 0,50,200,1000), the client and txgrid variants run once per
// window: the client connects with { busyPollUs } and `txgrid serve` gets --busy-poll-us
// (0: the option is not given, so an old build can be measured too). Each cell then also
// shows the CPU time per call of the client (process.cpuUsage) and of the server
// (/proc/<pid>/stat utime + stime, every thread, 10 ms ticks).
//
// Usage: node scripts/c1-placement.mjs [--dist DIR] [--calls N] [--rounds R]
//                                      [--variants bare,client,txgrid] [--placements free,same,split]
//                                      [--busy-poll-us 0,50,...]
// DIR is a built tree's dist/ (default: this work tree's), for A/B comparisons between builds.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect as netConnect } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";

function argOf(name, fallback) {
  const index = process.argv.indexOf(name);
  return index < 0 ? fallback : process.argv[index + 1];
}

const dist = resolve(argOf("--dist", fileURLToPath(new URL("../dist", import.meta.url))));
const calls = Number(argOf("--calls", "10000"));
const rounds = Number(argOf("--rounds", "3"));
const variants = argOf("--variants", "bare,client,txgrid").split(",");
const placements = argOf("--placements", "free,same,split").split(",");
const busyPollWindows = argOf("--busy-poll-us", "0").split(",").map(Number);
const warmupCalls = 1_000;
const accounts = ["c1-debit", "c1-credit"];

const protocol = await import(join(dist, "src/protocol/index.js"));
const client = await import(join(dist, "src/client/index.js"));

/** Starts the variant's server; resolves with its pid, binary address and a stop function. */
async function startServer(variant, busyPollUs) {
  const dataDir = variant === "txgrid" ? mkdtempSync(join(tmpdir(), "c1-placement-")) : null;
  const args =
    dataDir === null
      ? [join(dist, "src/bench/tcp-reference.js")]
      : [join(dist, "../bin/txgrid.js"), "serve", "--port", "0", "--data-dir", dataDir].concat([
          "--fsync",
          "lazy",
          "--log-level",
          "info",
          ...(busyPollUs === 0 ? [] : ["--busy-poll-us", String(busyPollUs)]),
        ]);
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
  const tcpUrl = await new Promise((resolveUrl, reject) => {
    let text = "";
    const onData = (chunk) => {
      text += chunk;
      const match = /"tcpUrl":"(txgrid:\/\/[^"]+)"/.exec(text);
      if (match === null) return;
      child.stdout.off("data", onData);
      child.stdout.resume();
      resolveUrl(match[1]);
    };
    child.stdout.on("data", onData);
    child.once("exit", (code) => reject(new Error(`the ${variant} server exited (${code})`)));
  });
  const stop = async () => {
    const exited = new Promise((resolveExit) => child.once("exit", resolveExit));
    child.kill("SIGTERM");
    await exited;
    if (dataDir !== null) rmSync(dataDir, { recursive: true, force: true });
  };
  return { pid: child.pid, tcpUrl, stop };
}

function pin(pid, cpu) {
  execFileSync("taskset", ["-a", "-p", "-c", String(cpu), String(pid)], { stdio: "ignore" });
}

function place(placement, serverPid) {
  if (placement === "free") {
    pin(process.pid, "0-1");
    pin(serverPid, "0-1");
  } else {
    pin(process.pid, 0);
    pin(serverPid, placement === "same" ? 0 : 1);
  }
}

/** Round-trip times (µs) of a bare socket sending one transfer frame at a time. */
async function bareRoundTrips(tcpUrl, count) {
  const transfer = { id: "c1-t", debitId: accounts[0], creditId: accounts[1], amount: 1n };
  const frame = protocol.encodeFrame(1, {
    kind: protocol.MessageKind.CREATE_TRANSFERS,
    transfers: [{ ...transfer, pending: false, timeoutMs: 0 }],
  });
  const { port, hostname } = new URL(tcpUrl.replace("txgrid:", "http:"));
  const socket = netConnect({ host: hostname, port: Number(port), noDelay: true });
  await new Promise((resolveConnect) => socket.once("connect", resolveConnect));
  const times = new Float64Array(count);
  let answerBytes = 0;
  await new Promise((done) => {
    let index = -warmupCalls;
    let pendingBytes = 0;
    let sentMs = 0;
    socket.on("data", (chunk) => {
      if (answerBytes === 0) answerBytes = chunk.length;
      pendingBytes += chunk.length;
      if (pendingBytes < answerBytes) return;
      pendingBytes -= answerBytes;
      if (index >= 0) times[index] = (performance.now() - sentMs) * 1000;
      index++;
      if (index === count) {
        done();
        return;
      }
      sentMs = performance.now();
      socket.write(frame);
    });
    sentMs = performance.now();
    socket.write(frame);
  });
  socket.destroy();
  return times;
}

/** Round-trip times (µs) of txgrid's client, one createTransfer at a time. */
async function clientRoundTrips(tcpUrl, count, tag, busyPollUs) {
  const api = await client.connect(tcpUrl, busyPollUs === 0 ? {} : { busyPollUs });
  await api.createAccounts(accounts.map((id) => ({ id, balance: 10n ** 15n })));
  const times = new Float64Array(count);
  for (let index = -warmupCalls; index < count; index++) {
    const transfer = { id: `c1-${tag}-${index}`, debitId: accounts[0], creditId: accounts[1] };
    const startedMs = performance.now();
    await api.createTransfer({ ...transfer, amount: 1n });
    if (index >= 0) times[index] = (performance.now() - startedMs) * 1000;
  }
  await api.close();
  return times;
}

function percentiles(times) {
  const sorted = Float64Array.from(times).sort();
  const at = (share) => sorted[Math.min(sorted.length - 1, Math.floor(share * sorted.length))];
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99) };
}

/** CPU time of every thread of `pid` so far, µs (utime + stime from /proc, 10 ms ticks). */
function processCpuUs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks * 10_000;
}

function selfCpuUs() {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

const results = new Map();
for (let round = 0; round < rounds; round++) {
  for (const variant of variants) {
    for (const busyPollUs of variant === "bare" ? [0] : busyPollWindows) {
      const server = await startServer(variant, busyPollUs);
      try {
        for (const placement of placements) {
          place(placement, server.pid);
          const tag = `${Date.now().toString(36)}-${round}-${placement}-${busyPollUs}`;
          const clientCpuUs = selfCpuUs();
          const serverCpuUs = processCpuUs(server.pid);
          const times =
            variant === "bare"
              ? await bareRoundTrips(server.tcpUrl, calls)
              : await clientRoundTrips(server.tcpUrl, calls, tag, busyPollUs);
          // Warm-up calls count too: CPU is per call made, whatever was timed.
          const callsMade = calls + warmupCalls;
          const cpu = {
            clientCpuUs: (selfCpuUs() - clientCpuUs) / callsMade,
            serverCpuUs: (processCpuUs(server.pid) - serverCpuUs) / callsMade,
          };
          const key = `${variant} ${busyPollUs} ${placement}`;
          const line = { ...percentiles(times), ...cpu };
          results.set(key, [...(results.get(key) ?? []), line]);
          const shown = Object.entries(line).map(([name, us]) => `${name} ${us.toFixed(1)}`);
          process.stderr.write(`round ${round + 1} ${key}: ${shown.join(" ")}\n`);
        }
      } finally {
        await server.stop();
      }
    }
  }
}

console.log(
  `| variant | busy-poll µs | placement | p50 µs (rounds) | p90 µs | p99 µs | CPU µs/call client | CPU µs/call server |`,
);
console.log(`|---|---:|---|---:|---:|---:|---:|---:|`);
for (const [key, lines] of results) {
  const [variant, busyPollUs, placement] = key.split(" ");
  const p50s = lines.map((line) => line.p50.toFixed(1)).join(" / ");
  const at = (name) => median(lines.map((line) => line[name])).toFixed(1);
  console.log(
    `| ${variant} | ${busyPollUs} | ${placement} | **${at("p50")}** (${p50s}) | ${at("p90")} | ${at("p99")} | ${at("clientCpuUs")} | ${at("serverCpuUs")} |`,
  );
}
