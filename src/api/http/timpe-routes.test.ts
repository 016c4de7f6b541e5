// Goal: the TiMPE face answers like TiMPE (seeds-spec 1.4) where TiMPE was right, and fixes
// it where it was not: no overdraft under concurrency, 400 with a code (never 500) for bad
// input, and bad input changes nothing. Method: an in-memory shard and app.inject(); the
// README session on both route spellings; every kind of bad body against a fixed state,
// comparing the engine digest before and after; many concurrent overdrawing transfers.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  at,
  call,
  expectRefused,
  expectStatus,
  type Harness,
  items,
  withHarness,
} from "./test-support.ts";
import { timpeUserId } from "./timpe-routes.ts";

const elon = "6ca595a7875dca8fc5b193aa7eaa566a6b0afdff";
const ada = "a92ea8a96974941a1d7f0b8ca9a1202b9aa704b5";

async function balances(harness: Harness): Promise<Record<string, unknown>> {
  const { json } = await expectStatus(harness, "GET", "/users", undefined, 200);
  const users = items(json, "data.users");
  return Object.fromEntries(users.map((user) => [at(user, "nickname"), at(user, "balance")]));
}

async function readmeSession(spelling: { register: string; process: string }) {
  await withHarness(async (harness) => {
    const first = await expectStatus(
      harness,
      "POST",
      spelling.register,
      {
        nickname: "elon_musk",
        balance: 10_000,
      },
      200,
    );
    assert.deepEqual(first.json, {
      status: "success",
      data: { id: elon, nickname: "elon_musk", balance: 10_000 },
    });
    const second = await expectStatus(
      harness,
      "POST",
      spelling.register,
      {
        nickname: "lovelace",
        balance: 500,
      },
      200,
    );
    assert.equal(at(second.json, "data.id"), ada);
    const phase1 = await expectStatus(
      harness,
      "POST",
      "/transactions",
      {
        sender: elon,
        recipient: ada,
        amount: 400,
      },
      200,
    );
    assert.equal(at(phase1.json, "status"), "success");
    assert.equal(at(phase1.json, "data.state"), "initial");
    assert.equal(typeof at(phase1.json, "data.id"), "string");
    // Phase 1 reserves but does not move money; TiMPE shows posted balances.
    assert.deepEqual(await balances(harness), { elon_musk: 10_000, lovelace: 500 });
    const processed = await expectStatus(harness, "POST", spelling.process, undefined, 200);
    assert.equal(at(processed.json, "status"), "success");
    assert.equal(at(processed.json, "msg"), "processed all transactions");
    assert.deepEqual(at(processed.json, "failed_transactions"), []);
    assert.deepEqual(await balances(harness), { elon_musk: 9_600, lovelace: 900 });
    const rows = await expectStatus(harness, "GET", "/transactions", undefined, 200);
    const row = items(rows.json, "data")[0];
    assert.equal(at(row, "id"), at(phase1.json, "data.id"));
    assert.equal(at(row, "state"), "finished");
    assert.equal(at(row, "amount"), 400);
    assert.equal(typeof at(row, "timestamp"), "number");
  });
}

test("the README session works with the README's spelling of the routes", async () => {
  await readmeSession({ register: "/users", process: "/process" });
});

test("the README session works with the code's spelling of the routes", async () => {
  await readmeSession({ register: "/users/register", process: "/transactions/process" });
});

test("user ids are the salted SHA-1 of the nickname (TiMPE's test vectors)", () => {
  assert.equal(timpeUserId("elon_musk"), elon);
  assert.equal(timpeUserId("lovelace"), ada);
  assert.equal(timpeUserId("albert_einstein"), "558f5665e8e82cdf01e58cd14e5d38141550d6b1");
  assert.equal(timpeUserId("nikola_tesla"), "262fddd9c2bca2ea1744a6b19e3a134e766211ff");
});

async function withTwoUsers(run: (harness: Harness) => Promise<void>): Promise<void> {
  await withHarness(async (harness) => {
    const register = "/users/register";
    await expectStatus(harness, "POST", register, { nickname: "elon_musk", balance: 10_000 }, 200);
    await expectStatus(harness, "POST", register, { nickname: "lovelace", balance: 500 }, 200);
    await run(harness);
  });
}

