// Goal: the TCP server keeps every connection rule of docs/protocol.md: each request kind
// is answered with its reply kind and one entry per operation; replies are matched by request
// id and may overtake each other; protocol errors get an ERROR frame and a close; refusals
// get an ERROR and keep the connection; the in-flight limits and a full socket pause reading
// instead of buffering; the connection limit refuses the extra connection; close() answers
// what was accepted. Method: an in-memory shard whose executor can be held, a real server on
// an ephemeral 127.0.0.1 port, and raw sockets that send hand-made frames and bytes.
import assert from "node:assert/strict";
import { test } from "node:test";
import { inspect } from "node:util";
import { ResultCode } from "../engine/index.ts";
import {
  BATCH_OPERATIONS_MAX,
  CHECKSUM_START,
  encodeFrame,
  HEADER_BYTES,
  HeaderOffset,
  INFLIGHT_REQUESTS_PER_CONNECTION_MAX,
  MessageKind,
  type Reply,
  type TransferCreate,
} from "../protocol/index.ts";
import { checksum, ErrorCode } from "../stdx/index.ts";
import { RawPeer, startHarness } from "./tcp-test-support.ts";

const timeout = 20_000;

function transfer(id: string, amount: bigint, extra: Partial<TransferCreate> = {}): TransferCreate {
  return { id, debitId: "a", creditId: "b", amount, pending: false, timeoutMs: 0, ...extra };
}

function expectKind<K extends Reply["kind"]>(reply: Reply, kind: K): Extract<Reply, { kind: K }> {
  assert.equal(reply.kind, kind, `expected kind ${kind}, got ${inspect(reply)}`);
  return reply as Extract<Reply, { kind: K }>;
}

function expectError(reply: Reply, code: string): void {
  const error = expectKind(reply, MessageKind.ERROR);
  assert.equal(error.code, code, error.message);
}

async function seedAccounts(peer: RawPeer, requestId: number): Promise<void> {
  peer.send(requestId, {
    kind: MessageKind.CREATE_ACCOUNTS,
    accounts: [
      { id: "a", balance: 1_000_000n, floor: 0n, nickname: "Alice" },
      { id: "b", balance: 0n, floor: null, nickname: null },
    ],
  });
  const results = expectKind(await peer.reply(requestId), MessageKind.RESULTS).results;
  assert.deepEqual(
    results.map((result) => result.code),
    [ResultCode.OK, ResultCode.OK],
  );
}

test("every request kind round-trips with its reply kind", { timeout }, async () => {
  const harness = await startHarness();
  const peer = await RawPeer.open(harness.server.port);
  try {
    peer.send(1, { kind: MessageKind.PING });
    expectKind(await peer.reply(1), MessageKind.PONG);
    await seedAccounts(peer, 2);
    peer.send(3, {
      kind: MessageKind.CREATE_TRANSFERS,
      transfers: [
        transfer("t1", 10n),
        transfer("p1", 5n, { pending: true }),
        transfer("p2", 7n, { pending: true, timeoutMs: 60_000 }),
        transfer("big", 10_000_000n),
      ],
    });
    const created = expectKind(await peer.reply(3), MessageKind.RESULTS).results;
    assert.deepEqual(
      created.map((result) => result.code),
      [ResultCode.OK, ResultCode.OK, ResultCode.OK, ResultCode.INSUFFICIENT_FUNDS],
    );
    peer.send(4, { kind: MessageKind.POST_TRANSFERS, ids: ["p1", "nope"] });
    const posted = expectKind(await peer.reply(4), MessageKind.RESULTS).results;
    assert.deepEqual(
      posted.map((result) => result.code),
      [ResultCode.OK, ResultCode.PENDING_NOT_FOUND],
    );
    peer.send(5, { kind: MessageKind.VOID_TRANSFERS, ids: ["p2"] });
    assert.equal(expectKind(await peer.reply(5), MessageKind.RESULTS).results[0]?.code, 0);
    peer.send(6, { kind: MessageKind.CREATE_ASSETS, assets: [{ id: "gold", value: 100n }] });
    assert.equal(expectKind(await peer.reply(6), MessageKind.RESULTS).results[0]?.value, 100n);
    peer.send(7, { kind: MessageKind.UPDATE_ASSETS, updates: [{ id: "gold", delta: -30n }] });
    assert.equal(expectKind(await peer.reply(7), MessageKind.RESULTS).results[0]?.value, 70n);
    peer.send(8, { kind: MessageKind.LOOKUP_ACCOUNTS, ids: ["a", "zz"] });
    const accounts = expectKind(await peer.reply(8), MessageKind.ACCOUNTS).accounts;
    assert.equal(accounts[0]?.balance, 1_000_000n - 15n);
    assert.equal(accounts[0]?.nickname, "Alice");
    assert.equal(accounts[1], null);
    peer.send(9, { kind: MessageKind.LOOKUP_TRANSFERS, ids: ["t1", "p2", "big", "zz"] });
    const transfers = expectKind(await peer.reply(9), MessageKind.TRANSFERS).transfers;
    assert.equal(transfers[0]?.state, "posted");
    assert.equal(transfers[1]?.state, "voided");
    assert.equal(transfers[2]?.state, "failed");
    assert.equal(transfers[2]?.code, ResultCode.INSUFFICIENT_FUNDS);
    assert.equal(transfers[2]?.sequence, null);
    assert.equal(transfers[3], null);
    peer.send(10, { kind: MessageKind.LOOKUP_ASSETS, ids: ["gold", "zz"] });
    const assets = expectKind(await peer.reply(10), MessageKind.ASSETS).assets;
    assert.deepEqual(assets, [{ id: "gold", value: 70n, updates: 1 }, null]);
    peer.send(11, { kind: MessageKind.CREATE_TRANSFERS, transfers: [] });
    assert.deepEqual(expectKind(await peer.reply(11), MessageKind.RESULTS).results, []);
    assert.deepEqual(harness.shard.engine.checkInvariants(), []);
  } finally {
    peer.destroy();
    await harness.close();
  }
});

