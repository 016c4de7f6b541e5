#!/usr/bin/env node
// The floor under a replicated call, measured on this machine in the same minutes as txgrid.
//
// A replicated request at c=1 is a chain of two round trips in sequence: client -> primary,
// primary -> standby -> primary, primary -> client. This script runs that chain with bare
// node:net sockets and no work in between (three processes: client, A, B), with the frame
// sizes txgrid's c=1 path sends (client 104 bytes, entries 177, ack 62, answer 56), so that a
// txgrid figure can be given as a ratio to it. It also runs the single round trip (client -> A
// -> client, 104 / 56 bytes), and with --log both chains again with the one 120-byte log
// pwrite that each txgrid node makes per request (A after forwarding, B after answering, as
// txgrid orders them), which is work a replicated write cannot skip.
//
// Method: the variants are interleaved in rounds (default 5 rounds x 3,000 calls each) so a
// shared box's noise falls on all of them alike; per variant it prints the median over all
// calls, p99, and the CPU (user + system, from process.cpuUsage in A and B) per call. Sockets
// are 127.0.0.1 with Nagle off, as txgrid's. Nothing here is part of txgrid's runtime.
//
// With --txgrid URL (the primary's binary address) it also runs, interleaved with the others,
// txgrid itself at c=1 (one transfer per call, through the package's client, between random
// accounts of 1,000 it creates first), so the replicated figure and its floor come from the
// same minutes; --pids P1,P2 (the primary's and standby's process ids) adds their CPU per call
// (from /proc/<pid>/stat, load phase only).
//
// Usage: node scripts/chain-floor.mjs [--calls N] [--rounds R] [--log]
//                                     [--txgrid txgrid://host:port --pids P1,P2]...
//                                     [--labels A,B]
import { fork } from "node:child_process";
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const requestBytes = 104;
const entriesBytes = 177;
const ackBytes = 62;
const answerBytes = 56;
const logRecordBytes = 120;

function argValue(name, fallback) {
  const index = process.argv.indexOf(name);
  return index < 0 ? fallback : Number(process.argv[index + 1]);
}

/** Calls `onMessage` once per whole fixed-size message read from `socket`. */
function onMessages(socket, size, onMessage) {
  let pendingBytes = 0;
  socket.on("data", (chunk) => {
    pendingBytes += chunk.length;
    while (pendingBytes >= size) {
      pendingBytes -= size;
      onMessage();
    }
  });
}

/** A 120-byte pwrite into a scratch file, as a node's log append (no fdatasync: fsync=lazy). */
function logWriter(enabled) {
  if (!enabled) return { append() {} };
  const path = join(tmpdir(), `chain-floor-${process.pid}.log`);
  const fd = openSync(path, "w");
  const record = Buffer.alloc(logRecordBytes, 7);
  let position = 0;
  process.on("exit", () => {
    closeSync(fd);
    unlinkSync(path);
  });
  return {
    append() {
      writeSync(fd, record, 0, record.length, position);
      position += record.length;
    },
  };
}

/** Node B: answers every entries frame with an ack, then logs it. */
function runB(log) {
  const ack = Buffer.alloc(ackBytes, 2);
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    onMessages(socket, entriesBytes, () => {
      socket.write(ack);
      log.append();
    });
  });
  server.listen(0, "127.0.0.1", () => process.send({ port: server.address().port }));
}

/**
 * Node A: a client request goes to B (chain) and A logs it; B's ack releases the answer. In
 * single mode A answers the request itself after logging it.
 */
function runA(peerPort, log) {
  const entries = Buffer.alloc(entriesBytes, 1);
  const answer = Buffer.alloc(answerBytes, 3);
  let client = null;
  let peer = null;
  if (peerPort > 0) {
    peer = connect({ host: "127.0.0.1", port: peerPort, noDelay: true });
    onMessages(peer, ackBytes, () => client.write(answer));
  }
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    client = socket;
    onMessages(socket, requestBytes, () => {
      if (peer === null) {
        log.append();
        socket.write(answer);
      } else {
        peer.write(entries);
        log.append();
      }
    });
  });
  server.listen(0, "127.0.0.1", () => process.send({ port: server.address().port }));
}

function child(role, args) {
  const proc = fork(new URL(import.meta.url), [role, ...args], { stdio: "inherit" });
  const ready = new Promise((resolve) => proc.once("message", (m) => resolve(m.port)));
  const cpuUs = () =>
    new Promise((resolve) => {
      proc.once("message", (m) => resolve(m.cpuUs));
      proc.send("cpu");
    });
  return { proc, ready, cpuUs };
}

function serveCpuRequests() {
  process.on("message", (m) => {
    if (m === "cpu") {
      const usage = process.cpuUsage();
      process.send({ cpuUs: usage.user + usage.system });
    } else if (m === "exit") process.exit(0);
  });
}

