// Goal: the web console works for a person, end to end: it opens at /, creates two accounts,
// sends a transfer and shows the balances change, shows a readable error for an overdraft,
// posts and voids two-phase transfers, draws the live charts and the cluster table, and loads
// nothing from outside the node (no CDN). Method: a real `txgrid serve` process on 127.0.0.1
// and headless Debian Chromium driven by playwright-core (test/integration/browser.ts),
// clicking and typing as a user would; balances are read from the page and checked against
// GET /v1/accounts; page errors, console errors and any request to another origin fail it.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import { launchChromium } from "./browser.ts";
import { requestJson, type ServerProcess, startServer } from "./server-process.ts";

let dir = "";
let server: ServerProcess;
let browser: Browser;
let page: Page;
const problems: string[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "txgrid-console-"));
  server = await startServer(dir, "batch");
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(15_000);
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    // Chromium reports every 4xx answer as a console error; the refusals this test provokes
    // are expected and checked on the page instead.
    const expected = /status of 4\d\d/.test(message.text());
    if (message.type() === "error" && !expected) problems.push(`console: ${message.text()}`);
  });
  page.on("request", (request) => {
    if (!request.url().startsWith(server.url)) problems.push(`outside request: ${request.url()}`);
  });
});

after(async () => {
  await browser?.close();
  await server?.kill("SIGTERM");
  rmSync(dir, { recursive: true, force: true });
});

async function balanceOf(id: string): Promise<string> {
  const { json } = await requestJson(`${server.url}/v1/accounts/${id}`, "GET");
  return (json.data as { balance: string }).balance;
}

async function createAccount(id: string, balance: string): Promise<void> {
  const form = page.getByRole("form", { name: "New account" });
  await form.getByLabel("Account id").fill(id);
  await form.getByLabel("Initial balance (minor units)").fill(balance);
  await form.getByRole("button", { name: "Create account" }).click();
  await page.getByText(`Account “${id}” created`).waitFor();
}

async function sendTransfer(debit: string, credit: string, amount: string, twoPhase = false) {
  const form = page.getByRole("form", { name: "New transfer" });
  await form.getByLabel("From (debit)").fill(debit);
  await form.getByLabel("To (credit)").fill(credit);
  await form.getByLabel("Amount (minor units)").fill(amount);
  await form.getByLabel("two-phase (reserve now, post or void later)").setChecked(twoPhase);
  await form.getByRole("button", { name: "Send transfer" }).click();
}

test("the console opens at / and shows the node", { timeout: 60_000 }, async () => {
  await page.goto(`${server.url}/`);
  assert.equal(new URL(page.url()).pathname, "/console/");
  await page.getByRole("heading", { name: "Overview" }).waitFor();
  await page.getByText("fsync=batch · replication=none").waitFor();
});

test("create two accounts, transfer, and see the balances change", {
  timeout: 60_000,
}, async () => {
  await page.getByRole("link", { name: "Accounts" }).click();
  await createAccount("alice", "1000");
  await createAccount("bob", "0");
  await page.getByRole("link", { name: "Transfers" }).click();
  await sendTransfer("alice", "bob", "250");
  await page.getByText(/posted: moved 250 from “alice” to “bob”/).waitFor();
  assert.equal(await balanceOf("alice"), "750");
  await page.getByRole("link", { name: "Accounts" }).click();
  const alice = page.locator('tr[data-account="alice"] [data-field="balance"]');
  const bob = page.locator('tr[data-account="bob"] [data-field="balance"]');
  await page.locator('tr[data-account="bob"]').waitFor();
  assert.equal(await alice.textContent(), "750");
  assert.equal(await bob.textContent(), "250");
  // Search narrows the list; an account's page shows its balance and history.
  await page.getByRole("searchbox", { name: "Search accounts" }).fill("ali");
  await page.locator('tr[data-account="bob"]').waitFor({ state: "detached" });
  await page.locator('tr[data-account="alice"] a').click();
  await page.getByRole("heading", { name: "Account alice" }).waitFor();
  assert.equal(await page.locator('.balance [data-field="balance"]').textContent(), "750");
  await page.getByRole("cell", { name: "−250" }).waitFor();
});

test("an overdraft is refused with a readable message", { timeout: 60_000 }, async () => {
  await page.getByRole("link", { name: "Transfers" }).click();
  await sendTransfer("bob", "alice", "5000");
  const alert = page.locator(".notice.error");
  await alert.waitFor();
  const text = (await alert.textContent()) ?? "";
  assert.match(text, /Insufficient funds: account “bob” cannot pay 5000/);
  assert.match(text, /INSUFFICIENT_FUNDS/);
  assert.equal(await balanceOf("bob"), "250", "nothing moved");
  // A transfer to an account that does not exist reads as such, too.
  await sendTransfer("alice", "nobody", "1");
  await page.getByText("The credit account “nobody” does not exist.").waitFor();
});

test("pending transfers can be posted and voided", { timeout: 60_000 }, async () => {
  await sendTransfer("alice", "bob", "100", true);
  await page.getByText(/pending: reserved 100 of “alice” for “bob”/).waitFor();
  const pendingRow = page.locator("tr[data-pending]");
  await pendingRow.first().waitFor();
  await pendingRow.first().getByRole("button", { name: "Post" }).click();
  await page.getByText(/posted: 100 moved to “bob”/).waitFor();
  assert.equal(await balanceOf("bob"), "350");
  await sendTransfer("alice", "bob", "40", true);
  await page.getByText(/pending: reserved 40/).waitFor();
  await pendingRow.first().getByRole("button", { name: "Void" }).click();
  await page.getByText(/voided: 40 released back to “alice”/).waitFor();
  await page.getByText("No pending transfers.").waitFor();
  assert.equal(await balanceOf("alice"), "650");
  assert.equal(await balanceOf("bob"), "350");
});

test("the overview draws live charts and the cluster table", { timeout: 60_000 }, async () => {
  await page.getByRole("link", { name: "Overview" }).click();
  await page.locator('[data-chart="throughput"] svg').waitFor();
  await page.locator('[data-chart="latency"] svg').waitFor();
  // The transfers above fall in a live window: the throughput line is drawn.
  await page.locator('[data-chart="throughput"] svg path').first().waitFor();
  const shard = page.locator('tr[data-shard="0"]');
  await shard.waitFor();
  const cells = await shard.locator("td").allTextContents();
  assert.equal(cells[0], "0");
  assert.match(cells[1] ?? "", /127\.0\.0\.1:\d+/);
  assert.equal(cells[2], "none");
  assert.ok(Number((cells[5] ?? "").replace(/,/g, "")) >= 7, `durable lsn ${cells[5]}`);
  assert.equal(cells[9], "healthy");
  assert.equal(await page.locator('[data-kpi="accounts"]').textContent(), "2");
});

test("nothing failed in the page and nothing was loaded from elsewhere", () => {
  assert.deepEqual(problems, []);
});
