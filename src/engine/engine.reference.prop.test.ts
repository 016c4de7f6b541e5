// Goal: the redesigned engine (column tables, one executor over two table kinds) answers
// exactly as the engine it replaced: same result codes, duplicate flags, rows (values and
// column order), query answers, deadlines and byte-identical snapshots, for any command
// history. Method: fast-check generates histories over small id pools (so retries, refusals,
// pending transfers, expiries, user tables and generic transactions collide often) and runs
// them through Engine and through ReferenceEngine, the frozen pre-redesign copy in
// reference/; after every batch it compares results, every query and the snapshot bytes, and
// checks that a snapshot taken midway restores to the same state. SEED=<n> replays a run.
// In half of the runs, the engine gets every run of consecutive listable transfer.create
// commands as one transfer.list (transfer-list.ts, what a TCP server logs) while the reference
// gets the commands: the list's codes and duplicate flags must be the commands' results, and
// queries and snapshot bytes must stay identical.
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { AMOUNT_MAX } from "../constants.ts";
import type { Command, LogCommand } from "./commands.ts";
import { Engine } from "./engine.ts";
import { ReferenceEngine } from "./reference/engine.ts";
import type { CommandResult } from "./results.ts";
import { isListable, TRANSFER_CODE_DUPLICATE, transferListOf } from "./transfer-list.ts";
import type { Condition, Operation } from "./txn.ts";
import type { Row, Value } from "./values.ts";

const seed = Number(process.env.SEED ?? Date.now() % 2 ** 31);
const numRuns = Number(process.env.PROP_RUNS ?? 200);

const accountIds = ["a0", "a1", "a2", "a3", "a4"];
const accountId = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom(...accountIds) },
  { weight: 1, arbitrary: fc.constantFrom("", "bad id", "zz") },
);
const transferId = fc.oneof(
  { weight: 12, arbitrary: fc.integer({ min: 0, max: 19 }).map((n) => `t${n}`) },
  { weight: 1, arbitrary: fc.constantFrom("", "x".repeat(129), "a0") },
);
/** Pending transfers mostly draw from a small pool that post and void target too. */
const pendingId = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 4 }).map((n) => `p${n}`) },
  { weight: 1, arbitrary: transferId },
);
// Values around 2^52 too: below it the engine computes transfers with numbers, from it with
// bigints (transfer-path.ts), and both must give what the reference gives.
const small = 2n ** 52n;
const amount = fc.oneof(
  { weight: 8, arbitrary: fc.bigInt({ min: 1n, max: 15n }) },
  { weight: 1, arbitrary: fc.constantFrom(0n, -5n, AMOUNT_MAX, AMOUNT_MAX - 3n, 2n ** 62n) },
  { weight: 1, arbitrary: fc.constantFrom(small - 1n, small, small + 1n, small / 2n) },
);
const balance = fc.oneof(
  { weight: 8, arbitrary: fc.bigInt({ min: 0n, max: 40n }) },
  { weight: 1, arbitrary: fc.constantFrom(AMOUNT_MAX - 10n, -(2n ** 63n) + 10n, -100n) },
  { weight: 1, arbitrary: fc.constantFrom(small - 3n, small, small + 2n, small * 2n - 1n) },
);
const floor = fc.constantFrom<bigint | null>(0n, 0n, null, -5n, 10n, -small, -small - 1n);
const nickname = fc.constantFrom<string | null>(null, null, null, "ann", "bob", "");

