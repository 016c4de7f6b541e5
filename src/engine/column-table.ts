// The ledger's system tables (accounts, transfers, transfer failures, assets): a fixed schema
// stored column by column (column.ts), keys in a KeyIndex (key-index.ts). Compared with rows
// as objects in a Map, an insert allocates no Map entry and no row, an update writes 8 bytes
// per column in place instead of copying the row, and a million rows cost a few typed arrays
// instead of a million objects for the garbage collector to trace.
//
// Guarantees and limits:
// - Slots are dense and in insertion order; rows are never removed (the ledger removes none
//   and users cannot write system tables). The one removal is the rollback of an insert,
//   which only ever undoes the newest row.
// - A row fits the schema exactly: the same columns in the same order, each value of its
//   column's kind. Inserting one that does not is a programmer error (assert); loading one
//   from a snapshot is corruption (TxgridError CORRUPT). So materialized rows, and the
//   snapshot bytes written from the columns, are those of the equivalent object rows.
// - Indexed columns never change after the insert (the ledger never updates them).
// - An increment applies to integer columns (a null one counts as 0); on any other column it
//   is NOT_A_NUMBER. An object row would also let it turn a null string into an integer,
//   which a fixed schema cannot hold; the ledger increments balances only.
// - Reads of a column the schema lacks behave as on a plain row object (`row[column] ?? null`,
//   inherited Object.prototype members included), so conditions of users' transactions give
//   the same answers as on object rows.
// - Every column write is recorded in the UndoLog as (table, slot, column, previous value);
//   an insert as (table, slot, INSERTED).
import { assert, type BytesWriter, ErrorCode, TxgridError } from "../stdx/index.ts";
import {
  type Column,
  type ColumnSpec,
  createColumns,
  type RecordStore,
  type RowWriter,
  readChoice,
  readInteger,
  readRef,
  readValue,
  writeInteger,
  writeRow,
  writeValue,
} from "./column.ts";
import type { ColumnIndex } from "./column-indexes.ts";
import type { KeyIndex } from "./key-index.ts";
import { ResultCode } from "./results.ts";
import type { Table, UndoLog, UndoValue } from "./table.ts";
import { encodeValue, isInInt64Range, type Row, type Value } from "./values.ts";

const { OK, NOT_A_NUMBER, OVERFLOW } = ResultCode;
const inserted = -1;
const capacityInitial = 16;
const plainRow: Row = {};

export class ColumnTable implements Table {
  readonly name: string;
  readonly indexedColumns: readonly string[];
  readonly #keys: KeyIndex;
  readonly #store: RecordStore;
  readonly #columns: readonly Column[];
  readonly #indexes: readonly ColumnIndex[];
  readonly #columnIndexes: ReadonlyMap<string, number>;
  /** Per column: false when an index covers it (indexed columns never change). */
  readonly #writable: readonly boolean[];

  /** The schema's own row writer when it has one (see RowWriter), else null. */
  readonly #rowWriter: RowWriter | null;

