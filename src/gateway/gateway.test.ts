// Goal: the gateway turns every write request into one command per operation, in order, and
// engine results and rows into the protocol's results and records exactly as
// docs/protocol.md's mapping says (a stored refusal is a "failed" TransferRecord without
// sequence; assets carry their value). Method: an in-memory shard, requests built by hand.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ResultCode } from "../engine/index.ts";
import { MessageKind, type Reply } from "../protocol/index.ts";
import { Shard } from "../shard/index.ts";
import { answerRead, isWriteRequest, requestCommands, submitWrite } from "./gateway.ts";

const transfer = (id: string, amount: bigint) => ({
  id,
  debitId: "a",
  creditId: "b",
  amount,
  pending: false,
  timeoutMs: 0,
});

test("write requests become one command per operation, in order", () => {
  const request = {
    kind: MessageKind.CREATE_TRANSFERS,
    transfers: [transfer("t1", 1n), transfer("t2", 2n)],
  } as const;
  assert.ok(isWriteRequest(request));
  assert.ok(!isWriteRequest({ kind: MessageKind.LOOKUP_ACCOUNTS, ids: [] }));
  assert.deepEqual(requestCommands(request), [
    { kind: "transfer.create", ...transfer("t1", 1n), origin: "api" },
    { kind: "transfer.create", ...transfer("t2", 2n), origin: "api" },
  ]);
  assert.deepEqual(requestCommands({ kind: MessageKind.VOID_TRANSFERS, ids: ["p"] }), [
    { kind: "transfer.void", pendingId: "p" },
  ]);
});

test("results and records follow the protocol's mapping", async () => {
  const shard = await Shard.open({ dir: null, fsyncPolicy: "batch" });
  try {
    await submitWrite(shard, {
      kind: MessageKind.CREATE_ACCOUNTS,
      accounts: [
        { id: "a", balance: 10n, floor: 0n, nickname: null },
        { id: "b", balance: 0n, floor: null, nickname: "Bee" },
      ],
    });
    const created = await submitWrite(shard, {
      kind: MessageKind.CREATE_TRANSFERS,
      transfers: [transfer("ok", 3n), transfer("poor", 300n), transfer("ok", 3n)],
    });
    assert.deepEqual(created.results, [
      { code: ResultCode.OK, duplicate: false, value: null },
      { code: ResultCode.INSUFFICIENT_FUNDS, duplicate: false, value: null },
      { code: ResultCode.OK, duplicate: true, value: null },
    ]);
    const assets = await submitWrite(shard, {
      kind: MessageKind.CREATE_ASSETS,
      assets: [
        { id: "gold", value: 5n },
        { id: "gold", value: 6n },
      ],
    });
    assert.deepEqual(
      assets.results.map((result) => [result.code, result.value]),
      [
        [ResultCode.OK, 5n],
        [ResultCode.ASSET_EXISTS, 5n],
      ],
    );
    const reply = answerRead(shard.engine, {
      kind: MessageKind.LOOKUP_TRANSFERS,
      ids: ["ok", "poor", "none"],
    }) as Extract<Reply, { kind: typeof MessageKind.TRANSFERS }>;
    const [ok, poor, none] = reply.transfers;
    assert.equal(ok?.state, "posted");
    assert.equal(ok?.sequence, 0);
    assert.equal(ok?.resolvedAtMs, ok?.createdAtMs);
    assert.deepEqual(
      [poor?.state, poor?.code, poor?.sequence, poor?.resolvedAtMs],
      ["failed", ResultCode.INSUFFICIENT_FUNDS, null, null],
    );
    assert.equal(none, null);
    const accounts = answerRead(shard.engine, {
      kind: MessageKind.LOOKUP_ACCOUNTS,
      ids: ["b"],
    }) as Extract<Reply, { kind: typeof MessageKind.ACCOUNTS }>;
    assert.deepEqual(
      [accounts.accounts[0]?.floor, accounts.accounts[0]?.nickname, accounts.accounts[0]?.balance],
      [null, "Bee", 3n],
    );
    assert.deepEqual(answerRead(shard.engine, { kind: MessageKind.PING }), {
      kind: MessageKind.PONG,
    });
  } finally {
    await shard.close();
  }
});