test("a batch of 8190 transfers in one frame gets 8190 results in order", { timeout }, async () => {
  const harness = await startHarness();
  const peer = await RawPeer.open(harness.server.port);
  try {
    await seedAccounts(peer, 1);
    const transfers = Array.from({ length: BATCH_OPERATIONS_MAX }, (_, index) =>
      // Every third one is refused, so that the order of the results is visible.
      transfer(`t${index}`, index % 3 === 2 ? 0n : 1n),
    );
    peer.send(2, { kind: MessageKind.CREATE_TRANSFERS, transfers });
    const results = expectKind(await peer.reply(2), MessageKind.RESULTS).results;
    assert.equal(results.length, BATCH_OPERATIONS_MAX);
    results.forEach((result, index) => {
      assert.equal(result.code, index % 3 === 2 ? ResultCode.AMOUNT_INVALID : ResultCode.OK);
    });
    const applied = BigInt(results.filter((result) => result.code === ResultCode.OK).length);
    assert.equal(harness.shard.engine.account("b")?.balance, applied);
  } finally {
    peer.destroy();
    await harness.close();
  }
});

test("replies are matched by request id and may overtake each other", { timeout }, async () => {
  const harness = await startHarness();
  const peer = await RawPeer.open(harness.server.port);
  try {
    await seedAccounts(peer, 1);
    // A held executor keeps the write in flight while the read behind it is answered.
    harness.timers.hold();
    peer.send(100, { kind: MessageKind.CREATE_TRANSFERS, transfers: [transfer("slow", 1n)] });
    peer.send(101, { kind: MessageKind.PING });
    await peer.waitForReplies(2);
    assert.equal(peer.replies.at(-1)?.requestId, 101, "the PING overtook the held write");
    harness.timers.release();
    expectKind(await peer.reply(100), MessageKind.RESULTS);
    // Many pipelined frames with ids in no particular order: each reply carries its own.
    const ids = Array.from({ length: 500 }, (_, index) => 1_000 + ((index * 7919) % 500));
    for (const id of ids) {
      peer.send(id, { kind: MessageKind.CREATE_TRANSFERS, transfers: [transfer(`p${id}`, 1n)] });
    }
    await peer.waitForReplies(3 + ids.length);
    for (const id of ids) {
      const results = expectKind(await peer.reply(id), MessageKind.RESULTS).results;
      assert.equal(results.length, 1);
    }
    assert.equal(harness.shard.engine.account("b")?.balance, 501n);
  } finally {
    peer.destroy();
    await harness.close();
  }
});

