// Transfer lists: many transfer.create commands (origin "api") carried as one command whose
// body is their records in bytes, so that a CREATE_TRANSFERS body goes from the wire to the
// log and into the engine without a string, a BigInt or an object per transfer. Record
// layout (little-endian; the same bytes as the binary protocol's transferCreate record):
//
//   size      field
//   1         flags      bit 0: pending; the other bits are zero
//   1 + n     id         u8 length n, then n bytes (one character per byte)
//   1 + n     debitId    as id
//   1 + n     creditId   as id
//   8         amount     i64
//   4         timeoutMs  u32
//
// Meaning: a list is exactly its transfers as transfer.create commands of origin "api", in
// order, each id the string of its bytes (Latin-1). applyTransferList runs the ordinary case
// (a new id, valid ids, a posted transfer of an amount below 2^52 that the compiled path
// accepts) straight from the bytes: ids hashed and looked up as bytes, the new id's bytes
// copied into the transfers' key index, the result code written into a byte array. Every
// other case (a retry, a refusal, a pending transfer, an invalid field, a value at or above
// 2^52) builds that transfer's command from its bytes and runs createTransfer, the general
// path, having written nothing: so a list gives the results and state its commands would
// (engine.reference.prop.test.ts compares lists with the reference engine's commands).
//
// Results: one byte per transfer, the result code plus TRANSFER_CODE_DUPLICATE when the
// transfer was a retry of a stored one; no row (the binary protocol answers with the code and
// the duplicate flag only).
import { type BytesReader, ErrorCode, TxgridError } from "../stdx/index.ts";
import type { Command, TransferCreate, TransferList } from "./commands.ts";
import { validIdHashBytes } from "./key-index.ts";
import { createTransfer } from "./ledger.ts";
import { ResultCode } from "./results.ts";
import type { State } from "./state.ts";
import {
  checkCompiledTransfer,
  PREFETCH_WINDOW_COMMANDS,
  type TransferHashes,
  writeCompiledTransfer,
} from "./transfer-path.ts";

export const TransferListFlag = { pending: 1 } as const;
/** The bytes of a record besides its ids' characters: flags, three lengths, amount, timeout. */
export const TRANSFER_RECORD_FIXED_BYTES = 16;
/** Added to a transfer's result code in a list's codes when the transfer was a retry. */
export const TRANSFER_CODE_DUPLICATE = 0x80;
const idLengthMax = 255;
const u32Split = 2 ** 32;
/** Amounts below this are exact numbers, and so are sums of two values below it. */
const amountSmallLimit = 2 ** 52;

function corrupt(message: string): TxgridError {
  return new TxgridError(ErrorCode.DECODE, `transfer list: ${message}`);
}

/**
 * Checks that `records` holds exactly `count` well-formed records (the log's decoder calls it:
 * applyTransferList then reads them without bounds checks); throws DECODE otherwise.
 */
export function checkTransferRecords(records: Uint8Array, count: number): void {
  let at = 0;
  for (let index = 0; index < count; index++) {
    if (records.length - at < TRANSFER_RECORD_FIXED_BYTES) throw corrupt(`truncated at ${at}`);
    if (((records[at] as number) & ~TransferListFlag.pending) !== 0) {
      throw corrupt(`reserved flag bits at ${at}`);
    }
    at += 1;
    for (let id = 0; id < 3; id++) at += 1 + (records[at] as number);
    at += 12;
    if (at > records.length) throw corrupt(`truncated record ${index}`);
  }
  if (at !== records.length) throw corrupt(`${records.length - at} bytes after the records`);
}

/** Reads a list's fields after its kind tag (commands.ts); the records are copied. */
export function readTransferList(reader: BytesReader): TransferList {
  const count = reader.u32();
  const records = reader.raw(reader.u32()).slice();
  checkTransferRecords(records, count);
  return { kind: "transfer.list", count, records };
}

/** Whether `command` can be a record of a list (list ids hold up to 255 Latin-1 characters). */
export function isListable(command: Command): command is TransferCreate {
  if (command.kind !== "transfer.create" || command.origin !== "api") return false;
  if (command.amount < -(2n ** 63n) || command.amount >= 2n ** 63n) return false;
  const { timeoutMs } = command;
  if (!(Number.isInteger(timeoutMs) && timeoutMs >= 0 && timeoutMs < u32Split)) return false;
  for (const id of [command.id, command.debitId, command.creditId]) {
    if (id.length > idLengthMax) return false;
    for (let index = 0; index < id.length; index++) {
      if (id.charCodeAt(index) > 0xff) return false;
    }
  }
  return true;
}

