// The ledger's system tables (accounts, transfers, transfer failures, assets): a fixed schema
// stored in a record store (column.ts), keys in a KeyIndex (key-index.ts). Compared with rows
// as objects in a Map, an insert allocates no Map entry and no row, an update writes 8 bytes
// per column in place instead of copying the row, and a million rows cost a few typed arrays
// instead of a million objects for the garbage collector to trace.
//
// Guarantees and limits:
// - Slots are dense and in insertion order; rows are never removed (the ledger removes none
//   and users cannot write system tables). The one removal is the rollback of an insert,
//   which only ever undoes the newest row.
// - A row fits the schema exactly: the same columns in the same order, each value of its
//   column's kind. Inserting one that does not is a programmer error (assert; a schema's own
//   RowCodec checks every value but reads fields by name, see system-tables.ts); loading one
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
//   an insert as (table, slot, INSERTED). The exception is appendHashed(), the insert of a
//   schema's own record writer (the ledger's compiled transfer), which runs only once every
//   check of its transaction has passed, so nothing can need rolling back.
import { assert, type BytesWriter, ErrorCode, TxgridError } from "../stdx/index.ts";
import {
  type Column,
  ColumnKind,
  type ColumnSpec,
  createColumns,
  encodeColumnValue,
  type RecordStore,
  type RowCodec,
  readChoice,
  readInteger,
  readRef,
  readValue,
  writeInteger,
  writeRow,
  writeValue,
} from "./column.ts";
import type { ColumnIndex } from "./column-indexes.ts";
import { KeyIndex } from "./key-index.ts";
import { ResultCode } from "./results.ts";
import type { Table, UndoLog, UndoValue } from "./table.ts";
import { isInInt64Range, type Row, type Value } from "./values.ts";

const { OK, NOT_A_NUMBER, OVERFLOW } = ResultCode;
const inserted = -1;
const capacityInitial = 16;
const plainRow: Row = {};

export class ColumnTable implements Table {
  readonly name: string;
  readonly indexedColumns: readonly string[];
  readonly #keys = new KeyIndex();
  readonly #store: RecordStore;
  readonly #columns: readonly Column[];
  readonly #indexes: readonly ColumnIndex[];
  readonly #columnIndexes: ReadonlyMap<string, number>;
  readonly #rowTemplate: Row;
  #valueAtColumn = "";
  #valueAtIndex = -1;
  /** The names and positions of the columns an update may write (indexed ones never change). */
  readonly #writableNames: readonly string[];
  readonly #writableIndexes: readonly number[];

  /** The schema's own row reader and writer (RowCodec): readers and inserts use them. */
  readonly #codec: RowCodec;
  /** Whether a column keeps its values in an array rather than in the record. */
  readonly #hasStrings: boolean;

