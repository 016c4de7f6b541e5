// A test scenario of the whole TxgridApi, shared by the TCP client tests and the embedded
// tests so that both faces are held to the same behaviour: every method, the single-item
// conveniences, result codes and duplicates, pending transfers, assets, lookups, input
// checks, a call that spans several frames, concurrent calls merged into frames, and
// transfer lists encoded by the caller (createTransferList). It
// starts from an empty ledger and leaves a known state (checkScenarioState).
import assert from "node:assert/strict";
import { ResultCode } from "../engine/index.ts";
import { BATCH_OPERATIONS_MAX, TransferListEncoder } from "../protocol/index.ts";
import { ErrorCode, isTxgridError } from "../stdx/index.ts";
import type { OperationOutcome, TxgridApi } from "./api-types.ts";

const codes = (outcomes: readonly OperationOutcome[]) => outcomes.map((outcome) => outcome.code);

/** Runs the scenario; throws (node:assert) on the first difference. */
export async function runApiScenario(api: TxgridApi): Promise<void> {
  assert.ok((await api.ping()) >= 0);
  await accounts(api);
  await transfers(api);
  await pendingTransfers(api);
  await assets(api);
  await lookups(api);
  await inputChecks(api);
  await largeAndConcurrent(api);
  await transferLists(api);
}

async function accounts(api: TxgridApi): Promise<void> {
  const created = await api.createAccounts([
    { id: "alice", balance: 1_000n, nickname: "Alice" },
    { id: "bob" },
    { id: "bank", balance: 0n, floor: null },
  ]);
  assert.deepEqual(codes(created), [ResultCode.OK, ResultCode.OK, ResultCode.OK]);
  assert.equal(created[0]?.name, "OK");
  const again = await api.createAccount({ id: "alice", balance: 1_000n, nickname: "Alice" });
  assert.deepEqual(again, { code: ResultCode.OK, name: "OK", duplicate: true });
  const changed = await api.createAccount({ id: "alice", balance: 5n });
  assert.equal(changed.name, "ACCOUNT_EXISTS");
  const taken = await api.createAccount({ id: "alias", nickname: "Alice" });
  assert.equal(taken.code, ResultCode.NICKNAME_TAKEN);
  assert.equal((await api.createAccount({ id: "carol", balance: 50n })).code, ResultCode.OK);
}

async function transfers(api: TxgridApi): Promise<void> {
  const transfer = { id: "t1", debitId: "alice", creditId: "bob", amount: 100n };
  assert.deepEqual(await api.createTransfer(transfer), { code: 0, name: "OK", duplicate: false });
  const retried = await api.createTransfer(transfer);
  assert.deepEqual(retried, { code: 0, name: "OK", duplicate: true });
  const conflicting = await api.createTransfer({ ...transfer, amount: 99n });
  assert.equal(conflicting.code, ResultCode.TRANSFER_EXISTS);
  const batch = await api.createTransfers([
    { id: "t2", debitId: "alice", creditId: "carol", amount: 10n },
    { id: "t3", debitId: "alice", creditId: "bob", amount: 1_000_000n },
    { id: "t4", debitId: "alice", creditId: "bob", amount: 0n },
    { id: "t5", debitId: "nobody", creditId: "bob", amount: 1n },
    { id: "t6", debitId: "bank", creditId: "carol", amount: 500n },
  ]);
  assert.deepEqual(codes(batch), [
    ResultCode.OK,
    ResultCode.INSUFFICIENT_FUNDS,
    ResultCode.AMOUNT_INVALID,
    ResultCode.DEBIT_ACCOUNT_NOT_FOUND,
    ResultCode.OK,
  ]);
  assert.equal(batch[1]?.name, "INSUFFICIENT_FUNDS");
  // The refusal is pinned to the id: retrying returns the first outcome.
  const refusedAgain = await api.createTransfer({
    id: "t3",
    debitId: "alice",
    creditId: "bob",
    amount: 1_000_000n,
  });
  assert.deepEqual(refusedAgain, {
    code: ResultCode.INSUFFICIENT_FUNDS,
    name: "INSUFFICIENT_FUNDS",
    duplicate: true,
  });
}

