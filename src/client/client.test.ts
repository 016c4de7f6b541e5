// Goal: the TCP client keeps its promises: the whole API works over a real socket; concurrent
// calls are merged into few frames; every call times out instead of waiting forever; after a
// broken connection, creations in flight are sent again and applied exactly once, asset
// updates in flight fail clearly, and calls wait for the server to come back; the client
// queue is bounded; money is conserved under concurrent load. Method: a TcpServer on an
// in-memory (or temp-dir) shard on 127.0.0.1, a proxy that can swallow replies and cut
// connections, and fake servers that never answer; engine state is checked directly.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { BUSY_POLL_US_MAX } from "../constants.ts";
import { ResultCode } from "../engine/index.ts";
import {
  encodeFrame,
  type Frame,
  FrameDecoder,
  type Message,
  MessageKind,
} from "../protocol/index.ts";
import { TcpServer } from "../server/index.ts";
import { Shard } from "../shard/index.ts";
import { ErrorCode, isTxgridError, Prng } from "../stdx/index.ts";
import { checkScenarioState, runApiScenario } from "./api-scenario.ts";
import { type Client, type ClientOptions, connect } from "./connect.ts";
import { TcpProxy } from "./tcp-proxy.ts";

const timeout = 30_000;

interface Harness {
  readonly shard: Shard;
  readonly server: TcpServer;
  close(): Promise<void>;
}

async function startServer(dir: string | null = null, port = 0, busyPollUs = 0): Promise<Harness> {
  const shard = await Shard.open({ dir, fsyncPolicy: "batch" });
  const server = await TcpServer.listen({ shard, host: "127.0.0.1", port, busyPollUs });
  return {
    shard,
    server,
    close: async () => {
      await server.close();
      await shard.close();
    },
  };
}

async function withClient(
  harness: Harness,
  run: (client: Client) => Promise<void>,
  options: ClientOptions = {},
  url = harness.server.url,
): Promise<void> {
  const client = await connect(url, options);
  try {
    await run(client);
  } finally {
    await client.close();
  }
}

/** A server, a proxy in front of it, and a client through the proxy that reconnects fast. */
async function withProxiedClient(
  run: (client: Client, proxy: TcpProxy, harness: Harness) => Promise<void>,
): Promise<void> {
  const harness = await startServer();
  const proxy = await TcpProxy.start(harness.server.port);
  try {
    const options = { reconnectDelayMsMin: 10 };
    await withClient(harness, (client) => run(client, proxy, harness), options, proxy.url);
  } finally {
    await proxy.close();
    await harness.close();
  }
}

