// Goal: the engine's row-free reads (hasAccount, accountHeadroom, transferStamp) answer exactly
// what the whole rows say, so that a caller may use them instead of account() and transfer().
// Method: accounts with a floor of 0, a negative floor, no floor and balances beyond 2^52,
// transfers posted, pending and refused; each read is compared with the row it stands for.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Command } from "./commands.ts";
import { Engine } from "./engine.ts";
import { ResultCode } from "./results.ts";

const account = (id: string, balance: bigint, floor: bigint | null): Command => ({
  kind: "account.create",
  id,
  balance,
  floor,
  nickname: null,
});

const transfer = (id: string, debitId: string, amount: bigint, pending = false): Command => ({
  kind: "transfer.create",
  id,
  debitId,
  creditId: "sink",
  amount,
  pending,
  timeoutMs: 0,
  origin: "api",
});

function headroomOfRow(engine: Engine, id: string): bigint | null | undefined {
  const row = engine.account(id);
  if (row === undefined) return undefined;
  return row.floor === null ? null : (row.available as bigint) - (row.floor as bigint);
}

test("hasAccount and accountHeadroom read what the account rows hold", () => {
  const engine = new Engine();
  const big = 2n ** 60n;
  engine.applyBatch(1, 1_000, [
    account("zero", 100n, 0n),
    account("overdraft", 5n, -50n),
    account("open", 7n, null),
    account("big", big, -big),
    account("sink", 0n, 0n),
  ]);
  // A pending transfer lowers `available` but not `balance`: the headroom must follow it.
  const results = engine.applyBatch(2, 2_000, [
    transfer("t1", "zero", 30n, true),
    transfer("t2", "overdraft", 40n),
    transfer("t3", "big", big + 3n),
  ]);
  assert.deepEqual(
    results.map((result) => result.code),
    [ResultCode.OK, ResultCode.OK, ResultCode.OK],
  );
  for (const id of ["zero", "overdraft", "open", "big", "sink", "missing"]) {
    assert.equal(engine.hasAccount(id), engine.account(id) !== undefined, id);
    assert.equal(engine.accountHeadroom(id), headroomOfRow(engine, id), id);
  }
  assert.equal(engine.accountHeadroom("zero"), 70n);
  assert.equal(engine.accountHeadroom("overdraft"), 15n);
  assert.equal(engine.accountHeadroom("open"), null);
  assert.equal(engine.accountHeadroom("big"), big - 3n);
  assert.equal(engine.accountHeadroom("missing"), undefined);
});

test("transferStamp reads a stored transfer's sequence and creation time, not a refusal's", () => {
  const engine = new Engine();
  engine.applyBatch(1, 1_000, [account("a", 100n, 0n), account("sink", 0n, 0n)]);
  engine.applyBatch(2, 2_000, [transfer("t1", "a", 10n), transfer("t2", "a", 500n)]);
  engine.applyBatch(3, 3_500, [transfer("t3", "a", 20n, true), transfer("t4", "a", 1n)]);
  for (const id of ["t1", "t3", "t4"]) {
    const row = engine.transfer(id);
    assert.ok(row !== undefined);
    assert.deepEqual(engine.transferStamp(id), {
      sequence: Number(row.sequence),
      createdAtMs: row.createdAtMs,
    });
  }
  assert.deepEqual(engine.transferStamp("t4"), { sequence: 2, createdAtMs: 3_500n });
  // t2 was refused (insufficient funds): a stored refusal, not a transfer.
  assert.equal(engine.transfer("t2")?.code, BigInt(ResultCode.INSUFFICIENT_FUNDS));
  assert.equal(engine.transferStamp("t2"), undefined);
  assert.equal(engine.transferStamp("missing"), undefined);
});
