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
// in magnitude, where sums are exact and no int64 can overflow. Otherwise run() answers
// FALLBACK before writing anything, and the caller runs the transaction through the generic
// executor with bigints (the checked path). engine.reference.prop.test.ts runs both paths
// (balances near the int64 limits take the second) against the engine before this one.
import type { Command } from "./commands.ts";
import { ResultCode } from "./results.ts";
import type { State } from "./state.ts";

type TransferCreate = Extract<Command, { kind: "transfer.create" }>;

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
  const records = state.accountRecords;
  const debit = accounts.findHashed(command.debitId, debitHash);
  if (debit < 0) return DEBIT_ACCOUNT_NOT_FOUND;
  const pending = command.pending;
  const debitBase = records.baseOf(debit);
  // The debit's first increment: balance (posted) or reserved (pending); then available.
  const first = pending ? records.reserved(debitBase) : records.balance(debitBase);
  const available = records.available(debitBase);
  if (Number.isNaN(first) || Number.isNaN(available)) return FALLBACK;
  const availableNext = available - amount;
  if (records.hasFloor(debit)) {
    const floor = records.floor(debitBase);
    if (Number.isNaN(floor)) return FALLBACK;
    if (availableNext < floor) return INSUFFICIENT_FUNDS;
  }
  const credit = accounts.findHashed(command.creditId, creditHash);
  if (credit < 0) return CREDIT_ACCOUNT_NOT_FOUND;
  const creditBase = records.baseOf(credit);
  let creditBalance = 0;
  let creditAvailable = 0;
  if (!pending) {
    creditBalance = records.balance(creditBase);
    creditAvailable = records.available(creditBase);
    if (Number.isNaN(creditBalance) || Number.isNaN(creditAvailable)) return FALLBACK;
  }
  // Every check passed: the effects, which cannot fail.
  if (pending) records.setReserved(debitBase, first + amount);
  else {
    records.setBalance(debitBase, first - amount);
    records.setBalance(creditBase, creditBalance + amount);
    records.setAvailable(creditBase, creditAvailable + amount);
  }
  records.setAvailable(debitBase, availableNext);
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
