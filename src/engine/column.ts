// The columns of a column table (column-table.ts) and where their values live.
//
// Fixed-width values (integers, flags, choices, refs) of all columns of a table share one
// ArrayBuffer, slot-major: every slot owns `strideBytes` bytes holding all of its fixed-width
// fields, seen through a BigInt64Array, an Int32Array and a Uint8Array (a RecordStore).
// Updating a balance writes 8 bytes in place and allocates nothing, and a transfer that
// touches an account touches one or two cache lines of it, not one per column: the ledger
// reads and writes rows by slot at random, and scans whole columns rarely. Strings sit in one
// plain array per column.
//
// Kinds and their values (as rows show them):
//   key           string: the row's primary key, stored once, in the table's KeyIndex
//   int           bigint in the signed 64-bit range          8 bytes
//   intOrNull     bigint or null                             8 bytes + a presence byte
//   string        string                                     array
//   stringOrNull  string or null                             array
//   boolean       true or false                              1 byte
//   choice        one of a fixed list of strings             1 byte: position in the list
//   ref           the key of a row of another column table   4 bytes: that table's slot
//
// A Column is metadata (kind and offsets); the functions below read and write a column of a
// RecordStore. They take the store as an argument so that a loop over the columns of one row
// loads the store's arrays once.
import { assert, type BytesWriter, must, unreachable } from "../stdx/index.ts";
import { encodeValue, type Row, STRING_VALUE_TAG, type Value } from "./values.ts";

// The kinds are module-local constants first: V8 reads an exported binding through a cell
// (with a check) at every use, which the switches below would pay at every case.
const KEY = 0;
const INT = 1;
const INT_OR_NULL = 2;
const STRING = 3;
const STRING_OR_NULL = 4;
const BOOLEAN = 5;
const CHOICE = 6;
const REF = 7;
export const ColumnKind = {
  KEY,
  INT,
  INT_OR_NULL,
  STRING,
  STRING_OR_NULL,
  BOOLEAN,
  CHOICE,
  REF,
} as const;
export type ColumnKind = (typeof ColumnKind)[keyof typeof ColumnKind];

/** What a ref column needs from the table it points into. */
export interface KeyLookup {
  find(key: string): number;
  keyAt(slot: number): string;
  /** Writes keyAt(slot) as BytesWriter.string does, without building the string. */
  encodeKeyAt(writer: BytesWriter, slot: number): void;
}

export interface ColumnSpec {
  readonly name: string;
  readonly kind: ColumnKind;
  /** CHOICE only: the allowed strings (at most 256). */
  readonly choices?: readonly string[];
  /** REF only: the table whose keys the column holds. */
  readonly target?: KeyLookup;
}

/** The fixed-width fields of every slot of a table, interleaved slot by slot. */
export class RecordStore {
  readonly strideBytes: number;
  /** strideBytes in 8-byte and 4-byte units, for the typed views. */
  readonly integerStride: number;
  readonly refStride: number;
  integers = new BigInt64Array(0);
  refs = new Int32Array(0);
  bytes = new Uint8Array(0);
  capacity = 0;

  constructor(strideBytes: number) {
    assert(strideBytes % 8 === 0, "records are 8-byte aligned");
    this.strideBytes = strideBytes;
    this.integerStride = strideBytes / 8;
    this.refStride = strideBytes / 4;
  }

  /** Grows to `capacity` slots, keeping every value. */
  reserve(capacity: number): void {
    assert(capacity >= this.capacity, "a record store never shrinks");
    const buffer = new ArrayBuffer(capacity * this.strideBytes);
    const bytes = new Uint8Array(buffer);
    bytes.set(this.bytes);
    this.bytes = bytes;
    this.integers = new BigInt64Array(buffer);
    this.refs = new Int32Array(buffer);
    this.capacity = capacity;
  }
}

export class Column {
  readonly name: string;
  readonly kind: ColumnKind;
  readonly choices: readonly string[];
  readonly target: KeyLookup | null;
  /** INT, INT_OR_NULL: offset in the record in 8-byte words; REF: in 4-byte words; else -1. */
  readonly wordAt: number;
  /** INT_OR_NULL: the presence byte; BOOLEAN, CHOICE: the value byte; else -1. */
  readonly byteAt: number;
  /** STRING, STRING_OR_NULL: the values by slot. */
  readonly strings: (string | null)[] = [];

  constructor(spec: ColumnSpec, wordAt: number, byteAt: number) {
    this.name = spec.name;
    this.kind = spec.kind;
    this.choices = spec.choices ?? [];
    this.target = spec.target ?? null;
    this.wordAt = wordAt;
    this.byteAt = byteAt;
    assert((spec.kind === CHOICE) === this.choices.length > 0, "choices iff CHOICE");
    assert(this.choices.length <= 256, "a choice is one byte");
    assert((spec.kind === REF) === (this.target !== null), "target iff REF");
  }

