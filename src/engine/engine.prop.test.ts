// Goal: the engine agrees with the reference model (model.ts) on every result code and every
// balance, for random sequences of batches; its invariants hold after every batch; replaying
// the same batches, or loading a snapshot, gives the same digest; commands survive encoding.
// Method: fast-check generates batches over small id pools (so ids collide and retries,
// duplicates, missing accounts and overdrafts are common) with occasional invalid input and
// values near the int64 limits. SEED=<n> replays a failing run.
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { AMOUNT_MAX } from "../constants.ts";
import { BytesReader, BytesWriter } from "../stdx/index.ts";
import { type Command, decodeCommand, encodeCommand } from "./commands.ts";
import { Engine } from "./engine.ts";
import { Model } from "./model.ts";

const seed = Number(process.env.SEED ?? Date.now() % 2 ** 31);
const numRuns = Number(process.env.PROP_RUNS ?? 300);

// Few ids, so that accounts exist, transfers collide and retries happen in most runs.
const accountId = fc.oneof(
  { weight: 9, arbitrary: fc.constantFrom("a0", "a1", "a2") },
  { weight: 1, arbitrary: fc.constantFrom("", "bad id") },
);
const transferId = fc.oneof(
  fc.integer({ min: 0, max: 7 }).map((n) => `t${n}`),
  fc.constantFrom("", "x".repeat(129)),
);
const amount = fc.oneof(
  { weight: 8, arbitrary: fc.bigInt({ min: 1n, max: 12n }) },
  { weight: 1, arbitrary: fc.constantFrom(0n, -5n, AMOUNT_MAX, AMOUNT_MAX - 3n, 2n ** 62n) },
);
const balance = fc.oneof(
  { weight: 8, arbitrary: fc.bigInt({ min: 0n, max: 30n }) },
  { weight: 1, arbitrary: fc.constantFrom(AMOUNT_MAX - 10n, -(2n ** 63n) + 10n, -100n) },
);
// Small balances and amounts put transfers right at the floor boundary often.
const floor = fc.constantFrom<bigint | null>(0n, 0n, 0n, null, -5n, 10n);

const command: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.record(
      {
        kind: fc.constant("account.create" as const),
        id: accountId,
        balance,
        floor,
        nickname: fc.constantFrom<string | null>(null, null, "ann", "bob", ""),
      },
      { noNullPrototype: true },
    ),
  },
  {
    weight: 4,
    arbitrary: fc.record(
      {
        kind: fc.constant("transfer.create" as const),
        id: transferId,
        debitId: accountId,
        creditId: accountId,
        amount,
        pending: fc.boolean(),
        // Timeouts equal to the clock advances below, so deadlines land exactly on batch times.
        timeoutMs: fc.constantFrom(0, 0, 400, 2000, 2401, -1),
        origin: fc.constantFrom("api" as const, "timpe" as const),
      },
      { noNullPrototype: true },
    ),
  },
  fc.record(
    {
      kind: fc.constantFrom("transfer.post" as const, "transfer.void" as const),
      pendingId: transferId,
    },
    { noNullPrototype: true },
  ),
  fc.constant({ kind: "timpe.process" as const }),
  fc.record(
    {
      kind: fc.constant("asset.create" as const),
      id: fc.constantFrom("x0", "x1", ""),
      value: balance,
    },
    { noNullPrototype: true },
  ),
  fc.record(
    {
      kind: fc.constant("asset.update" as const),
      id: fc.constantFrom("x0", "x1", "x2"),
      delta: amount,
    },
    { noNullPrototype: true },
  ),
);

const batches = fc.array(
  fc.record(
    { advanceMs: fc.constantFrom(0, 1, 400, 2000), commands: fc.array(command, { maxLength: 6 }) },
    { noNullPrototype: true },
  ),
  { maxLength: 25 },
);

function apply(
  engine: Engine,
  model: Model | null,
  input: { advanceMs: number; commands: Command[] }[],
) {
  let timestampMs = 1_000_000;
  for (const batch of input) {
    timestampMs += batch.advanceMs;
    const results = engine.applyBatch(engine.lsn + 1, timestampMs, batch.commands);
    if (model === null) continue;
    const expected = model.applyBatch(timestampMs, batch.commands);
    assert.deepEqual(
      results.map((result) => result.code),
      expected,
      `codes differ for ${JSON.stringify(batch.commands, (_, v) => (typeof v === "bigint" ? `${v}n` : v))}`,
    );
    for (const [id, account] of model.accounts) {
      const row = engine.account(id);
      assert.equal(row?.balance, account.balance, `balance of ${id}`);
      assert.equal(row?.reserved, account.reserved, `reserved of ${id}`);
    }
    for (const [id, asset] of model.assets) assert.equal(engine.asset(id)?.value, asset.value);
    assert.deepEqual(engine.checkInvariants(), []);
  }
}

test("engine agrees with the reference model and keeps its invariants", () => {
  fc.assert(
    fc.property(batches, (input) => {
      apply(new Engine(), new Model(), input);
    }),
    { seed, numRuns },
  );
});

test("replay and snapshot reproduce the same state (determinism)", () => {
  fc.assert(
    fc.property(batches, fc.nat(), (input, cutSeed) => {
      const first = new Engine();
      apply(first, null, input);
      const second = new Engine();
      apply(second, null, input);
      assert.equal(second.digest(), first.digest());
      const restored = Engine.decodeSnapshot(first.encodeSnapshot());
      assert.equal(restored.digest(), first.digest());
      assert.deepEqual(restored.stats(), first.stats());
      // A snapshot taken midway plus the remaining batches equals the full run.
      const cut = input.length === 0 ? 0 : cutSeed % input.length;
      const head = new Engine();
      apply(head, null, input.slice(0, cut));
      const resumed = Engine.decodeSnapshot(head.encodeSnapshot());
      let timestampMs = 1_000_000 + input.slice(0, cut).reduce((sum, b) => sum + b.advanceMs, 0);
      for (const batch of input.slice(cut)) {
        timestampMs += batch.advanceMs;
        resumed.applyBatch(resumed.lsn + 1, timestampMs, batch.commands);
      }
      assert.equal(resumed.digest(), first.digest());
    }),
    { seed, numRuns: Math.ceil(numRuns / 3) },
  );
});

test("commands round-trip through their encoding", () => {
  // Negative timeouts are refused before encoding (API validation); the codec needs none.
  const encodable = command.filter((c) => c.kind !== "transfer.create" || c.timeoutMs >= 0);
  fc.assert(
    fc.property(encodable, (original) => {
      const writer = new BytesWriter(64, 1 << 20);
      encodeCommand(writer, original);
      const reader = new BytesReader(writer.copy());
      assert.deepEqual(decodeCommand(reader), original);
      assert.equal(reader.remaining, 0);
    }),
    { seed, numRuns: 1000 },
  );
});
