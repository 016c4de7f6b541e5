// The ledger and asset faces, built on the one transaction mechanism (txn.ts). Each handler
// validates its command, answers retries from what is stored under the id, and otherwise
// builds a list of row operations and runs it through the executor, mapping a failing
// operation to a ledger result code. No handler changes a table except through the executor.
//
// An account row holds   balance   (posted money)
//                        reserved  (held by its pending debits)
//                        available (= balance - reserved; the floor applies to it)
// so "no overdraft" is a floor condition on a single column, checked inside the same
// transaction that moves the money.
//
// Integers in commands are signed 64-bit: the command codec carries them as i64, so a value
// outside that range cannot come from the log, and the column tables cannot hold one; an
// assert names it (no handler refuses it with a code, as none ever could be logged).
//
// Cost: a transfer is the hottest command. Its transaction runs compiled (transfer-path.ts:
// the same checks in the same order, on numbers, without operation or row objects) whenever
// every value is below 2^52 in magnitude; otherwise through the executor with bigints, from
// operations that are module-level objects refilled for every transfer (the executor keeps
// none of them, txn.ts, and every handler here runs to completion before the next starts).
// Each id of a transfer is checked and hashed in one pass (validIdHash), once, ahead of its
// turn by the engine's prefetch (transfer-path.ts). A posted transfer's result reads its row
// only when asked for (StoredRowResult): the row never changes, and the binary protocol never
// asks. A retry of a stored transfer is compared on its record, without building its row.
import {
  AMOUNT_MAX,
  NICKNAME_LENGTH_MAX,
  PENDING_TIMEOUT_MS_MAX,
  PENDING_TRANSFERS_MAX,
} from "../constants.ts";
import { assert } from "../stdx/index.ts";
import type { Command, TransferCreate } from "./commands.ts";
import { type CommandResult, ResultCode, StoredRowResult } from "./results.ts";
import { type State, SystemTable, type TransferState } from "./state.ts";
import { FALLBACK, runCompiledTransfer, type TransferHashes } from "./transfer-path.ts";
import type { Condition, Operation } from "./txn.ts";
import { isInInt64Range, isValidId, type Row } from "./values.ts";

type AccountCreate = Extract<Command, { kind: "account.create" }>;

const { ACCOUNTS, TRANSFERS, TRANSFER_FAILURES, ASSETS } = SystemTable;

function assertInt64(value: bigint): void {
  assert(isInInt64Range(value), "command integers are signed 64-bit (the codec's i64)");
}

function run(state: State, operations: readonly Operation[]): ResultCode {
  return state.executor.execute(operations, null);
}

export function createAccount(state: State, command: AccountCreate): CommandResult {
  if (!isValidId(command.id)) return { code: ResultCode.ID_INVALID };
  const nickname = command.nickname;
  if (nickname !== null && (nickname.length === 0 || nickname.length > NICKNAME_LENGTH_MAX)) {
    return { code: ResultCode.ID_INVALID };
  }
  const accounts = state.accounts;
  const slot = accounts.find(command.id);
  if (slot >= 0) {
    const existing = accounts.rowAt(slot);
    const same =
      existing.initial === command.balance &&
      existing.floor === command.floor &&
      existing.nickname === command.nickname;
    return same
      ? { code: ResultCode.OK, duplicate: true, row: existing }
      : { code: ResultCode.ACCOUNT_EXISTS, row: existing };
  }
  if (nickname !== null && accounts.lookup("nickname", nickname, 1).length > 0) {
    return { code: ResultCode.NICKNAME_TAKEN };
  }
  if (command.floor !== null && command.balance < command.floor) {
    return { code: ResultCode.BALANCE_INVALID };
  }
  assertInt64(command.balance);
  if (command.floor !== null) assertInt64(command.floor);
  const row: Row = {
    id: command.id,
    nickname,
    balance: command.balance,
    reserved: 0n,
    available: command.balance,
    floor: command.floor,
    initial: command.balance,
    createdAtMs: state.timestampBigintMs,
  };
  const code = run(state, [{ kind: "insert", table: ACCOUNTS, key: command.id, values: row }]);
  assert(code === ResultCode.OK, "account insert after existence check");
  return { code: ResultCode.OK, row };
}