  get isInteger(): boolean {
    return this.kind === INT || this.kind === INT_OR_NULL;
  }

  /** INT: a non-null integer, at `wordAt` in the store's BigInt64Array. */
  get isPlainInteger(): boolean {
    return this.kind === INT;
  }
}

/** The columns of `specs` laid out over one new RecordStore. */
export function createColumns(specs: readonly ColumnSpec[]): {
  store: RecordStore;
  columns: Column[];
} {
  const count = (kind: ColumnKind) => specs.filter((spec) => spec.kind === kind).length;
  const integerCount = count(INT) + count(INT_OR_NULL);
  const refCount = count(REF);
  const byteCount = count(INT_OR_NULL) + count(BOOLEAN) + count(CHOICE);
  const bytesUsed = integerCount * 8 + refCount * 4 + byteCount;
  const store = new RecordStore(Math.max(8, Math.ceil(bytesUsed / 8) * 8));
  // Integers first (8-byte aligned), then refs (4-byte aligned), then single bytes.
  let integerAt = 0;
  let refAt = integerCount * 2;
  let byteAt = integerCount * 8 + refCount * 4;
  const columns = specs.map((spec) => {
    const isInteger = spec.kind === INT || spec.kind === INT_OR_NULL;
    const wordAt = isInteger ? integerAt++ : spec.kind === REF ? refAt++ : -1;
    const hasByte = spec.kind === INT_OR_NULL || spec.kind === BOOLEAN || spec.kind === CHOICE;
    return new Column(spec, wordAt, hasByte ? byteAt++ : -1);
  });
  return { store, columns };
}

// V8 reaches an exported function through a cell (with checks) on every call, from this
// module too, so the code below calls module-private helpers, and the exports wrap them.

/** The value of `column` at `slot` as a row shows it; `key` is that row's primary key. */
export function readValue(store: RecordStore, column: Column, slot: number, key: string): Value {
  return columnValueOf(store, column, slot, key);
}

/**
 * Stores `value` in `column` at `slot`; false (and nothing stored) when the value does not
 * fit the kind: a wrong type, an integer outside 64 bits, an unknown choice or a missing ref.
 */
export function writeValue(
  store: RecordStore,
  column: Column,
  slot: number,
  value: Value,
  key: string,
): boolean {
  return storeValue(store, column, slot, value, key);
}

/**
 * Stores a whole row: `values` must hold exactly the columns, in their order (which is what
 * makes a materialized row equal to the row stored). False when it does not fit; columns
 * already written then hold garbage that the caller discards (an assert or a corrupt load).
 */
export function writeRow(
  store: RecordStore,
  columns: readonly Column[],
  slot: number,
  key: string,
  values: Row,
): boolean {
  let index = 0;
  for (const name in values) {
    const column = columns[index];
    if (column === undefined || column.name !== name) return false;
    if (!storeValue(store, column, slot, values[name] ?? null, key)) return false;
    index++;
  }
  return index === columns.length;
}

/**
 * A table's own row reader and writer, written for its schema (system-tables.ts): each must
 * return, store and refuse exactly what readValue and writeRow do for that schema. The
 * generic loops spend about 150 instructions a column (a keyed property access and a dispatch
 * on the kind); a codec that reads fields by name at offsets computed once spends a fraction.
 * Null means: use the generic loop.
 */
export interface RowCodec {
  readonly read: ((store: RecordStore, slot: number, key: string) => Row) | null;
  readonly write: ((store: RecordStore, slot: number, key: string, values: Row) => boolean) | null;
}

/** INT and INT_OR_NULL: the integer at `slot` (null when absent). */
export function readInteger(store: RecordStore, column: Column, slot: number): bigint | null {
  return integerOf(store, column, slot);
}

/** INT and INT_OR_NULL: stores an integer already known to be in the 64-bit range. */
export function writeInteger(
  store: RecordStore,
  column: Column,
  slot: number,
  value: bigint,
): void {
  storeInteger(store, column, slot, value);
}

/** REF: the slot in the target table. */
export function readRef(store: RecordStore, column: Column, slot: number): number {
  assert(column.kind === REF, "column is not a ref");
  return store.refs[slot * store.refStride + column.wordAt] as number;
}

/**
 * Writes the value at `slot` as encodeValue(writer, readValue(...)) does. KEY and REF values
 * are written from the key indexes' bytes (`keys`: the row's own table), so encoding a row
 * builds no id string.
 */
