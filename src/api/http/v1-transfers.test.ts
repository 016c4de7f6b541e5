// Goal: /v1 transfers keep the ledger's promises over HTTP: exact amounts, exactly-once
// retries (the first outcome, refusals included, is what every retry gets), no overdraft under
// concurrency, pending transfers that post, void and expire, and bad requests that are refused
// with their code and change nothing. Method: in-memory shards and app.inject(); refused
// requests are checked against the engine digest; a manual clock moves time for expiry.
import assert from "node:assert/strict";
import { test } from "node:test";
import { REQUEST_TRANSFERS_MAX } from "../../constants.ts";
import { ManualClock } from "../../stdx/index.ts";
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

async function withAccounts(run: (harness: Harness) => Promise<void>, clock?: ManualClock) {
  await withHarness(
    async (harness) => {
      const accounts = [
        { id: "a", balance: "1000" },
        { id: "b", balance: "0" },
        { id: "c", balance: "0" },
      ];
      await expectStatus(harness, "POST", "/v1/accounts/batch", { accounts }, 200);
      await run(harness);
    },
    clock === undefined ? {} : { clock },
  );
}

async function balance(harness: Harness, id: string): Promise<unknown> {
  const answer = await expectStatus(harness, "GET", `/v1/accounts/${id}`, undefined, 200);
  return at(answer.json, "data.balance");
}

test("a transfer is applied once; retries get the first outcome", async () => {
  await withAccounts(async (harness) => {
    const body = { id: "t1", debitAccountId: "a", creditAccountId: "b", amount: "250" };
    const created = await expectStatus(harness, "POST", "/v1/transfers", body, 201);
    assert.equal(at(created.json, "status"), "success");
    assert.equal(at(created.json, "data.state"), "posted");
    assert.equal(at(created.json, "data.amount"), "250");
    assert.equal(at(created.json, "duplicate"), undefined);
    const retried = await expectStatus(
      harness,
      "POST",
      "/v1/transfers",
      { ...body, amount: 250 },
      200,
    );
    assert.equal(at(retried.json, "duplicate"), true);
    assert.deepEqual(at(retried.json, "data"), at(created.json, "data"));
    assert.equal(await balance(harness, "a"), "750");
    assert.equal(await balance(harness, "b"), "250");
    const conflict = await call(harness.app, "POST", "/v1/transfers", { ...body, amount: "1" });
    assert.equal(conflict.status, 409);
    assert.equal(at(conflict.json, "code"), "TRANSFER_EXISTS");
    assert.equal(await balance(harness, "a"), "750");
  });
});

test("a refusal is pinned to its id: 422 now, 422 duplicate later, readable by GET", async () => {
  await withAccounts(async (harness) => {
    const body = { id: "big", debitAccountId: "b", creditAccountId: "a", amount: 5 };
    const refused = await call(harness.app, "POST", "/v1/transfers", body);
    assert.equal(refused.status, 422);
    assert.equal(at(refused.json, "status"), "failed");
    assert.equal(at(refused.json, "code"), "INSUFFICIENT_FUNDS");
    assert.equal(at(refused.json, "data.state"), "failed");
    // Funds arrive, but the retry still gets the first outcome.
    await expectStatus(
      harness,
      "POST",
      "/v1/transfers",
      { ...body, id: "fund", debitAccountId: "a", creditAccountId: "b" },
      201,
    );
    const retried = await call(harness.app, "POST", "/v1/transfers", body);
    assert.equal(retried.status, 422);
    assert.equal(at(retried.json, "duplicate"), true);
    assert.equal(at(retried.json, "code"), "INSUFFICIENT_FUNDS");
    const stored = await expectStatus(harness, "GET", "/v1/transfers/big", undefined, 200);
    assert.equal(at(stored.json, "data.state"), "failed");
    assert.equal(at(stored.json, "data.code"), "INSUFFICIENT_FUNDS");
    const ghost = { id: "g", debitAccountId: "a", creditAccountId: "nobody", amount: 1 };
    const missing = await call(harness.app, "POST", "/v1/transfers", ghost);
    assert.equal(missing.status, 422);
    assert.equal(at(missing.json, "code"), "CREDIT_ACCOUNT_NOT_FOUND");
    const noDebit = await call(harness.app, "POST", "/v1/transfers", {
      ...ghost,
      id: "g2",
      debitAccountId: "x",
      creditAccountId: "a",
    });
    assert.equal(at(noDebit.json, "code"), "DEBIT_ACCOUNT_NOT_FOUND");
    await expectRefused(harness, "GET", "/v1/transfers/never", undefined, 404, "TXG_ERR_NOT_FOUND");
  });
});

