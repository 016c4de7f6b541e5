// The storage contract the transaction executor (txn.ts) works on, and its undo log.
//
// A table holds rows by primary key, in insertion order, with the secondary indexes declared
// when it was created. Two implementations:
//   ObjectTable (object-table.ts)  users' tables: any columns, each row an immutable object
//   ColumnTable (column-table.ts)  the ledger's system tables: a fixed schema stored in
//                                  typed columns, rows materialized only for reads
// The executor addresses a row by its slot, a number the table returns from find(). A slot
// stays valid until that row is removed; the executor holds one only within one operation.
//
// Every write records how to revert it in an UndoLog: (table, slot, column, previous value)
// for a column write, or whatever the table needs for a whole row. Rolling back replays the
// entries newest first through the table that recorded them, which restores every row,
// column and index exactly (for ObjectTable, exactly as a Map of rows would: see its header).
import { ROW_COLUMNS_MAX, TXN_OPERATIONS_MAX } from "../constants.ts";
import { assert, type BytesWriter } from "../stdx/index.ts";
import type { ResultCode } from "./results.ts";
import type { Row, Value } from "./values.ts";

/** A whole-row undo record of an ObjectTable: the row `key` held before (undefined: none). */
export interface RowUndo {
  readonly key: string;
  readonly row: Row | undefined;
}

export type UndoValue = Value | RowUndo;

export interface Table {
  readonly name: string;
  readonly indexedColumns: readonly string[];
  /** Rows stored. */
  readonly size: number;
  /** The slot of the row at `key`, or -1 when there is none. */
  find(key: string): number;
  keyAt(slot: number): string;
  /** `column` of the row at `slot`, read as `row[column] ?? null` would on a Row object. */
  valueAt(slot: number, column: string): Value;
  /** The row at `slot`. Callers must not change it; it does not follow later writes. */
  rowAt(slot: number): Row;
  /** Adds a row at a key that must be absent; returns its slot. May keep `values` as the row. */
  insert(key: string, values: Row, undo: UndoLog): number;
  /**
   * Applies `set`, then `increment`, to the row at `slot`. A failure code (NOT_A_NUMBER,
   * OVERFLOW) may leave part of the update applied: the caller rolls the undo log back.
   */
  update(
    slot: number,
    set: Row | undefined,
    increment: Readonly<Record<string, bigint>> | undefined,
    undo: UndoLog,
  ): ResultCode;
  remove(slot: number, undo: UndoLog): void;
  /** Reverts one entry this table pushed onto an undo log. */
  undo(slot: number, column: number, previous: UndoValue): void;
  isIndexed(column: string): boolean;
  /**
   * Slots of the rows whose indexed `column` equals `value`, in insertion order; collection
   * stops once `count` slots are found (`slots.length >= count`, so NaN means all).
   */
  lookup(column: string, value: Value, count: number): number[];
  /** The end of the slots rows may sit in (encodeRows' bound; at least `size`). */
  readonly slotEnd: number;
  /**
   * Writes the rows of slots [fromSlot, toSlot) as key + encodeRow, in insertion order, with
   * a record boundary after each row. The row count (`size`) comes first, from the caller:
   * the rows of 0..slotEnd in steps, after it, are the table's encoding.
   */
  encodeRows(writer: BytesWriter, fromSlot: number, toSlot: number): void;
  /** Adds or replaces a row read from a snapshot; throws a CORRUPT TxgridError if it cannot. */
  load(key: string, row: Row): void;
}

/**
 * Most entries one transaction can record: per operation, one per column it writes (set and
 * increment together name at most ROW_COLUMNS_MAX) or one for the whole row.
 */
const undoEntriesMax = TXN_OPERATIONS_MAX * ROW_COLUMNS_MAX;

/**
 * The undo log of the running transaction, in parallel arrays allocated once at their limit
 * and reused from one transaction to the next, so recording an entry allocates nothing.
 * Previous integers go to a BigInt64Array: keeping them as bigint values would allocate one
 * heap object per column a transfer updates.
 */
export class UndoLog {
  readonly #tables: Table[] = [];
  readonly #values: UndoValue[] = [];
  readonly #slots = new Int32Array(undoEntriesMax);
  readonly #columns = new Int32Array(undoEntriesMax);
  readonly #integers = new BigInt64Array(undoEntriesMax);
  /** 1 when the entry's previous value is in #integers. */
  readonly #isInteger = new Uint8Array(undoEntriesMax);
  #length = 0;

  get length(): number {
    return this.#length;
  }

  push(table: Table, slot: number, column: number, previous: UndoValue): void {
    const at = this.#entry(table, slot, column);
    this.#values[at] = previous;
    this.#isInteger[at] = 0;
  }

  /** push() for a previous value that is an integer. */
  pushInteger(table: Table, slot: number, column: number, previous: bigint): void {
    const at = this.#entry(table, slot, column);
    this.#integers[at] = previous;
    this.#isInteger[at] = 1;
  }

  /** Reverts every entry, newest first, and empties the log. */
  rollback(): void {
    for (let at = this.#length - 1; at >= 0; at--) {
      const previous =
        this.#isInteger[at] === 1 ? (this.#integers[at] as bigint) : (this.#values[at] ?? null);
      const table = this.#tables[at] as Table;
      table.undo(this.#slots[at] as number, this.#columns[at] as number, previous);
    }
    this.#length = 0;
  }

  /** Forgets every entry: the transaction committed. */
  clear(): void {
    this.#length = 0;
  }

  #entry(table: Table, slot: number, column: number): number {
    const at = this.#length++;
    assert(at < undoEntriesMax, "undo log longer than a transaction can write");
    this.#tables[at] = table;
    this.#slots[at] = slot;
    this.#columns[at] = column;
    return at;
  }
}
