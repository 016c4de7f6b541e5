// Goal: no bytes a peer sends can crash the server or disturb other connections: random,
// truncated and mutated streams end their own connection (ERROR frame, then close) or are
// answered normally, and a well-behaved connection keeps being served throughout. Method:
// for a time budget (3 s, FUZZ_SECONDS to change, SEED to replay), open real sockets to a
// server on 127.0.0.1 and send streams built from valid frames with flipped bits, written
// bytes, cuts, insertions, duplicated pieces and pure noise, in random chunks, sometimes
// closing early; a steady peer pings alongside and must get every answer. Afterwards the
// server has no connection left and the engine's invariants hold.
import assert from "node:assert/strict";
import { test } from "node:test";
import { TCP_CLOSE_TIMEOUT_MS } from "../constants.ts";
import {
  encodeFrame,
  HeaderOffset,
  MessageKind,
  type Reply,
  type Request,
} from "../protocol/index.ts";
import { Prng } from "../stdx/index.ts";
import { RawPeer, startHarness } from "./tcp-test-support.ts";

const seed = Number(process.env.SEED ?? Date.now() % 2 ** 31);
const budgetMs = Number(process.env.FUZZ_SECONDS ?? 3) * 1000;

const templates: readonly Request[] = [
  { kind: MessageKind.PING },
  {
    kind: MessageKind.CREATE_ACCOUNTS,
    accounts: [{ id: "f1", balance: 100n, floor: 0n, nickname: "fuzz" }],
  },
  {
    kind: MessageKind.CREATE_TRANSFERS,
    transfers: [
      { id: "ft1", debitId: "f1", creditId: "f2", amount: 3n, pending: false, timeoutMs: 0 },
      { id: "ft2", debitId: "f1", creditId: "f2", amount: 2n, pending: true, timeoutMs: 5 },
    ],
  },
  { kind: MessageKind.POST_TRANSFERS, ids: ["ft2"] },
  { kind: MessageKind.LOOKUP_ACCOUNTS, ids: ["f1", "f2", "nope"] },
  { kind: MessageKind.LOOKUP_TRANSFERS, ids: ["ft1", "ft2"] },
  { kind: MessageKind.CREATE_ASSETS, assets: [{ id: "fa", value: 1n }] },
  { kind: MessageKind.UPDATE_ASSETS, updates: [{ id: "fa", delta: 1n }] },
];

function randomStream(prng: Prng): Uint8Array {
  const frames: Uint8Array[] = [];
  for (let count = 1 + prng.nextInt(4); count > 0; count--) {
    const template = templates[prng.nextInt(templates.length)] as Request;
    frames.push(encodeFrame(1 + prng.nextInt(1000), template));
  }
  const bytes = Uint8Array.from(Buffer.concat(frames));
  return mutate(prng, bytes);
}

function mutate(prng: Prng, bytes: Uint8Array): Uint8Array {
  switch (prng.nextInt(7)) {
    case 0: {
      const noise = new Uint8Array(1 + prng.nextInt(300));
      for (let index = 0; index < noise.length; index++) noise[index] = prng.nextInt(256);
      return noise;
    }
    case 1:
      return bytes.subarray(0, prng.nextInt(bytes.length));
    case 2: {
      for (let flips = 1 + prng.nextInt(3); flips > 0; flips--) {
        const index = prng.nextInt(bytes.length);
        bytes[index] = (bytes[index] as number) ^ (1 << prng.nextInt(8));
      }
      return bytes;
    }
    case 3: {
      const at = prng.nextInt(bytes.length);
      return Buffer.concat([
        bytes.subarray(0, at),
        Uint8Array.of(prng.nextInt(256)),
        bytes.subarray(at),
      ]);
    }
    case 4: {
      // A header field rewritten: length, kind or version.
      const view = new DataView(bytes.buffer, bytes.byteOffset);
      const field = [HeaderOffset.bodyBytes, HeaderOffset.kind, HeaderOffset.version][
        prng.nextInt(3)
      ];
      view.setUint16(field as number, prng.nextInt(65_536), true);
      return bytes;
    }
    case 5:
      return Buffer.concat([bytes, bytes.subarray(prng.nextInt(bytes.length))]);
    default:
      return bytes; // intact: must be answered normally
  }
}

async function fuzzOne(prng: Prng, port: number): Promise<void> {
  const peer = await RawPeer.open(port);
  const bytes = randomStream(prng);
  let offset = 0;
  while (offset < bytes.length) {
    const size = 1 + prng.nextInt(Math.max(1, bytes.length - offset));
    peer.write(bytes.subarray(offset, offset + size));
    offset += size;
    if (prng.chance(0.2)) await new Promise((resolve) => setImmediate(resolve));
  }
  if (prng.chance(0.2)) peer.destroy();
  else peer.socket.end();
  const timer = setTimeout(() => peer.destroy(), 2_000);
  await peer.closed;
  clearTimeout(timer);
  for (const { reply } of peer.replies) checkReply(reply);
}

function checkReply(reply: Reply): void {
  if (reply.kind !== MessageKind.ERROR) return;
  assert.match(reply.code, /^TXG_ERR_(DECODE|VERSION|LIMIT_EXCEEDED|CORRUPT)$/, reply.message);
}

test(`the server survives random and mutated bytes (seed ${seed})`, {
  timeout: budgetMs + 30_000,
}, async (t) => {
  const harness = await startHarness();
  const prng = new Prng(seed);
  const steady = await RawPeer.open(harness.server.port);
  let streams = 0;
  let pings = 0;
  try {
    const deadline = Date.now() + budgetMs;
    while (Date.now() < deadline) {
      await Promise.all(Array.from({ length: 8 }, () => fuzzOne(prng, harness.server.port)));
      streams += 8;
      pings++;
      steady.send(pings, { kind: MessageKind.PING });
      assert.equal((await steady.reply(pings)).kind, MessageKind.PONG);
    }
    // A peer sees its socket closed before the server's side of it has run its close
    // handlers (or, after a half-close, before the server's linger ends), so the count is
    // awaited for a bounded time; a leaked connection still fails.
    const settleDeadlineMs = Date.now() + TCP_CLOSE_TIMEOUT_MS + 2_000;
    while (harness.server.stats().connections > 1 && Date.now() < settleDeadlineMs) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const stats = harness.server.stats();
    assert.ok(stats.protocolErrors > 0, "some streams were broken");
    assert.equal(stats.connections, 1, "only the steady connection is left");
    assert.deepEqual(harness.shard.engine.checkInvariants(), []);
    t.diagnostic(`${streams} streams, ${stats.protocolErrors} protocol errors`);
  } finally {
    steady.destroy();
    await harness.close();
  }
});