test("users: one by id, 404 for an unknown id, sorted list, probe", async () => {
  await withTwoUsers(async (harness) => {
    await expectStatus(harness, "POST", "/users", { nickname: "aaron" }, 200);
    const one = await expectStatus(harness, "GET", `/users/${ada}`, undefined, 200);
    assert.deepEqual(at(one.json, "data.user"), { id: ada, nickname: "lovelace", balance: 500 });
    await expectRefused(harness, "GET", "/users/nobody", undefined, 404, "TXG_ERR_NOT_FOUND");
    const all = await expectStatus(harness, "GET", "/users", undefined, 200);
    const nicknames = items(all.json, "data.users").map((user) => at(user, "nickname"));
    assert.deepEqual(nicknames, ["aaron", "elon_musk", "lovelace"]);
    const aaron = items(all.json, "data.users")[0];
    assert.equal(at(aaron, "balance"), 0);
    const probe = await call(harness.app, "GET", "/probe_status");
    assert.equal(probe.status, 200);
    assert.equal(probe.text, "OK");
    assert.match(String(probe.headers["content-type"]), /^text\/plain/);
  });
});

test("registration refuses bad input and duplicates with 400, changing nothing", async () => {
  await withTwoUsers(async (harness) => {
    const bad = "TXG_ERR_BAD_REQUEST";
    for (const path of ["/users", "/users/register"]) {
      const refuse = (body: unknown, code: string) =>
        expectRefused(harness, "POST", path, body, 400, code);
      await refuse({ nickname: "elon_musk" }, "NICKNAME_TAKEN");
      await refuse({ nickname: "x", balance: -1 }, "BALANCE_INVALID");
      await refuse({ nickname: "x", balance: 1.5 }, "BALANCE_INVALID");
      await refuse({ nickname: "x", balance: 2 ** 63 }, "BALANCE_INVALID");
      await refuse({ nickname: "x", balance: "5" }, bad);
      await refuse({ nickname: "" }, bad);
      await refuse({ nickname: "   " }, bad);
      await refuse({ nickname: 7 }, bad);
      await refuse({}, bad);
      await refuse({ nickname: "x", admin: true }, bad);
      await refuse({ nickname: "x".repeat(257) }, bad);
      await expectRefused(harness, "POST", path, "{nickname", 400, bad, {
        "content-type": "application/json",
      });
    }
  });
});

test("transfers refuse bad input with 400 and TiMPE's messages, changing nothing", async () => {
  await withTwoUsers(async (harness) => {
    const bad = "TXG_ERR_BAD_REQUEST";
    const amountInvalid = "AMOUNT_INVALID";
    for (const path of ["/transactions", "/transactions/immediately"]) {
      const send = (body: Record<string, unknown>, status: number, code: string) =>
        expectRefused(
          harness,
          "POST",
          path,
          { sender: elon, recipient: ada, amount: 1, ...body },
          status,
          code,
        );
      const unknownSender = await send({ sender: "nobody" }, 400, "DEBIT_ACCOUNT_NOT_FOUND");
      assert.equal(at(unknownSender.json, "msg"), "unknown 'sender'");
      const unknownRecipient = await send({ recipient: "nobody" }, 400, "CREDIT_ACCOUNT_NOT_FOUND");
      assert.equal(at(unknownRecipient.json, "msg"), "unknown 'recipient'");
      const poor = await send(
        { sender: ada, recipient: elon, amount: 501 },
        400,
        "INSUFFICIENT_FUNDS",
      );
      assert.equal(at(poor.json, "msg"), "sender balance is insufficient");
      await send({ recipient: elon }, 400, "ACCOUNTS_MUST_BE_DIFFERENT");
      for (const amount of [0, -1, 1.5, 2 ** 53, 2 ** 63, 1e300]) {
        await send({ amount }, 400, amountInvalid);
      }
      await send({ amount: "400" }, 400, bad);
      await send({ amount: null }, 400, bad);
      await send({ sender: 42 }, 400, bad);
      await send({ id: "not valid!" }, 400, bad);
      await send({ memo: "extra" }, 400, bad);
      await expectRefused(harness, "POST", path, { sender: elon, recipient: ada }, 400, bad);
      await expectRefused(harness, "POST", path, [], 400, bad);
      await expectRefused(harness, "POST", path, "{", 400, bad, {
        "content-type": "application/json",
      });
      await expectRefused(harness, "POST", path, "sender=x", 400, bad, {
        "content-type": "application/x-www-form-urlencoded",
      });
    }
    assert.deepEqual(await balances(harness), { elon_musk: 10_000, lovelace: 500 });
  });
});

test("the largest safe amount is accepted and refused only for want of funds", async () => {
  await withTwoUsers(async (harness) => {
    const body = { sender: elon, recipient: ada, amount: Number.MAX_SAFE_INTEGER };
    await expectRefused(harness, "POST", "/transactions", body, 400, "INSUFFICIENT_FUNDS");
  });
});

