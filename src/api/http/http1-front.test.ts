// Goal: the HTTP/1.1 front (http1-front.ts) keeps its promises on a real socket: answers in
// request order across a hand-over to node:http in the middle of a pipeline; a pipeline
// deeper than HTTP_PIPELINE_DEPTH_MAX is answered whole and in order (reading stops and
// resumes); a request still partial after HTTP_FRONT_SLOW_REQUEST_MS goes to node:http and is
// answered there; an idle connection is closed after the server's keepAliveTimeout; a client
// that half-closes after its request gets the answer, then the end; and, property-based,
// pipelines of transfers and handed-over requests cut into pieces at random bytes are
// answered whole, once each and in order; damaged pipelines (flipped, cut or inserted bytes)
// never crash the server, every answer is well formed, and only what was acknowledged as
// created is applied. (That the front's answers
// are byte for byte node:http's and fastify's is fast-path.test.ts's job.)
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:http";
import { connect, type Socket } from "node:net";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import fc from "fast-check";
import {
  HTTP_FRONT_SLOW_REQUEST_MS,
  HTTP_FRONT_SWEEP_MS,
  HTTP_PIPELINE_DEPTH_MAX,
} from "../../constants.ts";
import { must } from "../../stdx/index.ts";
import { fastPathOf } from "./app.ts";
import type { FastPath } from "./fast-path.ts";
import { Http1Front } from "./http1-front.ts";
import type { TakenRequest } from "./taken-request.ts";
import { type Harness, openHarness } from "./test-support.ts";

async function withServer(
  run: (harness: Harness, port: number, front: Http1Front) => Promise<void>,
): Promise<void> {
  const harness = await openHarness();
  try {
    const seeded = await harness.app.inject({
      method: "POST",
      url: "/v1/accounts/batch",
      payload: { accounts: [{ id: "a", balance: "1000000" }, { id: "b" }] },
    });
    assert.equal(seeded.statusCode, 200, seeded.body);
    await harness.app.listen({ host: "127.0.0.1", port: 0 });
    const address = harness.app.server.address();
    assert.ok(typeof address === "object" && address !== null);
    const front = must(fastPathOf(harness.app)?.front, "the app has a front");
    await run(harness, address.port, front);
  } finally {
    await harness.close();
  }
}

function transfer(id: string): string {
  const body = JSON.stringify({ id, debitAccountId: "a", creditAccountId: "b", amount: 1 });
  return (
    "POST /v1/transfers HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n" +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}

/** A client socket that collects everything it receives as latin1 text. */
async function open(port: number): Promise<{ socket: Socket; received: () => string }> {
  const socket = connect({ host: "127.0.0.1", port });
  await once(socket, "connect");
  let text = "";
  socket.on("data", (chunk: Buffer) => {
    text += chunk.toString("latin1");
  });
  return { socket, received: () => text };
}

async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const startedMs = Date.now();
  while (!condition()) {
    assert.ok(Date.now() - startedMs < timeoutMs, `timed out waiting for ${what}`);
    await sleep(5);
  }
}

function answerCount(text: string): number {
  return (text.match(/HTTP\/1\.1 \d{3} /g) ?? []).length;
}

test("a pipeline mixing hot and other requests is answered in order across the hand-over", async () => {
  await withServer(async (_harness, port, front) => {
    const fastPath = must(fastPathOf(_harness.app));
    const takenBefore = fastPath.takenCount;
    const client = await open(port);
    const status = "GET /v1/status HTTP/1.1\r\nHost: localhost\r\n\r\n";
    client.socket.write(transfer("m1") + transfer("m2") + status + transfer("m3"));
    await until(() => answerCount(client.received()) === 4 && client.received().endsWith("}"), "4");
    client.socket.destroy();
    const text = client.received();
    const answers = text.split(/(?=HTTP\/1\.1 \d{3} )/);
    const order = answers.map((answer) => /"id":"(m\d)"/.exec(answer)?.[1] ?? "other");
    assert.deepEqual(order, ["m1", "m2", "other", "m3"]);
    assert.match(answers[2] ?? "", /^HTTP\/1\.1 200 [\s\S]*"fsyncPolicy"/);
    assert.equal(front.handedOverCount, 1, "one hand-over, at the status request");
    // m1 and m2 through the front, m3 through node:http's fast path after the hand-over.
    assert.equal(fastPath.takenCount - takenBefore, 3);
  });
});

