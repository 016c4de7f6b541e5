// FROZEN PRE-REDESIGN REFERENCE (copied from src/engine at commit 90da411, before the
// columnar storage redesign). It exists only so that engine.reference.prop.test.ts can check
// that the redesigned engine gives identical results and byte-identical snapshots for the
// same command history. Not exported from index.ts; do not change it except to keep it
// compiling. Its original header follows.
//
// The ledger and asset faces, built on the one transaction mechanism (txn.ts). Each handler
// validates its command, answers retries from what is stored under the id, and otherwise
// builds a list of row operations and runs it through executeTxn, mapping a failing
// operation to a ledger result code. No handler changes a table except through executeTxn.
//
// An account row holds   balance   (posted money)
//                        reserved  (held by its pending debits)
//                        available (= balance - reserved; the floor applies to it)
// so "no overdraft" is a floor condition on a single column, checked inside the same
// transaction that moves the money.
import {
  AMOUNT_MAX,
  NICKNAME_LENGTH_MAX,
  PENDING_TIMEOUT_MS_MAX,
  PENDING_TRANSFERS_MAX,
} from "../../constants.ts";
import { assert } from "../../stdx/index.ts";
import type { Command } from "../commands.ts";
import { type CommandResult, ResultCode } from "../results.ts";
import { type State, SystemTable, type TransferState } from "./state.ts";
import { type Condition, executeTxn, type Operation } from "./txn.ts";
import { isValidId, type Row } from "./values.ts";

type AccountCreate = Extract<Command, { kind: "account.create" }>;
type TransferCreate = Extract<Command, { kind: "transfer.create" }>;

const { ACCOUNTS, TRANSFERS, TRANSFER_FAILURES, ASSETS } = SystemTable;

function run(state: State, operations: readonly Operation[]) {
  return executeTxn((name) => state.tables.get(name), operations);
}

export function createAccount(state: State, command: AccountCreate): CommandResult {
  if (!isValidId(command.id)) return { code: ResultCode.ID_INVALID };
  const nickname = command.nickname;
  if (nickname !== null && (nickname.length === 0 || nickname.length > NICKNAME_LENGTH_MAX)) {
    return { code: ResultCode.ID_INVALID };
  }
  const existing = state.table(ACCOUNTS).get(command.id);
  if (existing !== undefined) {
    const same =
      existing.initial === command.balance &&
      existing.floor === command.floor &&
      existing.nickname === command.nickname;
    return same
      ? { code: ResultCode.OK, duplicate: true, row: existing }
      : { code: ResultCode.ACCOUNT_EXISTS, row: existing };
  }
  if (nickname !== null && state.table(ACCOUNTS).lookup("nickname", nickname).size > 0) {
    return { code: ResultCode.NICKNAME_TAKEN };
  }
  if (command.floor !== null && command.balance < command.floor) {
    return { code: ResultCode.BALANCE_INVALID };
  }
  const row: Row = {
    id: command.id,
    nickname,
    balance: command.balance,
    reserved: 0n,
    available: command.balance,
    floor: command.floor,
    initial: command.balance,
    createdAtMs: BigInt(state.timestampMs),
  };
  const outcome = run(state, [{ kind: "insert", table: ACCOUNTS, key: command.id, values: row }]);
  assert(outcome.code === ResultCode.OK, "account insert after existence check");
  state.accountIds.push(command.id);
  return { code: ResultCode.OK, row };
}

export function createTransfer(state: State, command: TransferCreate): CommandResult {
  const stored = storedTransferOutcome(state, command);
  if (stored !== undefined) return stored;
  const code = validateTransfer(state, command);
  if (code !== ResultCode.OK) return recordFailure(state, command, code);
  const transfers = state.table(TRANSFERS);
  const sequence = BigInt(state.transferIds.length);
  const expiresAtMs =
    command.pending && command.timeoutMs > 0 ? BigInt(state.timestampMs + command.timeoutMs) : null;
  const transfer: Row = {
    id: command.id,
    debit: command.debitId,
    credit: command.creditId,
    amount: command.amount,
    pending: command.pending,
    timeoutMs: BigInt(command.timeoutMs),
    origin: command.origin,
    state: (command.pending ? "pending" : "posted") satisfies TransferState,
    sequence,
    createdAtMs: BigInt(state.timestampMs),
    resolvedAtMs: command.pending ? null : BigInt(state.timestampMs),
    expiresAtMs,
  };
  const outcome = run(state, transferOperations(state, command, transfer));
  if (outcome.code !== ResultCode.OK) {
    assert("operationIndex" in outcome, "failed transaction names its operation");
    return recordFailure(state, command, transferFailureCode(outcome.code, outcome.operationIndex));
  }
  assert(transfers.get(command.id) === transfer, "transfer row stored");
  state.transferIds.push(command.id);
  if (command.pending) state.trackPending(command.id, transfer);
  return { code: ResultCode.OK, row: transfer };
}