  constructor(
    name: string,
    specs: readonly ColumnSpec[],
    indexes: readonly ColumnIndex[],
    codec: ((columns: readonly Column[]) => RowCodec) | null = null,
  ) {
    this.name = name;
    const { store, columns } = createColumns(specs);
    this.#store = store;
    this.#columns = columns;
    this.#codec = codec === null ? { read: null, write: null } : codec(columns);
    this.#columnIndexes = new Map(specs.map((spec, index) => [spec.name, index]));
    const { STRING, STRING_OR_NULL } = ColumnKind;
    this.#hasStrings = specs.some((spec) => spec.kind === STRING || spec.kind === STRING_OR_NULL);
    this.#rowTemplate = Object.fromEntries(specs.map((spec) => [spec.name, null]));
    assert(this.#columnIndexes.size === specs.length, "column names must differ");
    this.#indexes = indexes;
    this.indexedColumns = indexes.flatMap((index) => index.columns);
    const writable = specs.filter((spec) => !this.indexedColumns.includes(spec.name));
    this.#writableNames = writable.map((spec) => spec.name);
    this.#writableIndexes = writable.map((spec) => specs.indexOf(spec));
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

  /** find() with the key's hash computed by the caller (KeyIndex.findHashed). */
  findHashed(key: string, hash: number): number {
    return this.#keys.findHashed(key, hash);
  }

  /** find() for a key given as bytes (KeyIndex.findHashedBytes). */
  findHashedBytes(bytes: Uint8Array, start: number, length: number, hash: number): number {
    return this.#keys.findHashedBytes(bytes, start, length, hash);
  }

  /** KeyIndex.firstEntry, for prefetching. */
  firstEntry(hash: number): number {
    return this.#keys.firstEntry(hash);
  }

  /** KeyIndex.touchKey, for prefetching. */
  touchKey(slot: number): number {
    return this.#keys.touchKey(slot);
  }

  /** The record store, for a schema's own record readers and writers (system-tables.ts). */
  get store(): RecordStore {
    return this.#store;
  }

  /**
   * The first half of an insert for a caller that writes the record itself, field by field
   * (a schema's own writer, system-tables.ts): adds `key` (absent; `hash` from the caller) at
   * the next slot and makes room for its record. The caller then writes every field and calls
   * appended(). No undo entry is recorded: it is for a caller that has checked everything
   * that could fail before it starts writing, so there is nothing to roll back.
   */
  appendHashed(key: string, hash: number): number {
    assert(!this.#hasStrings, "string columns are written by insert()");
    const slot = this.#keys.insertHashed(key, hash);
    if (slot >= this.#store.capacity) this.#store.reserve(this.#store.capacity * 2);
    return slot;
  }

  /** appendHashed() for a key given as bytes (KeyIndex.insertHashedBytes). */
  appendHashedBytes(bytes: Uint8Array, start: number, length: number, hash: number): number {
    assert(!this.#hasStrings, "string columns are written by insert()");
    const slot = this.#keys.insertHashedBytes(bytes, start, length, hash);
    if (slot >= this.#store.capacity) this.#store.reserve(this.#store.capacity * 2);
    return slot;
  }

  /** The second half of appendHashed: the record at `slot` is written; index it. */
  appended(slot: number): void {
    assert(slot === this.size - 1, "appended() follows appendHashed()");
    const indexes = this.#indexes;
    for (let index = 0; index < indexes.length; index++) (indexes[index] as ColumnIndex).add(slot);
  }

  keyAt(slot: number): string {
    return this.#keys.keyAt(slot);
  }

  encodeKeyAt(writer: BytesWriter, slot: number): void {
    this.#keys.encodeKeyAt(writer, slot);
  }

  /** The column named `name`, for readers that scan one column over many slots. */
  column(name: string): Column {
    const index = this.#columnIndex(name);
    assert(index >= 0, "no such column");
    return this.#columns[index] as Column;
  }

  /** `column` (from column()) of the row at `slot`. */
  read(slot: number, column: Column): Value {
    return readValue(this.#store, column, slot, this.#keyFor(column, slot));
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
    // Transfers check one column (available) in every floor condition: remember it.
    let index = this.#valueAtIndex;
    if (column !== this.#valueAtColumn) {
      index = this.#columnIndex(column);
      this.#valueAtColumn = column;
      this.#valueAtIndex = index;
    }
    if (index < 0) return plainRow[column] ?? null;
    return this.read(slot, this.#columns[index] as Column);
  }

  rowAt(slot: number): Row {
    const store = this.#store;
    const key = this.keyAt(slot);
    const read = this.#codec.read;
    if (read !== null) return read(store, slot, key);
    // A copy of the template has every column in place already (in order, in-object): filling
    // it costs less than adding the properties one by one to an empty object.
    const row: Record<string, Value> = { ...this.#rowTemplate };
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
      for (const name in set) {
        const index = this.#writableColumn(name);
        const column = this.#columns[index] as Column;
        const key = this.#keyFor(column, slot);
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
    const fits = writeValue(
      this.#store,
      target,
      slot,
      previous as Value,
      this.#keyFor(target, slot),
    );
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

  get slotEnd(): number {
    return this.size;
  }

  encodeRows(writer: BytesWriter, fromSlot: number, toSlot: number): void {
    const columns = this.#columns;
    const store = this.#store;
    for (let slot = fromSlot; slot < toSlot; slot++) {
      this.#keys.encodeKeyAt(writer, slot);
      writer.u16(columns.length);
      for (const column of columns) {
        writer.string(column.name);
        encodeColumnValue(writer, store, column, slot, this.#keys);
      }
      writer.endRecord();
    }
  }

  load(key: string, row: Row): void {
    if (!KeyIndex.canHold(key)) throw corrupt(`${this.name} cannot hold the key ${key}`);
    if (this.find(key) >= 0) throw corrupt(`${this.name} holds ${key} twice`);
    const slot = this.#keys.insert(key);
    if (slot >= this.#store.capacity) this.#store.reserve(this.#store.capacity * 2);
    if (!writeRow(this.#store, this.#columns, slot, key, row)) {
      throw corrupt(`a row of ${this.name} does not fit its schema`);
    }
    for (const index of this.#indexes) index.add(slot);
  }

  #writeRow(slot: number, key: string, values: Row): boolean {
    const write = this.#codec.write;
    if (write !== null) return write(this.#store, slot, key, values);
    return writeRow(this.#store, this.#columns, slot, key, values);
  }

  /**
   * The key of the row at `slot` when `column` is the key column, else "": the key is built
   * from its characters on every keyAt() (key-index.ts), and only the key column reads it.
   */
  #keyFor(column: Column, slot: number): string {
    return column.kind === ColumnKind.KEY ? this.keyAt(slot) : "";
  }

  /** The position of column `name`, or -1. */
  #columnIndex(name: string): number {
    return this.#columnIndexes.get(name) ?? -1;
  }

  /**
   * The position of a column an update may write (not indexed). A scan comparing names by
   * identity, not a Map: update names come from the ledger's literals, interned strings that
   * V8 compares by pointer, so a few comparisons cost less than hashing the name once.
   */
  #writableColumn(name: string): number {
    const names = this.#writableNames;
    let index = 0;
    while (index < names.length && names[index] !== name) index++;
    assert(index < names.length, "update of an unknown or indexed column");
    return this.#writableIndexes[index] as number;
  }
}

function corrupt(message: string): TxgridError {
  return new TxgridError(ErrorCode.CORRUPT, `snapshot: ${message}`);
}
