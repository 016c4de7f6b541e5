// Goal: /v1 tables and generic transactions: all-or-nothing multi-row transactions with
// conditions, integers exact as {"int":"..."}, secondary-key lookups, the ledger's tables
// readable but not writable, and bad requests refused without changing anything.
// Method: an in-memory shard and app.inject(), with engine digests compared around refusals.
import assert from "node:assert/strict";
import { test } from "node:test";
import { TXN_OPERATIONS_MAX } from "../../constants.ts";
import {
  at,
  call,
  expectRefused,
  expectStatus,
  type Harness,
  items,
  withHarness,
} from "./test-support.ts";

const bad = "TXG_ERR_BAD_REQUEST";

async function withTable(run: (harness: Harness) => Promise<void>): Promise<void> {
  await withHarness(async (harness) => {
    const table = { name: "orders", indexes: ["customer", "open", "total"] };
    const created = await expectStatus(harness, "POST", "/v1/tables", table, 201);
    assert.deepEqual(at(created.json, "data"), table);
    await run(harness);
  });
}

test("tables: create once; reserved and invalid names refused", async () => {
  await withTable(async (harness) => {
    const again = await call(harness.app, "POST", "/v1/tables", { name: "orders" });
    assert.equal(again.status, 409);
    assert.equal(at(again.json, "code"), "TABLE_EXISTS");
    const reserved = await call(harness.app, "POST", "/v1/tables", { name: "accounts" });
    assert.equal(reserved.status, 403);
    assert.equal(at(reserved.json, "code"), "TABLE_RESERVED");
    await expectRefused(harness, "POST", "/v1/tables", { name: "Bad-Name" }, 400, bad);
    await expectRefused(
      harness,
      "POST",
      "/v1/tables",
      { name: "t", indexes: ["a", "a"] },
      400,
      bad,
    );
    await expectRefused(harness, "POST", "/v1/tables", { name: "t", indexes: ["1a"] }, 400, bad);
    await expectRefused(harness, "POST", "/v1/tables", { name: "t", extra: 1 }, 400, bad);
    const many = Array.from({ length: 65 }, (_, index) => `c${index}`);
    await expectRefused(
      harness,
      "POST",
      "/v1/tables",
      { name: "t", indexes: many },
      413,
      "TXG_ERR_LIMIT_EXCEEDED",
    );
  });
});

test("a transaction applies all its operations, with exact integers, and lookups find rows", async () => {
  await withTable(async (harness) => {
    const operations = [
      {
        kind: "insert",
        table: "orders",
        key: "o1",
        values: { customer: "ann", total: { int: "9223372036854775807" }, open: true, note: null },
      },
      {
        kind: "insert",
        table: "orders",
        key: "o2",
        values: { customer: "ann", total: 5, open: false },
      },
      {
        kind: "update",
        table: "orders",
        key: "o2",
        increment: { total: "-10" },
        set: { open: true },
        conditions: [{ kind: "exists" }],
      },
      { kind: "read", table: "orders", key: "o3" },
    ];
    const answer = await expectStatus(harness, "POST", "/v1/txn", { operations }, 200);
    const rows = items(answer.json, "data.rows");
    assert.deepEqual(rows[0], {
      customer: "ann",
      total: { int: "9223372036854775807" },
      open: true,
      note: null,
    });
    assert.deepEqual(rows[2], { customer: "ann", total: { int: "-5" }, open: true });
    assert.equal(rows[3], null);
    const row = await expectStatus(harness, "GET", "/v1/tables/orders/rows/o2", undefined, 200);
    assert.deepEqual(at(row.json, "data.row"), {
      customer: "ann",
      total: { int: "-5" },
      open: true,
    });
    const byCustomer = await expectStatus(
      harness,
      "GET",
      "/v1/tables/orders/lookup?column=customer&value=ann",
      undefined,
      200,
    );
    assert.equal(items(byCustomer.json, "data.rows").length, 2);
    const byTotal = await expectStatus(
      harness,
      "GET",
      "/v1/tables/orders/lookup?column=total&value=-5&type=int",
      undefined,
      200,
    );
    assert.deepEqual(
      items(byTotal.json, "data.rows").map((found) => at(found, "customer")),
      ["ann"],
    );
    const byFlag = await expectStatus(
      harness,
      "GET",
      "/v1/tables/orders/lookup?column=open&value=true&type=bool&limit=1",
      undefined,
      200,
    );
    assert.equal(items(byFlag.json, "data.rows").length, 1);
    const deleted = { operations: [{ kind: "delete", table: "orders", key: "o1" }] };
    await expectStatus(harness, "POST", "/v1/txn", deleted, 200);
    await expectRefused(
      harness,
      "GET",
      "/v1/tables/orders/rows/o1",
      undefined,
      404,
      "TXG_ERR_NOT_FOUND",
    );
  });
});