function validateTransfer(state: State, command: TransferCreate): ResultCode {
  if (!isValidId(command.id)) return ResultCode.ID_INVALID;
  if (!isValidId(command.debitId)) return ResultCode.ID_INVALID;
  if (!isValidId(command.creditId)) return ResultCode.ID_INVALID;
  if (command.amount <= 0n || command.amount > AMOUNT_MAX) return ResultCode.AMOUNT_INVALID;
  if (command.debitId === command.creditId) return ResultCode.ACCOUNTS_MUST_BE_DIFFERENT;
  if (!Number.isSafeInteger(command.timeoutMs) || command.timeoutMs < 0) {
    return ResultCode.TIMEOUT_INVALID;
  }
  if (command.timeoutMs > PENDING_TIMEOUT_MS_MAX) return ResultCode.TIMEOUT_INVALID;
  if (!command.pending && command.timeoutMs !== 0) return ResultCode.TIMEOUT_INVALID;
  if (command.pending && state.pendingIds.size >= PENDING_TRANSFERS_MAX) {
    return ResultCode.PENDING_LIMIT_REACHED;
  }
  return ResultCode.OK;
}

/** The debit (with its floor), the credit, and the transfer row itself. */
function transferOperations(state: State, command: TransferCreate, transfer: Row): Operation[] {
  const amount = command.amount;
  const debit = state.table(ACCOUNTS).get(command.debitId);
  const floor = debit?.floor;
  const conditions: Condition[] =
    typeof floor === "bigint" ? [{ kind: "floor", column: "available", minimum: floor }] : [];
  const debitIncrement = command.pending
    ? { reserved: amount, available: -amount }
    : { balance: -amount, available: -amount };
  const operations: Operation[] = [
    {
      kind: "update",
      table: ACCOUNTS,
      key: command.debitId,
      increment: debitIncrement,
      conditions,
    },
  ];
  if (!command.pending) {
    operations.push({
      kind: "update",
      table: ACCOUNTS,
      key: command.creditId,
      increment: { balance: amount, available: amount },
    });
  } else {
    // A pending transfer does not touch the credit account's balances, but the account
    // must exist when the funds are reserved.
    operations.push({
      kind: "read",
      table: ACCOUNTS,
      key: command.creditId,
      conditions: [{ kind: "exists" }],
    });
  }
  operations.push({ kind: "insert", table: TRANSFERS, key: command.id, values: transfer });
  return operations;
}

function transferFailureCode(code: ResultCode, operationIndex: number): ResultCode {
  if (code === ResultCode.ROW_NOT_FOUND && operationIndex === 0) {
    return ResultCode.DEBIT_ACCOUNT_NOT_FOUND;
  }
  if (code === ResultCode.ROW_NOT_FOUND || code === ResultCode.CONDITION_FAILED) {
    assert(operationIndex === 1, "only the credit side can be missing here");
    return ResultCode.CREDIT_ACCOUNT_NOT_FOUND;
  }
  if (code === ResultCode.FLOOR_VIOLATED) return ResultCode.INSUFFICIENT_FUNDS;
  assert(code === ResultCode.OVERFLOW, `unexpected transfer failure ${code}`);
  return code;
}

/** The first outcome of a transfer id seen before, or undefined for a new id. */
function storedTransferOutcome(state: State, command: TransferCreate): CommandResult | undefined {
  const stored =
    state.table(TRANSFERS).get(command.id) ?? state.table(TRANSFER_FAILURES).get(command.id);
  if (stored === undefined) return undefined;
  const same =
    stored.debit === command.debitId &&
    stored.credit === command.creditId &&
    stored.amount === command.amount &&
    stored.pending === command.pending &&
    stored.timeoutMs === BigInt(command.timeoutMs) &&
    stored.origin === command.origin;
  if (!same) return { code: ResultCode.TRANSFER_EXISTS, row: stored };
  const firstCode = typeof stored.code === "bigint" ? Number(stored.code) : ResultCode.OK;
  return { code: firstCode as ResultCode, duplicate: true, row: stored };
}

/**
 * Pins a failure to the transfer id, so that a retry returns this same outcome instead of
 * succeeding later (invariant 3: a retry never changes the first outcome). Ids that are
 * invalid are not stored: nothing can be filed under them.
 */
function recordFailure(state: State, command: TransferCreate, code: ResultCode): CommandResult {
  assert(code !== ResultCode.OK, "recordFailure needs a failure");
  if (code === ResultCode.ID_INVALID) return { code };
  const row: Row = {
    id: command.id,
    debit: command.debitId,
    credit: command.creditId,
    amount: command.amount,
    pending: command.pending,
    timeoutMs: BigInt(command.timeoutMs),
    origin: command.origin,
    code: BigInt(code),
    createdAtMs: BigInt(state.timestampMs),
  };
  const outcome = run(state, [
    { kind: "insert", table: TRANSFER_FAILURES, key: command.id, values: row },
  ]);
  assert(outcome.code === ResultCode.OK, "failure insert after existence check");
  return { code, row };
}

