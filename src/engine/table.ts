// A table: rows by primary key, in insertion order, plus the secondary indexes declared when
// the table was created. Every write goes through put() or remove(), which keep the indexes
// exact; that is the only place index maintenance happens, so an index can never disagree
// with its rows (CloudTPS's index tables, maintained inside the same transactions).
import { assert } from "../stdx/index.ts";
import { indexKey, type Row } from "./values.ts";

export class Table {
  readonly name: string;
  readonly indexedColumns: readonly string[];
  readonly rows = new Map<string, Row>();
  // column -> index key of a value -> primary keys in insertion order.
  readonly #indexes = new Map<string, Map<string, Set<string>>>();

  constructor(name: string, indexedColumns: readonly string[]) {
    this.name = name;
    this.indexedColumns = indexedColumns;
    for (const column of indexedColumns) this.#indexes.set(column, new Map());
  }

  get(key: string): Row | undefined {
    return this.rows.get(key);
  }

  /** Inserts or replaces the row at `key`. */
  put(key: string, row: Row): void {
    const previous = this.rows.get(key);
    if (previous !== undefined) this.#unindex(key, previous, row);
    this.rows.set(key, row);
    this.#index(key, row, previous);
  }

  remove(key: string): void {
    const previous = this.rows.get(key);
    assert(previous !== undefined, "remove of a missing row");
    this.#unindex(key, previous, undefined);
    this.rows.delete(key);
  }

  /** Primary keys of rows whose `column` equals the value with index key `key`. */
  lookup(column: string, key: string): ReadonlySet<string> {
    const index = this.#indexes.get(column);
    assert(index !== undefined, `column ${column} of ${this.name} is not indexed`);
    return index.get(key) ?? emptySet;
  }

  isIndexed(column: string): boolean {
    return this.#indexes.has(column);
  }

  #index(key: string, row: Row, previous: Row | undefined): void {
    for (const [column, index] of this.#indexes) {
      const valueKey = indexKey(row[column] ?? null);
      if (valueKey === null) continue;
      if (previous !== undefined && indexKey(previous[column] ?? null) === valueKey) continue;
      let keys = index.get(valueKey);
      if (keys === undefined) {
        keys = new Set();
        index.set(valueKey, keys);
      }
      keys.add(key);
    }
  }

  #unindex(key: string, previous: Row, next: Row | undefined): void {
    for (const [column, index] of this.#indexes) {
      const valueKey = indexKey(previous[column] ?? null);
      if (valueKey === null) continue;
      if (next !== undefined && indexKey(next[column] ?? null) === valueKey) continue;
      const keys = index.get(valueKey);
      assert(keys?.has(key) === true, "index is missing a row it should hold");
      keys.delete(key);
      if (keys.size === 0) index.delete(valueKey);
    }
  }
}

const emptySet: ReadonlySet<string> = new Set();