async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    assert.ok(Date.now() < deadline, "condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const fakeSockets = new WeakMap<Server, Set<Socket>>();

/** A server that decodes frames and answers them with `answer` (null: no answer). */
async function fakeServer(answer: (frame: Frame) => Message | null): Promise<Server> {
  const sockets = new Set<Socket>();
  const server = createServer((socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    const decoder = new FrameDecoder();
    socket.on("error", () => {});
    socket.on("data", (chunk: Buffer) => {
      decoder.push(chunk);
      for (let frame = decoder.pull(); frame !== null; frame = decoder.pull()) {
        const reply = answer(frame);
        if (reply !== null) socket.write(encodeFrame(frame.requestId, reply));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  fakeSockets.set(server, sockets);
  return server;
}

function portOf(server: Server): number {
  const address = server.address();
  assert.ok(typeof address === "object" && address !== null);
  return address.port;
}

async function stop(server: Server): Promise<void> {
  for (const socket of fakeSockets.get(server) ?? []) socket.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

const transfer = (id: string, amount = 1n, debitId = "a", creditId = "b") => ({
  id,
  debitId,
  creditId,
  amount,
});

test("the whole API works over TCP", { timeout }, async () => {
  const harness = await startServer();
  try {
    await withClient(harness, async (client) => {
      await runApiScenario(client);
      await checkScenarioState(client);
      assert.equal(client.url, harness.server.url);
    });
    assert.deepEqual(harness.shard.engine.checkInvariants(), []);
  } finally {
    await harness.close();
  }
});

test("concurrent calls of one tick travel in few frames", { timeout }, async () => {
  const harness = await startServer();
  try {
    await withClient(harness, async (client) => {
      await client.createAccounts([{ id: "a", balance: 1_000_000n }, { id: "b" }]);
      const framesBefore = harness.server.stats().framesReceived;
      const outcomes = await Promise.all(
        Array.from({ length: 2_000 }, (_, index) => client.createTransfer(transfer(`t${index}`))),
      );
      assert.ok(outcomes.every((outcome) => outcome.code === ResultCode.OK));
      assert.equal(harness.server.stats().framesReceived - framesBefore, 1);
      // Calls made from the continuations of one answer also share a frame.
      const chained = await Promise.all(
        Array.from({ length: 100 }, (_, index) =>
          client.ping().then(() => client.createTransfer(transfer(`u${index}`))),
        ),
      );
      assert.equal(chained.length, 100);
      assert.ok(harness.server.stats().framesReceived - framesBefore <= 1 + 100 + 2);
      const framesBig = harness.server.stats().framesReceived;
      const big = Array.from({ length: 20_000 }, (_, index) => transfer(`v${index}`));
      assert.equal((await client.createTransfers(big)).length, 20_000);
      assert.equal(harness.server.stats().framesReceived - framesBig, 3);
      assert.equal(harness.shard.engine.account("b")?.balance, 22_100n);
    });
  } finally {
    await harness.close();
  }
});

test("every call times out instead of waiting forever", { timeout }, async () => {
  // Answers PING (so connect succeeds) and nothing else.
  const silent = await fakeServer((frame) =>
    frame.kind === MessageKind.PING ? { kind: MessageKind.PONG } : null,
  );
  const url = `txgrid://127.0.0.1:${portOf(silent)}`;
  try {
    const client = await connect(url, { timeoutMs: 300 });
    const startedMs = Date.now();
    await assert.rejects(client.createTransfer(transfer("t1")), (error) =>
      isTxgridError(error, ErrorCode.TIMEOUT),
    );
    assert.ok(Date.now() - startedMs >= 250);
    await assert.rejects(client.lookupAccount("a", { timeoutMs: 50 }), (error) =>
      isTxgridError(error, ErrorCode.TIMEOUT),
    );
    await client.close();
    // A busy-polling client stops spinning after its window; timers still run meanwhile.
    const polling = await connect(url, { timeoutMs: 300, busyPollUs: 1_000 });
    await assert.rejects(polling.createTransfer(transfer("t2")), (error) =>
      isTxgridError(error, ErrorCode.TIMEOUT),
    );
    await polling.close();
    const mute = await fakeServer(() => null);
    await assert.rejects(
      connect(`txgrid://127.0.0.1:${portOf(mute)}`, { connectTimeoutMs: 200 }),
      (error) => isTxgridError(error, ErrorCode.TIMEOUT),
    );
    await stop(mute);
  } finally {
    await stop(silent);
  }
});

test("a server that breaks the protocol is dropped and the call resent", { timeout }, async () => {
  let creates = 0;
  const broken = await fakeServer((frame) => {
    if (frame.kind === MessageKind.PING) return { kind: MessageKind.PONG };
    creates++;
    // One result for a request of two operations: not an answer to it.
    const result = { code: ResultCode.OK, duplicate: false, value: null };
    return { kind: MessageKind.RESULTS, results: [result] };
  });
  try {
    const options = { timeoutMs: 400, reconnectDelayMsMin: 10, reconnectDelayMsMax: 20 };
    const client = await connect(`txgrid://127.0.0.1:${portOf(broken)}`, options);
    const pair = [transfer("t1"), transfer("t2")];
    await assert.rejects(client.createTransfers(pair), (error) =>
      isTxgridError(error, ErrorCode.TIMEOUT),
    );
    assert.ok(client.stats().reconnects >= 1);
    assert.ok(creates >= 2, "the frame was sent again on a new connection");
    await client.close();
  } finally {
    await stop(broken);
  }
});

test("connect() fails clearly", { timeout }, async () => {
  const free = await fakeServer(() => null);
  const port = portOf(free);
  await stop(free);
  await assert.rejects(connect(`txgrid://127.0.0.1:${port}`), (error) => {
    assert.ok(isTxgridError(error, ErrorCode.UNAVAILABLE), String(error));
    assert.match(error.message, /cannot connect to txgrid:\/\/127\.0\.0\.1/);
    return true;
  });
  await assert.rejects(connect("http://127.0.0.1:1"), (error) =>
    isTxgridError(error, ErrorCode.BAD_REQUEST),
  );
  const otherVersion = await fakeServer(() => ({
    kind: MessageKind.ERROR,
    code: ErrorCode.VERSION,
    message: "protocol version 2 only",
  }));
  await assert.rejects(connect({ host: "127.0.0.1", port: portOf(otherVersion) }), (error) =>
    isTxgridError(error, ErrorCode.VERSION),
  );
  await stop(otherVersion);
  const shard = await Shard.open({ dir: null, fsyncPolicy: "batch" });
  const full = await TcpServer.listen({ shard, host: "127.0.0.1", port: 0, connectionsMax: 1 });
  const first = await connect(full.url);
  await assert.rejects(connect(full.url), (error) =>
    isTxgridError(error, ErrorCode.LIMIT_EXCEEDED),
  );
  await first.close();
  await full.close();
  await shard.close();
});

test("creations in flight are resent after a broken connection and applied once", {
  timeout,
}, async () => {
  await withProxiedClient(async (client, proxy, harness) => {
    await client.createAccounts([{ id: "a", balance: 1_000n }, { id: "b" }]);
    await client.createTransfer({ ...transfer("p0", 7n), pending: true });
    proxy.swallowReplies = true;
    const calls = Promise.all([
      ...Array.from({ length: 50 }, (_, index) => client.createTransfer(transfer(`t${index}`))),
      client.createAccount({ id: "c", balance: 5n }),
      client.postTransfer("p0"),
    ]);
    const engine = harness.shard.engine;
    await waitFor(() => engine.transfer("t49") !== undefined && engine.account("c") !== undefined);
    await waitFor(() => engine.transfer("p0")?.state === "posted");
    proxy.swallowReplies = false;
    proxy.cut();
    const outcomes = await calls;
    assert.ok(outcomes.every((outcome) => outcome.code === ResultCode.OK));
    assert.ok(
      outcomes.every((outcome) => outcome.duplicate),
      "answers of the resent frames",
    );
    assert.equal(engine.account("b")?.balance, 57n, "every transfer applied exactly once");
    assert.equal(engine.account("a")?.balance, 943n);
    const stats = client.stats();
    assert.ok(stats.framesResent >= 1);
    assert.ok(stats.reconnects >= 1);
    assert.deepEqual(engine.checkInvariants(), []);
  });
});

test("an asset update in flight during a disconnect fails clearly", { timeout }, async () => {
  await withProxiedClient(async (client, proxy, harness) => {
    await client.createAsset({ id: "gold", value: 10n });
    proxy.swallowReplies = true;
    const update = client.updateAsset({ id: "gold", delta: 5n });
    const lookup = client.lookupAsset("gold");
    await waitFor(() => harness.shard.engine.asset("gold")?.value === 15n);
    proxy.swallowReplies = false;
    proxy.cut();
    await assert.rejects(update, (error) => {
      assert.ok(isTxgridError(error, ErrorCode.CONNECTION_LOST), String(error));
      assert.match(error.message, /may or may not have been applied/);
      return true;
    });
    assert.equal((await lookup)?.value, 15n, "the lookup was resent");
    assert.equal((await client.lookupAsset("gold"))?.value, 15n, "applied once, not twice");
  });
});

test("calls made while the server restarts complete once it is back", { timeout }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "txgrid-client-"));
  let harness = await startServer(dir);
  const port = harness.server.port;
  try {
    await withClient(
      harness,
      async (client) => {
        await client.createAccounts([{ id: "a", balance: 100n }, { id: "b" }]);
        await harness.close();
        const during = client.createTransfer(transfer("t1", 30n));
        const lookup = client.lookupAccount("a");
        await new Promise((resolve) => setTimeout(resolve, 150));
        harness = await startServer(dir, port);
        assert.equal((await during).code, ResultCode.OK);
        assert.ok((await lookup) !== null);
        assert.equal((await client.lookupAccount("b"))?.balance, 30n);
        assert.ok(client.stats().reconnects >= 1);
      },
      { reconnectDelayMsMin: 10, reconnectDelayMsMax: 50 },
    );
  } finally {
    await harness.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the client queue is bounded", { timeout }, async () => {
  const harness = await startServer();
  const proxy = await TcpProxy.start(harness.server.port);
  try {
    const client = await connect(proxy.url, { queuedOperationsMax: 10_000, timeoutMs: 500 });
    await proxy.close();
    await waitFor(() => !client.stats().connected);
    const queued = client.createTransfers(
      Array.from({ length: 9_000 }, (_, i) => transfer(`q${i}`)),
    );
    await assert.rejects(
      client.createTransfers(Array.from({ length: 2_000 }, (_, i) => transfer(`r${i}`))),
      (error) => isTxgridError(error, ErrorCode.OVERLOADED),
    );
    await assert.rejects(
      client.createTransfers(Array.from({ length: 10_001 }, (_, i) => transfer(`s${i}`))),
      (error) => isTxgridError(error, ErrorCode.LIMIT_EXCEEDED),
    );
    await assert.rejects(queued, (error) => isTxgridError(error, ErrorCode.TIMEOUT));
    // Timed-out work does not hold its place in the queue.
    const retry = client.createTransfers(
      Array.from({ length: 2_000 }, (_, i) => transfer(`r${i}`)),
    );
    await assert.rejects(retry, (error) => isTxgridError(error, ErrorCode.TIMEOUT));
    await client.close();
    await assert.rejects(client.ping(), (error) => isTxgridError(error, ErrorCode.SHUTTING_DOWN));
  } finally {
    await harness.close();
  }
});

test("money is conserved under concurrent load through clients", { timeout }, async () => {
  const harness = await startServer();
  const clients = await Promise.all([1, 2, 3].map(() => connect(harness.server.url)));
  try {
    const accountIds = Array.from({ length: 20 }, (_, index) => `acc${index}`);
    await clients[0]?.createAccounts(accountIds.map((id) => ({ id, balance: 1_000n })));
    const prng = new Prng(42);
    const deadline = Date.now() + 1_500;
    let next = 0;
    const worker = async (client: Client) => {
      while (Date.now() < deadline) {
        const id = `w${next++}`;
        const debitId = accountIds[prng.nextInt(20)] as string;
        const creditId = accountIds[prng.nextInt(20)] as string;
        const pending = prng.chance(0.3);
        const amount = BigInt(1 + prng.nextInt(300));
        await client.createTransfer({ id, debitId, creditId, amount, pending });
        if (pending && prng.chance(0.5)) await client.postTransfer(id);
        else if (pending) await client.voidTransfer(id);
      }
    };
    await Promise.all(
      clients.flatMap((client) => Array.from({ length: 16 }, () => worker(client))),
    );
    assert.deepEqual(harness.shard.engine.checkInvariants(), []);
    const accounts = await clients[1]?.lookupAccounts(accountIds);
    const total = (accounts ?? []).reduce((sum, account) => sum + (account?.balance ?? 0n), 0n);
    assert.equal(total, 20_000n);
    assert.ok(next > 500, `only ${next} transfers`);
  } finally {
    await Promise.all(clients.map((client) => client.close()));
    await harness.close();
  }
});

test("busy polling: validated, off by default, same answers, and it stops when idle", {
  timeout,
}, async () => {
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const off = await startServer();
  try {
    for (const busyPollUs of [-1, 1.5, Number.NaN, BUSY_POLL_US_MAX + 1]) {
      await assert.rejects(connect(off.server.url, { busyPollUs }), (error) =>
        isTxgridError(error, ErrorCode.BAD_REQUEST),
      );
    }
    await withClient(off, async (client) => {
      await runApiScenario(client);
      assert.equal(client.stats().busyPollTurns, 0, "off: the client defers nothing");
    });
    assert.equal(off.server.stats().busyPollTurns, 0, "off: the server defers nothing");
  } finally {
    await off.close();
  }
  // 1 ms windows on both sides: the whole scenario gives the same answers.
  const on = await startServer(null, 0, 1_000);
  try {
    await withClient(
      on,
      async (client) => {
        await runApiScenario(client);
        await checkScenarioState(client);
        assert.ok(client.stats().busyPollTurns > 0, "the client spun while calls were in flight");
        assert.ok(on.server.stats().busyPollTurns > 0, "the server spun after its replies");
        // Idle for 50 windows: both chains have ended, so the counts no longer move.
        await sleep(50);
        const clientTurns = client.stats().busyPollTurns;
        const serverTurns = on.server.stats().busyPollTurns;
        await sleep(50);
        assert.equal(client.stats().busyPollTurns, clientTurns, "the client stopped");
        assert.equal(on.server.stats().busyPollTurns, serverTurns, "the server stopped");
      },
      { busyPollUs: 1_000 },
    );
    assert.deepEqual(on.shard.engine.checkInvariants(), []);
  } finally {
    await on.close();
  }
});
