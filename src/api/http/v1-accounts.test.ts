// Goal: /v1 accounts create, retry, conflict, batch, list and history exactly as docs/api.md
// says, with balances as exact decimal strings, and every bad request refused with 400/409
// and its code without changing anything. Method: an in-memory shard and app.inject();
// each refused request is checked against the engine digest before and after.
import assert from "node:assert/strict";
import { test } from "node:test";
import { REQUEST_TRANSFERS_MAX } from "../../constants.ts";
import { at, call, expectRefused, expectStatus, items, withHarness } from "./test-support.ts";

const bad = "TXG_ERR_BAD_REQUEST";

test("an account is created once; an identical retry is a duplicate; a different one 409", async () => {
  await withHarness(async (harness) => {
    const body = { id: "alice", balance: "9223372036854775807", nickname: "Alice" };
    const created = await expectStatus(harness, "POST", "/v1/accounts", body, 201);
    assert.deepEqual(at(created.json, "data"), {
      id: "alice",
      nickname: "Alice",
      balance: "9223372036854775807",
      reserved: "0",
      available: "9223372036854775807",
      floor: "0",
      initial: "9223372036854775807",
      createdAtMs: at(created.json, "data.createdAtMs"),
    });
    const again = await expectStatus(harness, "POST", "/v1/accounts", body, 200);
    assert.equal(at(again.json, "duplicate"), true);
    const other = { ...body, balance: "1" };
    const conflict = await expectRefused(
      harness,
      "POST",
      "/v1/accounts",
      other,
      409,
      "ACCOUNT_EXISTS",
    );
    assert.equal(at(conflict.json, "data.balance"), "9223372036854775807");
    const taken = { id: "alice2", nickname: "Alice" };
    await expectRefused(harness, "POST", "/v1/accounts", taken, 409, "NICKNAME_TAKEN");
    const fetched = await expectStatus(harness, "GET", "/v1/accounts/alice", undefined, 200);
    assert.equal(at(fetched.json, "data.balance"), "9223372036854775807");
  });
});

test("floors: default 0, null for none, numbers or strings, never above the balance", async () => {
  await withHarness(async (harness) => {
    const open = await expectStatus(
      harness,
      "POST",
      "/v1/accounts",
      { id: "credit", balance: -500, floor: null },
      201,
    );
    assert.equal(at(open.json, "data.floor"), null);
    assert.equal(at(open.json, "data.balance"), "-500");
    const limited = await expectStatus(
      harness,
      "POST",
      "/v1/accounts",
      { id: "l", balance: 5, floor: "-100" },
      201,
    );
    assert.equal(at(limited.json, "data.floor"), "-100");
    const plain = await expectStatus(harness, "POST", "/v1/accounts", { id: "zero" }, 201);
    assert.equal(at(plain.json, "data.balance"), "0");
    assert.equal(at(plain.json, "data.floor"), "0");
  });
});

test("bad account requests get 400 with a code and change nothing", async () => {
  await withHarness(async (harness) => {
    await expectStatus(harness, "POST", "/v1/accounts", { id: "seed", balance: 10 }, 201);
    const refuse = (body: unknown, code: string) =>
      expectRefused(harness, "POST", "/v1/accounts", body, 400, code);
    await refuse({ id: "a", balance: 5, floor: 6 }, "BALANCE_INVALID");
    await refuse({ id: "a", balance: -1 }, "BALANCE_INVALID");
    await refuse({ id: "a", balance: "9223372036854775808" }, bad);
    await refuse({ id: "a", balance: "-9223372036854775809" }, bad);
    await refuse({ id: "a", balance: 2 ** 63 }, bad);
    await refuse({ id: "a", balance: 2 ** 53 }, bad);
    await refuse({ id: "a", balance: 1.5 }, bad);
    await refuse({ id: "a", balance: "1.5" }, bad);
    await refuse({ id: "a", balance: "1e3" }, bad);
    await refuse({ id: "a", balance: true }, bad);
    await refuse({ id: "a", floor: "x" }, bad);
    await refuse({ id: "bad id" }, bad);
    await refuse({ id: "" }, bad);
    await refuse({ id: "x".repeat(129) }, bad);
    await refuse({ balance: 1 }, bad);
    await refuse({ id: "a", owner: "me" }, bad);
    await refuse({ id: "a", nickname: "" }, bad);
    const json = { "content-type": "application/json" };
    await expectRefused(harness, "POST", "/v1/accounts", "null", 400, bad, json);
    await expectRefused(harness, "POST", "/v1/accounts", '{"id":', 400, bad, json);
    await expectRefused(harness, "POST", "/v1/accounts", "", 400, bad, json);
    await expectRefused(harness, "POST", "/v1/accounts", '{"id":"a"}', 400, bad, {
      "content-type": "text/plain",
    });
    await expectRefused(harness, "GET", "/v1/accounts/nobody", undefined, 404, "TXG_ERR_NOT_FOUND");
    await expectRefused(harness, "GET", "/v1/accounts/bad%20id", undefined, 400, bad);
  });
});