/** Posts or voids a pending transfer; `resolution` "expired" is the timeout path. */
export function resolvePending(
  state: State,
  pendingId: string,
  resolution: "posted" | "voided" | "expired",
): CommandResult {
  if (!isValidId(pendingId)) return { code: ResultCode.ID_INVALID };
  const transfer = state.table(TRANSFERS).get(pendingId);
  if (transfer === undefined) return { code: ResultCode.PENDING_NOT_FOUND };
  if (transfer.pending !== true) return { code: ResultCode.NOT_PENDING, row: transfer };
  const current = transfer.state as TransferState;
  if (current !== "pending") return alreadyResolved(current, resolution, transfer);
  const amount = transfer.amount as bigint;
  const operations: Operation[] = [
    {
      kind: "update",
      table: TRANSFERS,
      key: pendingId,
      set: { state: resolution, resolvedAtMs: BigInt(state.timestampMs) },
      conditions: [{ kind: "compare", column: "state", operator: "eq", value: "pending" }],
    },
  ];
  const debitId = transfer.debit as string;
  if (resolution === "posted") {
    operations.push(
      {
        kind: "update",
        table: ACCOUNTS,
        key: debitId,
        increment: { balance: -amount, reserved: -amount },
      },
      {
        kind: "update",
        table: ACCOUNTS,
        key: transfer.credit as string,
        increment: { balance: amount, available: amount },
      },
    );
  } else {
    operations.push({
      kind: "update",
      table: ACCOUNTS,
      key: debitId,
      increment: { reserved: -amount, available: amount },
    });
  }
  const outcome = run(state, operations);
  if (outcome.code !== ResultCode.OK) {
    // Accounts are never deleted, so the only way to fail is a credit balance overflow.
    assert(outcome.code === ResultCode.OVERFLOW, `unexpected resolve failure ${outcome.code}`);
    return { code: outcome.code, row: transfer };
  }
  state.untrackPending(pendingId);
  return { code: ResultCode.OK, row: state.table(TRANSFERS).get(pendingId) as Row };
}

function alreadyResolved(
  current: Exclude<TransferState, "pending">,
  resolution: "posted" | "voided" | "expired",
  transfer: Row,
): CommandResult {
  if (current === resolution) return { code: ResultCode.OK, duplicate: true, row: transfer };
  if (current === "expired") return { code: ResultCode.PENDING_EXPIRED, row: transfer };
  if (current === "posted") return { code: ResultCode.PENDING_ALREADY_POSTED, row: transfer };
  return { code: ResultCode.PENDING_ALREADY_VOIDED, row: transfer };
}

/** TiMPE's phase 2: finish every pending TiMPE transfer, oldest first. */
export function processTimpe(state: State): CommandResult {
  const processed: { id: string; code: ResultCode }[] = [];
  for (const id of [...state.timpePendingIds]) {
    processed.push({ id, code: resolvePending(state, id, "posted").code });
  }
  return { code: ResultCode.OK, processed };
}

/** Voids every pending transfer whose timeout is at or before `nowMs`, in deadline order. */
export function expirePending(state: State, nowMs: number): number {
  let expiredCount = 0;
  for (let top = state.deadlines.peek(); top !== undefined; top = state.deadlines.peek()) {
    if (top.deadlineMs > nowMs) break;
    state.deadlines.pop();
    if (!state.pendingIds.has(top.id)) continue;
    const result = resolvePending(state, top.id, "expired");
    assert(result.code === ResultCode.OK, "an open pending transfer can always expire");
    expiredCount++;
  }
  return expiredCount;
}

export function createAsset(state: State, id: string, value: bigint): CommandResult {
  if (!isValidId(id)) return { code: ResultCode.ID_INVALID };
  const row: Row = { id, value, updates: 0n };
  const outcome = run(state, [{ kind: "insert", table: ASSETS, key: id, values: row }]);
  if (outcome.code === ResultCode.ROW_EXISTS) {
    return { code: ResultCode.ASSET_EXISTS, row: state.table(ASSETS).get(id) as Row };
  }
  assert(outcome.code === ResultCode.OK, "asset insert");
  return { code: ResultCode.OK, row };
}

export function updateAsset(state: State, id: string, delta: bigint): CommandResult {
  if (!isValidId(id)) return { code: ResultCode.ID_INVALID };
  const outcome = run(state, [
    { kind: "update", table: ASSETS, key: id, increment: { value: delta, updates: 1n } },
  ]);
  if (outcome.code === ResultCode.ROW_NOT_FOUND) return { code: ResultCode.ASSET_NOT_FOUND };
  if (outcome.code !== ResultCode.OK) return { code: outcome.code };
  return { code: ResultCode.OK, row: state.table(ASSETS).get(id) as Row };
}