const value: fc.Arbitrary<Value> = fc.oneof(
  fc.constantFrom<Value>(null, true, false, "ann", "bob", "pending", "posted", "a0", ""),
  fc.bigInt({ min: -3n, max: 12n }),
);
const column = fc.constantFrom(
  "owner",
  "stock",
  "note",
  "balance",
  "available",
  "state",
  "nickname",
  "constructor",
  "toString",
  "__proto__",
);
const condition: fc.Arbitrary<Condition> = fc.oneof(
  fc.constant({ kind: "exists" as const }),
  fc.constant({ kind: "absent" as const }),
  fc.record(
    {
      kind: fc.constant("compare" as const),
      column,
      operator: fc.constantFrom("eq", "ne", "lt", "le", "gt", "ge" as const),
      value,
    },
    { noNullPrototype: true },
  ),
  fc.record(
    {
      kind: fc.constant("floor" as const),
      column,
      minimum: fc.bigInt({ min: -2n, max: 5n }),
    },
    { noNullPrototype: true },
  ),
);
const userTable = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom("items", "items", "books") },
  { weight: 1, arbitrary: fc.constantFrom("missing", "constructor") },
);
const systemTable = fc.constantFrom("accounts", "transfers", "assets", "transfer_failures");
const tableName = fc.oneof(
  { weight: 10, arbitrary: userTable },
  { weight: 1, arbitrary: systemTable },
);
const rowKey = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom("k0", "k1", "k2", "a0", "a1", "t0", "t1", "x0") },
  { weight: 1, arbitrary: fc.constantFrom("", "bad key") },
);
const rowValues = fc.dictionary(fc.constantFrom("owner", "stock", "note"), value, {
  maxKeys: 3,
  noNullPrototype: true,
});
const increment = fc.dictionary(
  fc.constantFrom("stock", "owner", "balance"),
  fc.bigInt({ min: -4n, max: 4n }),
  { maxKeys: 2, noNullPrototype: true },
);
const conditions = fc.option(fc.array(condition, { maxLength: 2 }), { nil: undefined });

function withConditions<T extends object>(operation: T, list: Condition[] | undefined) {
  return list === undefined ? operation : { ...operation, conditions: list };
}

const operation: fc.Arbitrary<Operation> = fc.oneof(
  fc
    .tuple(tableName, rowKey, rowValues, conditions)
    .map(([table, key, values, list]) =>
      withConditions({ kind: "insert" as const, table, key, values }, list),
    ),
  fc
    .tuple(tableName, rowKey, fc.option(rowValues, { nil: undefined }), increment, conditions)
    .map(([table, key, set, inc, list]) =>
      withConditions(
        set === undefined
          ? { kind: "update" as const, table, key, increment: inc }
          : { kind: "update" as const, table, key, set, increment: inc },
        list,
      ),
    ),
  fc
    .tuple(tableName, rowKey, conditions)
    .map(([table, key, list]) => withConditions({ kind: "delete" as const, table, key }, list)),
  fc
    .tuple(fc.oneof(tableName, systemTable), rowKey, conditions)
    .map(([table, key, list]) => withConditions({ kind: "read" as const, table, key }, list)),
);

const record = <T>(shape: { [K in keyof T]: fc.Arbitrary<T[K]> }) =>
  fc.record(shape, { noNullPrototype: true });

const command: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 3,
    arbitrary: record({
      kind: fc.constant("account.create" as const),
      id: accountId,
      balance,
      floor,
      nickname,
    }),
  },
  {
    weight: 8,
    arbitrary: fc.boolean().chain((pending) =>
      record({
        kind: fc.constant("transfer.create" as const),
        id: pending ? pendingId : transferId,
        debitId: accountId,
        creditId: accountId,
        amount,
        pending: fc.constant(pending),
        // Timeouts equal to clock advances, so deadlines land exactly on batch times; now
        // and then a timeout that is invalid for the kind of transfer.
        timeoutMs: pending
          ? fc.constantFrom(0, 400, 400, 2000, 2401, -1)
          : fc.constantFrom(0, 0, 0, 0, 0, 400),
        origin: fc.constantFrom("api" as const, "timpe" as const),
      }),
    ),
  },
  {
    weight: 2,
    arbitrary: record({
      kind: fc.constantFrom("transfer.post" as const, "transfer.void" as const),
      pendingId,
    }),
  },
  fc.constant({ kind: "timpe.process" as const }),
  record({
    kind: fc.constant("asset.create" as const),
    id: fc.constantFrom("x0", "x1", ""),
    value: balance,
  }),
  record({
    kind: fc.constant("asset.update" as const),
    id: fc.constantFrom("x0", "x1", "x2"),
    delta: amount,
  }),
  record({
    kind: fc.constant("table.create" as const),
    name: fc.constantFrom("items", "books", "accounts", "constructor", "Bad", "x".repeat(70)),
    indexes: fc.constantFrom<string[]>([], ["owner"], ["owner", "stock"], ["owner", "owner"]),
  }),
  {
    weight: 3,
    arbitrary: record({
      kind: fc.constant("txn" as const),
      operations: fc.oneof(
        { weight: 12, arbitrary: fc.array(operation, { minLength: 1, maxLength: 4 }) },
        { weight: 1, arbitrary: fc.constant([]) },
      ),
    }),
  },
);