test("a batch of accounts answers per item, in order", async () => {
  await withHarness(async (harness) => {
    await expectStatus(harness, "POST", "/v1/accounts", { id: "taken", balance: 1 }, 201);
    const accounts = [
      { id: "b1", balance: "100" },
      { id: "taken", balance: "1" },
      { id: "taken", balance: "2" },
      { id: "b1", balance: "100" },
    ];
    const answer = await expectStatus(harness, "POST", "/v1/accounts/batch", { accounts }, 200);
    assert.deepEqual(items(answer.json, "data.results"), [
      { id: "b1", code: "OK", result: 0 },
      { id: "taken", code: "OK", result: 0, duplicate: true },
      { id: "taken", code: "ACCOUNT_EXISTS", result: 3 },
      { id: "b1", code: "OK", result: 0, duplicate: true },
    ]);
    const one = { id: "c", balance: "1" };
    const badItem = await expectRefused(
      harness,
      "POST",
      "/v1/accounts/batch",
      { accounts: [one, { id: "d", balance: 1, floor: 2 }] },
      400,
      "BALANCE_INVALID",
    );
    assert.match(String(at(badItem.json, "msg")), /^accounts\[1\]: /);
    const tooMany = Array.from({ length: REQUEST_TRANSFERS_MAX + 1 }, (_, index) => ({
      id: `m${index}`,
    }));
    await expectRefused(
      harness,
      "POST",
      "/v1/accounts/batch",
      { accounts: tooMany },
      413,
      "TXG_ERR_LIMIT_EXCEEDED",
    );
    await expectRefused(harness, "POST", "/v1/accounts/batch", { accounts: [] }, 400, bad);
    await expectRefused(
      harness,
      "POST",
      "/v1/accounts/batch",
      { accounts: [one], more: 1 },
      400,
      bad,
    );
  });
});

test("accounts are listed in creation order, paged", async () => {
  await withHarness(async (harness) => {
    const accounts = Array.from({ length: 7 }, (_, index) => ({ id: `p${index}` }));
    await expectStatus(harness, "POST", "/v1/accounts/batch", { accounts }, 200);
    const page = await expectStatus(
      harness,
      "GET",
      "/v1/accounts?offset=2&limit=3",
      undefined,
      200,
    );
    const ids = items(page.json, "data.accounts").map((account) => at(account, "id"));
    assert.deepEqual(ids, ["p2", "p3", "p4"]);
    assert.equal(at(page.json, "data.total"), 7);
    const all = await expectStatus(harness, "GET", "/v1/accounts", undefined, 200);
    assert.equal(items(all.json, "data.accounts").length, 7);
    await expectRefused(harness, "GET", "/v1/accounts?limit=0", undefined, 400, bad);
    await expectRefused(harness, "GET", "/v1/accounts?limit=10001", undefined, 400, bad);
    await expectRefused(harness, "GET", "/v1/accounts?limit=abc", undefined, 400, bad);
    await expectRefused(harness, "GET", "/v1/accounts?offset=-1", undefined, 400, bad);
    await expectRefused(harness, "GET", "/v1/accounts?sort=id", undefined, 400, bad);
  });
});

test("an account's history is newest first and pages with ?before", async () => {
  await withHarness(async (harness) => {
    const accounts = [{ id: "h", balance: "100" }, { id: "k" }, { id: "z" }];
    await expectStatus(harness, "POST", "/v1/accounts/batch", { accounts }, 200);
    const transfers = [
      { id: "h1", debitAccountId: "h", creditAccountId: "k", amount: 1 },
      { id: "h2", debitAccountId: "k", creditAccountId: "h", amount: 1 },
      { id: "h3", debitAccountId: "h", creditAccountId: "z", amount: 1 },
      { id: "other", debitAccountId: "k", creditAccountId: "z", amount: 1 },
    ];
    await expectStatus(harness, "POST", "/v1/transfers/batch", { transfers }, 200);
    const first = await expectStatus(
      harness,
      "GET",
      "/v1/accounts/h/transfers?limit=2",
      undefined,
      200,
    );
    const firstIds = items(first.json, "data.transfers").map((row) => at(row, "id"));
    assert.deepEqual(firstIds, ["h3", "h2"]);
    const before = at(first.json, "data.nextBefore");
    assert.equal(typeof before, "number");
    const rest = await expectStatus(
      harness,
      "GET",
      `/v1/accounts/h/transfers?limit=2&before=${before}`,
      undefined,
      200,
    );
    assert.deepEqual(
      items(rest.json, "data.transfers").map((row) => at(row, "id")),
      ["h1"],
    );
    assert.equal(at(rest.json, "data.nextBefore"), null);
    await expectRefused(
      harness,
      "GET",
      "/v1/accounts/none/transfers",
      undefined,
      404,
      "TXG_ERR_NOT_FOUND",
    );
    const answer = await call(harness.app, "GET", "/v1/accounts/h/transfers?before=x");
    assert.equal(answer.status, 400);
  });
});