/** The list of `transfers` (each isListable), for tests and tools; the server copies bytes. */
export function transferListOf(transfers: readonly TransferCreate[]): TransferList {
  let byteCount = 0;
  for (const transfer of transfers) {
    byteCount += TRANSFER_RECORD_FIXED_BYTES;
    byteCount += transfer.id.length + transfer.debitId.length + transfer.creditId.length;
  }
  const records = new Uint8Array(byteCount);
  const view = new DataView(records.buffer);
  let at = 0;
  for (const transfer of transfers) {
    records[at++] = transfer.pending ? TransferListFlag.pending : 0;
    for (const id of [transfer.id, transfer.debitId, transfer.creditId]) {
      records[at++] = id.length;
      for (let index = 0; index < id.length; index++) records[at++] = id.charCodeAt(index);
    }
    view.setBigInt64(at, transfer.amount, true);
    view.setUint32(at + 8, transfer.timeoutMs, true);
    at += 12;
  }
  return { kind: "transfer.list", count: transfers.length, records };
}

/** The string of bytes[start, start + length), one character per byte. */
function latin1(bytes: Uint8Array, start: number, length: number): string {
  let text = "";
  for (let index = start; index < start + length; index++) {
    text += String.fromCharCode(bytes[index] as number);
  }
  return text;
}

/** The transfer.create command of the record at `at`. */
function commandAt(records: Uint8Array, view: DataView, at: number): TransferCreate {
  const pending = ((records[at] as number) & TransferListFlag.pending) !== 0;
  const idAt = at + 1;
  const debitAt = idAt + 1 + (records[idAt] as number);
  const creditAt = debitAt + 1 + (records[debitAt] as number);
  const amountAt = creditAt + 1 + (records[creditAt] as number);
  return {
    kind: "transfer.create",
    id: latin1(records, idAt + 1, records[idAt] as number),
    debitId: latin1(records, debitAt + 1, records[debitAt] as number),
    creditId: latin1(records, creditAt + 1, records[creditAt] as number),
    amount: view.getBigInt64(amountAt, true),
    pending,
    timeoutMs: view.getUint32(amountAt + 8, true),
    origin: "api",
  };
}

/** Whether bytes[a, a + length) equals bytes[b, b + length). */
function sameBytes(bytes: Uint8Array, a: number, b: number, length: number): boolean {
  for (let index = 0; index < length; index++) {
    if (bytes[a + index] !== bytes[b + index]) return false;
  }
  return true;
}

const window = PREFETCH_WINDOW_COMMANDS;

/**
 * Applies lists for the engine. Like TransferPrefetch, it reads ahead: per window of records,
 * one loop finds the records and hashes their ids, a second reads each id's first bucket,
 * a third the account keys and records those point to, so that their misses overlap.
 */
export class TransferListRunner {
  readonly #state: State;
  /** Per position in the window: where the record, its id, debit, credit and amount start. */
  readonly #offsets = new Int32Array(window * 5);
  /**
   * Per position: validIdHashBytes of the id, debit and credit as int32 (`| 0`), and in
   * #valid whether each is an id. Int32, not the unsigned hash in a Float64Array: a hash
   * above 2^31 read as a double would be boxed in a heap number for each call it is passed to.
   */
  readonly #hashes = new Int32Array(window * 3);
  readonly #valid = new Uint8Array(window * 3);
  readonly #entries = new Int32Array(window * 2);
  readonly #current = { id: -1, debit: -1, credit: -1 } satisfies TransferHashes;
  /** Where the values read ahead are summed, so that no read is optimized away. */
  #sink = 0;

  constructor(state: State) {
    this.#state = state;
  }

  /** Applies every transfer of `list` in order; returns their codes (see the header). */
  apply(list: TransferList): Uint8Array {
    const { records, count } = list;
    const codes = new Uint8Array(count);
    const view = new DataView(records.buffer, records.byteOffset, records.byteLength);
    let at = 0;
    for (let from = 0; from < count; from += window) {
      const size = Math.min(window, count - from);
      at = this.#load(records, at, size);
      for (let position = 0; position < size; position++) {
        codes[from + position] = this.#applyOne(records, view, position);
      }
    }
    return codes;
  }

