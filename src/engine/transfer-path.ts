// The ledger's transfer transaction, compiled for the column tables: the same transaction as
// transferOperations in ledger.ts (the definition), run without its operation objects.
//
//   posted   update debit   balance -= amount, available -= amount   floor: available >= floor
//            update credit  balance += amount, available += amount
//            insert transfer row
//   pending  update debit   reserved += amount, available -= amount  floor: available >= floor
//            read credit    condition: exists
//            insert transfer row
//
// The executor (txn.ts) runs such a list one operation at a time, with an undo log for the
// failure of a later one. Here every check of every operation runs first, in the executor's
// order, so that each failure gives the code the executor would give (a missing debit before
// its overflow before its floor before a missing credit before the credit's overflow) and
// nothing is written unless all pass: all or nothing without an undo log. Then the effects
// are written in place, with number arithmetic on the records' 32-bit words (system-tables.ts):
// no bigint, no row object, and each id hashed once, by the caller (validIdHash).
//
// Exactness: the arithmetic is done on numbers only when every value involved is below 2^52
// in magnitude, where sums are exact and no int64 can overflow. Otherwise runCompiledTransfer
// answers FALLBACK before writing anything, and the caller runs the transaction through the
// generic executor with bigints (the checked path). engine.reference.prop.test.ts runs both
// paths (values around 2^52 and near the int64 limits) against the engine before this one.
//
// Prefetching (TransferPrefetch): with a hundred thousand accounts and millions of transfers,
// most of a transfer's time went to cache misses, one after the other: the id's bucket, each
// account's bucket, key characters, record and history head. Before a window of commands
// runs, one loop hashes the ids of its transfers, a second reads their first buckets and a
// third what those buckets point to; the loads of one loop do not depend on one another, so
// the processor overlaps their misses, and the transactions that follow find the lines cached.
// The passes only read: they change nothing, so whatever they read (a bucket of another key,
// an account created later in the window) can only make them less useful, never wrong.

import { assert } from "../stdx/index.ts";
import type { LogCommand, TransferCreate } from "./commands.ts";
import { validIdHash } from "./key-index.ts";
import { ResultCode } from "./results.ts";
import type { State } from "./state.ts";

/** run() could not decide with exact number arithmetic: use the generic transaction. */
export const FALLBACK = -1;

const { OK, DEBIT_ACCOUNT_NOT_FOUND, CREDIT_ACCOUNT_NOT_FOUND, INSUFFICIENT_FUNDS } = ResultCode;

/**
 * Runs a validated transfer whose id is new. `amount` is command.amount as a number, below
 * 2^52; the hashes are those of the ids (validIdHash). Returns OK (stored at the next slot of
 * the transfers table), the ledger code of a failure (nothing changed), or FALLBACK (nothing
 * changed).
 */
export function runCompiledTransfer(
  state: State,
  command: TransferCreate,
  amount: number,
  idHash: number,
  debitHash: number,
  creditHash: number,
): ResultCode | typeof FALLBACK {
  const accounts = state.accounts;
  const debit = accounts.findHashed(command.debitId, debitHash);
  if (debit < 0) return DEBIT_ACCOUNT_NOT_FOUND;
  // Looked up before the debit's checks, which the executor runs first: a lookup changes
  // nothing, and checkCompiledTransfer keeps the executor's order of the failure codes.
  const credit = accounts.findHashed(command.creditId, creditHash);
  const pending = command.pending;
  const code = checkCompiledTransfer(state, debit, credit, amount, pending);
  if (code !== OK) return code;
  writeCompiledTransfer(state, debit, credit, amount, pending);
  const transfers = state.transfers;
  const slot = transfers.appendHashed(command.id, idHash);
  state.transferRecords.write(
    slot,
    debit,
    credit,
    amount,
    pending,
    command.timeoutMs,
    command.origin === "timpe",
    state.timestampMs,
  );
  transfers.appended(slot);
  return OK;
}

/**
 * Every check of the transfer's operations after the debit was found (`debit` >= 0; `credit`
 * is -1 when missing), in the executor's order; writes nothing. OK means
 * writeCompiledTransfer cannot fail and is exact.
 */
export function checkCompiledTransfer(
  state: State,
  debit: number,
  credit: number,
  amount: number,
  pending: boolean,
): ResultCode | typeof FALLBACK {
  const records = state.accountRecords;
  const debitBase = records.baseOf(debit);
  // The debit's first increment: balance (posted) or reserved (pending); then available.
  const first = pending ? records.reserved(debitBase) : records.balance(debitBase);
  const available = records.available(debitBase);
  if (Number.isNaN(first) || Number.isNaN(available)) return FALLBACK;
  if (records.hasFloor(debit)) {
    const floor = records.floor(debitBase);
    if (Number.isNaN(floor)) return FALLBACK;
    if (available - amount < floor) return INSUFFICIENT_FUNDS;
  }
  if (credit < 0) return CREDIT_ACCOUNT_NOT_FOUND;
  if (!pending) {
    const creditBase = records.baseOf(credit);
    if (Number.isNaN(records.balance(creditBase))) return FALLBACK;
    if (Number.isNaN(records.available(creditBase))) return FALLBACK;
  }
  return OK;
}