async function pendingTransfers(api: TxgridApi): Promise<void> {
  const pending = { debitId: "alice", creditId: "bob", pending: true } as const;
  const created = await api.createTransfers([
    { id: "p1", amount: 50n, ...pending },
    { id: "p2", amount: 20n, ...pending, timeoutMs: 3_600_000 },
    { id: "p3", amount: 5n, ...pending },
  ]);
  assert.deepEqual(codes(created), [0, 0, 0]);
  assert.equal((await api.lookupAccount("alice"))?.reserved, 75n);
  assert.deepEqual(codes(await api.postTransfers(["p1", "p1", "nope"])), [
    ResultCode.OK,
    ResultCode.OK,
    ResultCode.PENDING_NOT_FOUND,
  ]);
  assert.equal((await api.postTransfer("p1")).duplicate, true);
  assert.equal((await api.voidTransfer("p1")).code, ResultCode.PENDING_ALREADY_POSTED);
  assert.equal((await api.voidTransfer("p2")).code, ResultCode.OK);
  assert.deepEqual(codes(await api.voidTransfers(["p3", "t1"])), [
    ResultCode.OK,
    ResultCode.NOT_PENDING,
  ]);
}

async function assets(api: TxgridApi): Promise<void> {
  const created = await api.createAsset({ id: "gold", value: 100n });
  assert.deepEqual(created, { code: 0, name: "OK", duplicate: false, value: 100n });
  const exists = await api.createAssets([
    { id: "gold", value: 1n },
    { id: "silver", value: -5n },
  ]);
  assert.deepEqual(codes(exists), [ResultCode.ASSET_EXISTS, ResultCode.OK]);
  assert.equal(exists[0]?.value, 100n, "ASSET_EXISTS carries the current value");
  assert.equal((await api.updateAsset({ id: "gold", delta: -30n })).value, 70n);
  const updated = await api.updateAssets([
    { id: "silver", delta: 10n },
    { id: "copper", delta: 1n },
  ]);
  assert.deepEqual(codes(updated), [ResultCode.OK, ResultCode.ASSET_NOT_FOUND]);
  assert.equal(updated[0]?.value, 5n);
  assert.equal(updated[1]?.value, undefined);
}

async function lookups(api: TxgridApi): Promise<void> {
  const [alice, bob, nobody] = await api.lookupAccounts(["alice", "bob", "nobody"]);
  // alice: 1000 - 100 (t1) - 10 (t2) - 50 (p1 posted)
  assert.equal(alice?.balance, 840n);
  assert.equal(alice?.reserved, 0n);
  assert.equal(alice?.available, 840n);
  assert.equal(alice?.floor, 0n);
  assert.equal(alice?.nickname, "Alice");
  assert.equal(alice?.initial, 1_000n);
  assert.equal(bob?.balance, 150n);
  assert.equal(nobody, null);
  assert.equal((await api.lookupAccount("bank"))?.floor, null);
  const [t1, t3, p2, missing] = await api.lookupTransfers(["t1", "t3", "p2", "missing"]);
  assert.equal(t1?.state, "posted");
  assert.equal(t1?.debitId, "alice");
  assert.equal(t1?.amount, 100n);
  assert.equal(t3?.state, "failed");
  assert.equal(t3?.code, ResultCode.INSUFFICIENT_FUNDS);
  assert.equal(p2?.state, "voided");
  assert.equal(p2?.timeoutMs, 3_600_000);
  assert.equal(missing, null);
  assert.equal((await api.lookupTransfer("p1"))?.state, "posted");
  assert.deepEqual(await api.lookupAssets(["gold", "copper"]), [
    { id: "gold", value: 70n, updates: 1 },
    null,
  ]);
  assert.equal((await api.lookupAsset("silver"))?.value, 5n);
}

async function expectBadRequest(call: () => Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(call, (error) => {
    assert.ok(isTxgridError(error, ErrorCode.BAD_REQUEST), String(error));
    assert.match(error.message, pattern);
    return true;
  });
}

async function inputChecks(api: TxgridApi): Promise<void> {
  const good = { id: "ok1", debitId: "alice", creditId: "bob", amount: 1n };
  const bad = { id: "not ok", debitId: "alice", creditId: "bob", amount: 1n };
  // The malformed call fails alone; the one made in the same tick goes through.
  const [first, second] = await Promise.allSettled([
    api.createTransfer(good),
    api.createTransfer(bad),
  ]);
  assert.equal(first.status === "fulfilled" && first.value.code, ResultCode.OK);
  assert.equal(second.status, "rejected");
  await expectBadRequest(() => api.createTransfers([good, bad]), /transfers\[1\]\.id/);
  await expectBadRequest(
    () => api.createTransfer({ ...good, amount: 5 as unknown as bigint }),
    /transfer\.amount/,
  );
  await expectBadRequest(() => api.createTransfer({ ...good, timeoutMs: -1 }), /timeoutMs/);
  await expectBadRequest(() => api.createAccount({ id: "x", nickname: "\ud800" }), /surrogate/);
  await expectBadRequest(() => api.lookupAccount("a".repeat(129)), /id must be/);
  await expectBadRequest(() => api.ping({ timeoutMs: 0 }), /timeoutMs/);
  assert.deepEqual(await api.createTransfers([]), []);
  assert.deepEqual(await api.lookupAccounts([]), []);
}

