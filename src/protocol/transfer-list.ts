// A CREATE_TRANSFERS body written straight from the caller's values into bytes, for callers
// that send many transfers (bulk loads, the load generator): no record object, no BigInt and
// no second pass per transfer, and the encoder is reused from one batch to the next.
// The bytes are exactly what encodeFrame writes for the same transfers (codec.prop.test.ts
// checks it), so the server cannot tell the two apart.
//
// Guarantees: add() checks every field as the frame encoder does (ids of 1..ID_BYTES_MAX
// characters of the id alphabet, amount an i64, timeout a u32) and throws TxgridError
// BAD_REQUEST before writing anything of a bad transfer, LIMIT_EXCEEDED beyond
// BATCH_OPERATIONS_MAX transfers; a failed add() leaves the list as it was.
//
// For generators of many transfers over a fixed set of accounts (the load generator), IdTable
// checks a set of ids once and keeps them as bytes, and addSerial() writes a transfer whose
// accounts are entries of such a table and whose id is a table entry followed by a serial
// number's digits: no string is built or read per transfer (reading a hundred thousand
// account id strings at random cost a cache miss each), with the same checks (ids checked
// when the table was built, the serial's id length and the amount checked per call).
import { ID_BYTES_MAX } from "../constants.ts";
import { ErrorCode, ID_CHARACTER, TxgridError } from "../stdx/index.ts";
import {
  BATCH_OPERATIONS_MAX,
  ITEM_FIXED_BYTES,
  LIST_HEADER_BYTES,
  TransferCreateFlag,
} from "./layout.ts";

const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;
const U32_SPLIT = 2 ** 32;
const BYTES_INITIAL = 64 * 1024;
const TRANSFER_FIXED_BYTES = ITEM_FIXED_BYTES.transferCreate;

function badRequest(message: string): TxgridError {
  return new TxgridError(ErrorCode.BAD_REQUEST, message);
}

/** Why `id` is not an id, for the message of a refused add(). */
function idProblem(id: string, field: string): TxgridError {
  if (id.length === 0 || id.length > ID_BYTES_MAX) {
    return badRequest(`${field} must have 1 to ${ID_BYTES_MAX} characters, not ${id.length}`);
  }
  return badRequest(`${field} ${JSON.stringify(id)} may hold only A-Z a-z 0-9 . _ : -`);
}

/** Ids checked once (as add() checks them) and kept as bytes, one after another. */
export class IdTable {
  readonly bytes: Uint8Array;
  /** Per id, where it starts in `bytes`; at [count], the end of the last one. */
  readonly starts: Int32Array;

  /** Throws BAD_REQUEST when one of `ids` is no id. */
  constructor(ids: readonly string[]) {
    let byteCount = 0;
    for (const id of ids) byteCount += typeof id === "string" ? id.length : 0;
    this.bytes = new Uint8Array(byteCount + 1);
    this.starts = new Int32Array(ids.length + 1);
    let at = 0;
    ids.forEach((id, index) => {
      if (typeof id !== "string") throw badRequest("an id must be a string");
      const scratch = new Uint8Array(id.length + 1);
      if (writeId(scratch, 0, id) < 0) throw idProblem(id, `id ${index}`);
      this.bytes.set(scratch.subarray(1), at);
      this.starts[index] = at;
      at += id.length;
      this.starts[index + 1] = at;
    });
  }

  get count(): number {
    return this.starts.length - 1;
  }

  /** Whether `index` is the index of an id of the table. */
  has(index: number): boolean {
    return Number.isInteger(index) && index >= 0 && index < this.starts.length - 1;
  }
}

/** Copies `length` bytes; ids are short, where a loop beats subarray() and set(). */
function copyBytes(from: Uint8Array, start: number, length: number, to: Uint8Array, at: number) {
  for (let index = 0; index < length; index++) to[at + index] = from[start + index] as number;
}