/** Most histories start with funded accounts and two user tables, so most commands apply. */
const prelude: Command[] = [
  ...accountIds.map(
    (id, index): Command => ({
      kind: "account.create",
      id,
      // a4 sits at the edge of exact number arithmetic (2^53 - 1): transfers to and from it
      // cross between the compiled and the bigint path.
      balance: [60n, 25n, 5n, 0n, 2n * small - 1n][index] as bigint,
      floor: [0n, null, -5n, 0n, small - 100n][index] as bigint | null,
      nickname: [null, "ann", null, "bob", null][index] as string | null,
    }),
  ),
  { kind: "table.create", name: "items", indexes: ["owner"] },
  { kind: "table.create", name: "books", indexes: [] },
];

type Batch = { advanceMs: number; commands: Command[] };

/** An equal string in another object, as a decoder would return it. */
function fresh(value: string): string {
  return `${value} `.slice(0, -1);
}

/**
 * Adds exact retries: per pick, a copy (fresh strings) of an earlier transfer.create at the
 * end of its own batch or of a later one, so duplicates of successes, failures and pending
 * transfers (also after their post, void or expiry) are common.
 */
function withRetries(input: Batch[], picks: readonly number[]): Batch[] {
  const output = input.map((batch) => ({ ...batch, commands: [...batch.commands] }));
  const originals = output.flatMap((batch, at) =>
    batch.commands.flatMap((command) =>
      command.kind === "transfer.create" ? [{ command, at }] : [],
    ),
  );
  for (const pick of picks) {
    const original = originals[pick % Math.max(1, originals.length)];
    if (original === undefined) break;
    const { command, at } = original;
    assert(command.kind === "transfer.create");
    const target = output[at + (pick % (output.length - at))] as Batch;
    const retry = {
      ...command,
      id: fresh(command.id),
      debitId: fresh(command.debitId),
      creditId: fresh(command.creditId),
    };
    // Half of the retries are exact, the other half change one field.
    const change = nearRetries[(pick >> 4) % (nearRetries.length * 2)];
    target.commands.push(change === undefined ? retry : change(retry));
  }
  return output;
}

type TransferCreate = Extract<Command, { kind: "transfer.create" }>;

/** Retries with one field changed: conflicts (TRANSFER_EXISTS). */
const nearRetries: readonly ((retry: TransferCreate) => TransferCreate)[] = [
  (retry) => ({ ...retry, origin: retry.origin === "api" ? "timpe" : "api" }),
  (retry) => ({ ...retry, timeoutMs: retry.timeoutMs === 400 ? 2000 : 400 }),
  (retry) => ({ ...retry, amount: retry.amount + 1n }),
  (retry) => ({ ...retry, pending: !retry.pending }),
  (retry) => ({ ...retry, debitId: retry.creditId, creditId: retry.debitId }),
  (retry) => ({ ...retry, creditId: "zz" }),
];

const batches = fc
  .tuple(
    fc.oneof(
      { weight: 4, arbitrary: fc.constant(true) },
      { weight: 1, arbitrary: fc.constant(false) },
    ),
    fc.array(
      record({
        advanceMs: fc.constantFrom(0, 1, 400, 2000),
        // Now and then a batch longer than the engine's prefetch window (transfer-path.ts).
        commands: fc.oneof(
          { weight: 8, arbitrary: fc.array(command, { maxLength: 8 }) },
          { weight: 1, arbitrary: fc.array(command, { minLength: 30, maxLength: 80 }) },
        ),
      }),
      { maxLength: 20 },
    ),
    fc.array(fc.nat(), { maxLength: 8 }),
  )
  .map(([withPrelude, rest, picks]) =>
    withRetries(
      withPrelude || rest.length === 0 ? [{ advanceMs: 0, commands: prelude }, ...rest] : rest,
      picks,
    ),
  );
