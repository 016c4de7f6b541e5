// Goal: embedded mode is the same API as the TCP client: the same whole-API scenario passes
// in memory and on a data directory, state survives close and reopen, the directory is
// locked while open, and a full shard queue refuses with OVERLOADED. Method: open() on
// dir null and on a temporary directory; the scenario from src/client checks every call.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { checkScenarioState, runApiScenario } from "../client/index.ts";
import { ErrorCode, isTxgridError } from "../stdx/index.ts";
import { open } from "./embedded.ts";

test("the whole API works in memory", async () => {
  const db = await open({ dir: null });
  try {
    await runApiScenario(db);
    await checkScenarioState(db);
    assert.deepEqual(db.shard.engine.checkInvariants(), []);
  } finally {
    await db.close();
  }
  await assert.rejects(db.ping(), (error) => isTxgridError(error, ErrorCode.SHUTTING_DOWN));
});

test("on a directory, state survives close and reopen", async () => {
  const dir = mkdtempSync(join(tmpdir(), "txgrid-embedded-"));
  try {
    const db = await open({ dir, fsync: "batch" });
    await runApiScenario(db);
    await assert.rejects(open({ dir }), (error) => isTxgridError(error, ErrorCode.LOCKED));
    await db.close();
    const reopened = await open({ dir });
    try {
      await checkScenarioState(reopened);
      const retried = await reopened.createTransfer({
        id: "t1",
        debitId: "alice",
        creditId: "bob",
        amount: 100n,
      });
      assert.equal(retried.duplicate, true, "a retry after a restart is still a duplicate");
      assert.deepEqual(reopened.shard.engine.checkInvariants(), []);
    } finally {
      await reopened.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a full shard queue refuses with OVERLOADED", async () => {
  const db = await open({ dir: null, queueCommandsMax: 8_190 });
  try {
    await db.createAccounts([{ id: "a", balance: 100_000n }, { id: "b" }]);
    const transfers = (prefix: string) =>
      Array.from({ length: 8_000 }, (_, index) => ({
        id: `${prefix}${index}`,
        debitId: "a",
        creditId: "b",
        amount: 1n,
      }));
    const first = db.createTransfers(transfers("x"));
    // The next tick's frame finds the queue holding the first one.
    await new Promise((resolve) => process.nextTick(resolve));
    await assert.rejects(db.createTransfers(transfers("y")), (error) =>
      isTxgridError(error, ErrorCode.OVERLOADED),
    );
    assert.equal((await first).length, 8_000);
    assert.equal(db.shard.engine.transfer("y0"), undefined);
  } finally {
    await db.close();
  }
});

test("open() needs a dir", async () => {
  await assert.rejects(open({} as never), (error) => isTxgridError(error, ErrorCode.BAD_REQUEST));
});