/** The effects on both accounts of a transfer that checkCompiledTransfer passed. */
export function writeCompiledTransfer(
  state: State,
  debit: number,
  credit: number,
  amount: number,
  pending: boolean,
): void {
  const records = state.accountRecords;
  const debitBase = records.baseOf(debit);
  if (pending) records.setReserved(debitBase, records.reserved(debitBase) + amount);
  else {
    const creditBase = records.baseOf(credit);
    records.setBalance(debitBase, records.balance(debitBase) - amount);
    records.setBalance(creditBase, records.balance(creditBase) + amount);
    records.setAvailable(creditBase, records.available(creditBase) + amount);
  }
  records.setAvailable(debitBase, records.available(debitBase) - amount);
}

/** Commands per prefetch window: their lines must stay cached until their turn (≈ 40 KB). */
export const PREFETCH_WINDOW_COMMANDS = 32;

/** The ids of a transfer, as validIdHash gives them. */
export interface TransferHashes {
  readonly id: number;
  readonly debit: number;
  readonly credit: number;
}

export class TransferPrefetch {
  readonly #state: State;
  /** Per position in the window: the validIdHash of the id, debit and credit. */
  readonly #hashes = new Float64Array(PREFETCH_WINDOW_COMMANDS * 3);
  /** Per position: the first bucket entries of the debit and the credit. */
  readonly #entries = new Int32Array(PREFETCH_WINDOW_COMMANDS * 2);
  readonly #current = { id: -1, debit: -1, credit: -1 };
  #commands: readonly LogCommand[] = [];
  #from = 0;
  /** Where the values read are summed, so that no read is optimized away. */
  #sink = 0;

  constructor(state: State) {
    this.#state = state;
  }

  /**
   * Starts the window commands[from, from + PREFETCH_WINDOW_COMMANDS): hashes the ids of its
   * transfer.create commands and reads what their transactions will read.
   */
  load(commands: readonly LogCommand[], from: number): void {
    const { accounts, transfers, history, accountRecords } = this.#state;
    const hashes = this.#hashes;
    const entries = this.#entries;
    const count = Math.min(PREFETCH_WINDOW_COMMANDS, commands.length - from);
    this.#commands = commands;
    this.#from = from;
    // Three loops, so that the loads of the second and third follow one another closely: a
    // hash between two loads would fill the processor's window and leave one miss in flight.
    for (let at = 0; at < count; at++) {
      const command = commands[from + at] as LogCommand;
      let idHash = -1;
      let debitHash = -1;
      let creditHash = -1;
      if (command.kind === "transfer.create") {
        idHash = validIdHash(command.id);
        debitHash = validIdHash(command.debitId);
        creditHash = validIdHash(command.creditId);
      }
      hashes[at * 3] = idHash;
      hashes[at * 3 + 1] = debitHash;
      hashes[at * 3 + 2] = creditHash;
    }
    let sink = 0;
    for (let at = 0; at < count; at++) {
      const idHash = hashes[at * 3] as number;
      const debitHash = hashes[at * 3 + 1] as number;
      const creditHash = hashes[at * 3 + 2] as number;
      if (idHash >= 0) sink += transfers.firstEntry(idHash);
      entries[at * 2] = debitHash >= 0 ? accounts.firstEntry(debitHash) : 0;
      entries[at * 2 + 1] = creditHash >= 0 ? accounts.firstEntry(creditHash) : 0;
    }
    for (let at = 0; at < count * 2; at++) {
      const slot = (entries[at] as number) - 1;
      if (slot < 0) continue;
      sink += accounts.touchKey(slot) + accountRecords.touch(slot) + history.touch(slot);
    }
    this.#sink += sink;
  }

  /** Forgets the commands of the last window (so that a finished batch is not kept alive). */
  release(): void {
    this.#commands = [];
  }

  /** The hashes of commands[index], a transfer.create of the window loaded last. */
  hashesOf(commands: readonly LogCommand[], index: number): TransferHashes {
    const at = index - this.#from;
    assert(commands === this.#commands, "hashes of the loaded commands");
    assert(at >= 0 && at < PREFETCH_WINDOW_COMMANDS, "hashes of the loaded window");
    const current = this.#current;
    current.id = this.#hashes[at * 3] as number;
    current.debit = this.#hashes[at * 3 + 1] as number;
    current.credit = this.#hashes[at * 3 + 2] as number;
    return current;
  }
}