test("bad transfer requests get 400 with a code and change nothing", async () => {
  await withAccounts(async (harness) => {
    const base = { id: "t", debitAccountId: "a", creditAccountId: "b", amount: "1" };
    const refuse = (body: Record<string, unknown>, code: string, status = 400) =>
      expectRefused(harness, "POST", "/v1/transfers", { ...base, ...body }, status, code);
    for (const amount of [
      0,
      "0",
      -1,
      "-1",
      1.5,
      2 ** 53,
      2 ** 63,
      1e300,
      "9223372036854775808",
      "99999999999999999999",
    ]) {
      await refuse({ amount }, "AMOUNT_INVALID");
    }
    for (const amount of ["1.5", "1e3", " 1", "", "0x10", true, null, [1], { value: 1 }]) {
      await refuse({ amount }, bad);
    }
    await refuse({ creditAccountId: "a" }, "ACCOUNTS_MUST_BE_DIFFERENT");
    await refuse({ timeoutMs: 1000 }, "TIMEOUT_INVALID");
    await refuse({ pending: true, timeoutMs: -1 }, bad);
    await refuse({ pending: true, timeoutMs: 1.5 }, bad);
    await refuse({ pending: true, timeoutMs: 30 * 24 * 3600 * 1000 + 1 }, bad);
    await refuse({ pending: "yes" }, bad);
    await refuse({ id: "no spaces" }, bad);
    await refuse({ id: "é" }, bad);
    await refuse({ debitAccountId: 5 }, bad);
    await refuse({ memo: "extra" }, bad);
    await expectRefused(
      harness,
      "POST",
      "/v1/transfers",
      { id: "t", debitAccountId: "a" },
      400,
      bad,
    );
    await expectRefused(harness, "POST", "/v1/transfers", "[]", 400, bad, {
      "content-type": "application/json",
    });
    await expectRefused(harness, "POST", "/v1/transfers", '{"id":"t",', 400, bad, {
      "content-type": "application/json",
    });
    await expectRefused(harness, "POST", "/v1/transfers", '{"__proto__":{"x":1}}', 400, bad, {
      "content-type": "application/json",
    });
    await expectRefused(harness, "POST", "/v1/transfers", "id=t", 400, bad, {
      "content-type": "application/x-www-form-urlencoded",
    });
    await expectRefused(harness, "GET", "/v1/transfers/bad%20id", undefined, 400, bad);
  });
});

test("the largest amount passes validation; the engine then refuses it for want of funds", async () => {
  await withAccounts(async (harness) => {
    const body = {
      id: "max",
      debitAccountId: "a",
      creditAccountId: "b",
      amount: "9223372036854775807",
    };
    const answer = await call(harness.app, "POST", "/v1/transfers", body);
    assert.equal(answer.status, 422);
    assert.equal(at(answer.json, "code"), "INSUFFICIENT_FUNDS");
    assert.equal(at(answer.json, "data.amount"), "9223372036854775807");
  });
});

