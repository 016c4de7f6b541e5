// Goal: the application-wide guarantees: one failed envelope with a machine-readable code for
// every failure (unknown routes, malformed URLs, oversized bodies, overload, shutdown,
// unexpected exceptions), Retry-After where a retry helps, status and verify answers, and an
// OpenAPI document that lists every route. Method: in-memory shards and app.inject(); a tiny
// queue provokes OVERLOADED; a closed shard provokes SHUTTING_DOWN; translateError is also
// checked directly for errors the in-memory shard cannot produce (STORAGE).
import assert from "node:assert/strict";
import { test } from "node:test";
import { HTTP_BODY_BYTES_MAX } from "../../constants.ts";
import { ErrorCode, TxgridError } from "../../stdx/index.ts";
import { INTERNAL_ERROR_CODE, translateError } from "./errors.ts";
import { at, call, expectRefused, expectStatus, openHarness, withHarness } from "./test-support.ts";

const routes: readonly (readonly [string, string])[] = [
  ["get", "/users"],
  ["get", "/users/{id}"],
  ["post", "/users"],
  ["post", "/users/register"],
  ["get", "/transactions"],
  ["post", "/transactions"],
  ["post", "/transactions/immediately"],
  ["post", "/transactions/process"],
  ["post", "/process"],
  ["get", "/probe_status"],
  ["get", "/v1/accounts"],
  ["post", "/v1/accounts"],
  ["post", "/v1/accounts/batch"],
  ["get", "/v1/accounts/{id}"],
  ["get", "/v1/accounts/{id}/transfers"],
  ["get", "/v1/transfers"],
  ["post", "/v1/transfers"],
  ["post", "/v1/transfers/batch"],
  ["get", "/v1/transfers/{id}"],
  ["post", "/v1/transfers/{id}/post"],
  ["post", "/v1/transfers/{id}/void"],
  ["post", "/v1/assets"],
  ["post", "/v1/assets/{id}/update"],
  ["get", "/v1/assets/{id}"],
  ["post", "/v1/tables"],
  ["post", "/v1/txn"],
  ["get", "/v1/tables/{name}/rows/{key}"],
  ["get", "/v1/tables/{name}/lookup"],
  ["get", "/v1/status"],
  ["get", "/v1/verify"],
  ["get", "/docs"],
];

test("GET /docs is an OpenAPI 3 document listing every route", async () => {
  await withHarness(async (harness) => {
    const answer = await expectStatus(harness, "GET", "/docs", undefined, 200);
    assert.match(String(at(answer.json, "openapi")), /^3\./);
    const paths = at(answer.json, "paths") as Record<string, Record<string, unknown>>;
    for (const [method, path] of routes) {
      assert.ok(paths[path]?.[method] !== undefined, `${method} ${path} is not documented`);
    }
    const documented = Object.values(paths).flatMap((item) => Object.keys(item));
    assert.equal(documented.length, routes.length);
  });
});

test("unknown routes and malformed URLs answer in the envelope", async () => {
  await withHarness(async (harness) => {
    await expectRefused(harness, "GET", "/nowhere", undefined, 404, "TXG_ERR_NOT_FOUND");
    await expectRefused(harness, "POST", "/v1/verify", {}, 404, "TXG_ERR_NOT_FOUND");
    await expectRefused(
      harness,
      "GET",
      "/v1/accounts/%E0%A4%A",
      undefined,
      400,
      "TXG_ERR_BAD_REQUEST",
    );
  });
});

test("a body over HTTP_BODY_BYTES_MAX is refused with 413 before it is parsed", async () => {
  await withHarness(async (harness) => {
    const body = JSON.stringify({ id: "x", pad: "y".repeat(HTTP_BODY_BYTES_MAX) });
    const headers = { "content-type": "application/json" };
    for (const path of ["/v1/transfers", "/transactions", "/v1/txn"]) {
      await expectRefused(harness, "POST", path, body, 413, "TXG_ERR_LIMIT_EXCEEDED", headers);
    }
  });
});

test("a full queue answers 503 OVERLOADED with Retry-After; nothing of it is applied", async () => {
  await withHarness(
    async (harness) => {
      await expectStatus(
        harness,
        "POST",
        "/v1/accounts/batch",
        { accounts: [{ id: "a", balance: 100 }, { id: "b" }] },
        200,
      );
      const answers = await Promise.all(
        Array.from({ length: 40 }, (_, index) =>
          call(harness.app, "POST", "/v1/transfers", {
            id: `t${index}`,
            debitAccountId: "a",
            creditAccountId: "b",
            amount: 1,
          }),
        ),
      );
      const overloaded = answers.filter((answer) => answer.status === 503);
      assert.ok(overloaded.length > 0, "some requests must find the queue full");
      for (const answer of overloaded) {
        assert.equal(at(answer.json, "code"), ErrorCode.OVERLOADED);
        assert.equal(answer.headers["retry-after"], "1");
      }
      const accepted = answers.filter((answer) => answer.status === 201).length;
      const status = await expectStatus(harness, "GET", "/v1/status", undefined, 200);
      assert.equal(at(status.json, "data.engine.transferCount"), accepted);
      const transfers = Array.from({ length: 5 }, (_, index) => ({
        id: `m${index}`,
        debitAccountId: "a",
        creditAccountId: "b",
        amount: 1,
      }));
      await expectRefused(
        harness,
        "POST",
        "/v1/transfers/batch",
        { transfers },
        503,
        ErrorCode.OVERLOADED,
      );
    },
    { queueCommandsMax: 4 },
  );
});

