// Goal: the ledger's documented behaviour at its edges, one example each: the floor boundary,
// exactly-once retries, pending transfers posted, voided and expiring at their exact
// deadline, TiMPE's /process, assets, and generic transactions rolling back as a whole.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Command } from "./commands.ts";
import { Engine } from "./engine.ts";
import { ResultCode } from "./results.ts";

function harness() {
  const engine = new Engine();
  let nowMs = 1_000;
  const run = (commands: Command[], advanceMs = 0) => {
    nowMs += advanceMs;
    return engine.applyBatch(engine.lsn + 1, nowMs, commands);
  };
  const one = (command: Command, advanceMs = 0) => {
    const [result] = run([command], advanceMs);
    assert.ok(result !== undefined);
    return result;
  };
  const account = (id: string, balance: bigint, floor: bigint | null = 0n): Command => ({
    kind: "account.create",
    id,
    balance,
    floor,
    nickname: null,
  });
  const transfer = (id: string, amount: bigint, pending = false, timeoutMs = 0): Command => ({
    kind: "transfer.create",
    id,
    debitId: "a",
    creditId: "b",
    amount,
    pending,
    timeoutMs,
    origin: "api",
  });
  run([account("a", 100n), account("b", 0n)]);
  return { engine, run, one, transfer };
}

test("a debit may reach the floor exactly but not pass it", () => {
  const { engine, one, transfer } = harness();
  assert.equal(one(transfer("t1", 101n)).code, ResultCode.INSUFFICIENT_FUNDS);
  assert.equal(one(transfer("t2", 100n)).code, ResultCode.OK);
  assert.equal(engine.account("a")?.balance, 0n);
  assert.equal(engine.account("b")?.balance, 100n);
});

test("a retry returns the first outcome and applies nothing again", () => {
  const { engine, one, transfer } = harness();
  assert.equal(one(transfer("t1", 60n)).code, ResultCode.OK);
  const retry = one(transfer("t1", 60n));
  assert.equal(retry.code, ResultCode.OK);
  assert.equal(retry.duplicate, true);
  assert.equal(engine.account("a")?.balance, 40n);
  // A failure is pinned to its id too: funds arriving later do not flip it.
  assert.equal(one(transfer("t2", 50n)).code, ResultCode.INSUFFICIENT_FUNDS);
  one({ kind: "account.create", id: "rich", balance: 1000n, floor: 0n, nickname: null });
  one({ ...transfer("t3", 500n), debitId: "rich", creditId: "a" } as Command);
  const pinned = one(transfer("t2", 50n));
  assert.equal(pinned.code, ResultCode.INSUFFICIENT_FUNDS);
  assert.equal(pinned.duplicate, true);
  assert.equal(one(transfer("t1", 61n)).code, ResultCode.TRANSFER_EXISTS);
});

test("a pending transfer reserves funds, then posts or voids once", () => {
  const { engine, one, transfer } = harness();
  assert.equal(one(transfer("p1", 70n, true)).code, ResultCode.OK);
  assert.equal(engine.account("a")?.available, 30n);
  assert.equal(one(transfer("t1", 31n)).code, ResultCode.INSUFFICIENT_FUNDS);
  assert.equal(one({ kind: "transfer.post", pendingId: "p1" }).code, ResultCode.OK);
  assert.equal(one({ kind: "transfer.post", pendingId: "p1" }).duplicate, true);
  assert.equal(
    one({ kind: "transfer.void", pendingId: "p1" }).code,
    ResultCode.PENDING_ALREADY_POSTED,
  );
  assert.equal(engine.account("b")?.balance, 70n);
  assert.equal(one(transfer("p2", 30n, true)).code, ResultCode.OK);
  assert.equal(one({ kind: "transfer.void", pendingId: "p2" }).code, ResultCode.OK);
  assert.equal(
    one({ kind: "transfer.post", pendingId: "p2" }).code,
    ResultCode.PENDING_ALREADY_VOIDED,
  );
  assert.equal(engine.account("a")?.available, 30n);
  assert.equal(one({ kind: "transfer.post", pendingId: "t9" }).code, ResultCode.PENDING_NOT_FOUND);
  assert.deepEqual(engine.checkInvariants(), []);
});

test("a pending transfer expires exactly at its deadline", () => {
  const { engine, run, one, transfer } = harness();
  assert.equal(one(transfer("p1", 50n, true, 400)).code, ResultCode.OK);
  assert.equal(engine.nextDeadlineMs(), 1_400);
  run([], 399);
  assert.equal(engine.transfer("p1")?.state, "pending");
  run([], 1);
  assert.equal(engine.transfer("p1")?.state, "expired");
  assert.equal(engine.account("a")?.available, 100n);
  assert.equal(one({ kind: "transfer.post", pendingId: "p1" }).code, ResultCode.PENDING_EXPIRED);
});

test("TiMPE's process posts every pending TiMPE transfer and leaves others", () => {
  const { engine, one, transfer } = harness();
  one({ ...transfer("m1", 10n, true), origin: "timpe" } as Command);
  one({ ...transfer("m2", 20n, true), origin: "timpe" } as Command);
  one(transfer("v1", 5n, true));
  const result = one({ kind: "timpe.process" });
  assert.deepEqual(result.processed, [
    { id: "m1", code: ResultCode.OK },
    { id: "m2", code: ResultCode.OK },
  ]);
  assert.equal(engine.account("b")?.balance, 30n);
  assert.equal(engine.transfer("v1")?.state, "pending");
});

test("assets update atomically and refuse unknown ids", () => {
  const { engine, one } = harness();
  assert.equal(one({ kind: "asset.create", id: "x", value: 5n }).code, ResultCode.OK);
  assert.equal(one({ kind: "asset.update", id: "x", delta: -7n }).row?.value, -2n);
  assert.equal(one({ kind: "asset.update", id: "y", delta: 1n }).code, ResultCode.ASSET_NOT_FOUND);
  assert.equal(engine.asset("x")?.updates, 1n);
});

test("a generic transaction applies all operations or none, and cannot touch the ledger", () => {
  const { engine, one } = harness();
  assert.equal(
    one({ kind: "table.create", name: "items", indexes: ["owner"] }).code,
    ResultCode.OK,
  );
  const insert = (key: string, stock: bigint): Command => ({
    kind: "txn",
    operations: [{ kind: "insert", table: "items", key, values: { owner: "ann", stock } }],
  });
  one(insert("i1", 3n));
  one(insert("i2", 1n));
  const both = (amount: bigint): Command => ({
    kind: "txn",
    operations: ["i1", "i2"].map((key) => ({
      kind: "update" as const,
      table: "items",
      key,
      increment: { stock: -amount },
      conditions: [{ kind: "floor" as const, column: "stock", minimum: 0n }],
    })),
  });
  const refused = one(both(2n));
  assert.equal(refused.code, ResultCode.FLOOR_VIOLATED);
  assert.equal(refused.operationIndex, 1);
  assert.equal(engine.row("items", "i1")?.stock, 3n, "the first update was rolled back");
  assert.equal(one(both(1n)).code, ResultCode.OK);
  assert.equal(engine.lookup("items", "owner", "ann", 10)?.length, 2);
  const steal: Command = {
    kind: "txn",
    operations: [{ kind: "update", table: "accounts", key: "a", increment: { balance: 1n } }],
  };
  assert.equal(one(steal).code, ResultCode.TABLE_RESERVED);
  assert.deepEqual(engine.checkInvariants(), []);
});
