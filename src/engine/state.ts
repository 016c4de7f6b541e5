// The engine's whole state, shared by the command handlers in ledger.ts and the Engine
// facade in engine.ts. Everything a replica must agree on lives in `tables`; the other
// fields are derived from the tables (and rebuilt from them after a snapshot load) or are
// the position in the log.
//
// The ledger's tables are column tables with the fixed schemas below. Their columns are, in
// order, the fields of the rows the ledger has always written, which is what keeps rows and
// snapshot bytes identical to those of object rows. Transfers refer to their accounts by slot
// (a ref column), and a history index lists each account's transfers newest first. A
// transfer's sequence is its slot in the transfers table: both count transfers in creation
// order from 0, and rebuildDerived checks it.
import { ErrorCode, TxgridError } from "../stdx/index.ts";
import {
  type Column,
  ColumnKind,
  type ColumnSpec,
  hasColumns,
  type RowWriter,
  writeBooleanField,
  writeChoiceField,
  writeIntegerField,
  writeRefField,
} from "./column.ts";
import { HistoryIndex, ValueIndex } from "./column-indexes.ts";
import { ColumnTable } from "./column-table.ts";
import { DeadlineHeap } from "./deadline-heap.ts";
import { HashKeyIndex, MapKeyIndex } from "./key-index.ts";
import type { Table } from "./table.ts";
import { TxnExecutor } from "./txn.ts";

/** The ledger's own tables. Generic transactions may read them but never write them. */
export const SystemTable = {
  ACCOUNTS: "accounts",
  TRANSFERS: "transfers",
  TRANSFER_FAILURES: "transfer_failures",
  ASSETS: "assets",
} as const;

export const systemIndexes: Readonly<Record<string, readonly string[]>> = {
  [SystemTable.ACCOUNTS]: ["nickname"],
  [SystemTable.TRANSFERS]: ["debit", "credit"],
  [SystemTable.TRANSFER_FAILURES]: [],
  [SystemTable.ASSETS]: [],
};

export type TransferState = "pending" | "posted" | "voided" | "expired";

const transferStates: readonly TransferState[] = ["pending", "posted", "voided", "expired"];
const origins: readonly string[] = ["api", "timpe"];
const { KEY, INT, INT_OR_NULL, STRING, STRING_OR_NULL, BOOLEAN, CHOICE, REF } = ColumnKind;

function accountsTable(): ColumnTable {
  const specs: ColumnSpec[] = [
    { name: "id", kind: KEY },
    { name: "nickname", kind: STRING_OR_NULL },
    { name: "balance", kind: INT },
    { name: "reserved", kind: INT },
    { name: "available", kind: INT },
    { name: "floor", kind: INT_OR_NULL },
    { name: "initial", kind: INT },
    { name: "createdAtMs", kind: INT },
  ];
  return new ColumnTable(SystemTable.ACCOUNTS, new HashKeyIndex(), specs, [
    new ValueIndex("nickname"),
  ]);
}

function transfersTable(accounts: ColumnTable, history: HistoryIndex): ColumnTable {
  const specs: ColumnSpec[] = [
    { name: "id", kind: KEY },
    { name: "debit", kind: REF, target: accounts },
    { name: "credit", kind: REF, target: accounts },
    { name: "amount", kind: INT },
    { name: "pending", kind: BOOLEAN },
    { name: "timeoutMs", kind: INT },
    { name: "origin", kind: CHOICE, choices: origins },
    { name: "state", kind: CHOICE, choices: transferStates },
    { name: "sequence", kind: INT },
    { name: "createdAtMs", kind: INT },
    { name: "resolvedAtMs", kind: INT_OR_NULL },
    { name: "expiresAtMs", kind: INT_OR_NULL },
  ];
  return new ColumnTable(
    SystemTable.TRANSFERS,
    new HashKeyIndex(),
    specs,
    [history],
    transferWriter,
  );
}

/** The transfers schema's own RowWriter: every transfer inserts a row. */
function transferWriter(columns: readonly Column[]): RowWriter {
  const [, debit, credit, amount, pending, timeoutMs, origin, state, sequence, createdAtMs] =
    columns as [Column, Column, Column, Column, Column, Column, Column, Column, Column, Column];
  const [resolvedAtMs, expiresAtMs] = columns.slice(10) as [Column, Column];
  return (store, slot, key, row) =>
    hasColumns(columns, row) &&
    row.id === key &&
    writeRefField(store, debit, slot, row.debit ?? null) &&
    writeRefField(store, credit, slot, row.credit ?? null) &&
    writeIntegerField(store, amount, slot, row.amount ?? null) &&
    writeBooleanField(store, pending, slot, row.pending ?? null) &&
    writeIntegerField(store, timeoutMs, slot, row.timeoutMs ?? null) &&
    writeChoiceField(store, origin, slot, row.origin ?? null) &&
    writeChoiceField(store, state, slot, row.state ?? null) &&
    writeIntegerField(store, sequence, slot, row.sequence ?? null) &&
    writeIntegerField(store, createdAtMs, slot, row.createdAtMs ?? null) &&
    writeIntegerField(store, resolvedAtMs, slot, row.resolvedAtMs ?? null) &&
    writeIntegerField(store, expiresAtMs, slot, row.expiresAtMs ?? null);
}

/** Refused transfers, pinned to their id; their accounts need not exist, so no refs. */
function failuresTable(): ColumnTable {
  const specs: ColumnSpec[] = [
    { name: "id", kind: KEY },
    { name: "debit", kind: STRING },
    { name: "credit", kind: STRING },
    { name: "amount", kind: INT },
    { name: "pending", kind: BOOLEAN },
    { name: "timeoutMs", kind: INT },
    { name: "origin", kind: CHOICE, choices: origins },
    { name: "code", kind: INT },
    { name: "createdAtMs", kind: INT },
  ];
  return new ColumnTable(SystemTable.TRANSFER_FAILURES, new HashKeyIndex(), specs, []);
}

function assetsTable(): ColumnTable {
  const specs: ColumnSpec[] = [
    { name: "id", kind: KEY },
    { name: "value", kind: INT },
    { name: "updates", kind: INT },
  ];
  return new ColumnTable(SystemTable.ASSETS, new MapKeyIndex(), specs, []);
}

export class State {
  /** Every table in creation order: the system tables first, then users' tables. */
  readonly tables = new Map<string, Table>();
  readonly accounts = accountsTable();
  /** Per account slot, its transfers (debits and credits) newest first. */
  readonly history = new HistoryIndex(["debit", "credit"]);
  readonly transfers = transfersTable(this.accounts, this.history);
  readonly failures = failuresTable();
  readonly assets = assetsTable();
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

const pendingChoice = transferStates.indexOf("pending");
const timpeChoice = origins.indexOf("timpe");
