// Result codes of the data plane. Every command the engine applies ends with exactly one of
// these codes; they are never thrown. The numbers are stable: they are written in replies
// on the wire and documented in docs/api.md. Add new codes at the end, never renumber.

export const ResultCode = {
  OK: 0,
  /** An id is empty, too long, or has characters outside [A-Za-z0-9._:-]. */
  ID_INVALID: 1,
  /** An amount is zero, negative or above AMOUNT_MAX. */
  AMOUNT_INVALID: 2,
  /** The account id exists with different fields. */
  ACCOUNT_EXISTS: 3,
  /** Another account already has this nickname. */
  NICKNAME_TAKEN: 4,
  DEBIT_ACCOUNT_NOT_FOUND: 5,
  CREDIT_ACCOUNT_NOT_FOUND: 6,
  ACCOUNTS_MUST_BE_DIFFERENT: 7,
  /** The debit would take the account's available balance below its floor. */
  INSUFFICIENT_FUNDS: 8,
  /** A balance or value would leave the signed 64-bit range. */
  OVERFLOW: 9,
  /** The transfer id exists with different fields. */
  TRANSFER_EXISTS: 10,
  TIMEOUT_INVALID: 11,
  PENDING_NOT_FOUND: 12,
  /** post or void of a transfer that was never pending. */
  NOT_PENDING: 13,
  PENDING_ALREADY_POSTED: 14,
  PENDING_ALREADY_VOIDED: 15,
  PENDING_EXPIRED: 16,
  /** PENDING_TRANSFERS_MAX pending transfers are open already. */
  PENDING_LIMIT_REACHED: 17,
  ASSET_EXISTS: 18,
  ASSET_NOT_FOUND: 19,
  TABLE_EXISTS: 20,
  TABLE_NOT_FOUND: 21,
  /** A generic transaction may not write the ledger's own tables. */
  TABLE_RESERVED: 22,
  ROW_EXISTS: 23,
  ROW_NOT_FOUND: 24,
  CONDITION_FAILED: 25,
  FLOOR_VIOLATED: 26,
  /** An increment on a column that holds something other than an integer. */
  NOT_A_NUMBER: 27,
  /** A generic transaction that breaks a structural rule (see docs/engine.md). */
  TXN_INVALID: 28,
  /** An initial balance below the account's floor. */
  BALANCE_INVALID: 29,
} as const;

export type ResultCode = (typeof ResultCode)[keyof typeof ResultCode];

const namesByCode = new Map<number, string>(
  Object.entries(ResultCode).map(([name, code]) => [code, name]),
);

/** The stable name of a result code, e.g. "INSUFFICIENT_FUNDS". */
export function resultName(code: ResultCode): string {
  const name = namesByCode.get(code);
  if (name === undefined) throw new RangeError(`unknown result code ${code}`);
  return name;
}

export function isResultCode(value: number): value is ResultCode {
  return namesByCode.has(value);
}

import type { Row } from "./values.ts";

/** The outcome of one command. */
export interface CommandResult {
  readonly code: ResultCode;
  /** The id was seen before: this is its first outcome, and nothing was applied again. */
  readonly duplicate?: true | undefined;
  /** The account, transfer or asset as it is after the command. */
  readonly row?: Row | undefined;
  /** Generic transactions: per operation, the row it read or wrote (null for none). */
  readonly rows?: readonly (Row | null)[];
  /** Generic transactions: the operation that failed. */
  readonly operationIndex?: number;
  /**
   * transfer.list: per transfer, its result code, plus TRANSFER_CODE_DUPLICATE (128) when it
   * was a retry of a stored transfer (transfer-list.ts).
   */
  readonly transferCodes?: Uint8Array;
  /** timpe.process: every pending TiMPE transfer it tried to finish, with its outcome. */
  readonly processed?: readonly { readonly id: string; readonly code: ResultCode }[];
}

/** What a StoredRowResult reads its row from: a table. */
export interface RowSource {
  rowAt(slot: number): Row;
}

/**
 * The result of a command whose row never changes once the command is applied (a posted
 * transfer, a refused one): it keeps the row's table and slot, and reads the row the first
 * time `row` is asked for. Most callers never ask (the binary protocol answers with the code
 * and the duplicate flag), so the hottest command builds no row object; a caller that asks
 * later gets the same row it would have got at once, as the row cannot change.
 */
export class StoredRowResult implements CommandResult {
  readonly code: ResultCode;
  readonly duplicate: true | undefined;
  readonly #rows: RowSource;
  readonly #slot: number;
  #row: Row | undefined = undefined;

  constructor(code: ResultCode, duplicate: boolean, rows: RowSource, slot: number) {
    this.code = code;
    this.duplicate = duplicate ? true : undefined;
    this.#rows = rows;
    this.#slot = slot;
  }

  get row(): Row {
    this.#row ??= this.#rows.rowAt(this.#slot);
    return this.#row;
  }
}