test("pending transfers reserve, then post or void exactly once", async () => {
  await withAccounts(async (harness) => {
    const pending = {
      id: "p1",
      debitAccountId: "a",
      creditAccountId: "b",
      amount: 300,
      pending: true,
    };
    const created = await expectStatus(harness, "POST", "/v1/transfers", pending, 201);
    assert.equal(at(created.json, "data.state"), "pending");
    const reserved = await expectStatus(harness, "GET", "/v1/accounts/a", undefined, 200);
    assert.equal(at(reserved.json, "data.available"), "700");
    assert.equal(at(reserved.json, "data.reserved"), "300");
    const open = await expectStatus(harness, "GET", "/v1/transfers?state=pending", undefined, 200);
    assert.deepEqual(
      items(open.json, "data.transfers").map((row) => at(row, "id")),
      ["p1"],
    );
    const posted = await expectStatus(harness, "POST", "/v1/transfers/p1/post", undefined, 200);
    assert.equal(at(posted.json, "data.state"), "posted");
    const again = await expectStatus(harness, "POST", "/v1/transfers/p1/post", undefined, 200);
    assert.equal(at(again.json, "duplicate"), true);
    const voided = await call(harness.app, "POST", "/v1/transfers/p1/void");
    assert.equal(voided.status, 409);
    assert.equal(at(voided.json, "code"), "PENDING_ALREADY_POSTED");
    assert.equal(await balance(harness, "a"), "700");
    assert.equal(await balance(harness, "b"), "300");
    await expectStatus(harness, "POST", "/v1/transfers", { ...pending, id: "p2" }, 201);
    const undone = await expectStatus(harness, "POST", "/v1/transfers/p2/void", undefined, 200);
    assert.equal(at(undone.json, "data.state"), "voided");
    assert.equal(await balance(harness, "a"), "700");
    const after = await expectStatus(harness, "GET", "/v1/accounts/a", undefined, 200);
    assert.equal(at(after.json, "data.available"), "700");
    await expectRefused(
      harness,
      "POST",
      "/v1/transfers/none/post",
      undefined,
      404,
      "PENDING_NOT_FOUND",
    );
    await expectRefused(
      harness,
      "POST",
      "/v1/transfers/none/void",
      undefined,
      404,
      "PENDING_NOT_FOUND",
    );
    const plain = { id: "plain", debitAccountId: "a", creditAccountId: "c", amount: 1 };
    await expectStatus(harness, "POST", "/v1/transfers", plain, 201);
    await expectRefused(harness, "POST", "/v1/transfers/plain/post", undefined, 422, "NOT_PENDING");
    await expectRefused(harness, "POST", "/v1/transfers/bad%20id/post", undefined, 400, bad);
  });
});

test("a pending transfer expires after its timeout and can no longer be posted", async () => {
  const clock = new ManualClock(1_700_000_000_000);
  await withAccounts(async (harness) => {
    const body = {
      id: "slow",
      debitAccountId: "a",
      creditAccountId: "b",
      amount: 100,
      pending: true,
      timeoutMs: 5_000,
    };
    const created = await expectStatus(harness, "POST", "/v1/transfers", body, 201);
    assert.equal(at(created.json, "data.expiresAtMs"), 1_700_000_005_000);
    clock.advance(5_000);
    const late = await call(harness.app, "POST", "/v1/transfers/slow/post");
    assert.equal(late.status, 409);
    assert.equal(at(late.json, "code"), "PENDING_EXPIRED");
    const stored = await expectStatus(harness, "GET", "/v1/transfers/slow", undefined, 200);
    assert.equal(at(stored.json, "data.state"), "expired");
    const account = await expectStatus(harness, "GET", "/v1/accounts/a", undefined, 200);
    assert.equal(at(account.json, "data.available"), "1000");
  }, clock);
});

test("transfers are listed in creation order, paged", async () => {
  await withAccounts(async (harness) => {
    const transfers = Array.from({ length: 5 }, (_, index) => ({
      id: `l${index}`,
      debitAccountId: "a",
      creditAccountId: "b",
      amount: index + 1,
    }));
    await expectStatus(harness, "POST", "/v1/transfers/batch", { transfers }, 200);
    const page = await expectStatus(
      harness,
      "GET",
      "/v1/transfers?offset=1&limit=2",
      undefined,
      200,
    );
    assert.deepEqual(
      items(page.json, "data.transfers").map((row) => at(row, "id")),
      ["l1", "l2"],
    );
    assert.equal(at(page.json, "data.total"), 5);
    await expectRefused(harness, "GET", "/v1/transfers?state=posted", undefined, 400, bad);
    await expectRefused(
      harness,
      "GET",
      "/v1/transfers?state=pending&offset=3",
      undefined,
      400,
      bad,
    );
  });
});