test("a failing operation rolls the whole transaction back and names itself", async () => {
  await withTable(async (harness) => {
    const seed = {
      operations: [{ kind: "insert", table: "orders", key: "o1", values: { total: 10 } }],
    };
    await expectStatus(harness, "POST", "/v1/txn", seed, 200);
    const operations = [
      { kind: "insert", table: "orders", key: "o9", values: { total: 1 } },
      {
        kind: "update",
        table: "orders",
        key: "o1",
        increment: { total: -11 },
        conditions: [{ kind: "floor", column: "total", minimum: 0 }],
      },
    ];
    const failed = await call(harness.app, "POST", "/v1/txn", { operations });
    assert.equal(failed.status, 422);
    assert.equal(at(failed.json, "code"), "FLOOR_VIOLATED");
    assert.equal(at(failed.json, "operationIndex"), 1);
    await expectRefused(
      harness,
      "GET",
      "/v1/tables/orders/rows/o9",
      undefined,
      404,
      "TXG_ERR_NOT_FOUND",
    );
    const compare = [
      {
        kind: "update",
        table: "orders",
        key: "o1",
        set: { total: 0 },
        conditions: [{ kind: "compare", column: "total", operator: "gt", value: { int: "10" } }],
      },
    ];
    const unmet = await call(harness.app, "POST", "/v1/txn", { operations: compare });
    assert.equal(at(unmet.json, "code"), "CONDITION_FAILED");
    const ledger = [{ kind: "update", table: "accounts", key: "a", set: { balance: 1 } }];
    const forbidden = await call(harness.app, "POST", "/v1/txn", { operations: ledger });
    assert.equal(forbidden.status, 403);
    assert.equal(at(forbidden.json, "code"), "TABLE_RESERVED");
    const nowhere = [{ kind: "read", table: "nothing", key: "a" }];
    const missing = await call(harness.app, "POST", "/v1/txn", { operations: nowhere });
    assert.equal(missing.status, 404);
    assert.equal(at(missing.json, "code"), "TABLE_NOT_FOUND");
  });
});

test("the ledger's tables can be read through the table routes", async () => {
  await withTable(async (harness) => {
    await expectStatus(harness, "POST", "/v1/accounts", { id: "acc", balance: "42" }, 201);
    const row = await expectStatus(harness, "GET", "/v1/tables/accounts/rows/acc", undefined, 200);
    assert.deepEqual(at(row.json, "data.row.balance"), { int: "42" });
    const read = [{ kind: "read", table: "accounts", key: "acc" }];
    const answer = await expectStatus(harness, "POST", "/v1/txn", { operations: read }, 200);
    assert.deepEqual(at(answer.json, "data.rows.0.available"), { int: "42" });
  });
});

test("bad transactions and lookups get 4xx and change nothing", async () => {
  await withTable(async (harness) => {
    const txn = (operations: unknown, status = 400, code = bad) =>
      expectRefused(harness, "POST", "/v1/txn", { operations }, status, code);
    const insert = (values: unknown) => [{ kind: "insert", table: "orders", key: "k", values }];
    await txn(insert({ total: 1.5 }));
    await txn(insert({ total: 2 ** 53 }));
    await txn(insert({ total: { int: "9223372036854775808" } }));
    await txn(insert({ total: { int: "1", extra: 1 } }));
    await txn(insert({ total: [1] }));
    await txn(insert({ "bad column": 1 }));
    await txn(insert({ text: "x".repeat(1025) }));
    await txn(insert({ text: "é".repeat(600) }));
    await txn([{ kind: "upsert", table: "orders", key: "k" }]);
    await txn([{ kind: "read", table: "orders", key: "bad key" }]);
    await txn([
      {
        kind: "read",
        table: "orders",
        key: "k",
        conditions: [{ kind: "compare", column: "a", operator: "like", value: 1 }],
      },
    ]);
    await txn([{ kind: "update", table: "orders", key: "k", increment: { total: "x" } }]);
    await txn([]);
    const many = Array.from({ length: TXN_OPERATIONS_MAX + 1 }, () => ({
      kind: "read",
      table: "orders",
      key: "k",
    }));
    await txn(many, 413, "TXG_ERR_LIMIT_EXCEEDED");
    const lookup = (query: string, status: number, code: string) =>
      expectRefused(harness, "GET", `/v1/tables/orders/lookup?${query}`, undefined, status, code);
    await lookup("column=total&value=abc&type=int", 400, bad);
    await lookup("column=open&value=yes&type=bool", 400, bad);
    await lookup("column=open&value=1&type=float", 400, bad);
    await lookup("value=1", 400, bad);
    await lookup("column=note&value=x", 404, "TXG_ERR_NOT_FOUND");
    await expectRefused(
      harness,
      "GET",
      "/v1/tables/nothing/lookup?column=a&value=b",
      undefined,
      404,
      "TXG_ERR_NOT_FOUND",
    );
    await expectRefused(
      harness,
      "GET",
      "/v1/tables/nothing/rows/k",
      undefined,
      404,
      "TXG_ERR_NOT_FOUND",
    );
  });
});
