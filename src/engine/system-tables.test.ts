// Goal: the row codecs of the system tables (system-tables.ts) store, refuse and read exactly
// what the generic column loops do, so the hot paths can never hold or show a different row.
// Method: fast-check generates transfer rows in schema order with valid and invalid values
// (wrong types, integers beyond 64 bits, unknown choices, unknown accounts), writes each with
// both writers into two stores of the same layout, compares verdicts and record bytes, and
// reads the stored row back with both readers; accounts are written generically and read back
// with both readers.
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { AMOUNT_MAX } from "../constants.ts";
import { type Column, createColumns, type RecordStore, readValue, writeRow } from "./column.ts";
import { KeyIndex } from "./key-index.ts";
import { accountCodec, accountSpecs, transferCodec, transferSpecs } from "./system-tables.ts";
import type { Row, Value } from "./values.ts";

const seed = Number(process.env.SEED ?? Date.now() % 2 ** 31);

const accounts = new KeyIndex();
for (const id of ["a0", "a1"]) accounts.insert(id);

const integer = fc.oneof(
  fc.bigInt({ min: -3n, max: 3n }),
  fc.constantFrom(AMOUNT_MAX, -AMOUNT_MAX - 1n, AMOUNT_MAX + 1n, -AMOUNT_MAX - 2n),
);
const anyValue = (usual: fc.Arbitrary<Value>) =>
  fc.oneof(
    { weight: 6, arbitrary: usual },
    { weight: 1, arbitrary: fc.constantFrom<Value>(null, "x", 1n, true) },
  );
const row = fc.record(
  {
    id: fc.constantFrom("t0", "t1"),
    debit: anyValue(fc.constantFrom("a0", "a1", "zz")),
    credit: anyValue(fc.constantFrom("a0", "a1")),
    amount: anyValue(integer),
    pending: anyValue(fc.boolean()),
    timeoutMs: anyValue(integer),
    origin: anyValue(fc.constantFrom("api", "timpe", "other")),
    state: anyValue(fc.constantFrom("pending", "posted", "voided", "expired", "failed")),
    sequence: anyValue(integer),
    createdAtMs: anyValue(integer),
    resolvedAtMs: anyValue(fc.option(integer, { nil: null })),
    expiresAtMs: anyValue(fc.option(integer, { nil: null })),
  },
  { noNullPrototype: true },
);

/** The row at `slot` as the generic loop reads it. */
function genericRow(store: RecordStore, columns: readonly Column[], slot: number, key: string) {
  const values: Record<string, Value> = {};
  for (const column of columns) values[column.name] = readValue(store, column, slot, key);
  return values;
}

function canonical(value: unknown): string {
  return JSON.stringify(value, (_, v) => (typeof v === "bigint" ? `${v}n` : v));
}

test("the transfers codec agrees with the generic loops", () => {
  const generic = createColumns(transferSpecs(accounts));
  const fast = createColumns(transferSpecs(accounts));
  generic.store.reserve(1);
  fast.store.reserve(1);
  const codec = transferCodec(fast.columns);
  fc.assert(
    fc.property(row, (values: Row) => {
      generic.store.bytes.fill(0);
      fast.store.bytes.fill(0);
      const accepted = writeRow(generic.store, generic.columns, 0, "t0", values);
      assert.equal(codec.write?.(fast.store, 0, "t0", values), accepted);
      if (!accepted) return;
      assert.deepEqual(fast.store.bytes, generic.store.bytes);
      const expected = genericRow(generic.store, generic.columns, 0, "t0");
      assert.equal(canonical(codec.read?.(fast.store, 0, "t0")), canonical(expected));
      assert.equal(canonical(values), canonical(expected));
    }),
    { seed, numRuns: 3000 },
  );
});

test("the accounts codec reads what the generic loop reads", () => {
  const { store, columns } = createColumns(accountSpecs());
  store.reserve(1);
  const codec = accountCodec(columns);
  const account = fc.record(
    {
      id: fc.constant("a0"),
      nickname: fc.option(fc.constantFrom("ann", ""), { nil: null }),
      balance: integer,
      reserved: integer,
      available: integer,
      floor: fc.option(integer, { nil: null }),
      initial: integer,
      createdAtMs: integer,
    },
    { noNullPrototype: true },
  );
  fc.assert(
    fc.property(account, (values: Row) => {
      if (!writeRow(store, columns, 0, "a0", values)) return;
      const expected = genericRow(store, columns, 0, "a0");
      assert.equal(canonical(codec.read?.(store, 0, "a0")), canonical(expected));
      assert.equal(canonical(values), canonical(expected));
    }),
    { seed, numRuns: 1000 },
  );
});