async function largeAndConcurrent(api: TxgridApi): Promise<void> {
  const count = BATCH_OPERATIONS_MAX + 810;
  const many = Array.from({ length: count }, (_, index) => ({
    id: `m${index}`,
    debitId: "bank",
    creditId: "carol",
    amount: index % 2 === 0 ? 1n : 0n,
  }));
  const outcomes = await api.createTransfers(many);
  assert.equal(outcomes.length, count);
  outcomes.forEach((outcome, index) => {
    assert.equal(outcome.code, index % 2 === 0 ? ResultCode.OK : ResultCode.AMOUNT_INVALID);
  });
  const concurrent = await Promise.all(
    Array.from({ length: 500 }, (_, index) =>
      api.createTransfer({ id: `c${index}`, debitId: "bank", creditId: "bob", amount: 2n }),
    ),
  );
  assert.ok(concurrent.every((outcome) => outcome.code === ResultCode.OK && !outcome.duplicate));
}

/** The balances the scenario leaves (with lookups through `api`). */
/** createTransferList: outcomes in order, retries, a reused encoder, refusals. Own accounts. */
async function transferLists(api: TxgridApi): Promise<void> {
  const created = await api.createAccounts([
    { id: "list-a", balance: 100n },
    { id: "list-b", balance: 0n },
  ]);
  assert.deepEqual(codes(created), [ResultCode.OK, ResultCode.OK]);
  const list = new TransferListEncoder();
  list.add("l1", "list-a", "list-b", 30);
  list.add("l2", "list-a", "list-b", 1_000n);
  list.add("l3", "list-a", "nobody", 1);
  list.add("l4", "list-a", "list-b", 5, true, 60_000);
  const first = api.createTransferList(list);
  // The call copied the body: refilling the encoder at once changes nothing of it.
  list.reset();
  list.add("l1", "list-b", "list-a", 30);
  list.add("l5", "list-b", "list-a", 10);
  const outcomes = await first;
  assert.deepEqual(codes(outcomes), [
    ResultCode.OK,
    ResultCode.INSUFFICIENT_FUNDS,
    ResultCode.CREDIT_ACCOUNT_NOT_FOUND,
    ResultCode.OK,
  ]);
  assert.equal(outcomes[1]?.name, "INSUFFICIENT_FUNDS");
  // l1 again with other accounts: the first outcome's id, now another transfer (TRANSFER_EXISTS).
  const second = await api.createTransferList(list);
  assert.deepEqual(codes(second), [ResultCode.TRANSFER_EXISTS, ResultCode.OK]);
  // An exact retry of the first list's l1 is a duplicate, the same as through createTransfer.
  list.reset();
  list.add("l1", "list-a", "list-b", 30);
  assert.deepEqual(await api.createTransferList(list), [
    { code: ResultCode.OK, name: "OK", duplicate: true },
  ]);
  assert.equal((await api.voidTransfer("l4")).code, ResultCode.OK);
  const [a, b] = await api.lookupAccounts(["list-a", "list-b"]);
  assert.deepEqual([a?.balance, a?.available, b?.balance], [80n, 80n, 20n]);
  list.reset();
  assert.deepEqual(await api.createTransferList(list), []);
  await assert.rejects(
    api.createTransferList({ count: 1 } as unknown as TransferListEncoder),
    (error) => isTxgridError(error, ErrorCode.BAD_REQUEST),
  );
}

export async function checkScenarioState(api: TxgridApi): Promise<void> {
  const balances = (await api.lookupAccounts(["alice", "bob", "carol", "bank"])).map(
    (account) => account?.balance,
  );
  // bank: -500 (t6) - 4500 (m*) - 1000 (c*); carol: 50 + 10 + 500 + 4500; bob: 150 + 1 + 1000
  assert.deepEqual(balances, [839n, 1_151n, 5_060n, -6_000n]);
  assert.equal((await api.lookupAsset("gold"))?.value, 70n);
}