/** One variant's processes, started once and reused by every round. */
async function startVariant(chain, log) {
  const b = chain ? child("b", [log ? "log" : "nolog"]) : null;
  const peerPort = b === null ? 0 : await b.ready;
  const a = child("a", [String(peerPort), log ? "log" : "nolog"]);
  const port = await a.ready;
  const socket = connect({ host: "127.0.0.1", port, noDelay: true });
  await new Promise((resolve) => socket.once("connect", resolve));
  let waiting = null;
  onMessages(socket, answerBytes, () => waiting());
  const request = Buffer.alloc(requestBytes, 9);
  const call = () =>
    new Promise((resolve) => {
      waiting = resolve;
      socket.write(request);
    });
  return { a, b, socket, call };
}

/** CPU time of a process so far (user + system), from /proc. */
function processCpuUs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  const ticksPerSecond = 100; // USER_HZ on Linux
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / ticksPerSecond;
}

/** txgrid at c=1 through the package's client, as one more variant. */
async function startTxgrid(url, pids) {
  const { connect } = await import(new URL("../dist/src/index.js", import.meta.url).href);
  const client = await connect(url);
  const accountCount = 1000;
  const prefix = `floor-${Date.now()}-`;
  const accountIds = Array.from({ length: accountCount }, (_, i) => `${prefix}a${i}`);
  await client.createAccounts(accountIds.map((id) => ({ id, balance: 1_000_000n })));
  let next = 0;
  let seed = 1;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % accountCount;
  };
  const call = async () => {
    const debit = random();
    const credit = (debit + 1 + (random() % (accountCount - 1))) % accountCount;
    const outcome = await client.createTransfer({
      id: `${prefix}t${next++}`,
      debitId: accountIds[debit],
      creditId: accountIds[credit],
      amount: 1n,
    });
    if (outcome.code !== 0) throw new Error(`transfer refused: ${outcome.name}`);
  };
  const cpuOf = async () => pids.reduce((sum, pid) => sum + processCpuUs(pid), 0);
  return {
    a: { cpuUs: cpuOf },
    b: null,
    socket: { destroy: () => void client.close() },
    call,
  };
}

async function main() {
  const calls = argValue("--calls", 3000);
  const rounds = argValue("--rounds", 5);
  const withLog = process.argv.includes("--log");
  const variants = [
    { name: "single round trip (client-A-client)", chain: false, log: false },
    { name: "chain (client-A-B-A-client)", chain: true, log: false },
  ];
  if (withLog) {
    variants.push({ name: "single + 120-byte log pwrite", chain: false, log: true });
    variants.push({ name: "chain + 120-byte log pwrite on A and B", chain: true, log: true });
  }
  // Each --txgrid URL is one more variant (e.g. two builds' clusters, A/B); the n-th --pids
  // and the n-th of --labels go with the n-th --txgrid.
  const valuesOf = (name) =>
    process.argv.flatMap((arg, index) => (arg === name ? [process.argv[index + 1]] : []));
  const pidLists = valuesOf("--pids");
  const labels = (valuesOf("--labels")[0] ?? "").split(",");
  valuesOf("--txgrid").forEach((url, index) => {
    const label = labels[index] || url;
    const pids = (pidLists[index] ?? "").split(",").filter(Boolean).map(Number);
    variants.push({ name: `txgrid c=1 ${label}`, url, pids });
  });
  for (const variant of variants) {
    variant.run =
      variant.url === undefined
        ? await startVariant(variant.chain, variant.log)
        : await startTxgrid(variant.url, variant.pids);
    variant.latenciesUs = [];
    variant.cpuUs = 0;
    for (let i = 0; i < 200; i++) await variant.run.call(); // warm-up
  }
  for (let round = 0; round < rounds; round++) {
    for (const variant of variants) {
      const { a, b, call } = variant.run;
      const cpuBeforeUs = (await a.cpuUs()) + (b === null ? 0 : await b.cpuUs());
      for (let i = 0; i < calls; i++) {
        const startNs = process.hrtime.bigint();
        await call();
        variant.latenciesUs.push(Number(process.hrtime.bigint() - startNs) / 1000);
      }
      variant.cpuUs += (await a.cpuUs()) + (b === null ? 0 : await b.cpuUs()) - cpuBeforeUs;
    }
  }
  console.log(`chain-floor: ${rounds} rounds x ${calls} calls per variant, interleaved`);
  for (const variant of variants) {
    const sorted = variant.latenciesUs.sort((x, y) => x - y);
    const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
    const cpuPerCallUs = variant.cpuUs / sorted.length;
    console.log(
      `  ${variant.name.padEnd(42)} p50 ${at(0.5).toFixed(0).padStart(5)} us  ` +
        `p99 ${at(0.99).toFixed(0).padStart(6)} us  server CPU ${cpuPerCallUs.toFixed(0)} us/call`,
    );
    variant.run.socket.destroy();
    variant.run.a.proc?.send("exit");
    variant.run.b?.proc.send("exit");
  }
}

const role = process.argv[2];
if (role === "a") {
  serveCpuRequests();
  runA(Number(process.argv[3]), logWriter(process.argv[4] === "log"));
} else if (role === "b") {
  serveCpuRequests();
  runB(logWriter(process.argv[3] === "log"));
} else {
  await main();
}
