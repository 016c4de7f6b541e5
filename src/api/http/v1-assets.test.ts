// Goal: /v1 assets are created once, change only by exact signed increments (never past the
// 64-bit range), and bad requests are refused with their code without changing anything.
// Method: an in-memory shard and app.inject(), with engine digests compared around refusals.
import assert from "node:assert/strict";
import { test } from "node:test";
import { at, call, expectRefused, expectStatus, withHarness } from "./test-support.ts";

const bad = "TXG_ERR_BAD_REQUEST";

test("assets: create, update by deltas, read; conflicts and overflow refused", async () => {
  await withHarness(async (harness) => {
    const created = await expectStatus(
      harness,
      "POST",
      "/v1/assets",
      { id: "stock", value: "10" },
      201,
    );
    assert.deepEqual(at(created.json, "data"), { id: "stock", value: "10", updates: 0 });
    const exists = await expectRefused(
      harness,
      "POST",
      "/v1/assets",
      { id: "stock", value: 1 },
      409,
      "ASSET_EXISTS",
    );
    assert.equal(at(exists.json, "data.value"), "10");
    const down = await expectStatus(
      harness,
      "POST",
      "/v1/assets/stock/update",
      { delta: -25 },
      200,
    );
    assert.deepEqual(at(down.json, "data"), { id: "stock", value: "-15", updates: 1 });
    const up = await expectStatus(
      harness,
      "POST",
      "/v1/assets/stock/update",
      { delta: "9223372036854775807" },
      200,
    );
    assert.equal(at(up.json, "data.value"), "9223372036854775792");
    const overflow = await call(harness.app, "POST", "/v1/assets/stock/update", { delta: 100 });
    assert.equal(overflow.status, 422);
    assert.equal(at(overflow.json, "code"), "OVERFLOW");
    const read = await expectStatus(harness, "GET", "/v1/assets/stock", undefined, 200);
    assert.equal(at(read.json, "data.value"), "9223372036854775792");
    assert.equal(at(read.json, "data.updates"), 2);
  });
});

test("bad asset requests get 4xx with a code and change nothing", async () => {
  await withHarness(async (harness) => {
    await expectStatus(harness, "POST", "/v1/assets", { id: "gold", value: 0 }, 201);
    const create = (body: unknown, status: number, code: string) =>
      expectRefused(harness, "POST", "/v1/assets", body, status, code);
    await create({ id: "x", value: "9223372036854775808" }, 400, bad);
    await create({ id: "x", value: 1.5 }, 400, bad);
    await create({ id: "x", value: 2 ** 60 }, 400, bad);
    await create({ id: "x" }, 400, bad);
    await create({ id: "bad id", value: 1 }, 400, bad);
    await create({ id: "x", value: 1, unit: "kg" }, 400, bad);
    const update = (path: string, body: unknown, status: number, code: string) =>
      expectRefused(harness, "POST", path, body, status, code);
    await update("/v1/assets/nothing/update", { delta: 1 }, 404, "ASSET_NOT_FOUND");
    await update("/v1/assets/gold/update", { delta: "1.0" }, 400, bad);
    await update("/v1/assets/gold/update", { delta: "-9223372036854775809" }, 400, bad);
    await update("/v1/assets/gold/update", {}, 400, bad);
    await update("/v1/assets/gold/update", { delta: 1, extra: 1 }, 400, bad);
    await expectRefused(harness, "GET", "/v1/assets/nothing", undefined, 404, "TXG_ERR_NOT_FOUND");
  });
});