/** Sends `bytes` on a fresh connection; returns the replies and waits for the close. */
async function sendAndClose(port: number, bytes: Uint8Array, endAfter = false) {
  const peer = await RawPeer.open(port);
  peer.write(bytes);
  if (endAfter) peer.socket.end();
  await peer.closed;
  return peer.replies;
}

test("protocol errors are answered with ERROR and a close", { timeout }, async () => {
  const harness = await startHarness();
  const port = harness.server.port;
  try {
    const garbage = new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n-----");
    let replies = await sendAndClose(port, garbage);
    assert.equal(replies.length, 1);
    assert.equal(replies[0]?.requestId, 0);
    expectError(replies[0]?.reply as Reply, ErrorCode.DECODE);

    const ping = encodeFrame(7, { kind: MessageKind.PING });
    replies = await sendAndClose(port, ping.subarray(0, 20), true);
    expectError(replies[0]?.reply as Reply, ErrorCode.DECODE);

    const otherVersion = withHeader(ping, (view) => view.setUint16(HeaderOffset.version, 2, true));
    replies = await sendAndClose(port, otherVersion);
    expectError(replies[0]?.reply as Reply, ErrorCode.VERSION);

    const oversized = withHeader(ping, (view) =>
      view.setUint32(HeaderOffset.bodyBytes, 2 ** 30, true),
    );
    replies = await sendAndClose(port, oversized.subarray(0, HEADER_BYTES));
    expectError(replies[0]?.reply as Reply, ErrorCode.LIMIT_EXCEEDED);

    const flipped = Uint8Array.from(ping);
    flipped[HEADER_BYTES - 1] = 1;
    replies = await sendAndClose(port, flipped);
    expectError(replies[0]?.reply as Reply, ErrorCode.DECODE);

    // An intact frame of a reply kind: the peer is broken; ERROR carries the frame's id.
    const pong = encodeFrame(9, { kind: MessageKind.PONG });
    replies = await sendAndClose(port, concat(encodeFrame(8, { kind: MessageKind.PING }), pong));
    assert.deepEqual(
      replies.map((entry) => entry.requestId),
      [8, 9],
    );
    expectKind(replies[0]?.reply as Reply, MessageKind.PONG);
    expectError(replies[1]?.reply as Reply, ErrorCode.DECODE);
    assert.equal(harness.server.stats().protocolErrors, 6);
  } finally {
    await harness.close();
  }
});

test("a protocol error still answers the requests accepted before it", { timeout }, async () => {
  const harness = await startHarness();
  const peer = await RawPeer.open(harness.server.port);
  try {
    await seedAccounts(peer, 1);
    harness.timers.hold();
    peer.send(2, { kind: MessageKind.CREATE_TRANSFERS, transfers: [transfer("t", 5n)] });
    await waitFor(() => harness.server.stats().inflightRequests === 1);
    peer.write(new Uint8Array(64).fill(0xee));
    await peer.waitForReplies(2);
    expectError(peer.replies[1]?.reply as Reply, ErrorCode.DECODE);
    harness.timers.release();
    assert.equal(expectKind(await peer.reply(2), MessageKind.RESULTS).results[0]?.code, 0);
    await peer.closed;
  } finally {
    await harness.close();
  }
});

test("a full shard queue refuses with OVERLOADED and keeps the connection", {
  timeout,
}, async () => {
  const harness = await startHarness({ queueCommandsMax: 10 });
  const peer = await RawPeer.open(harness.server.port);
  try {
    await seedAccounts(peer, 1);
    const transfers = Array.from({ length: 11 }, (_, index) => transfer(`o${index}`, 1n));
    peer.send(2, { kind: MessageKind.CREATE_TRANSFERS, transfers });
    expectError(await peer.reply(2), ErrorCode.OVERLOADED);
    assert.equal(harness.shard.engine.transfer("o0"), undefined, "nothing of it was executed");
    peer.send(3, { kind: MessageKind.CREATE_TRANSFERS, transfers: transfers.slice(0, 10) });
    assert.equal(expectKind(await peer.reply(3), MessageKind.RESULTS).results.length, 10);
  } finally {
    peer.destroy();
    await harness.close();
  }
});

