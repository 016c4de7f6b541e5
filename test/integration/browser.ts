// Headless Chromium for the console's end-to-end tests and screenshot: Debian's
// /usr/bin/chromium driven by playwright-core (never Playwright's own browser download),
// installed by scripts/setup-chromium.sh when missing. The flags are those this machine needs
// (/work/.library/env notes): no sandbox (root), no GPU, and no background networking, which
// would otherwise try to reach Google's hosts on a closed network at every start.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type Browser, chromium } from "playwright-core";

export const CHROMIUM_PATH = "/usr/bin/chromium";

const setupScript = fileURLToPath(new URL("../../../scripts/setup-chromium.sh", import.meta.url));

const chromiumFlags = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
];

/** Installs Chromium through the project's script if it is missing; throws if it cannot. */
export function ensureChromium(): void {
  if (existsSync(CHROMIUM_PATH)) return;
  const run = spawnSync("bash", [setupScript], { stdio: "inherit", timeout: 15 * 60_000 });
  if (run.status !== 0 || !existsSync(CHROMIUM_PATH)) {
    throw new Error(`${CHROMIUM_PATH} is missing and scripts/setup-chromium.sh failed`);
  }
}

export async function launchChromium(): Promise<Browser> {
  ensureChromium();
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: chromiumFlags,
    timeout: 60_000,
  });
}
