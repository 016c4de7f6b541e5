// Goal: REST reads follow the shard's engine when a snapshot reset replaces it (a standby's
// catch-up), instead of serving the pre-reset state for the rest of the process. Method: an
// in-memory shard behind the app, reset to another shard's snapshot; /v1/verify, the account
// read and /v1/status must show the new state.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Shard } from "../../shard/index.ts";
import { at, expectStatus, withHarness } from "./test-support.ts";

test("reads follow a snapshot reset of the shard", async () => {
  const primary = await Shard.open({ dir: null, fsyncPolicy: "batch" });
  try {
    for (const id of ["a1", "a2", "a3"]) {
      await primary.submit({ kind: "account.create", id, balance: 5n, floor: 0n, nickname: null });
    }
    await withHarness(async (harness) => {
      const before = await expectStatus(harness, "GET", "/v1/verify", undefined, 200);
      assert.equal(at(before.json, "data.lsn"), 0);
      await expectStatus(harness, "GET", "/v1/accounts/a2", undefined, 404);
      const snapshot = primary.engine.encodeSnapshot();
      await harness.shard.resetToSnapshot(primary.engine.lsn, snapshot);
      const after = await expectStatus(harness, "GET", "/v1/verify", undefined, 200);
      assert.equal(at(after.json, "data.lsn"), primary.engine.lsn);
      assert.equal(at(after.json, "data.digest"), primary.engine.digest());
      const account = await expectStatus(harness, "GET", "/v1/accounts/a2", undefined, 200);
      assert.equal(at(account.json, "data.id"), "a2");
    });
  } finally {
    await primary.close();
  }
});