test("the in-flight limit pauses reading instead of buffering", { timeout }, async () => {
  const harness = await startHarness();
  const peer = await RawPeer.open(harness.server.port);
  try {
    await seedAccounts(peer, 1);
    harness.timers.hold();
    const frameCount = 5_000;
    const frames: Uint8Array[] = [];
    for (let index = 0; index < frameCount; index++) {
      const request = {
        kind: MessageKind.CREATE_TRANSFERS,
        transfers: [transfer(`f${index}`, 1n)],
      };
      frames.push(encodeFrame(10 + index, request as never));
    }
    peer.write(concat(...frames));
    await waitFor(
      () => harness.server.stats().inflightRequests >= INFLIGHT_REQUESTS_PER_CONNECTION_MAX,
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    const stats = harness.server.stats();
    assert.equal(stats.inflightRequests, INFLIGHT_REQUESTS_PER_CONNECTION_MAX);
    assert.ok(stats.pauses >= 1, "the socket was paused");
    assert.ok(stats.bufferedBytes < 1024 * 1024, `buffered ${stats.bufferedBytes} bytes`);
    harness.timers.release();
    await peer.waitForReplies(1 + frameCount);
    assert.equal(harness.server.stats().inflightRequestsPeak, INFLIGHT_REQUESTS_PER_CONNECTION_MAX);
    assert.equal(harness.shard.engine.account("b")?.balance, BigInt(frameCount));
  } finally {
    peer.destroy();
    await harness.close();
  }
});

test("a peer that does not read makes the server pause, not buffer", { timeout }, async () => {
  const harness = await startHarness();
  const peer = await RawPeer.open(harness.server.port);
  try {
    await seedAccounts(peer, 1);
    peer.socket.pause();
    // Each lookup of 8190 accounts answers with about 600 KB; 100 of them unread would be
    // 60 MB if the server buffered its replies.
    const ids = Array.from({ length: BATCH_OPERATIONS_MAX }, () => "a");
    const request = encodeFrame(1, { kind: MessageKind.LOOKUP_ACCOUNTS, ids });
    for (let index = 0; index < 100; index++) {
      const frame = Uint8Array.from(request);
      const view = new DataView(frame.buffer);
      view.setUint32(HeaderOffset.requestId, 100 + index, true);
      view.setUint32(HeaderOffset.checksum, checksum(frame, CHECKSUM_START), true);
      peer.write(frame);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    const stats = harness.server.stats();
    assert.ok(stats.pauses >= 1, "the server paused the connection");
    assert.ok(stats.writableBytesPeak < 8 * 1024 * 1024, `${stats.writableBytesPeak} bytes held`);
    assert.ok(stats.framesReceived < 60, `${stats.framesReceived} frames read while blocked`);
    peer.socket.resume();
    await peer.waitForReplies(101);
  } finally {
    peer.destroy();
    await harness.close();
  }
});

test("connections beyond the limit get ERROR and a close", { timeout }, async () => {
  const harness = await startHarness({}, 2);
  const first = await RawPeer.open(harness.server.port);
  const second = await RawPeer.open(harness.server.port);
  try {
    const third = await RawPeer.open(harness.server.port);
    await third.closed;
    assert.equal(third.replies[0]?.requestId, 0);
    expectError(third.replies[0]?.reply as Reply, ErrorCode.LIMIT_EXCEEDED);
    first.send(1, { kind: MessageKind.PING });
    second.send(1, { kind: MessageKind.PING });
    expectKind(await first.reply(1), MessageKind.PONG);
    expectKind(await second.reply(1), MessageKind.PONG);
    assert.equal(harness.server.stats().connectionsRefused, 1);
  } finally {
    first.destroy();
    second.destroy();
    await harness.close();
  }
});

test("close() answers accepted requests, refuses the rest, and closes", { timeout }, async () => {
  const harness = await startHarness();
  const peer = await RawPeer.open(harness.server.port);
  await seedAccounts(peer, 1);
  harness.timers.hold();
  peer.send(2, { kind: MessageKind.CREATE_TRANSFERS, transfers: [transfer("c1", 1n)] });
  await waitFor(() => harness.server.stats().inflightRequests === 1);
  const closing = harness.server.close();
  harness.timers.release();
  await closing;
  assert.equal(expectKind(await peer.reply(2), MessageKind.RESULTS).results[0]?.code, 0);
  await peer.closed;
  await harness.shard.close();
});

function withHeader(frame: Uint8Array, edit: (view: DataView) => void): Uint8Array {
  const copy = Uint8Array.from(frame);
  edit(new DataView(copy.buffer));
  return copy;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return Buffer.concat(parts);
}

async function waitFor(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
}