  constructor(
    name: string,
    keys: KeyIndex,
    specs: readonly ColumnSpec[],
    indexes: readonly ColumnIndex[],
    rowWriter: ((columns: readonly Column[]) => RowWriter) | null = null,
  ) {
    assert(keys.size === 0, "a new table starts empty");
    this.name = name;
    this.#keys = keys;
    const { store, columns } = createColumns(specs);
    this.#store = store;
    this.#columns = columns;
    this.#rowWriter = rowWriter === null ? null : rowWriter(columns);
    this.#columnIndexes = new Map(specs.map((spec, index) => [spec.name, index]));
    assert(this.#columnIndexes.size === specs.length, "column names must differ");
    this.#indexes = indexes;
    this.indexedColumns = indexes.flatMap((index) => index.columns);
    this.#writable = specs.map((spec) => !this.indexedColumns.includes(spec.name));
    for (const column of this.indexedColumns) {
      assert(this.#columnIndex(column) >= 0, `index on unknown column ${column}`);
    }
    store.reserve(capacityInitial);
    for (const index of indexes) index.attach(this);
  }

  get size(): number {
    return this.#keys.size;
  }

  find(key: string): number {
    return this.#keys.find(key);
  }

  keyAt(slot: number): string {
    return this.#keys.keyAt(slot);
  }

  /** The column named `name`, for readers that scan one column over many slots. */
  column(name: string): Column {
    const index = this.#columnIndex(name);
    assert(index >= 0, "no such column");
    return this.#columns[index] as Column;
  }

  /** `column` (from column()) of the row at `slot`. */
  read(slot: number, column: Column): Value {
    return readValue(this.#store, column, slot, this.keyAt(slot));
  }

  /** An INT or INT_OR_NULL `column` of the row at `slot`. */
  integerAt(slot: number, column: Column): bigint | null {
    return readInteger(this.#store, column, slot);
  }

  /** A REF `column` of the row at `slot`: the slot in the target table. */
  refAt(slot: number, column: Column): number {
    return readRef(this.#store, column, slot);
  }

  /** A CHOICE `column` of the row at `slot`: the position of its value among the choices. */
  choiceAt(slot: number, column: Column): number {
    return readChoice(this.#store, column, slot);
  }

  valueAt(slot: number, column: string): Value {
    const index = this.#columnIndex(column);
    if (index < 0) return plainRow[column] ?? null;
    return this.read(slot, this.#columns[index] as Column);
  }

  rowAt(slot: number): Row {
    const store = this.#store;
    const key = this.keyAt(slot);
    const row: Record<string, Value> = {};
    for (const column of this.#columns) row[column.name] = readValue(store, column, slot, key);
    return row;
  }

  insert(key: string, values: Row, undo: UndoLog): number {
    const slot = this.#keys.insert(key);
    if (slot >= this.#store.capacity) this.#store.reserve(this.#store.capacity * 2);
    assert(this.#writeRow(slot, key, values), "row does not fit the schema");
    for (const index of this.#indexes) index.add(slot);
    undo.push(this, slot, inserted, null);
    return slot;
  }

  update(
    slot: number,
    set: Row | undefined,
    increment: Readonly<Record<string, bigint>> | undefined,
    undo: UndoLog,
  ): ResultCode {
    const store = this.#store;
    if (set !== undefined) {
      const key = this.keyAt(slot);
      for (const name in set) {
        const index = this.#writableColumn(name);
        const column = this.#columns[index] as Column;
        undo.push(this, slot, index, readValue(store, column, slot, key));
        const fits = writeValue(store, column, slot, set[name] ?? null, key);
        assert(fits, "value does not fit its column");
      }
    }
    if (increment === undefined) return OK;
    for (const name in increment) {
      const index = this.#writableColumn(name);
      const column = this.#columns[index] as Column;
      const delta = increment[name] as bigint;
      if (column.isPlainInteger) {
        // The ledger's path: balances are INT columns; read, add and write in place.
        const at = slot * store.integerStride + column.wordAt;
        const current = store.integers[at] as bigint;
        const next = current + delta;
        if (BigInt.asIntN(64, next) !== next) return OVERFLOW;
        undo.pushInteger(this, slot, index, current);
        store.integers[at] = next;
        continue;
      }
      if (!column.isInteger) return NOT_A_NUMBER;
      const current = readInteger(store, column, slot);
      const next = (current ?? 0n) + delta;
      if (!isInInt64Range(next)) return OVERFLOW;
      if (current === null) undo.push(this, slot, index, null);
      else undo.pushInteger(this, slot, index, current);
      writeInteger(store, column, slot, next);
    }
    return OK;
  }

  remove(_slot: number, _undo: UndoLog): void {
    assert(false, `rows of ${this.name} are never removed`);
  }

  undo(slot: number, column: number, previous: UndoValue): void {
    if (column === inserted) {
      assert(slot === this.size - 1, "only the newest insert can be rolled back");
      for (let index = this.#indexes.length - 1; index >= 0; index--) {
        (this.#indexes[index] as ColumnIndex).removeNewest(slot);
      }
      this.#keys.removeNewest();
      return;
    }
    assert(typeof previous !== "object" || previous === null, "undo entry of another table");
    const target = this.#columns[column];
    assert(target !== undefined, "undo of an unknown column");
    const fits = writeValue(this.#store, target, slot, previous as Value, this.keyAt(slot));
    assert(fits, "undo restores its value");
  }

  isIndexed(column: string): boolean {
    return this.indexedColumns.includes(column);
  }

  lookup(column: string, value: Value, count: number): number[] {
    const index = this.#indexes.find((candidate) => candidate.columns.includes(column));
    assert(index !== undefined, `column ${column} of ${this.name} is not indexed`);
    if (value === null) return [];
    return index.lookup(column, value, count);
  }

  encodeRows(writer: BytesWriter): void {
    const columns = this.#columns;
    const store = this.#store;
    writer.u53(this.size);
    for (let slot = 0; slot < this.size; slot++) {
      const key = this.keyAt(slot);
      writer.string(key);
      writer.u16(columns.length);
      for (const column of columns) {
        writer.string(column.name);
        encodeValue(writer, readValue(store, column, slot, key));
      }
    }
  }

  load(key: string, row: Row): void {
    if (this.find(key) >= 0) throw corrupt(`${this.name} holds ${key} twice`);
    const slot = this.#keys.insert(key);
    if (slot >= this.#store.capacity) this.#store.reserve(this.#store.capacity * 2);
    if (!this.#writeRow(slot, key, row)) {
      throw corrupt(`a row of ${this.name} does not fit its schema`);
    }
    for (const index of this.#indexes) index.add(slot);
  }

  #writeRow(slot: number, key: string, values: Row): boolean {
    const rowWriter = this.#rowWriter;
    if (rowWriter !== null) return rowWriter(this.#store, slot, key, values);
    return writeRow(this.#store, this.#columns, slot, key, values);
  }

  /** The position of column `name`, or -1. */
  #columnIndex(name: string): number {
    return this.#columnIndexes.get(name) ?? -1;
  }

  /**
   * The position of a column the ledger writes. A scan comparing names by identity, not a
   * Map: update names come from the ledger's literals, interned strings that V8 compares by
   * pointer, so a dozen comparisons cost less than hashing the name once.
   */
  #writableColumn(name: string): number {
    const columns = this.#columns;
    let index = 0;
    while (index < columns.length && (columns[index] as Column).name !== name) index++;
    assert(index < columns.length, "update of an unknown column");
    assert(this.#writable[index] === true, "indexed columns never change");
    return index;
  }
}

function corrupt(message: string): TxgridError {
  return new TxgridError(ErrorCode.CORRUPT, `snapshot: ${message}`);
}