test("a pipeline deeper than the limit is answered whole and in order", async () => {
  await withServer(async (_harness, port, front) => {
    const count = HTTP_PIPELINE_DEPTH_MAX * 3 + 7;
    const ids = Array.from({ length: count }, (_, index) => `d${index}`);
    const client = await open(port);
    client.socket.write(ids.map(transfer).join(""));
    await until(() => answerCount(client.received()) === count, `${count} answers`);
    await until(() => client.received().endsWith("}"), "the last body");
    client.socket.destroy();
    const answered = [...client.received().matchAll(/"id":"(d\d+)"/g)].map((m) => m[1]);
    assert.deepEqual(answered, ids);
    assert.equal(front.handedOverCount, 0);
  });
});

test("requests buffered behind a full pipeline are read once it has room", async () => {
  // A stub fast path holds every answer until the test gives it, so that the pipeline is
  // full exactly when the next requests are already buffered.
  const taken: { exchange: TakenRequest; body: string }[] = [];
  const stub = {
    routeFor: () => ({}),
    taken: () => 0,
    answer: (exchange: TakenRequest, body: string) => taken.push({ exchange, body }),
  };
  const server = createServer(() => assert.fail("nothing goes to node:http"));
  new Http1Front(server, stub as unknown as FastPath);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  assert.ok(typeof address === "object" && address !== null);
  try {
    const request = (body: string) =>
      "POST /x HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n" +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    const small = Array.from({ length: HTTP_PIPELINE_DEPTH_MAX - 1 }, (_, index) => `"s${index}"`);
    // The request that fills the pipeline is large and arrives in two pieces; the one after it
    // is small and arrives with the second piece.
    const big = request(`"${"b".repeat(3000)}"`);
    const client = await open(address.port);
    client.socket.write(small.map(request).join("") + big.slice(0, 200));
    await until(() => taken.length === small.length, "the small requests");
    client.socket.write(big.slice(200) + request('"last"'));
    await until(() => taken.length === HTTP_PIPELINE_DEPTH_MAX, "a full pipeline");
    await sleep(20);
    assert.equal(taken.length, HTTP_PIPELINE_DEPTH_MAX, "nothing taken beyond the limit");
    for (const { exchange, body } of taken.splice(0)) {
      exchange.deliver(200, ["content-length", String(Buffer.byteLength(body))], body);
    }
    await until(() => taken.length === 1, "the request that waited behind the pipeline");
    assert.equal(taken[0]?.body, '"last"');
    client.socket.destroy();
  } finally {
    server.close();
  }
});

test("a request still partial after the slow-request time goes to node:http", async () => {
  await withServer(async (harness, port, front) => {
    const client = await open(port);
    const wire = transfer("slow");
    client.socket.write(wire.slice(0, 30));
    await until(() => front.handedOverCount === 1, "the hand-over", HTTP_FRONT_SLOW_REQUEST_MS * 4);
    client.socket.write(wire.slice(30));
    await until(() => client.received().endsWith("}"), "the answer");
    client.socket.destroy();
    assert.match(client.received(), /^HTTP\/1\.1 201 /);
    assert.equal(harness.shard.engine.transfer("slow")?.amount, 1n);
  });
});

test("an idle connection is closed after the server's keep-alive timeout", async () => {
  await withServer(async (harness, port) => {
    const keepAliveMs = 300;
    harness.app.server.keepAliveTimeout = keepAliveMs;
    const client = await open(port);
    let closed = false;
    client.socket.on("close", () => {
      closed = true;
    });
    client.socket.write(transfer("idle"));
    await until(() => client.received().endsWith("}"), "the answer");
    // node:http's header for this setting: whole seconds, rounded down.
    assert.match(client.received(), /\r\nConnection: keep-alive\r\nKeep-Alive: timeout=0\r\n/);
    const answeredMs = Date.now();
    await until(() => closed, "the server to close the idle connection");
    const idleMs = Date.now() - answeredMs;
    assert.ok(idleMs >= keepAliveMs - HTTP_FRONT_SWEEP_MS, `closed after ${idleMs} ms`);
    assert.ok(idleMs <= keepAliveMs + 4 * HTTP_FRONT_SWEEP_MS, `closed after ${idleMs} ms`);
  });
});