export class TransferListEncoder {
  #bytes = new Uint8Array(BYTES_INITIAL);
  #view = new DataView(this.#bytes.buffer);
  #offset = LIST_HEADER_BYTES;
  #count = 0;

  /** Transfers added since the last reset. */
  get count(): number {
    return this.#count;
  }

  /** Empties the list; the buffer is kept. */
  reset(): void {
    this.#offset = LIST_HEADER_BYTES;
    this.#count = 0;
  }

  /**
   * Appends one transfer. `amount` may be a safe integer number (no BigInt needed) or a
   * bigint; `timeoutMs` applies to pending transfers (0: never).
   */
  add(
    id: string,
    debitId: string,
    creditId: string,
    amount: number | bigint,
    pending = false,
    timeoutMs = 0,
  ): void {
    if (this.#count >= BATCH_OPERATIONS_MAX) {
      throw new TxgridError(
        ErrorCode.LIMIT_EXCEEDED,
        `more than BATCH_OPERATIONS_MAX (${BATCH_OPERATIONS_MAX}) transfers in one list`,
      );
    }
    if (typeof id !== "string") throw badRequest("id must be a string");
    if (typeof debitId !== "string") throw badRequest("debitId must be a string");
    if (typeof creditId !== "string") throw badRequest("creditId must be a string");
    if (typeof amount === "number") {
      if (!Number.isSafeInteger(amount)) throw badRequest(`amount ${amount} is not a safe integer`);
    } else if (typeof amount !== "bigint" || amount < I64_MIN || amount > I64_MAX) {
      throw badRequest("amount must be a bigint from -2^63 to 2^63 - 1 or a safe integer");
    }
    if (!(Number.isInteger(timeoutMs) && timeoutMs >= 0 && timeoutMs < U32_SPLIT)) {
      throw badRequest(`timeoutMs must be an integer from 0 to ${U32_SPLIT - 1}`);
    }
    const itemBytes = TRANSFER_FIXED_BYTES + id.length + debitId.length + creditId.length;
    if (this.#offset + itemBytes > this.#bytes.length) this.#grow(this.#offset + itemBytes);
    const bytes = this.#bytes;
    // Ids are checked while written: a refused one leaves #offset (the list) unchanged.
    let at = this.#offset;
    bytes[at++] = pending ? TransferCreateFlag.pending : 0;
    at = writeId(bytes, at, id);
    if (at < 0) throw idProblem(id, "id");
    at = writeId(bytes, at, debitId);
    if (at < 0) throw idProblem(debitId, "debitId");
    at = writeId(bytes, at, creditId);
    if (at < 0) throw idProblem(creditId, "creditId");
    if (typeof amount === "number") this.#writeAmount(at, amount);
    else this.#view.setBigInt64(at, amount, true);
    this.#view.setUint32(at + 8, timeoutMs, true);
    this.#offset = at + 12;
    this.#count++;
  }

  /**
   * add() of a posted transfer whose id is entry `prefix` of `prefixes` followed by the
   * decimal digits of `serial` (a safe integer >= 0), from entry `debitIndex` to entry
   * `creditIndex` of `accounts`, of `amount` (a safe integer). Throws as add() would.
   */
  addSerial(
    prefixes: IdTable,
    prefix: number,
    serial: number,
    accounts: IdTable,
    debitIndex: number,
    creditIndex: number,
    amount: number,
  ): void {
    if (this.#count >= BATCH_OPERATIONS_MAX) {
      throw new TxgridError(
        ErrorCode.LIMIT_EXCEEDED,
        `more than BATCH_OPERATIONS_MAX (${BATCH_OPERATIONS_MAX}) transfers in one list`,
      );
    }
    if (!(Number.isSafeInteger(serial) && serial >= 0)) {
      throw badRequest(`serial ${serial} is not a safe integer >= 0`);
    }
    if (!Number.isSafeInteger(amount)) throw badRequest(`amount ${amount} is not a safe integer`);
    if (!(prefixes.has(prefix) && accounts.has(debitIndex) && accounts.has(creditIndex))) {
      throw badRequest(`no id ${prefix}, ${debitIndex} or ${creditIndex} in its table`);
    }
    const prefixStart = prefixes.starts[prefix] as number;
    const prefixLength = (prefixes.starts[prefix + 1] as number) - prefixStart;
    let digits = 1;
    for (let rest = serial; rest >= 10; rest = Math.floor(rest / 10)) digits++;
    const idLength = prefixLength + digits;
    if (idLength > ID_BYTES_MAX) {
      throw badRequest(`id must have 1 to ${ID_BYTES_MAX} characters, not ${idLength}`);
    }
    const debitStart = accounts.starts[debitIndex] as number;
    const debitLength = (accounts.starts[debitIndex + 1] as number) - debitStart;
    const creditStart = accounts.starts[creditIndex] as number;
    const creditLength = (accounts.starts[creditIndex + 1] as number) - creditStart;
    const itemBytes = TRANSFER_FIXED_BYTES + idLength + debitLength + creditLength;
    if (this.#offset + itemBytes > this.#bytes.length) this.#grow(this.#offset + itemBytes);
    const bytes = this.#bytes;
    let at = this.#offset;
    bytes[at++] = 0;
    bytes[at++] = idLength;
    copyBytes(prefixes.bytes, prefixStart, prefixLength, bytes, at);
    at += idLength;
    for (let rest = serial, place = at - 1; place >= at - digits; place--) {
      bytes[place] = 48 + (rest % 10);
      rest = Math.floor(rest / 10);
    }
    bytes[at++] = debitLength;
    copyBytes(accounts.bytes, debitStart, debitLength, bytes, at);
    at += debitLength;
    bytes[at++] = creditLength;
    copyBytes(accounts.bytes, creditStart, creditLength, bytes, at);
    at += creditLength;
    this.#writeAmount(at, amount);
    this.#view.setUint32(at + 8, 0, true);
    this.#offset = at + 12;
    this.#count++;
  }

  /** The body (list header and items) as a view the next add() or reset() may change. */
  body(): Uint8Array {
    this.#view.setUint32(0, this.#count, true);
    this.#view.setUint32(4, 0, true);
    return this.#bytes.subarray(0, this.#offset);
  }

  /** A safe integer as an i64 at `at`, exactly, without a BigInt. */
  #writeAmount(at: number, amount: number): void {
    const view = this.#view;
    if ((amount | 0) === amount) {
      // A 32-bit integer, sign-extended (the common case: no float division).
      view.setInt32(at, amount, true);
      view.setInt32(at + 4, amount < 0 ? -1 : 0, true);
      return;
    }
    // Two's complement halves of a safe integer.
    const low = amount % U32_SPLIT;
    view.setUint32(at, low < 0 ? low + U32_SPLIT : low, true);
    view.setInt32(at + 4, Math.floor(amount / U32_SPLIT), true);
  }

  #grow(bytesNeeded: number): void {
    let capacity = this.#bytes.length * 2;
    while (capacity < bytesNeeded) capacity *= 2;
    const grown = new Uint8Array(capacity);
    grown.set(this.#bytes.subarray(0, this.#offset));
    this.#bytes = grown;
    this.#view = new DataView(grown.buffer);
  }
}

/** Writes `id` as length and bytes at `at`; the offset after it, or -1 if it is no id. */
function writeId(bytes: Uint8Array, at: number, id: string): number {
  const length = id.length;
  if (length === 0 || length > ID_BYTES_MAX) return -1;
  bytes[at] = length;
  const start = at + 1;
  for (let index = 0; index < length; index++) {
    const code = id.charCodeAt(index);
    if (code > 0x7f || ID_CHARACTER[code] !== 1) return -1;
    bytes[start + index] = code;
  }
  return start + length;
}
