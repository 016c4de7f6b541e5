// Secondary indexes of column tables. Both rely on what column tables guarantee: indexed
// columns never change after the insert, and the only removal is of the newest row.
//
// ValueIndex     one column: value -> slots holding it, in insertion order (Map entries
//                only for non-null values; a lone slot is stored without an array).
// HistoryIndex   ref columns into one target table (a transfer's debit and credit accounts):
//                for each target row, the list of rows that refer to it, newest first,
//                threaded through Int32Arrays: per target a head, per row and column a link
//                to the previous row of the same target. Appending allocates nothing; the
//                lists are exact because rows are never removed and refs never change.
//                A row whose columns name the same target twice is listed once.
import { assert, must } from "../stdx/index.ts";
import type { Column, RecordStore } from "./column.ts";
import { grownInt32 } from "./key-index.ts";
import type { Value } from "./values.ts";

/** What an index reads from the table it belongs to. */
export interface ColumnReader {
  /** The table's records (a history index reads its refs there directly). */
  readonly store: RecordStore;
  column(name: string): Column;
  read(slot: number, column: Column): Value;
  refAt(slot: number, column: Column): number;
}

/** A secondary index of a column table, maintained on insert and on the rollback of one. */
export interface ColumnIndex {
  readonly columns: readonly string[];
  /** Called once by the table that owns the index. */
  attach(table: ColumnReader): void;
  add(slot: number): void;
  removeNewest(slot: number): void;
  /** Slots whose `column` equals `value` (not null), in insertion order, stopping at `count`. */
  lookup(column: string, value: Value, count: number): number[];
}

export class ValueIndex implements ColumnIndex {
  readonly columns: readonly string[];
  readonly #slots = new Map<Value, number | number[]>();
  #table: ColumnReader | null = null;
  #column: Column | null = null;

  constructor(column: string) {
    this.columns = [column];
  }

  attach(table: ColumnReader): void {
    assert(this.#table === null, "index attached twice");
    this.#table = table;
    this.#column = table.column(this.columns[0] as string);
  }

  add(slot: number): void {
    const value = this.#valueAt(slot);
    if (value === null) return;
    const entry = this.#slots.get(value);
    if (entry === undefined) this.#slots.set(value, slot);
    else if (typeof entry === "number") this.#slots.set(value, [entry, slot]);
    else entry.push(slot);
  }

  removeNewest(slot: number): void {
    const value = this.#valueAt(slot);
    if (value === null) return;
    const entry = this.#slots.get(value);
    if (typeof entry === "number") {
      assert(entry === slot, "index is missing the newest row");
      this.#slots.delete(value);
      return;
    }
    assert(entry !== undefined && entry[entry.length - 1] === slot, "newest row not last");
    entry.pop();
    if (entry.length === 1) this.#slots.set(value, entry[0] as number);
  }

  lookup(_column: string, value: Value, count: number): number[] {
    const entry = this.#slots.get(value);
    const found = entry === undefined ? [] : typeof entry === "number" ? [entry] : entry;
    return takeFirst(found, count);
  }

  #valueAt(slot: number): Value {
    const table = this.#table;
    assert(table !== null && this.#column !== null, "index not attached");
    return table.read(slot, this.#column);
  }
}

export class HistoryIndex implements ColumnIndex {
  readonly columns: readonly string[];
  #table: ColumnReader | null = null;
  #refs: readonly Column[] = [];
  /** Per column, where its ref sits in a record, in 32-bit words. */
  #refWords = new Int32Array(0);
  /** Per target slot: newest referring row + 1; 0 when none. */
  #heads = new Int32Array(0);
  /** Per column, per row: previous row of the same target + 1; 0 at the end. */
  #links: Int32Array[];
  readonly #targets: Int32Array;

  constructor(columns: readonly string[]) {
    assert(columns.length > 0, "a history index needs a column");
    this.columns = columns;
    this.#links = columns.map(() => new Int32Array(0));
    this.#targets = new Int32Array(columns.length);
  }

  attach(table: ColumnReader): void {
    assert(this.#table === null, "index attached twice");
    this.#table = table;
    this.#refs = this.columns.map((name) => table.column(name));
    this.#refWords = Int32Array.from(this.#refs, (column) => column.wordAt);
  }

  add(slot: number): void {
    const targets = this.#targetsOf(slot);
    for (let index = 0; index < targets.length; index++) {
      const target = targets[index] as number;
      if (target < 0) continue;
      if (target >= this.#heads.length) this.#heads = grownInt32(this.#heads, target + 1);
      let links = this.#links[index] as Int32Array;
      if (slot >= links.length) {
        links = grownInt32(links, slot + 1);
        this.#links[index] = links;
      }
      links[slot] = this.#heads[target] as number;
      this.#heads[target] = slot + 1;
    }
  }

  removeNewest(slot: number): void {
    const targets = this.#targetsOf(slot);
    for (let index = targets.length - 1; index >= 0; index--) {
      const target = targets[index] as number;
      if (target < 0) continue;
      assert(this.#heads[target] === slot + 1, "newest row is not at the head of its list");
      this.#heads[target] = (this.#links[index] as Int32Array)[slot] as number;
    }
  }

  /** The head of `target`'s list, read for prefetching only (0 for none). */
  touch(target: number): number {
    return this.#heads[target] ?? 0;
  }

  /** The newest row referring to `target`, or -1. */
  newest(target: number): number {
    return (this.#heads[target] ?? 0) - 1;
  }

  /** The row referring to `target` just before `slot` (which refers to it), or -1. */
  previous(slot: number, target: number): number {
    for (let index = 0; index < this.#refs.length; index++) {
      if (this.#refAt(slot, index) === target) {
        return ((this.#links[index] as Int32Array)[slot] as number) - 1;
      }
    }
    return assertNotListed();
  }

  lookup(column: string, value: Value, count: number): number[] {
    const index = this.columns.indexOf(column);
    const ref = this.#refs[index];
    assert(ref !== undefined, "column is not in this index");
    if (typeof value !== "string") return [];
    const target = must(ref.target, "a history index covers ref columns").find(value);
    if (target < 0) return [];
    const found: number[] = [];
    for (let slot = this.newest(target); slot >= 0; slot = this.previous(slot, target)) {
      if (this.#refAt(slot, index) === target) found.push(slot);
    }
    return takeFirst(found.reverse(), count);
  }

  /**
   * Per column, the target it links `slot` into: its ref, or -1 when an earlier column names
   * the same target. Written into one reused array (each ref is read once).
   */
  #targetsOf(slot: number): Int32Array {
    const targets = this.#targets;
    for (let index = 0; index < targets.length; index++) {
      const target = this.#refAt(slot, index);
      targets[index] = target;
      for (let earlier = 0; earlier < index; earlier++) {
        if (targets[earlier] === target) targets[index] = -1;
      }
    }
    return targets;
  }

  #refAt(slot: number, index: number): number {
    const table = this.#table;
    assert(table !== null, "index not attached");
    // The ref column's value read in place (what table.refAt reads, without its checks).
    const store = table.store;
    return store.refs[slot * store.refStride + (this.#refWords[index] as number)] as number;
  }
}

/** The first slots of `slots`, stopping once `slots.length >= count` (NaN: all). */
function takeFirst(slots: readonly number[], count: number): number[] {
  const taken: number[] = [];
  for (const slot of slots) {
    if (taken.length >= count) break;
    taken.push(slot);
  }
  return taken;
}

function assertNotListed(): never {
  assert(false, "row is not in the list of this target");
}