test("a client that half-closes after its requests gets every answer, then the end", async () => {
  await withServer(async (_harness, port, front) => {
    const client = await open(port);
    let ended = false;
    client.socket.on("end", () => {
      ended = true;
    });
    client.socket.end(transfer("h1") + transfer("h2"));
    await until(() => ended, "the server's end");
    assert.equal(answerCount(client.received()), 2);
    assert.ok(client.received().endsWith("}"));
    assert.equal(front.handedOverCount, 0);
    assert.equal(front.connectionCount, 0);
  });
});

test("requests cut at any byte, hot and other mixed, are answered whole and in order", async () => {
  await withServer(async (harness, port) => {
    let next = 0;
    const status = "GET /v1/status HTTP/1.1\r\nHost: localhost\r\n\r\n";
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.nat({ max: 9 }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 6 }),
        async (kinds, cuts) => {
          // A roll of 0 is a request the front hands over; the rest are transfers.
          const expected = kinds.map((roll) => (roll === 0 ? "other" : `r${next++}`));
          const wire = Buffer.from(
            expected.map((id) => (id === "other" ? status : transfer(id))).join(""),
          );
          const offsets = [...new Set(cuts.map((cut) => Math.floor(cut * wire.length)))].sort(
            (left, right) => left - right,
          );
          const client = await open(port);
          let from = 0;
          for (const offset of [...offsets, wire.length]) {
            if (offset <= from) continue;
            client.socket.write(wire.subarray(from, offset));
            from = offset;
            await sleep(1);
          }
          const complete = () =>
            answerCount(client.received()) === expected.length && client.received().endsWith("}");
          await until(complete, `${expected.length} answers`);
          client.socket.destroy();
          const answers = client.received().split(/(?=HTTP\/1\.1 \d{3} )/);
          const order = answers.map((answer) => /"id":"(r\d+)"/.exec(answer)?.[1] ?? "other");
          assert.deepEqual(order, expected);
        },
      ),
      { numRuns: 40, seed: 7 },
    );
    // Every transfer was applied once: the ids are unique and the debit matches.
    assert.equal(harness.shard.engine.account("b")?.balance, BigInt(next));
  });
});

test("damaged pipelines never crash the server or apply what was not acknowledged", async () => {
  await withServer(async (harness, port) => {
    let next = 0;
    let acknowledged = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            at: fc.double({ min: 0, max: 1, noNaN: true }),
            kind: fc.constantFrom("flip", "cut", "insert"),
            bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
          }),
          { minLength: 1, maxLength: 3 },
        ),
        async (damages) => {
          const ids = [`z${next++}`, `z${next++}`, `z${next++}`];
          let wire = Buffer.from(ids.map(transfer).join(""));
          for (const damage of damages) {
            const at = Math.floor(damage.at * wire.length);
            const bytes = Buffer.from(damage.bytes);
            if (damage.kind === "flip") wire[at] = (wire[at] ?? 0) ^ (bytes[0] || 1);
            else if (damage.kind === "cut") {
              wire = Buffer.concat([wire.subarray(0, at), wire.subarray(at + bytes.length)]);
            } else wire = Buffer.concat([wire.subarray(0, at), bytes, wire.subarray(at)]);
          }
          const client = await open(port);
          const closed = once(client.socket, "close");
          client.socket.on("error", () => {});
          client.socket.end(wire);
          // node:http may wait for the rest of a body that a damage lengthened: give up then.
          await Promise.race([closed, sleep(3000)]);
          client.socket.destroy();
          for (const answer of client.received().split(/(?=HTTP\/1\.1 )/)) {
            if (answer === "") continue;
            assert.match(answer, /^HTTP\/1\.1 \d{3} [^\r\n]*\r\n/, JSON.stringify(answer));
            if (/^HTTP\/1\.1 201 /.test(answer)) acknowledged++;
          }
        },
      ),
      { numRuns: 60, seed: 11 },
    );
    // Still serving; every applied transfer was acknowledged as created, money conserved.
    const client = await open(port);
    client.socket.write(transfer("after-damage"));
    await until(() => client.received().endsWith("}"), "an answer after the damage");
    client.socket.destroy();
    assert.match(client.received(), /^HTTP\/1\.1 201 /);
    const engine = harness.shard.engine;
    assert.equal(engine.stats().transferCount, acknowledged + 1);
    const totals = engine.totals();
    assert.equal(totals.balanceSum, totals.initialSum);
  });
});
