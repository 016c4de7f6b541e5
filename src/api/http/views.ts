// How engine rows look on the wire. The engine keeps every number as a bigint; here amounts
// and balances become decimal strings (/v1), timestamps and counters become JSON numbers
// (they are far below 2^53), and the TiMPE views keep bigints that the response serializer
// writes as exact JSON integers. Views built for /v1 hold no bigint, so they are safe for
// JSON.stringify as well as for the compiled serializers.
import {
  type CommandResult,
  type Engine,
  isResultCode,
  ResultCode,
  type Row,
  resultName,
  type TransferCreate,
  type TransferStamp,
  type Value,
} from "../../engine/index.ts";
import { assert } from "../../stdx/index.ts";

function text(row: Row, column: string): string {
  return row[column] as string;
}

function integer(row: Row, column: string): bigint {
  return row[column] as bigint;
}

function numberOrNull(value: Value | undefined): number | null {
  return typeof value === "bigint" ? Number(value) : null;
}

function decimalOrNull(value: Value | undefined): string | null {
  return typeof value === "bigint" ? value.toString() : null;
}

export interface AccountJson {
  id: string;
  nickname: string | null;
  balance: string;
  reserved: string;
  available: string;
  floor: string | null;
  initial: string;
  createdAtMs: number;
}

export function accountView(row: Row): AccountJson {
  return {
    id: text(row, "id"),
    nickname: (row.nickname ?? null) as string | null,
    balance: integer(row, "balance").toString(),
    reserved: integer(row, "reserved").toString(),
    available: integer(row, "available").toString(),
    floor: decimalOrNull(row.floor),
    initial: integer(row, "initial").toString(),
    createdAtMs: Number(integer(row, "createdAtMs")),
  };
}

export interface TransferJson {
  id: string;
  debitAccountId: string;
  creditAccountId: string;
  amount: string;
  pending: boolean;
  timeoutMs: number;
  origin: string;
  state: string;
  code?: string;
  sequence: number | null;
  createdAtMs: number;
  resolvedAtMs: number | null;
  expiresAtMs: number | null;
}

/** A transfer, or the stored refusal of one (state "failed" with the refusal's code). */
export function transferView(row: Row): TransferJson {
  const view: TransferJson = {
    id: text(row, "id"),
    debitAccountId: text(row, "debit"),
    creditAccountId: text(row, "credit"),
    amount: integer(row, "amount").toString(),
    pending: row.pending === true,
    timeoutMs: Number(integer(row, "timeoutMs")),
    origin: text(row, "origin"),
    state: typeof row.code === "bigint" ? "failed" : text(row, "state"),
    sequence: numberOrNull(row.sequence),
    createdAtMs: Number(integer(row, "createdAtMs")),
    resolvedAtMs: numberOrNull(row.resolvedAtMs),
    expiresAtMs: numberOrNull(row.expiresAtMs),
  };
  const code = typeof row.code === "bigint" ? Number(row.code) : -1;
  if (isResultCode(code)) view.code = resultName(code);
  return view;
}

/**
 * transferView of a posted transfer that `command` has just created (not a retry): its row
 * holds the command's own ids, amount, timeout (0) and origin, state "posted", and was
 * resolved when it was created, so only the stamp is read from the engine (no row, no id
 * strings built again).
 */
export function newPostedTransferView(command: TransferCreate, stamp: TransferStamp): TransferJson {
  assert(!command.pending, "a posted transfer");
  const createdAtMs = Number(stamp.createdAtMs);
  return {
    id: command.id,
    debitAccountId: command.debitId,
    creditAccountId: command.creditId,
    amount: command.amount.toString(),
    pending: false,
    timeoutMs: command.timeoutMs,
    origin: command.origin,
    state: "posted",
    sequence: stamp.sequence,
    createdAtMs,
    resolvedAtMs: createdAtMs,
    expiresAtMs: null,
  };
}

/**
 * The stamp of the posted transfer that `command` has just created (OK, not a retry, not
 * pending), read from `engine` without building its row; undefined for every other outcome,
 * and when that engine no longer holds the transfer (a standby's reset replaced the shard's
 * engine since): the answer then comes from the result's own row.
 */
export function newPostedStamp(
  engine: Engine,
  command: TransferCreate,
  result: CommandResult,
): TransferStamp | undefined {
  if (result.code !== ResultCode.OK || result.duplicate === true || command.pending) {
    return undefined;
  }
  return engine.transferStamp(command.id);
}

/** True for a stored refusal (transfer_failures row) rather than a transfer. */
export function isRefusal(row: Row): boolean {
  return typeof row.code === "bigint";
}

export function assetView(row: Row): { id: string; value: string; updates: number } {
  return {
    id: text(row, "id"),
    value: integer(row, "value").toString(),
    updates: Number(integer(row, "updates")),
  };
}

/** A generic row: integers as {"int":"<decimal>"}, everything else as itself. */
export function rowView(row: Row): Record<string, unknown> {
  const view: Record<string, unknown> = {};
  for (const column of Object.keys(row)) {
    const value = row[column] ?? null;
    view[column] = typeof value === "bigint" ? { int: value.toString() } : value;
  }
  return view;
}

// ---- TiMPE ----

/**
 * TiMPE's transaction states (seeds-spec 1.5: initial -> in progress -> committed ->
 * finished). Phase 2 is one atomic engine transaction here, so a transfer is either still
 * "initial" (pending, funds reserved) or "finished"; voiding and expiry are txgrid's own.
 */
const timpeStates: Readonly<Record<string, string>> = {
  pending: "initial",
  posted: "finished",
  voided: "voided",
  expired: "expired",
};

export function timpeState(state: string): string {
  return timpeStates[state] ?? state;
}

export interface TimpeUserJson {
  id: string;
  nickname: string | null;
  balance: bigint;
}

export function timpeUserView(row: Row): TimpeUserJson {
  return {
    id: text(row, "id"),
    nickname: (row.nickname ?? null) as string | null,
    balance: integer(row, "balance"),
  };
}

export interface TimpeTransactionJson {
  id: string;
  sender: string;
  recipient: string;
  amount: bigint;
  timestamp: bigint;
  state: string;
}

/** timpeTransactionView of a posted transfer that `command` has just created (not a retry). */
export function newPostedTimpeTransactionView(
  command: TransferCreate,
  stamp: TransferStamp,
): TimpeTransactionJson {
  assert(!command.pending, "a posted transfer");
  return {
    id: command.id,
    sender: command.debitId,
    recipient: command.creditId,
    amount: command.amount,
    timestamp: stamp.createdAtMs,
    state: timpeState("posted"),
  };
}

export function timpeTransactionView(row: Row): TimpeTransactionJson {
  return {
    id: text(row, "id"),
    sender: text(row, "debit"),
    recipient: text(row, "credit"),
    amount: integer(row, "amount"),
    timestamp: integer(row, "createdAtMs"),
    state: timpeState(text(row, "state")),
  };
}