test("after the shard closes, writes answer 503 SHUTTING_DOWN and reads still work", async () => {
  const harness = await openHarness();
  await expectStatus(harness, "POST", "/v1/accounts", { id: "a" }, 201);
  await harness.shard.close();
  const refused = await call(harness.app, "POST", "/v1/accounts", { id: "b" });
  assert.equal(refused.status, 503);
  assert.equal(at(refused.json, "code"), ErrorCode.SHUTTING_DOWN);
  assert.equal(refused.headers["retry-after"], "1");
  await expectStatus(harness, "GET", "/v1/accounts/a", undefined, 200);
  await harness.app.close();
});

test("an unexpected exception is a 500 TXG_ERR_INTERNAL that reveals nothing", async () => {
  await withHarness(async (harness) => {
    harness.app.get("/boom", () => {
      throw new Error("secret detail");
    });
    const answer = await call(harness.app, "GET", "/boom");
    assert.equal(answer.status, 500);
    assert.deepEqual(answer.json, {
      status: "failed",
      code: INTERNAL_ERROR_CODE,
      msg: "internal error",
    });
  });
});

test("translateError maps every control-plane code to its status", () => {
  const expected: Record<string, number> = {
    [ErrorCode.BAD_REQUEST]: 400,
    [ErrorCode.LIMIT_EXCEEDED]: 413,
    [ErrorCode.OVERLOADED]: 503,
    [ErrorCode.SHUTTING_DOWN]: 503,
    [ErrorCode.STORAGE]: 503,
    [ErrorCode.NOT_FOUND]: 404,
    [ErrorCode.TIMEOUT]: 504,
  };
  for (const [code, status] of Object.entries(expected)) {
    const translated = translateError(new TxgridError(code as ErrorCode, "m"));
    assert.equal(translated.statusCode, status, code);
    assert.equal(translated.body.code, code);
  }
  assert.equal(translateError(new TxgridError(ErrorCode.STORAGE, "m")).retryAfterSeconds, null);
  assert.equal(translateError(new TxgridError(ErrorCode.STORAGE, "m")).unexpected, true);
  assert.equal(translateError(new RangeError("x")).statusCode, 500);
  assert.equal(translateError("not an error").body.code, INTERNAL_ERROR_CODE);
  const fastify404 = Object.assign(new Error("x"), { statusCode: 404, code: "FST_ERR_NOT_FOUND" });
  assert.equal(translateError(fastify404).body.code, ErrorCode.NOT_FOUND);
  const fastify415 = Object.assign(new Error("x"), {
    statusCode: 415,
    code: "FST_ERR_CTP_INVALID_MEDIA_TYPE",
  });
  assert.equal(translateError(fastify415).statusCode, 400);
});

test("status and verify describe the node; verify's sums are exact strings", async () => {
  await withHarness(async (harness) => {
    await expectStatus(
      harness,
      "POST",
      "/v1/accounts/batch",
      { accounts: [{ id: "a", balance: "9223372036854775807" }, { id: "b" }] },
      200,
    );
    await expectStatus(
      harness,
      "POST",
      "/v1/transfers",
      { id: "p", debitAccountId: "a", creditAccountId: "b", amount: 5, pending: true },
      201,
    );
    const status = await expectStatus(harness, "GET", "/v1/status", undefined, 200);
    assert.equal(at(status.json, "data.fsyncPolicy"), "batch");
    assert.equal(at(status.json, "data.shard.dir"), null);
    assert.equal(at(status.json, "data.engine.accountCount"), 2);
    assert.equal(at(status.json, "data.engine.pendingCount"), 1);
    assert.equal(at(status.json, "data.replication"), "none");
    const verify = await expectStatus(harness, "GET", "/v1/verify", undefined, 200);
    const digest = at(verify.json, "data.digest");
    assert.ok(typeof digest === "string" && /^[0-9a-f]{64}$/.test(digest), "a SHA-256 digest");
    assert.deepEqual(at(verify.json, "data"), {
      ok: true,
      problems: [],
      balanceSum: "9223372036854775807",
      initialSum: "9223372036854775807",
      reservedSum: "5",
      pendingSum: "5",
      accountCount: 2,
      transferCount: 1,
      lsn: 2,
      digest,
    });
  });
});
