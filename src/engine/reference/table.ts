// FROZEN PRE-REDESIGN REFERENCE (copied from src/engine at commit 90da411, before the
// columnar storage redesign). It exists only so that engine.reference.prop.test.ts can check
// that the redesigned engine gives identical results and byte-identical snapshots for the
// same command history. Not exported from index.ts; do not change it except to keep it
// compiling. Its original header follows.
//
// A table: rows by primary key, in insertion order, plus the secondary indexes declared when
// the table was created. Every write goes through write() or remove(), which keep the indexes
// exact; that is the only place index maintenance happens, so an index can never disagree
// with its rows (CloudTPS's index tables, maintained inside the same transactions).
//
// An index maps a column value to the primary keys holding it. Values are used as Map keys
// directly: Map compares with SameValueZero, which keeps the string "1", the integer 1n and
// true apart, so no per-write key string has to be built. Null is not indexed.
import { assert } from "../../stdx/index.ts";
import type { Row, Value } from "./values.ts";

type Index = Map<Value, Set<string>>;

export class Table {
  readonly name: string;
  readonly indexedColumns: readonly string[];
  readonly rows = new Map<string, Row>();
  readonly #indexes: readonly { readonly column: string; readonly index: Index }[];

  constructor(name: string, indexedColumns: readonly string[]) {
    this.name = name;
    this.indexedColumns = indexedColumns;
    this.#indexes = indexedColumns.map((column) => ({ column, index: new Map() }));
  }

  get(key: string): Row | undefined {
    return this.rows.get(key);
  }

  /** Inserts or replaces the row at `key`. */
  put(key: string, row: Row): void {
    this.write(key, this.rows.get(key), row);
  }

  /**
   * Stores `row` at `key`, where the caller already looked up `previous`, the row the key
   * holds now (undefined: none). Saves the second lookup on the transaction path.
   */
  write(key: string, previous: Row | undefined, row: Row): void {
    this.rows.set(key, row);
    for (const { column, index } of this.#indexes) {
      const value = row[column] ?? null;
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

  remove(key: string): void {
    const previous = this.rows.get(key);
    assert(previous !== undefined, "remove of a missing row");
    for (const { column, index } of this.#indexes) {
      const valuePrevious = previous[column] ?? null;
      if (valuePrevious !== null) unindex(index, valuePrevious, key);
    }
    this.rows.delete(key);
  }

  /** Primary keys of rows whose `column` equals `value`, in insertion order. */
  lookup(column: string, value: Value): ReadonlySet<string> {
    const entry = this.#indexes.find((candidate) => candidate.column === column);
    assert(entry !== undefined, `column ${column} of ${this.name} is not indexed`);
    if (value === null) return emptySet;
    return entry.index.get(value) ?? emptySet;
  }

  isIndexed(column: string): boolean {
    return this.indexedColumns.includes(column);
  }
}

function unindex(index: Index, value: Value, key: string): void {
  const keys = index.get(value);
  assert(keys?.has(key) === true, "index is missing a row it should hold");
  keys.delete(key);
  if (keys.size === 0) index.delete(value);
}

const emptySet: ReadonlySet<string> = new Set();
