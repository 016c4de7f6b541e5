// FROZEN PRE-REDESIGN REFERENCE (copied from src/engine at commit 90da411, before the
// columnar storage redesign). It exists only so that engine.reference.prop.test.ts can check
// that the redesigned engine gives identical results and byte-identical snapshots for the
// same command history. Not exported from index.ts; do not change it except to keep it
// compiling. Its original header follows.
//
// The engine's whole state, shared by the command handlers in ledger.ts and the Engine
// facade in engine.ts. Everything a replica must agree on lives in `tables`; the other
// fields are derived from the tables (and rebuilt from them after a snapshot load) or are
// the position in the log.

import { DeadlineHeap } from "./deadline-heap.ts";
import { Table } from "./table.ts";
import type { Row } from "./values.ts";

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

export class State {
  readonly tables = new Map<string, Table>();
  /** Last applied log position. */
  lsn = 0;
  /** Timestamp of the last applied batch (milliseconds since the epoch). */
  timestampMs = 0;
  /** Accounts and transfers in creation order, for paging; rebuilt from the tables. */
  readonly accountIds: string[] = [];
  readonly transferIds: string[] = [];
  /** Open pending transfers and, among them, those TiMPE's /process must finish. */
  readonly pendingIds = new Set<string>();
  readonly timpePendingIds = new Set<string>();
  readonly deadlines = new DeadlineHeap();

  constructor() {
    for (const [name, indexes] of Object.entries(systemIndexes)) {
      this.tables.set(name, new Table(name, indexes));
    }
  }

  table(name: string): Table {
    const table = this.tables.get(name);
    if (table === undefined) throw new Error(`system table ${name} missing`);
    return table;
  }

  /** Rebuilds the derived fields from the tables (after loading a snapshot). */
  rebuildDerived(): void {
    this.accountIds.length = 0;
    this.transferIds.length = 0;
    this.pendingIds.clear();
    this.timpePendingIds.clear();
    for (const id of this.table(SystemTable.ACCOUNTS).rows.keys()) this.accountIds.push(id);
    for (const [id, row] of this.table(SystemTable.TRANSFERS).rows) {
      this.transferIds.push(id);
      if (row.state === "pending") this.trackPending(id, row);
    }
  }

  trackPending(id: string, transfer: Row): void {
    this.pendingIds.add(id);
    if (transfer.origin === "timpe") this.timpePendingIds.add(id);
    const expiresAtMs = transfer.expiresAtMs;
    if (typeof expiresAtMs === "bigint") {
      this.deadlines.push({
        deadlineMs: Number(expiresAtMs),
        sequence: Number(transfer.sequence),
        id,
      });
    }
  }

  untrackPending(id: string): void {
    this.pendingIds.delete(id);
    this.timpePendingIds.delete(id);
  }
}
