// Goal: the load generator's parts measure what they claim. The workload never picks the
// same account twice in a transfer and honours the hot share; the HTTP connection parses
// answers split across arbitrary TCP chunks and fails cleanly on a bad server; the latency
// summary reports the percentiles of what was recorded; a warm-up is sent but left out of
// every count and check. Method: seeded workloads, a raw node:net server on 127.0.0.1 that
// writes answers in pieces, known latency sets, and whole runs against `txgrid serve`.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { type BenchOptions, runBench } from "./bench.ts";
import { HttpConnection } from "./http-connection.ts";
import { LatencyRecorder } from "./latency.ts";
import { formatReport } from "./report.ts";
import { startServerProcess } from "./server-process.ts";
import { HOT_ACCOUNT_COUNT, Workload } from "./workload.ts";

test("workload: distinct accounts, amounts 1..100, hot share honoured", () => {
  const workload = new Workload(7, 1_000, 90);
  let hotCount = 0;
  const drawCount = 20_000;
  for (let draw = 0; draw < drawCount; draw++) {
    const choice = workload.next();
    assert.notEqual(choice.debitIndex, choice.creditIndex);
    assert.ok(choice.amount >= 1 && choice.amount <= 100);
    assert.ok(choice.debitIndex < 1_000 && choice.creditIndex < 1_000);
    if (choice.debitIndex < HOT_ACCOUNT_COUNT && choice.creditIndex < HOT_ACCOUNT_COUNT) {
      hotCount++;
    }
  }
  const hotShare = hotCount / drawCount;
  assert.ok(hotShare > 0.88 && hotShare < 0.92, `hot share ${hotShare}`);
  const uniform = new Workload(7, 1_000, 0);
  let uniformHot = 0;
  for (let draw = 0; draw < drawCount; draw++) {
    if (uniform.next().debitIndex < HOT_ACCOUNT_COUNT) uniformHot++;
  }
  assert.ok(uniformHot / drawCount < 0.03, "uniform picks rarely land on the hot set");
});

test("workload: the same seed repeats the same transfers", () => {
  const left = new Workload(42, 500, 50);
  const right = new Workload(42, 500, 50);
  for (let draw = 0; draw < 100; draw++) assert.deepEqual(left.next(), right.next());
});

async function withServer(
  onData: (socket: import("node:net").Socket, request: string) => void,
  body: (url: URL) => Promise<void>,
) {
  const server: Server = createServer((socket) => {
    socket.on("data", (chunk) => onData(socket, chunk.toString("latin1")));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address() as { port: number };
  try {
    await body(new URL(`http://127.0.0.1:${address.port}`));
  } finally {
    server.close();
  }
}

test("http connection: answers split into single bytes parse, keep-alive reuses", async () => {
  const seen: string[] = [];
  await withServer(
    (socket, request) => {
      seen.push(request);
      const body = JSON.stringify({ echo: request.length });
      const answer = `HTTP/1.1 201 Created\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
      for (let index = 0; index < answer.length; index++) socket.write(answer[index] as string);
    },
    async (url) => {
      const connection = await HttpConnection.open(url, 5_000);
      for (let round = 0; round < 3; round++) {
        const answer = await connection.request("POST", "/x", '{"a":1}');
        assert.equal(answer.status, 201);
        assert.ok("echo" in JSON.parse(answer.body));
      }
      connection.close();
    },
  );
  assert.equal(seen.length, 3);
  assert.match(seen[0] as string, /^POST \/x HTTP\/1\.1\r\n/);
  assert.match(seen[0] as string, /Content-Length: 7\r\n\r\n\{"a":1\}$/);
});

test("http connection: a server that closes or answers without length fails the request", async () => {
  await withServer(
    (socket) => socket.end("HTTP/1.1 200 OK\r\n\r\nno length"),
    async (url) => {
      const connection = await HttpConnection.open(url, 5_000);
      await assert.rejects(connection.request("GET", "/", null));
      await assert.rejects(
        connection.request("GET", "/", null),
        "a failed connection stays failed",
      );
    },
  );
  await withServer(
    () => {},
    async (url) => {
      const connection = await HttpConnection.open(url, 100);
      await assert.rejects(connection.request("GET", "/", null), /no answer within 100 ms/);
    },
  );
});

test("latency summary reports the recorded distribution", () => {
  const recorder = new LatencyRecorder();
  for (let value = 1; value <= 1_000; value++) recorder.record(value);
  const summary = recorder.summary();
  assert.equal(summary.count, 1_000);
  assert.ok(Math.abs(summary.p50Us - 500) <= 1);
  assert.ok(Math.abs(summary.p997Us - 997) <= 1);
  assert.equal(summary.maxUs, 1_000);
  assert.ok(Math.abs(summary.meanUs - 500.5) < 1);
});

test("warm-up: sent first, then left out of the counts and the checks", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "txgrid-bench-warmup-"));
  const server = await startServerProcess({ dataDir, fsync: "lazy" });
  const base: BenchOptions = {
    protocol: "http",
    url: server.url,
    tcpUrl: server.tcpUrl ?? "",
    fsync: "lazy",
    transferCount: 150,
    concurrency: 4,
    batchSize: 1,
    ratePerSecond: 0,
    immediate: false,
    api: "timpe",
    accountCount: 40,
    hotPercent: 0,
    durationMs: 60_000,
    seed: 3,
    requestTimeoutMs: 10_000,
  };
  try {
    // TiMPE phase 1: the warm-up's pending transfers are processed before the timed load, so
    // the one /transactions/process at the end and the recorded count see the timed ones only.
    const warmed = await runBench({ ...base, warmupCount: 250 });
    assert.equal(warmed.okCount + warmed.refusedCount, 150);
    assert.equal(warmed.requestCount, 150);
    assert.equal(warmed.recordedTransferCount, 150);
    assert.equal(warmed.moneyConserved, true);
    assert.equal(warmed.process?.failedCount, 0);
    assert.equal(warmed.process?.processedCount, 150);
    // Everything the server holds: the warm-up's transfers were really sent.
    assert.equal(warmed.verify.transferCount, 400);
    assert.match(formatReport(warmed), /warm-up: 250 transfers before timing \(not counted\)/);
    const cold = await runBench({ ...base, immediate: true });
    assert.equal(cold.recordedTransferCount, 150);
    assert.equal(cold.verify.transferCount, 550);
    assert.doesNotMatch(formatReport(cold), /warm-up/);
  } finally {
    await server.kill("SIGTERM");
    rmSync(dataDir, { recursive: true, force: true });
  }
});