test("a batch answers per item in order, with exactly-once retries inside it", async () => {
  await withAccounts(async (harness) => {
    const transfers = [
      { id: "x1", debitAccountId: "a", creditAccountId: "b", amount: "600" },
      { id: "x2", debitAccountId: "a", creditAccountId: "c", amount: "600" },
      { id: "x1", debitAccountId: "a", creditAccountId: "b", amount: "600" },
      { id: "x3", debitAccountId: "a", creditAccountId: "zz", amount: "1" },
    ];
    const answer = await expectStatus(harness, "POST", "/v1/transfers/batch", { transfers }, 200);
    assert.deepEqual(items(answer.json, "data.results"), [
      { id: "x1", code: "OK", result: 0 },
      { id: "x2", code: "INSUFFICIENT_FUNDS", result: 8 },
      { id: "x1", code: "OK", result: 0, duplicate: true },
      { id: "x3", code: "CREDIT_ACCOUNT_NOT_FOUND", result: 6 },
    ]);
    assert.equal(await balance(harness, "a"), "400");
    const one = transfers[0];
    const tooMany = Array.from({ length: REQUEST_TRANSFERS_MAX + 1 }, (_, index) => ({
      ...one,
      id: `n${index}`,
    }));
    await expectRefused(
      harness,
      "POST",
      "/v1/transfers/batch",
      { transfers: tooMany },
      413,
      "TXG_ERR_LIMIT_EXCEEDED",
    );
    const withBad = [one, { ...one, id: "y", amount: "0" }];
    const refused = await expectRefused(
      harness,
      "POST",
      "/v1/transfers/batch",
      { transfers: withBad },
      400,
      "AMOUNT_INVALID",
    );
    assert.match(String(at(refused.json, "msg")), /^transfers\[1\]: /);
    await expectRefused(harness, "POST", "/v1/transfers/batch", { transfers: [] }, 400, bad);
    await expectRefused(harness, "POST", "/v1/transfers/batch", [one], 400, bad);
  });
});

test("concurrent overdrawing transfers never take a balance below its floor", async () => {
  await withHarness(async (harness) => {
    const accounts = Array.from({ length: 5 }, (_, index) => ({ id: `k${index}`, balance: "100" }));
    await expectStatus(harness, "POST", "/v1/accounts/batch", { accounts }, 200);
    const answers = await Promise.all(
      Array.from({ length: 400 }, (_, index) =>
        call(harness.app, "POST", "/v1/transfers", {
          id: `c${index}`,
          debitAccountId: `k${index % 5}`,
          creditAccountId: `k${(index + 1 + (index % 3)) % 5}`,
          amount: 7 + (index % 13),
          pending: index % 4 === 0,
        }),
      ),
    );
    for (const answer of answers) assert.ok([201, 422].includes(answer.status), answer.text);
    assert.ok(answers.some((answer) => at(answer.json, "code") === "INSUFFICIENT_FUNDS"));
    const list = await expectStatus(harness, "GET", "/v1/accounts", undefined, 200);
    for (const account of items(list.json, "data.accounts")) {
      assert.ok(BigInt(String(at(account, "available"))) >= 0n, JSON.stringify(account));
    }
    const verify = await expectStatus(harness, "GET", "/v1/verify", undefined, 200);
    assert.equal(at(verify.json, "data.ok"), true, JSON.stringify(verify.json));
    assert.equal(at(verify.json, "data.balanceSum"), "500");
    assert.equal(at(verify.json, "data.initialSum"), "500");
  });
});
