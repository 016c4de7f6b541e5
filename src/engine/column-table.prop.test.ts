// Goal: a column table behaves exactly like an object table for rows that fit its schema, and
// a rolled-back transaction leaves every column of every row, and every index, as it was.
// Method: fast-check generates transactions (inserts, updates with set and increment near the
// int64 limits, reads with conditions) over a schema with every column kind, runs each through
// the executor on a ColumnTable and on an ObjectTable with the same indexes, and compares
// outcomes, returned rows, snapshot bytes and index lookups; after a failed transaction the
// column table's bytes must equal those before it. Snapshot loading must refuse rows that do
// not fit. SEED=<n> replays a run.
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { AMOUNT_MAX } from "../constants.ts";
import { BytesWriter, isTxgridError } from "../stdx/index.ts";
import { ColumnKind, type ColumnSpec } from "./column.ts";
import { HistoryIndex, ValueIndex } from "./column-indexes.ts";
import { ColumnTable } from "./column-table.ts";
import { ObjectTable } from "./object-table.ts";
import { ResultCode } from "./results.ts";
import { type Table, UndoLog } from "./table.ts";
import { type Condition, type Operation, TxnExecutor } from "./txn.ts";
import type { Row, Value } from "./values.ts";

const seed = Number(process.env.SEED ?? Date.now() % 2 ** 31);
const numRuns = Number(process.env.PROP_RUNS ?? 300);

const owners = ["o0", "o1", "o2"];
const colors = ["red", "green", "blue"];
const keys = ["k0", "k1", "k2", "k3"];

function ownersTable(): ColumnTable {
  const table = new ColumnTable("owners", [{ name: "id", kind: ColumnKind.KEY }], []);
  const undo = new UndoLog();
  for (const id of owners) table.insert(id, { id }, undo);
  undo.clear();
  return table;
}

function thingsTable(target: ColumnTable): ColumnTable {
  const { KEY, INT, INT_OR_NULL, STRING, STRING_OR_NULL, BOOLEAN, CHOICE, REF } = ColumnKind;
  const specs: ColumnSpec[] = [
    { name: "id", kind: KEY },
    { name: "owner", kind: REF, target },
    { name: "count", kind: INT },
    { name: "limit", kind: INT_OR_NULL },
    { name: "label", kind: STRING },
    { name: "note", kind: STRING_OR_NULL },
    { name: "flag", kind: BOOLEAN },
    { name: "color", kind: CHOICE, choices: colors },
  ];
  return new ColumnTable("things", specs, [new ValueIndex("label"), new HistoryIndex(["owner"])]);
}

const integer = fc.oneof(
  fc.bigInt({ min: -5n, max: 5n }),
  fc.constantFrom(AMOUNT_MAX, AMOUNT_MAX - 1n, -AMOUNT_MAX - 1n),
);
const label = fc.constantFrom("x", "y", "");
const fullRow = (id: string) =>
  fc
    .record(
      {
        owner: fc.constantFrom(...owners),
        count: integer,
        limit: fc.option(integer, { nil: null }),
        label,
        note: fc.option(fc.constantFrom("n", "m"), { nil: null }),
        flag: fc.boolean(),
        color: fc.constantFrom(...colors),
      },
      { noNullPrototype: true },
    )
    .map((values): Row => ({ id, ...values }));
const writableSet = fc.dictionary(
  fc.constantFrom("count", "limit", "note", "flag", "color"),
  fc.constant(null),
  { maxKeys: 3, noNullPrototype: true },
);
const setValue = (column: string): fc.Arbitrary<Value> =>
  column === "count"
    ? integer
    : column === "limit"
      ? fc.option(integer, { nil: null })
      : column === "note"
        ? fc.option(fc.constantFrom("n", "m"), { nil: null })
        : column === "flag"
          ? fc.boolean()
          : fc.constantFrom(...colors);
const set = writableSet.chain((shape) =>
  fc.record(Object.fromEntries(Object.keys(shape).map((column) => [column, setValue(column)])), {
    noNullPrototype: true,
  }),
);
// Increments target integer columns only: on an object row an increment also turns a null of
// any other column into an integer, which a fixed schema cannot hold (the ledger never does).
const increment = fc.dictionary(fc.constantFrom("count", "limit"), integer, {
  maxKeys: 2,
  noNullPrototype: true,
});
const condition: fc.Arbitrary<Condition> = fc.oneof(
  fc.constant({ kind: "exists" as const }),
  fc.constant({ kind: "absent" as const }),
  fc.record(
    {
      kind: fc.constant("compare" as const),
      column: fc.constantFrom("count", "label", "color", "owner", "missing", "constructor"),
      operator: fc.constantFrom("eq", "ne", "lt", "ge" as const),
      value: fc.oneof(integer, fc.constantFrom<Value>("x", "red", "o1", null, true)),
    },
    { noNullPrototype: true },
  ),
  fc.record(
    {
      kind: fc.constant("floor" as const),
      column: fc.constantFrom("count", "limit", "label"),
      minimum: fc.bigInt({ min: -3n, max: 3n }),
    },
    { noNullPrototype: true },
  ),
);
const conditions = fc.option(fc.array(condition, { maxLength: 2 }), { nil: undefined });
const key = fc.constantFrom(...keys);

