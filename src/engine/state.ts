// The engine's whole state, shared by the command handlers in ledger.ts and the Engine
// facade in engine.ts. Everything a replica must agree on lives in `tables`; the other
// fields are derived from the tables (and rebuilt from them after a snapshot load) or are
// the position in the log.
//
// The ledger's tables are the column tables of system-tables.ts. A transfer's sequence is its
// slot in the transfers table: both count transfers in creation order from 0, and
// rebuildDerived checks it, so pending transfers and deadlines are kept by slot.
import { ErrorCode, TxgridError } from "../stdx/index.ts";
import { DeadlineHeap } from "./deadline-heap.ts";
import {
  AccountRecords,
  createSystemTables,
  pendingChoice,
  SystemTable,
  TransferRecords,
  timpeChoice,
} from "./system-tables.ts";
import type { Table } from "./table.ts";
import { TxnExecutor } from "./txn.ts";

export { SystemTable, systemIndexes, type TransferState } from "./system-tables.ts";

export class State {
  /** Every table in creation order: the system tables first, then users' tables. */
  readonly tables = new Map<string, Table>();
  readonly #system = createSystemTables();
  readonly accounts = this.#system.accounts;
  /** The accounts' floor column, which every transfer reads before its transaction. */
  readonly accountFloor = this.accounts.column("floor");
  /** Per account slot, its transfers (debits and credits) newest first. */
  readonly history = this.#system.history;
  readonly transfers = this.#system.transfers;
  readonly failures = this.#system.failures;
  readonly assets = this.#system.assets;
  /** The record fields of the compiled transfer (transfer-path.ts), located once. */
  readonly accountRecords = new AccountRecords(this.accounts);
  readonly transferRecords = new TransferRecords(this.transfers);
  // The two tables of every transfer are resolved without hashing their names.
  readonly executor = new TxnExecutor((name) =>
    name === SystemTable.ACCOUNTS
      ? this.accounts
      : name === SystemTable.TRANSFERS
        ? this.transfers
        : this.tables.get(name),
  );
  /** Last applied log position. */
  lsn = 0;
  /** Timestamp of the last applied batch (milliseconds since the epoch). */
  timestampMs = 0;
  /** The same, as the bigint that rows store: one allocation per batch, not per row. */
  timestampBigintMs = 0n;
  /** Slots of open pending transfers and, among them, those TiMPE's /process must finish. */
  readonly pendingSlots = new Set<number>();
  readonly timpePendingSlots = new Set<number>();
  readonly deadlines = new DeadlineHeap();

  constructor() {
    for (const table of [this.accounts, this.transfers, this.failures, this.assets]) {
      this.tables.set(table.name, table);
    }
  }

  setTimestamp(timestampMs: number): void {
    this.timestampMs = timestampMs;
    this.timestampBigintMs = BigInt(timestampMs);
  }

  /** Rebuilds the derived fields from the tables (after loading a snapshot). */
  rebuildDerived(): void {
    this.pendingSlots.clear();
    this.timpePendingSlots.clear();
    const transfers = this.transfers;
    const sequence = transfers.column("sequence");
    const state = transfers.column("state");
    for (let slot = 0; slot < transfers.size; slot++) {
      if (transfers.integerAt(slot, sequence) !== BigInt(slot)) {
        throw new TxgridError(ErrorCode.CORRUPT, "snapshot: transfer sequence is not its position");
      }
      if (transfers.choiceAt(slot, state) === pendingChoice) this.trackPending(slot);
    }
  }

  trackPending(slot: number): void {
    const transfers = this.transfers;
    this.pendingSlots.add(slot);
    if (transfers.choiceAt(slot, transfers.column("origin")) === timpeChoice) {
      this.timpePendingSlots.add(slot);
    }
    const expiresAtMs = transfers.integerAt(slot, transfers.column("expiresAtMs"));
    if (expiresAtMs !== null) this.deadlines.push({ deadlineMs: Number(expiresAtMs), slot });
  }

  untrackPending(slot: number): void {
    this.pendingSlots.delete(slot);
    this.timpePendingSlots.delete(slot);
  }
}
