// Takes docs/console.png: the console's overview of a real server with real data. Starts
// `txgrid serve` in a temporary directory, creates a few accounts, sends a bounded load of
// transfers (a rate that rises and falls over about 30 seconds, at most 15,000 transfers, some
// refused, a few left pending) so that the live charts have a shape, then photographs the
// page in headless Chromium. Run: npm run build && node dist/test/integration/console-screenshot.js [out.png]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { launchChromium } from "./browser.ts";
import { requestJson, startServer } from "./server-process.ts";

const outPath =
  process.argv[2] ?? fileURLToPath(new URL("../../../docs/console.png", import.meta.url));
const loadSeconds = 30;
const transfersMax = 15_000;

const people = [
  ["alice", "Alice Liddell", "250000"],
  ["bob", "Bob Marley", "120000"],
  ["carol", "Carol Danvers", "90000"],
  ["dave", "Dave Bowman", "40000"],
  ["erin", "Erin Brockovich", "75000"],
  ["frank", "Frank Drebin", "5000"],
  ["grace", "Grace Hopper", "310000"],
  ["heidi", "Heidi Klum", "64000"],
  ["ivan", "Ivan Drago", "15000"],
  ["judy", "Judy Hopps", "98000"],
  ["mallory", "Mallory Knox", "100"],
  ["treasury", "Treasury", "5000000"],
] as const;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "txgrid-shot-"));
  const server = await startServer(dir, "batch");
  const browser = await launchChromium();
  try {
    const accounts = people.map(([id, nickname, balance]) => ({ id, nickname, balance }));
    await requestJson(`${server.url}/v1/accounts/batch`, "POST", { accounts });
    const page = await browser.newPage({ viewport: { width: 1360, height: 860 } });
    await page.goto(`${server.url}/console/`);
    const startedMs = Date.now();
    let sent = 0;
    const sender = async (lane: number) => {
      while (sent < transfersMax && Date.now() - startedMs < loadSeconds * 1000) {
        const elapsedSeconds = (Date.now() - startedMs) / 1000;
        // About 60 to 500 transfers/s over the four lanes: a swell, a dip and a second swell.
        const ratePerLane =
          15 + 110 * Math.max(0, Math.sin((elapsedSeconds / loadSeconds) * 2 * Math.PI * 1.3));
        await new Promise((resolve) => setTimeout(resolve, 1000 / ratePerLane));
        const n = sent++;
        const debit = people[(n * 7 + lane) % people.length]?.[0] as string;
        const credit = people[(n * 5 + lane + 1) % people.length]?.[0] as string;
        if (debit === credit) continue;
        await requestJson(`${server.url}/v1/transfers`, "POST", {
          id: `shot-${n}`,
          debitAccountId: debit,
          creditAccountId: credit,
          amount: String(1 + ((n * 37) % 900)),
        });
      }
    };
    const load = Promise.all([0, 1, 2, 3].map(sender));
    // The pending transfers and the picture come while the load still runs, so the page shows
    // a live second, not the quiet after it.
    await new Promise((resolve) => setTimeout(resolve, (loadSeconds - 4) * 1000));
    for (const [index, [debit, credit]] of [
      ["alice", "bob"],
      ["grace", "carol"],
      ["treasury", "judy"],
    ].entries()) {
      await requestJson(`${server.url}/v1/transfers`, "POST", {
        id: `hold-${index}`,
        debitAccountId: debit,
        creditAccountId: credit,
        amount: String(1000 * (index + 1)),
        pending: true,
      });
    }
    await page.waitForTimeout(2500);
    await page.screenshot({ path: outPath });
    await load;
    process.stderr.write(`console-screenshot: ${sent} transfers sent; wrote ${outPath}\n`);
  } finally {
    await browser.close();
    await server.kill("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
