// Engine rows as protocol records, and engine results as protocol operation results: the one
// place where the binary faces (the TCP server and embedded mode) turn what the engine holds
// into what a client sees. docs/protocol.md ("Mapping to the engine") is the specification.
//
// Guarantees: a row of `transfer_failures` (it has a `code` column) becomes a TransferRecord
// in state "failed" with that code, no sequence and no resolvedAtMs; bigint timestamps,
// counters and timeouts become numbers (they are far below 2^53). Results without a value
// are shared frozen objects, so answering a batch allocates nothing per operation.
import {
  type CommandResult,
  isResultCode,
  ResultCode,
  type Row,
  TRANSFER_CODE_DUPLICATE,
  type Value,
} from "../engine/index.ts";
import type {
  AccountRecord,
  AssetRecord,
  OperationResult,
  TransferRecord,
  TransferRecordState,
} from "../protocol/index.ts";
import { assert } from "../stdx/index.ts";

function numberOrNull(value: Value | undefined): number | null {
  return typeof value === "bigint" ? Number(value) : null;
}

function bigintOrNull(value: Value | undefined): bigint | null {
  return typeof value === "bigint" ? value : null;
}

export function accountRecord(row: Row): AccountRecord {
  return {
    id: row.id as string,
    nickname: (row.nickname ?? null) as string | null,
    balance: row.balance as bigint,
    reserved: row.reserved as bigint,
    available: row.available as bigint,
    floor: bigintOrNull(row.floor),
    initial: row.initial as bigint,
    createdAtMs: Number(row.createdAtMs as bigint),
  };
}

/** A transfer, or the stored refusal of one (a `transfer_failures` row: state "failed"). */
export function transferRecord(row: Row): TransferRecord {
  const failed = typeof row.code === "bigint";
  const code = failed ? Number(row.code) : ResultCode.OK;
  assert(isResultCode(code), "a stored failure holds a result code");
  return {
    id: row.id as string,
    debitId: row.debit as string,
    creditId: row.credit as string,
    amount: row.amount as bigint,
    pending: row.pending === true,
    state: (failed ? "failed" : row.state) as TransferRecordState,
    code,
    timeoutMs: Number(row.timeoutMs as bigint),
    createdAtMs: Number(row.createdAtMs as bigint),
    resolvedAtMs: failed ? null : numberOrNull(row.resolvedAtMs),
    sequence: failed ? null : numberOrNull(row.sequence),
  };
}

export function assetRecord(row: Row): AssetRecord {
  return {
    id: row.id as string,
    value: row.value as bigint,
    updates: Number(row.updates as bigint),
  };
}

/** Shared results without a value: index `code * 2 + (duplicate ? 1 : 0)`. */
const plainResults: OperationResult[] = [];
for (const code of Object.values(ResultCode)) {
  for (const duplicate of [false, true]) {
    plainResults[code * 2 + (duplicate ? 1 : 0)] = Object.freeze({ code, duplicate, value: null });
  }
}

/** The wire result of one transfer of a transfer.list, from its code byte. */
export function listOperationResult(code: number): OperationResult {
  const duplicate = code >= TRANSFER_CODE_DUPLICATE;
  const shared = plainResults[(code & ~TRANSFER_CODE_DUPLICATE) * 2 + (duplicate ? 1 : 0)];
  assert(shared !== undefined, "every result code has a shared result");
  return shared;
}

/** The wire result of one command; `withValue` for assets (the row's value after it). */
export function operationResult(result: CommandResult, withValue: boolean): OperationResult {
  const duplicate = result.duplicate === true;
  const value = withValue ? bigintOrNull(result.row?.value) : null;
  if (value !== null) return { code: result.code, duplicate, value };
  const shared = plainResults[result.code * 2 + (duplicate ? 1 : 0)];
  assert(shared !== undefined, "every result code has a shared result");
  return shared;
}