type AnyEngine = Engine | ReferenceEngine;

/** Every value, with key order and bigints kept, as one string. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_, v) => (typeof v === "bigint" ? `${v}n` : v)) ?? "undefined";
}

function same(actual: unknown, expected: unknown, what: string): void {
  assert.deepStrictEqual(actual, expected, what);
  assert.equal(canonical(actual), canonical(expected), `${what} (column order)`);
}

const queryValues: Value[] = ["ann", "bob", "a0", "a1", "zz", 1n, true, null];

/** Every query the engine answers, over the id pools. */
function queries(engine: AnyEngine): unknown[] {
  const answers: unknown[] = [
    engine.stats(),
    engine.totals(),
    engine.checkInvariants(),
    engine.nextDeadlineMs(),
    engine.accounts(0, 100),
    engine.accounts(1, 2),
    engine.transfers(0, 100),
    engine.transfers(2, 3),
    engine.pendingTransfers(100),
    engine.pendingTransfers(1),
    engine.accountByNickname("ann"),
    engine.accountByNickname("bob"),
  ];
  for (const id of [...accountIds, "zz"]) {
    answers.push(engine.account(id), engine.accountTransfers(id, 100));
    answers.push(engine.accountTransfers(id, 2), engine.accountTransfers(id, 100, 3));
  }
  // Odd limits and positions, as slice() and the old loops read them.
  for (const limit of [0, -1, Number.NaN, 2.5]) {
    answers.push(engine.accountTransfers("a0", limit), engine.pendingTransfers(limit));
    answers.push(engine.lookup("transfers", "debit", "a0", limit));
    answers.push(engine.lookup("items", "owner", "ann", limit));
  }
  for (const before of [0, 2.5, Number.NaN]) answers.push(engine.accountTransfers("a1", 9, before));
  answers.push(engine.accounts(1.5, 2.5), engine.transfers(0.5, 1.5), engine.transfers(99, 5));
  for (let n = 0; n < 20; n++) answers.push(engine.transfer(`t${n}`));
  for (let n = 0; n < 5; n++) answers.push(engine.transfer(`p${n}`));
  for (const id of ["x0", "x1", "x2"]) answers.push(engine.asset(id));
  for (const table of ["items", "books", "accounts", "transfers", "transfer_failures", "assets"]) {
    for (const key of ["k0", "k1", "k2", "a0", "t0", "t1", "x0"])
      answers.push(engine.row(table, key));
    for (const column of ["owner", "stock", "nickname", "debit", "credit"]) {
      for (const value of queryValues) {
        answers.push(
          engine.lookup(table, column, value, 100),
          engine.lookup(table, column, value, 1),
        );
      }
    }
  }
  return answers;
}

/**
 * A result as its callers see it, through its properties, as a plain object with the
 * reference's key order (a StoredRowResult reads its row when `row` is first asked for).
 */
function observed(result: CommandResult): CommandResult {
  const { code, duplicate, row, rows, operationIndex, processed } = result;
  return {
    code,
    ...(duplicate === undefined ? {} : { duplicate }),
    ...(row === undefined ? {} : { row }),
    ...(rows === undefined ? {} : { rows }),
    ...(operationIndex === undefined ? {} : { operationIndex }),
    ...(processed === undefined ? {} : { processed }),
  };
}

/** `commands` with each run of consecutive listable transfers as one transfer.list. */
function asLists(commands: readonly Command[]): LogCommand[] {
  const output: LogCommand[] = [];
  let run: Extract<Command, { kind: "transfer.create" }>[] = [];
  for (const command of commands) {
    if (isListable(command)) {
      run.push(command);
      continue;
    }
    if (run.length > 0) output.push(transferListOf(run));
    run = [];
    output.push(command);
  }
  if (run.length > 0) output.push(transferListOf(run));
  return output;
}

/**
 * The engine's results of `applied` as one result per command (a list's codes become
 * { code, duplicate }), and the reference's results reduced to what a list carries.
 */
