// Users' tables (table.create): rows of any columns, each row an immutable object replaced
// whole on update (copy on write), plus the secondary indexes declared at creation. This is the
// flexible, slower Table implementation; the ledger's own tables use ColumnTable.
//
// It behaves exactly as a Map of rows with Map indexes: a row keeps its position when it is
// replaced, goes to the end when it is inserted (also when a rollback puts a deleted row
// back), and leaves when it is deleted. Slots are positions in that order; a deleted row leaves
// a hole, and holes are squeezed out when they outnumber the rows (only inside insert, when
// the executor holds no slot of this table).
//
// An index maps a column value to the primary keys holding it, in the order they were added.
// Values are Map keys directly: SameValueZero keeps the string "1", the integer 1n and true
// apart, so no key string is built per write. Null is not indexed.
import { assert, type BytesWriter } from "../stdx/index.ts";
import { ResultCode } from "./results.ts";
import type { RowUndo, Table, UndoLog, UndoValue } from "./table.ts";
import { encodeRow, isInInt64Range, type Row, type Value } from "./values.ts";

type Index = Map<Value, Set<string>>;

const holesSqueezedMin = 64;

export class ObjectTable implements Table {
  readonly name: string;
  readonly indexedColumns: readonly string[];
  readonly #slotOf = new Map<string, number>();
  #keys: (string | undefined)[] = [];
  #rows: (Row | undefined)[] = [];
  readonly #indexes: readonly { readonly column: string; readonly index: Index }[];

  constructor(name: string, indexedColumns: readonly string[]) {
    this.name = name;
    this.indexedColumns = indexedColumns;
    this.#indexes = indexedColumns.map((column) => ({ column, index: new Map() }));
  }

  get size(): number {
    return this.#slotOf.size;
  }

  find(key: string): number {
    return this.#slotOf.get(key) ?? -1;
  }

  keyAt(slot: number): string {
    const key = this.#keys[slot];
    assert(key !== undefined, "no row at this slot");
    return key;
  }

  valueAt(slot: number, column: string): Value {
    return this.rowAt(slot)[column] ?? null;
  }

  rowAt(slot: number): Row {
    const row = this.#rows[slot];
    assert(row !== undefined, "no row at this slot");
    return row;
  }

  insert(key: string, values: Row, undo: UndoLog): number {
    assert(!this.#slotOf.has(key), "insert of a present key");
    undo.push(this, -1, -1, { key, row: undefined });
    return this.#append(key, values);
  }

  update(
    slot: number,
    set: Row | undefined,
    increment: Readonly<Record<string, bigint>> | undefined,
    undo: UndoLog,
  ): ResultCode {
    const previous = this.rowAt(slot);
    const next = updatedRow(previous, set, increment);
    if (typeof next === "number") return next;
    const key = this.keyAt(slot);
    undo.push(this, -1, -1, { key, row: previous });
    this.#replace(slot, key, previous, next);
    return ResultCode.OK;
  }

  remove(slot: number, undo: UndoLog): void {
    const key = this.keyAt(slot);
    undo.push(this, -1, -1, { key, row: this.rowAt(slot) });
    this.#delete(key);
  }

  undo(_slot: number, _column: number, previous: UndoValue): void {
    assert(typeof previous === "object" && previous !== null, "undo entry of another table");
    const { key, row } = previous as RowUndo;
    if (row === undefined) this.#delete(key);
    else this.#put(key, row);
  }

  isIndexed(column: string): boolean {
    return this.indexedColumns.includes(column);
  }

  lookup(column: string, value: Value, count: number): number[] {
    const entry = this.#indexes.find((candidate) => candidate.column === column);
    assert(entry !== undefined, `column ${column} of ${this.name} is not indexed`);
    const slots: number[] = [];
    if (value === null) return slots;
    for (const key of entry.index.get(value) ?? []) {
      if (slots.length >= count) break;
      slots.push(this.find(key));
    }
    return slots;
  }

  get slotEnd(): number {
    return this.#rows.length;
  }

  encodeRows(writer: BytesWriter, fromSlot: number, toSlot: number): void {
    for (let slot = fromSlot; slot < toSlot; slot++) {
      const row = this.#rows[slot];
      if (row === undefined) continue;
      writer.string(this.keyAt(slot));
      encodeRow(writer, row);
      writer.endRecord();
    }
  }

  load(key: string, row: Row): void {
    this.#put(key, row);
  }

  /** Inserts or replaces, as Map.set does. */
  #put(key: string, row: Row): void {
    const slot = this.find(key);
    if (slot < 0) this.#append(key, row);
    else this.#replace(slot, key, this.rowAt(slot), row);
  }

  #append(key: string, row: Row): number {
    const holes = this.#rows.length - this.#slotOf.size;
    if (holes >= holesSqueezedMin && holes > this.#slotOf.size) this.#squeeze();
    const slot = this.#rows.length;
    this.#rows.push(row);
    this.#keys.push(key);
    this.#slotOf.set(key, slot);
    this.#reindex(key, undefined, row);
    return slot;
  }

  #replace(slot: number, key: string, previous: Row, row: Row): void {
    this.#rows[slot] = row;
    this.#reindex(key, previous, row);
  }

  #delete(key: string): void {
    const slot = this.find(key);
    assert(slot >= 0, "remove of a missing row");
    this.#reindex(key, this.rowAt(slot), undefined);
    this.#rows[slot] = undefined;
    this.#keys[slot] = undefined;
    this.#slotOf.delete(key);
  }

  /** Renumbers the rows densely, keeping their order. */
  #squeeze(): void {
    const keys: string[] = [];
    const rows: Row[] = [];
    for (let slot = 0; slot < this.#rows.length; slot++) {
      const row = this.#rows[slot];
      if (row === undefined) continue;
      const key = this.keyAt(slot);
      this.#slotOf.set(key, rows.length);
      keys.push(key);
      rows.push(row);
    }
    this.#keys = keys;
    this.#rows = rows;
  }

  /** Moves `key` in every index from its value in `previous` to its value in `row`. */
  #reindex(key: string, previous: Row | undefined, row: Row | undefined): void {
    for (const { column, index } of this.#indexes) {
      const value = row === undefined ? null : (row[column] ?? null);
      const valuePrevious = previous === undefined ? null : (previous[column] ?? null);
      if (value === valuePrevious) continue;
      if (valuePrevious !== null) unindex(index, valuePrevious, key);
      if (value !== null) {
        const keys = index.get(value);
        if (keys === undefined) index.set(value, new Set([key]));
        else keys.add(key);
      }
    }
  }
}

/** The row after `set` and then `increment`; a result code when an increment cannot apply. */
function updatedRow(
  previous: Row,
  set: Row | undefined,
  increment: Readonly<Record<string, bigint>> | undefined,
): Row | ResultCode {
  const next: Record<string, Value> = { ...previous, ...set };
  if (increment !== undefined) {
    for (const column in increment) {
      const current = next[column] ?? 0n;
      if (typeof current !== "bigint") return ResultCode.NOT_A_NUMBER;
      const value = current + (increment[column] as bigint);
      if (!isInInt64Range(value)) return ResultCode.OVERFLOW;
      next[column] = value;
    }
  }
  return next;
}

function unindex(index: Index, value: Value, key: string): void {
  const keys = index.get(value);
  assert(keys?.has(key) === true, "index is missing a row it should hold");
  keys.delete(key);
  if (keys.size === 0) index.delete(value);
}
