// Goal: Engine.digest() is the SHA-256 of the snapshot encoding also when the state is larger
// than the chunk digest() hashes at a time (it streams the encoding through a bounded buffer
// instead of encoding the whole state first), and a snapshot round trip keeps it; an encoding
// in steps (snapshotEncoding) gives the same bytes whatever the step size, and refuses to go
// on once the state changed under it.
// Method: a ledger of 3,000 accounts and 12,000 transfers (about 1.5 MB encoded, several of
// digest()'s 1 MiB chunks), hashed both ways with node:crypto; step sizes from 1 row up.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import type { Command } from "./commands.ts";
import { Engine } from "./engine.ts";

function ledger(): Engine {
  const engine = new Engine();
  const accountCount = 3_000;
  const accounts: Command[] = [];
  for (let i = 0; i < accountCount; i++) {
    accounts.push({
      kind: "account.create",
      id: `account-${i}`,
      balance: 1_000_000n,
      floor: 0n,
      nickname: null,
    });
  }
  engine.applyBatch(1, 1_000, accounts);
  for (let batch = 0; batch < 12; batch++) {
    const transfers: Command[] = [];
    for (let i = 0; i < 1_000; i++) {
      const n = batch * 1_000 + i;
      transfers.push({
        kind: "transfer.create",
        id: `transfer-${n}`,
        debitId: `account-${(n * 7) % accountCount}`,
        creditId: `account-${(n * 7 + 1) % accountCount}`,
        amount: BigInt(1 + (n % 100)),
        pending: n % 10 === 0,
        timeoutMs: 0,
        origin: "api",
      });
    }
    engine.applyBatch(2 + batch, 2_000 + batch, transfers);
  }
  return engine;
}

test("digest streams the snapshot encoding of a multi-chunk state", () => {
  const engine = ledger();
  const encoded = engine.encodeSnapshot();
  assert.ok(encoded.length > 1.2 * 2 ** 20, `the state spans several chunks (${encoded.length})`);
  const expected = createHash("sha256").update(encoded).digest("hex");
  assert.equal(engine.digest(), expected);
  assert.equal(Engine.decodeSnapshot(encoded).digest(), expected);
});

test("an encoding in steps gives the same bytes for every step size", () => {
  const engine = ledger();
  const whole = engine.encodeSnapshot();
  for (const rowsPerStep of [1, 7, 999, 3_000, 100_000]) {
    const encoding = engine.snapshotEncoding(rowsPerStep);
    let steps = 1;
    while (!encoding.step()) steps++;
    assert.equal(encoding.stepCount, steps);
    assert.deepEqual(encoding.result(), whole, `${rowsPerStep} rows per step`);
    const digest = engine.digestEncoding(rowsPerStep);
    while (!digest.step());
    assert.equal(digest.result(), engine.digest());
    // About one step per rowsPerStep rows (a table's last slice runs in the next table's step).
    if (rowsPerStep < 3_000) assert.ok(steps >= 15_000 / rowsPerStep - 5, `${steps} steps`);
  }
});

test("an encoding in steps stops (assert) when the state changes under it", () => {
  const engine = ledger();
  const encoding = engine.snapshotEncoding(1_000);
  assert.equal(encoding.step(), false);
  engine.applyBatch(engine.lsn + 1, 9_000, []);
  assert.throws(() => encoding.step(), /the state changed while its snapshot was encoded/);
  assert.throws(() => encoding.result(), /the encoding is finished/);
});