/** `hashes`: validIdHash of the ids, computed ahead (TransferPrefetch). */
export function createTransfer(
  state: State,
  command: TransferCreate,
  hashes: TransferHashes,
): CommandResult {
  const idHash = hashes.id;
  // Invalid ids are never stored (recordFailure), so an invalid id needs no lookup.
  if (idHash >= 0) {
    const stored = storedTransferOutcome(state, command, hashes);
    if (stored !== undefined) return stored;
  }
  const debitHash = hashes.debit;
  const creditHash = hashes.credit;
  if (idHash < 0 || debitHash < 0 || creditHash < 0) {
    return recordFailure(state, command, ResultCode.ID_INVALID);
  }
  // Below 2^52 the number is the amount exactly (and a number <= 0 means an amount <= 0).
  const amountNumber = Number(command.amount);
  const isSmall = amountNumber > 0 && amountNumber < amountSmallLimit;
  const code = validateTransfer(state, command, isSmall);
  if (code !== ResultCode.OK) return recordFailure(state, command, code);
  const sequence = state.transfers.size;
  if (isSmall) {
    const outcome = runCompiledTransfer(
      state,
      command,
      amountNumber,
      idHash,
      debitHash,
      creditHash,
    );
    if (outcome !== FALLBACK) return transferOutcome(state, command, sequence, outcome, null);
  }
  const timestampMs = state.timestampBigintMs;
  const transfer: Row = {
    id: command.id,
    debit: command.debitId,
    credit: command.creditId,
    amount: command.amount,
    pending: command.pending,
    timeoutMs: command.timeoutMs === 0 ? 0n : BigInt(command.timeoutMs),
    origin: command.origin,
    state: (command.pending ? "pending" : "posted") satisfies TransferState,
    sequence: BigInt(sequence),
    createdAtMs: timestampMs,
    resolvedAtMs: command.pending ? null : timestampMs,
    expiresAtMs:
      command.pending && command.timeoutMs > 0
        ? BigInt(state.timestampMs + command.timeoutMs)
        : null,
  };
  const outcome = run(state, transferOperations(state, command, transfer));
  scratch.insert.values = noRow;
  const ledgerCode =
    outcome === ResultCode.OK ? outcome : transferFailureCode(outcome, state.executor.failedIndex);
  return transferOutcome(state, command, sequence, ledgerCode, transfer);
}

/** Amounts below this are exact numbers, and so are sums of two values below it. */
const amountSmallLimit = 2 ** 52;

/**
 * The result of a transfer transaction that ran with `code`: a failure is pinned to the id;
 * a stored transfer is tracked when pending. `row` is the row the generic path built.
 */
function transferOutcome(
  state: State,
  command: TransferCreate,
  sequence: number,
  code: ResultCode,
  row: Row | null,
): CommandResult {
  if (code !== ResultCode.OK) return recordFailure(state, command, code);
  const transfers = state.transfers;
  assert(transfers.size === sequence + 1, "transfer row stored at its sequence");
  if (row !== null) {
    if (command.pending) state.trackPending(sequence);
    return { code, row };
  }
  // A pending transfer's row changes when it is posted, voided or expires: read it now.
  if (!command.pending) return new StoredRowResult(code, false, transfers, sequence);
  state.trackPending(sequence);
  return { code, row: transfers.rowAt(sequence) };
}

/** Every rule of a transfer that does not depend on the accounts (ids are checked already). */
function validateTransfer(state: State, command: TransferCreate, isSmall: boolean): ResultCode {
  if (!isSmall && (command.amount <= 0n || command.amount > AMOUNT_MAX)) {
    return ResultCode.AMOUNT_INVALID;
  }
  if (command.debitId === command.creditId) return ResultCode.ACCOUNTS_MUST_BE_DIFFERENT;
  if (!Number.isSafeInteger(command.timeoutMs) || command.timeoutMs < 0) {
    return ResultCode.TIMEOUT_INVALID;
  }
  if (command.timeoutMs > PENDING_TIMEOUT_MS_MAX) return ResultCode.TIMEOUT_INVALID;
  if (!command.pending && command.timeoutMs !== 0) return ResultCode.TIMEOUT_INVALID;
  if (command.pending && state.pendingSlots.size >= PENDING_TRANSFERS_MAX) {
    return ResultCode.PENDING_LIMIT_REACHED;
  }
  return ResultCode.OK;
}

const noRow: Row = {};
const noConditions: readonly Condition[] = [];
const floorCondition = { kind: "floor" as const, column: "available", minimum: 0n };

