// Goal: nothing acknowledged is lost when the server is killed with SIGKILL mid-load, and
// money is conserved (invariants 1 and 2), through several kill and restart cycles.
// Method: a real `txgrid serve --fsync always` process on loopback; 16 concurrent clients
// send transfers with unique ids and remember every id the server acknowledged; the server
// is killed at a random moment under load and restarted on the same data directory; every
// acknowledged transfer must then be found posted, and the sum of balances must equal the
// sum of initial balances. A TiMPE session (register, phase 1, /process) spans a kill too.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { requestJson, type ServerProcess, startServer } from "./server-process.ts";

const accountCount = 40;
const clientCount = 16;
const killCycles = 3;

async function loadUntilKilled(server: ServerProcess, cycle: number, acked: Set<string>) {
  let stop = false;
  let sent = 0;
  const deadline = Date.now() + 8_000;
  const client = async (clientIndex: number) => {
    for (let n = 0; !stop && Date.now() < deadline && n < 5_000; n++) {
      const id = `c${cycle}-k${clientIndex}-n${n}`;
      const debit = (clientIndex * 7 + n) % accountCount;
      const credit = (debit + 1 + (n % (accountCount - 1))) % accountCount;
      sent++;
      try {
        const { status } = await requestJson(`${server.url}/v1/transfers`, "POST", {
          id,
          debitAccountId: `acct${debit}`,
          creditAccountId: `acct${credit}`,
          amount: 1 + (n % 50),
        });
        if (status === 201 || status === 200 || status === 422) acked.add(id);
      } catch {
        return; // the server is gone: anything unanswered was not acknowledged
      }
    }
  };
  const clients = Array.from({ length: clientCount }, (_, index) => client(index));
  // Kill after a random part of the load has been answered.
  const killAfterMs = 300 + Math.floor(Math.random() * 700);
  await new Promise((resolve) => setTimeout(resolve, killAfterMs));
  await server.kill("SIGKILL");
  stop = true;
  await Promise.all(clients);
  return sent;
}

test("acknowledged transfers survive SIGKILL and money is conserved", {
  timeout: 120_000,
}, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "txgrid-crash-"));
  try {
    let server = await startServer(dataDir, "always");
    const accounts = Array.from({ length: accountCount }, (_, index) => ({
      id: `acct${index}`,
      balance: "1000",
    }));
    const created = await requestJson(`${server.url}/v1/accounts/batch`, "POST", { accounts });
    assert.equal(created.status, 200);
    const acked = new Set<string>();
    for (let cycle = 0; cycle < killCycles; cycle++) {
      const sent = await loadUntilKilled(server, cycle, acked);
      assert.ok(sent > 0);
      server = await startServer(dataDir, "always");
    }
    assert.ok(acked.size > 100, `too little load reached the server: ${acked.size}`);
    for (const id of acked) {
      const { status, json } = await requestJson(`${server.url}/v1/transfers/${id}`, "GET");
      assert.equal(status, 200, `acknowledged transfer ${id} is missing after restart`);
      assert.ok(json.data !== undefined);
    }
    const verify = await requestJson(`${server.url}/v1/verify`, "GET");
    const data = verify.json.data as { ok: boolean; balanceSum: string; initialSum: string };
    assert.equal(data.ok, true);
    assert.equal(data.balanceSum, String(accountCount * 1000));
    assert.equal(data.initialSum, data.balanceSum);
    await server.kill("SIGTERM");
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test("a TiMPE session survives SIGKILL between its phases", { timeout: 60_000 }, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "txgrid-timpe-"));
  try {
    let server = await startServer(dataDir, "always");
    const register = async (path: string, nickname: string, balance: number) => {
      const { status, json } = await requestJson(`${server.url}${path}`, "POST", {
        nickname,
        balance,
      });
      assert.equal(status, 200, JSON.stringify(json));
      return (json.data as { id: string }).id;
    };
    const elon = await register("/users/register", "elon_musk", 10_000);
    const ada = await register("/users", "lovelace", 500);
    assert.equal(elon, "6ca595a7875dca8fc5b193aa7eaa566a6b0afdff");
    assert.equal(ada, "a92ea8a96974941a1d7f0b8ca9a1202b9aa704b5");
    const phase1 = await requestJson(`${server.url}/transactions`, "POST", {
      sender: elon,
      recipient: ada,
      amount: 400,
    });
    assert.equal(phase1.status, 200, JSON.stringify(phase1.json));
    const overdraft = await requestJson(`${server.url}/transactions`, "POST", {
      sender: ada,
      recipient: elon,
      amount: 501,
    });
    assert.equal(overdraft.status, 400);
    await server.kill("SIGKILL");
    server = await startServer(dataDir, "always");
    const processed = await requestJson(`${server.url}/transactions/process`, "POST", {});
    assert.equal(processed.status, 200, JSON.stringify(processed.json));
    await requestJson(`${server.url}/transactions/immediately`, "POST", {
      sender: ada,
      recipient: elon,
      amount: 100,
    });
    const { json } = await requestJson(`${server.url}/users`, "GET");
    const users = (json.data as { users: { nickname: string; balance: number }[] }).users;
    const balances = Object.fromEntries(users.map((user) => [user.nickname, user.balance]));
    assert.deepEqual(balances, { elon_musk: 9_700, lovelace: 800 });
    await server.kill("SIGTERM");
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