export function encodeColumnValue(
  writer: BytesWriter,
  store: RecordStore,
  column: Column,
  slot: number,
  keys: KeyLookup,
): void {
  if (column.kind === KEY) {
    writer.u8(STRING_VALUE_TAG);
    keys.encodeKeyAt(writer, slot);
  } else if (column.kind === REF) {
    writer.u8(STRING_VALUE_TAG);
    targetOf(column).encodeKeyAt(writer, readRef(store, column, slot));
  } else {
    encodeValue(writer, columnValueOf(store, column, slot, ""));
  }
}

/** CHOICE: the position of the value at `slot` in the list of choices. */
export function readChoice(store: RecordStore, column: Column, slot: number): number {
  assert(column.kind === CHOICE, "column is not a choice");
  return store.bytes[slot * store.strideBytes + column.byteAt] as number;
}

function columnValueOf(store: RecordStore, column: Column, slot: number, key: string): Value {
  switch (column.kind) {
    case KEY:
      return key;
    case INT:
    case INT_OR_NULL:
      return integerOf(store, column, slot);
    case STRING:
    case STRING_OR_NULL:
      return column.strings[slot] as string | null;
    case BOOLEAN:
      return store.bytes[slot * store.strideBytes + column.byteAt] === 1;
    case CHOICE:
      return column.choices[
        store.bytes[slot * store.strideBytes + column.byteAt] as number
      ] as string;
    case REF:
      return targetOf(column).keyAt(store.refs[slot * store.refStride + column.wordAt] as number);
    default:
      return unreachable(column.kind);
  }
}

function storeValue(
  store: RecordStore,
  column: Column,
  slot: number,
  value: Value,
  key: string,
): boolean {
  switch (column.kind) {
    case KEY:
      return value === key;
    case INT:
      if (typeof value !== "bigint" || BigInt.asIntN(64, value) !== value) return false;
      store.integers[slot * store.integerStride + column.wordAt] = value;
      return true;
    case INT_OR_NULL:
      return storeIntegerOrNull(store, column, slot, value);
    case STRING:
    case STRING_OR_NULL:
      return storeString(column, slot, value);
    case BOOLEAN:
      if (typeof value !== "boolean") return false;
      store.bytes[slot * store.strideBytes + column.byteAt] = value ? 1 : 0;
      return true;
    case CHOICE:
      return storeChoice(store, column, slot, value);
    case REF:
      return storeRef(store, column, slot, value);
    default:
      return unreachable(column.kind);
  }
}

function integerOf(store: RecordStore, column: Column, slot: number): bigint | null {
  if (column.kind === INT_OR_NULL) {
    if (store.bytes[slot * store.strideBytes + column.byteAt] === 0) return null;
  } else {
    assert(column.kind === INT, "column holds no integers");
  }
  return store.integers[slot * store.integerStride + column.wordAt] as bigint;
}

function storeInteger(store: RecordStore, column: Column, slot: number, value: bigint): void {
  assert(column.wordAt >= 0, "column holds no integers");
  store.integers[slot * store.integerStride + column.wordAt] = value;
  if (column.kind === INT_OR_NULL) store.bytes[slot * store.strideBytes + column.byteAt] = 1;
}

function storeIntegerOrNull(
  store: RecordStore,
  column: Column,
  slot: number,
  value: Value,
): boolean {
  if (value === null) {
    store.integers[slot * store.integerStride + column.wordAt] = 0n;
    store.bytes[slot * store.strideBytes + column.byteAt] = 0;
    return true;
  }
  if (typeof value !== "bigint" || BigInt.asIntN(64, value) !== value) return false;
  storeInteger(store, column, slot, value);
  return true;
}

function storeString(column: Column, slot: number, value: Value): boolean {
  const nullable = column.kind === STRING_OR_NULL;
  if (typeof value !== "string" && !(nullable && value === null)) return false;
  // Slots are written in order (a table appends), so this assignment never leaves a hole.
  assert(slot <= column.strings.length, "string written out of order");
  column.strings[slot] = value;
  return true;
}

function storeChoice(store: RecordStore, column: Column, slot: number, value: Value): boolean {
  if (typeof value !== "string") return false;
  const position = column.choices.indexOf(value);
  if (position < 0) return false;
  store.bytes[slot * store.strideBytes + column.byteAt] = position;
  return true;
}

function storeRef(store: RecordStore, column: Column, slot: number, value: Value): boolean {
  if (typeof value !== "string") return false;
  const target = targetOf(column).find(value);
  if (target < 0) return false;
  store.refs[slot * store.refStride + column.wordAt] = target;
  return true;
}

function targetOf(column: Column): KeyLookup {
  return must(column.target, "ref column has a target");
}