/** The reused operations of a transfer: filled by transferOperations, one transfer at a time. */
const scratch = {
  floor: floorCondition,
  withFloor: [floorCondition] as readonly Condition[],
  debitPosted: { balance: 0n, available: 0n },
  debitReserved: { reserved: 0n, available: 0n },
  creditPosted: { balance: 0n, available: 0n },
  debit: {
    kind: "update" as const,
    table: ACCOUNTS,
    key: "",
    increment: {} as Readonly<Record<string, bigint>>,
    conditions: noConditions,
  },
  credit: { kind: "update" as const, table: ACCOUNTS, key: "", increment: {} },
  // A pending transfer does not touch the credit account's balances, but the account must
  // exist when the funds are reserved.
  creditExists: {
    kind: "read" as const,
    table: ACCOUNTS,
    key: "",
    conditions: [{ kind: "exists" }] as readonly Condition[],
  },
  insert: { kind: "insert" as const, table: TRANSFERS, key: "", values: noRow },
};
const postedOperations: readonly Operation[] = [scratch.debit, scratch.credit, scratch.insert];
const pendingOperations: readonly Operation[] = [
  scratch.debit,
  scratch.creditExists,
  scratch.insert,
];

/** The debit (with its floor), the credit, and the transfer row itself. */
function transferOperations(
  state: State,
  command: TransferCreate,
  transfer: Row,
): readonly Operation[] {
  const amount = command.amount;
  const negated = -amount;
  const debitSlot = state.accounts.find(command.debitId);
  const floor = debitSlot < 0 ? null : state.accounts.integerAt(debitSlot, state.accountFloor);
  scratch.debit.key = command.debitId;
  scratch.debit.conditions = noConditions;
  if (typeof floor === "bigint") {
    scratch.floor.minimum = floor;
    scratch.debit.conditions = scratch.withFloor;
  }
  scratch.insert.key = command.id;
  scratch.insert.values = transfer;
  if (command.pending) {
    scratch.debitReserved.reserved = amount;
    scratch.debitReserved.available = negated;
    scratch.debit.increment = scratch.debitReserved;
    scratch.creditExists.key = command.creditId;
    return pendingOperations;
  }
  scratch.debitPosted.balance = negated;
  scratch.debitPosted.available = negated;
  scratch.debit.increment = scratch.debitPosted;
  scratch.creditPosted.balance = amount;
  scratch.creditPosted.available = amount;
  scratch.credit.key = command.creditId;
  scratch.credit.increment = scratch.creditPosted;
  return postedOperations;
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
function storedTransferOutcome(
  state: State,
  command: TransferCreate,
  hashes: TransferHashes,
): CommandResult | undefined {
  const transfers = state.transfers;
  const slot = transfers.findHashed(command.id, hashes.id);
  if (slot >= 0) {
    // Below 2^52 the number is the amount exactly; a timeout that is no safe integer takes
    // the comparison below, where BigInt() refuses it as it always did.
    const amountNumber = Number(command.amount);
    if (Math.abs(amountNumber) < amountSmallLimit && Number.isSafeInteger(command.timeoutMs)) {
      return retryOutcome(state, command, hashes, slot, amountNumber);
    }
    return storedOutcome(transfers.rowAt(slot), command);
  }
  const failed = state.failures.findHashed(command.id, hashes.id);
  return failed < 0 ? undefined : storedOutcome(state.failures.rowAt(failed), command);
}

/**
 * storedOutcome for a stored transfer, compared on its record (no row built); the row is
 * read at once only while the transfer is pending (it can still change), else when asked.
 */
function retryOutcome(
  state: State,
  command: TransferCreate,
  hashes: TransferHashes,
  slot: number,
  amount: number,
): CommandResult {
  const { accounts, transfers, transferRecords } = state;
  const debit = hashes.debit < 0 ? -1 : accounts.findHashed(command.debitId, hashes.debit);
  const credit = hashes.credit < 0 ? -1 : accounts.findHashed(command.creditId, hashes.credit);
  const { pending, timeoutMs, origin } = command;
  const same = transferRecords.sameRequest(slot, debit, credit, amount, pending, timeoutMs, origin);
  const code = same ? ResultCode.OK : ResultCode.TRANSFER_EXISTS;
  if (!transferRecords.isOpen(slot)) return new StoredRowResult(code, same, transfers, slot);
  const row = transfers.rowAt(slot);
  return same ? { code, duplicate: true, row } : { code, row };
}

/** The outcome of a retry of the transfer or refusal `stored`. */
function storedOutcome(stored: Row, command: TransferCreate): CommandResult {
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
  assertInt64(command.amount);
  const row: Row = {
    id: command.id,
    debit: command.debitId,
    credit: command.creditId,
    amount: command.amount,
    pending: command.pending,
    timeoutMs: BigInt(command.timeoutMs),
    origin: command.origin,
    code: BigInt(code),
    createdAtMs: state.timestampBigintMs,
  };
  const outcome = run(state, [
    { kind: "insert", table: TRANSFER_FAILURES, key: command.id, values: row },
  ]);
  assert(outcome === ResultCode.OK, "failure insert after existence check");
  return { code, row };
}

/** Posts or voids a pending transfer by id. */
export function resolvePending(
  state: State,
  pendingId: string,
  resolution: "posted" | "voided",
): CommandResult {
  if (!isValidId(pendingId)) return { code: ResultCode.ID_INVALID };
  const slot = state.transfers.find(pendingId);
  if (slot < 0) return { code: ResultCode.PENDING_NOT_FOUND };
  return resolveSlot(state, slot, resolution);
}

/** Posts, voids or (resolution "expired", the timeout path) expires the transfer at `slot`. */
function resolveSlot(
  state: State,
  slot: number,
  resolution: "posted" | "voided" | "expired",
): CommandResult {
  const transfers = state.transfers;
  const transfer = transfers.rowAt(slot);
  if (transfer.pending !== true) return { code: ResultCode.NOT_PENDING, row: transfer };
  const current = transfer.state as TransferState;
  if (current !== "pending") return alreadyResolved(current, resolution, transfer);
  const code = run(state, resolveOperations(state, transfer, resolution));
  if (code !== ResultCode.OK) {
    // Accounts are never deleted, so the only way to fail is a credit balance overflow.
    assert(code === ResultCode.OVERFLOW, `unexpected resolve failure ${code}`);
    return { code, row: transfer };
  }
  state.untrackPending(slot);
  return { code: ResultCode.OK, row: transfers.rowAt(slot) };
}

function resolveOperations(
  state: State,
  transfer: Row,
  resolution: "posted" | "voided" | "expired",
): Operation[] {
  const amount = transfer.amount as bigint;
  const operations: Operation[] = [
    {
      kind: "update",
      table: TRANSFERS,
      key: transfer.id as string,
      set: { state: resolution, resolvedAtMs: state.timestampBigintMs },
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
  return operations;
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
  for (const slot of [...state.timpePendingSlots]) {
    const id = state.transfers.keyAt(slot);
    processed.push({ id, code: resolveSlot(state, slot, "posted").code });
  }
  return { code: ResultCode.OK, processed };
}

/** Voids every pending transfer whose timeout is at or before `nowMs`, in deadline order. */
export function expirePending(state: State, nowMs: number): number {
  let expiredCount = 0;
  for (let top = state.deadlines.peek(); top !== undefined; top = state.deadlines.peek()) {
    if (top.deadlineMs > nowMs) break;
    state.deadlines.pop();
    if (!state.pendingSlots.has(top.slot)) continue;
    const result = resolveSlot(state, top.slot, "expired");
    assert(result.code === ResultCode.OK, "an open pending transfer can always expire");
    expiredCount++;
  }
  return expiredCount;
}

export function createAsset(state: State, id: string, value: bigint): CommandResult {
  if (!isValidId(id)) return { code: ResultCode.ID_INVALID };
  assertInt64(value);
  const row: Row = { id, value, updates: 0n };
  const code = run(state, [{ kind: "insert", table: ASSETS, key: id, values: row }]);
  if (code === ResultCode.ROW_EXISTS) {
    return { code: ResultCode.ASSET_EXISTS, row: state.assets.rowAt(state.assets.find(id)) };
  }
  assert(code === ResultCode.OK, "asset insert");
  return { code: ResultCode.OK, row };
}

export function updateAsset(state: State, id: string, delta: bigint): CommandResult {
  if (!isValidId(id)) return { code: ResultCode.ID_INVALID };
  const code = run(state, [
    { kind: "update", table: ASSETS, key: id, increment: { value: delta, updates: 1n } },
  ]);
  if (code === ResultCode.ROW_NOT_FOUND) return { code: ResultCode.ASSET_NOT_FOUND };
  if (code !== ResultCode.OK) return { code };
  return { code: ResultCode.OK, row: state.assets.rowAt(state.assets.find(id)) };
}