function listResults(applied: readonly LogCommand[], results: readonly CommandResult[]) {
  const flat: unknown[] = [];
  applied.forEach((command, index) => {
    const result = results[index] as CommandResult;
    if (command.kind !== "transfer.list") {
      flat.push(observed(result));
      return;
    }
    for (const code of result.transferCodes ?? []) {
      const duplicate = code >= TRANSFER_CODE_DUPLICATE;
      flat.push({ code: code & ~TRANSFER_CODE_DUPLICATE, duplicate });
    }
  });
  return flat;
}

function reduced(commands: readonly Command[], expected: readonly CommandResult[]): unknown[] {
  return commands.map((command, index) => {
    const result = expected[index] as CommandResult;
    if (!isListable(command)) return result;
    return { code: result.code, duplicate: result.duplicate === true };
  });
}

function applyBoth(
  engine: Engine,
  reference: ReferenceEngine,
  input: Batch[],
  startMs: number,
  lists = false,
) {
  let timestampMs = startMs;
  // Results whose rows are read late must show the state right after their command.
  const unread: { actual: CommandResult[]; expected: unknown; what: string }[] = [];
  for (const batch of input) {
    timestampMs += batch.advanceMs;
    const lsn = engine.lsn + 1;
    if (lists) {
      const applied = asLists(batch.commands);
      const actual = engine.applyBatch(lsn, timestampMs, applied);
      const expected = reference.applyBatch(lsn, timestampMs, batch.commands);
      const what = `list results of ${canonical(batch.commands)}`;
      same(listResults(applied, actual), reduced(batch.commands, expected), what);
      same(queries(engine), queries(reference), "queries");
      assert.deepEqual(engine.encodeSnapshot(), reference.encodeSnapshot(), "snapshot bytes");
      continue;
    }
    const actual = engine.applyBatch(lsn, timestampMs, batch.commands);
    const expected = reference.applyBatch(lsn, timestampMs, batch.commands);
    const what = `results of ${canonical(batch.commands)}`;
    if (lsn % 2 === 0) unread.push({ actual, expected, what });
    else same(actual.map(observed), expected, what);
    same(queries(engine), queries(reference), "queries");
    assert.deepEqual(engine.encodeSnapshot(), reference.encodeSnapshot(), "snapshot bytes");
  }
  for (const { actual, expected, what } of unread) same(actual.map(observed), expected, what);
  return timestampMs;
}

test("the engine matches the pre-redesign reference on results, queries and snapshots", () => {
  fc.assert(
    fc.property(batches, fc.nat(), fc.boolean(), (input, cutSeed, lists) => {
      const engine = new Engine();
      const reference = new ReferenceEngine();
      const cut = input.length === 0 ? 0 : cutSeed % input.length;
      const cutMs = applyBoth(engine, reference, input.slice(0, cut), 1_000_000, lists);
      // Both sides restart from the other side's snapshot: the bytes mean the same state. (A
      // restore drops deadlines of transfers resolved early, so compare restored with restored.)
      const restored = Engine.decodeSnapshot(reference.encodeSnapshot());
      const referenceRestored = ReferenceEngine.decodeSnapshot(engine.encodeSnapshot());
      same(queries(restored), queries(referenceRestored), "queries after restore");
      applyBoth(restored, referenceRestored, input.slice(cut), cutMs, lists);
      assert.equal(restored.digest(), referenceRestored.digest());
    }),
    { seed, numRuns },
  );
});

test("rows handed out do not change when the state changes later", () => {
  const engine = new Engine();
  engine.applyBatch(1, 1_000, [
    { kind: "account.create", id: "a", balance: 10n, floor: 0n, nickname: null },
    { kind: "account.create", id: "b", balance: 0n, floor: 0n, nickname: null },
  ]);
  const [created] = engine.applyBatch(2, 1_001, [
    {
      kind: "transfer.create",
      id: "p",
      debitId: "a",
      creditId: "b",
      amount: 4n,
      pending: true,
      timeoutMs: 0,
      origin: "api",
    },
  ]);
  const account: Row | undefined = engine.account("a");
  engine.applyBatch(3, 1_002, [{ kind: "transfer.post", pendingId: "p" }]);
  assert.equal(created?.row?.state, "pending");
  assert.equal(account?.balance, 10n);
  assert.equal(engine.transfer("p")?.state, "posted");
  assert.equal(engine.account("a")?.balance, 6n);
});