test("/transactions/immediately moves the money at once; a client id makes retries safe", async () => {
  await withTwoUsers(async (harness) => {
    const body = { sender: elon, recipient: ada, amount: 250, id: "retry-1" };
    const first = await expectStatus(harness, "POST", "/transactions/immediately", body, 200);
    assert.equal(at(first.json, "data.state"), "finished");
    assert.equal(at(first.json, "data.id"), "retry-1");
    assert.equal(at(first.json, "duplicate"), undefined);
    const again = await expectStatus(harness, "POST", "/transactions/immediately", body, 200);
    assert.equal(at(again.json, "duplicate"), true);
    // The first answer is built from the request and the stored stamp, a retry's from the
    // stored row: the same transaction either way.
    assert.deepEqual(at(again.json, "data"), at(first.json, "data"));
    assert.deepEqual(await balances(harness), { elon_musk: 9_750, lovelace: 750 });
    // A reused id with other fields is refused by the engine (logged, but no money moves).
    const other = { ...body, amount: 1 };
    const conflict = await call(harness.app, "POST", "/transactions/immediately", other);
    assert.equal(conflict.status, 409);
    assert.equal(at(conflict.json, "code"), "TRANSFER_EXISTS");
    const phase1 = { sender: ada, recipient: elon, amount: 100, id: "retry-2" };
    await expectStatus(harness, "POST", "/transactions", phase1, 200);
    const repeated = await expectStatus(harness, "POST", "/transactions", phase1, 200);
    assert.equal(at(repeated.json, "duplicate"), true);
    await expectStatus(harness, "POST", "/transactions/process", undefined, 200);
    assert.deepEqual(await balances(harness), { elon_musk: 9_850, lovelace: 650 });
  });
});

test("a sender may spend its whole balance, not a unit more; the answer is the stored row", async () => {
  await withTwoUsers(async (harness) => {
    const path = "/transactions/immediately";
    const all = { sender: ada, recipient: elon, amount: 500 };
    await expectRefused(harness, "POST", path, { ...all, amount: 501 }, 400, "INSUFFICIENT_FUNDS");
    const spent = await expectStatus(harness, "POST", path, all, 200);
    await expectRefused(harness, "POST", path, { ...all, amount: 1 }, 400, "INSUFFICIENT_FUNDS");
    const listed = await expectStatus(harness, "GET", "/transactions", undefined, 200);
    assert.deepEqual(at(listed.json, "data"), [at(spent.json, "data")]);
    assert.deepEqual(await balances(harness), { elon_musk: 10_500, lovelace: 0 });
  });
});

test("concurrent phase-1 transfers never overdraw: reserved funds count", async () => {
  await withHarness(async (harness) => {
    await expectStatus(harness, "POST", "/users", { nickname: "payer", balance: 1_000 }, 200);
    await expectStatus(harness, "POST", "/users", { nickname: "payee", balance: 0 }, 200);
    const payer = timpeUserId("payer");
    const payee = timpeUserId("payee");
    const answers = await Promise.all(
      Array.from({ length: 60 }, (_, index) =>
        call(harness.app, "POST", index % 2 === 0 ? "/transactions" : "/transactions/immediately", {
          sender: payer,
          recipient: payee,
          amount: 100,
        }),
      ),
    );
    const accepted = answers.filter((answer) => answer.status === 200).length;
    const refused = answers.filter(
      (answer) => at(answer.json, "code") === "INSUFFICIENT_FUNDS",
    ).length;
    assert.equal(accepted, 10);
    assert.equal(refused, 50);
    await expectStatus(harness, "POST", "/process", undefined, 200);
    assert.deepEqual(await balances(harness), { payee: 1_000, payer: 0 });
    const verify = await expectStatus(harness, "GET", "/v1/verify", undefined, 200);
    assert.equal(at(verify.json, "data.ok"), true);
  });
});

test("/process reports a transfer it cannot finish in TiMPE's failed shape", async () => {
  await withTwoUsers(async (harness) => {
    const rich = { id: "rich", nickname: "rich", balance: "9223372036854775807" };
    await expectStatus(harness, "POST", "/v1/accounts", rich, 201);
    await expectStatus(
      harness,
      "POST",
      "/transactions",
      { sender: elon, recipient: "rich", amount: 5 },
      200,
    );
    const processed = await expectStatus(harness, "POST", "/transactions/process", {}, 200);
    assert.equal(at(processed.json, "status"), "failed");
    assert.equal(at(processed.json, "msg"), "processed all transactions");
    const failure = items(processed.json, "failed_transactions")[0];
    assert.equal(at(failure, "code"), "OVERFLOW");
    assert.equal(at(failure, "transaction.sender"), elon);
    assert.equal(at(failure, "transaction.recipient"), "rich");
    assert.equal(at(failure, "transaction.amount"), 5);
    assert.equal(at(failure, "transaction.state"), "initial");
    assert.equal(typeof at(failure, "reason"), "string");
    // Balances are exact JSON integers even beyond 2^53.
    const user = await call(harness.app, "GET", "/users/rich");
    assert.match(user.text, /"balance":9223372036854775807\b/);
  });
});