  /** Finds and hashes the next `size` records from `at`; returns the offset after them. */
  #load(records: Uint8Array, start: number, size: number): number {
    const { accounts, transfers, history, accountRecords } = this.#state;
    const offsets = this.#offsets;
    const hashes = this.#hashes;
    const valid = this.#valid;
    const entries = this.#entries;
    let at = start;
    for (let position = 0; position < size; position++) {
      const idAt = at + 1;
      const debitAt = idAt + 1 + (records[idAt] as number);
      const creditAt = debitAt + 1 + (records[debitAt] as number);
      const amountAt = creditAt + 1 + (records[creditAt] as number);
      offsets[position * 5] = at;
      offsets[position * 5 + 1] = idAt;
      offsets[position * 5 + 2] = debitAt;
      offsets[position * 5 + 3] = creditAt;
      offsets[position * 5 + 4] = amountAt;
      const idHash = validIdHashBytes(records, idAt + 1, records[idAt] as number);
      const debitHash = validIdHashBytes(records, debitAt + 1, records[debitAt] as number);
      const creditHash = validIdHashBytes(records, creditAt + 1, records[creditAt] as number);
      hashes[position * 3] = idHash | 0;
      hashes[position * 3 + 1] = debitHash | 0;
      hashes[position * 3 + 2] = creditHash | 0;
      valid[position * 3] = idHash >= 0 ? 1 : 0;
      valid[position * 3 + 1] = debitHash >= 0 ? 1 : 0;
      valid[position * 3 + 2] = creditHash >= 0 ? 1 : 0;
      at = amountAt + 12;
    }
    let sink = 0;
    for (let position = 0; position < size; position++) {
      const idHash = hashes[position * 3] as number;
      const debitHash = hashes[position * 3 + 1] as number;
      const creditHash = hashes[position * 3 + 2] as number;
      if (valid[position * 3] === 1) sink += transfers.firstEntry(idHash);
      entries[position * 2] = valid[position * 3 + 1] === 1 ? accounts.firstEntry(debitHash) : 0;
      entries[position * 2 + 1] =
        valid[position * 3 + 2] === 1 ? accounts.firstEntry(creditHash) : 0;
    }
    for (let position = 0; position < size * 2; position++) {
      const slot = (entries[position] as number) - 1;
      if (slot < 0) continue;
      sink += accounts.touchKey(slot) + accountRecords.touch(slot) + history.touch(slot);
    }
    this.#sink += sink;
    return at;
  }

  /** The code of the record at `position` of the loaded window, applied. */
  #applyOne(records: Uint8Array, view: DataView, position: number): number {
    const state = this.#state;
    const offsets = this.#offsets;
    const hashes = this.#hashes;
    const valid = this.#valid;
    const at = offsets[position * 5] as number;
    const idAt = offsets[position * 5 + 1] as number;
    const debitAt = offsets[position * 5 + 2] as number;
    const creditAt = offsets[position * 5 + 3] as number;
    const amountAt = offsets[position * 5 + 4] as number;
    const idHash = hashes[position * 3] as number;
    const debitHash = hashes[position * 3 + 1] as number;
    const creditHash = hashes[position * 3 + 2] as number;
    const amountHigh = view.getInt32(amountAt + 4, true);
    const amountLow = view.getUint32(amountAt, true);
    // The low word alone when it is the whole amount: usually a small integer, which the calls
    // below take as it is, where a computed double would be boxed for each of them.
    const amount = amountHigh === 0 ? amountLow : amountHigh * u32Split + amountLow;
    const debitLength = records[debitAt] as number;
    const creditLength = records[creditAt] as number;
    // The ordinary case, decided without writing anything; see the header.
    const ordinary =
      records[at] === 0 &&
      view.getUint32(amountAt + 8, true) === 0 &&
      valid[position * 3] === 1 &&
      valid[position * 3 + 1] === 1 &&
      valid[position * 3 + 2] === 1 &&
      amount > 0 &&
      amount < amountSmallLimit &&
      !(debitLength === creditLength && sameBytes(records, debitAt + 1, creditAt + 1, debitLength));
    if (ordinary) {
      const { accounts, transfers } = state;
      const idLength = records[idAt] as number;
      const isNew =
        transfers.findHashedBytes(records, idAt + 1, idLength, idHash) < 0 &&
        state.failures.findHashedBytes(records, idAt + 1, idLength, idHash) < 0;
      const debit = accounts.findHashedBytes(records, debitAt + 1, debitLength, debitHash);
      const credit = accounts.findHashedBytes(records, creditAt + 1, creditLength, creditHash);
      if (
        isNew &&
        debit >= 0 &&
        checkCompiledTransfer(state, debit, credit, amount, false) === ResultCode.OK
      ) {
        writeCompiledTransfer(state, debit, credit, amount, false);
        const slot = transfers.appendHashedBytes(records, idAt + 1, idLength, idHash);
        state.transferRecords.write(
          slot,
          debit,
          credit,
          amount,
          false,
          0,
          false,
          state.timestampMs,
        );
        transfers.appended(slot);
        return ResultCode.OK;
      }
    }
    // createTransfer takes validIdHash's form: unsigned, or -1 for an invalid id.
    const current = this.#current;
    current.id = valid[position * 3] === 1 ? idHash >>> 0 : -1;
    current.debit = valid[position * 3 + 1] === 1 ? debitHash >>> 0 : -1;
    current.credit = valid[position * 3 + 2] === 1 ? creditHash >>> 0 : -1;
    const result = createTransfer(state, commandAt(records, view, at), current);
    return result.code + (result.duplicate === true ? TRANSFER_CODE_DUPLICATE : 0);
  }
}