const operation: fc.Arbitrary<Operation> = fc.oneof(
  fc.tuple(key, conditions).chain(([id, list]) =>
    fullRow(id).map((values) => ({
      kind: "insert" as const,
      table: "things",
      key: id,
      values,
      ...(list === undefined ? {} : { conditions: list }),
    })),
  ),
  fc
    .tuple(
      key,
      fc.option(set, { nil: undefined }),
      fc.option(increment, { nil: undefined }),
      conditions,
    )
    .map(([id, values, inc, list]) => ({
      kind: "update" as const,
      table: "things",
      key: id,
      ...(values === undefined ? {} : { set: values }),
      ...(inc === undefined ? {} : { increment: inc }),
      ...(list === undefined ? {} : { conditions: list }),
    })),
  fc.tuple(key, conditions).map(([id, list]) => ({
    kind: "read" as const,
    table: "things",
    key: id,
    ...(list === undefined ? {} : { conditions: list }),
  })),
);

const transactions = fc.array(fc.array(operation, { minLength: 1, maxLength: 5 }), {
  maxLength: 25,
});

function bytesOf(table: Table): Uint8Array {
  const writer = new BytesWriter(256, 1 << 24);
  writer.u53(table.size);
  table.encodeRows(writer, 0, table.slotEnd);
  return writer.copy();
}

function canonical(value: unknown): string {
  return JSON.stringify(value, (_, v) => (typeof v === "bigint" ? `${v}n` : v)) ?? "undefined";
}

function lookups(table: Table): unknown[] {
  const answers: unknown[] = [];
  for (const value of ["x", "y", "", "o0", "o1", "o2", "zz", 1n]) {
    for (const column of ["label", "owner"]) {
      answers.push(table.lookup(column, value, 100).map((slot) => table.keyAt(slot)));
      answers.push(table.lookup(column, value, 1).map((slot) => table.keyAt(slot)));
    }
  }
  return answers;
}

test("a column table matches an object table, and rollbacks leave every column as it was", () => {
  fc.assert(
    fc.property(transactions, (txns) => {
      const columns = thingsTable(ownersTable());
      const objects = new ObjectTable("things", ["label", "owner"]);
      const onColumns = new TxnExecutor((name) => (name === "things" ? columns : undefined));
      const onObjects = new TxnExecutor((name) => (name === "things" ? objects : undefined));
      for (const operations of txns) {
        const before = bytesOf(columns);
        const rowsOnColumns: (Row | null)[] = [];
        const rowsOnObjects: (Row | null)[] = [];
        const code = onColumns.execute(operations, rowsOnColumns);
        assert.equal(code, onObjects.execute(operations, rowsOnObjects));
        if (code === ResultCode.OK) {
          assert.equal(canonical(rowsOnColumns), canonical(rowsOnObjects));
        } else {
          assert.equal(onColumns.failedIndex, onObjects.failedIndex);
          assert.deepEqual(bytesOf(columns), before, "a failed transaction changed a column");
        }
        assert.deepEqual(bytesOf(columns), bytesOf(objects));
        assert.equal(canonical(lookups(columns)), canonical(lookups(objects)));
      }
    }),
    { seed, numRuns },
  );
});

test("an insert rolled back with later updates leaves the table and its indexes as before", () => {
  const columns = thingsTable(ownersTable());
  const executor = new TxnExecutor((name) => (name === "things" ? columns : undefined));
  const row = (id: string): Row => ({
    id,
    owner: "o1",
    count: 1n,
    limit: null,
    label: "x",
    note: null,
    flag: true,
    color: "red",
  });
  assert.equal(
    executor.execute([{ kind: "insert", table: "things", key: "k0", values: row("k0") }], null),
    ResultCode.OK,
  );
  const before = bytesOf(columns);
  const code = executor.execute(
    [
      { kind: "insert", table: "things", key: "k1", values: row("k1") },
      { kind: "update", table: "things", key: "k0", set: { note: "n" }, increment: { count: 5n } },
      { kind: "update", table: "things", key: "k1", increment: { count: AMOUNT_MAX } },
    ],
    null,
  );
  assert.equal(code, ResultCode.OVERFLOW);
  assert.equal(executor.failedIndex, 2);
  assert.deepEqual(bytesOf(columns), before);
  assert.equal(columns.find("k1"), -1);
  assert.deepEqual(columns.lookup("label", "x", 10), [0]);
  assert.deepEqual(columns.lookup("owner", "o1", 10), [0]);
});

test("loading a snapshot row that does not fit the schema is corruption", () => {
  const misfits: Row[] = [
    { id: "k0", owner: "o1", count: 1n, limit: null, label: "x", note: null, flag: true },
    {
      owner: "o1",
      id: "k0",
      count: 1n,
      limit: null,
      label: "x",
      note: null,
      flag: true,
      color: "red",
    },
    {
      id: "k0",
      owner: "o9",
      count: 1n,
      limit: null,
      label: "x",
      note: null,
      flag: true,
      color: "red",
    },
    {
      id: "k0",
      owner: "o1",
      count: "1",
      limit: null,
      label: "x",
      note: null,
      flag: true,
      color: "red",
    },
    {
      id: "k0",
      owner: "o1",
      count: 1n,
      limit: null,
      label: "x",
      note: null,
      flag: 1n,
      color: "red",
    },
    {
      id: "k0",
      owner: "o1",
      count: 1n,
      limit: null,
      label: "x",
      note: null,
      flag: true,
      color: "pink",
    },
    {
      id: "k9",
      owner: "o1",
      count: 1n,
      limit: null,
      label: "x",
      note: null,
      flag: true,
      color: "red",
    },
  ];
  for (const row of misfits) {
    const table = thingsTable(ownersTable());
    assert.throws(
      () => table.load("k0", row),
      (error) => isTxgridError(error),
      canonical(row),
    );
  }
});
