// Goal: the load generator's parts measure what they claim. The workload never picks the
// same account twice in a transfer and honours the hot share; the HTTP connection parses
// answers split across arbitrary TCP chunks and fails cleanly on a bad server; the latency
// summary reports the percentiles of what was recorded. Method: seeded workloads, a raw
// node:net server on 127.0.0.1 that writes answers in pieces, and known latency sets.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:net";
import { test } from "node:test";
import { HttpConnection } from "./http-connection.ts";
import { LatencyRecorder } from "./latency.ts";
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
