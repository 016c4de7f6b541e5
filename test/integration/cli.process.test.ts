// Goal: the command line works end to end as a user runs it. `txgrid bench --spawn` starts a
// real server, loads it in both TiMPE modes and with the /v1 API, prints the statistics block
// and "money conserved"; `txgrid verify` checks a running server and a stopped data
// directory. Method: run bin/txgrid.js as child processes on 127.0.0.1 with small bounded
// loads, and read their output and exit codes.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { requestJson, startServer } from "./server-process.ts";

const binPath = fileURLToPath(new URL("../../../bin/txgrid.js", import.meta.url));

function txgrid(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [binPath, ...args],
      { timeout: 120_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const statistics = [
  /count +[\d,]+/,
  /tx\/s +[\d,]+/,
  /mean µs/,
  /median µs/,
  /p68\.27 µs/,
  /p95\.45 µs/,
  /p99\.73 µs/,
  /p99\.9 µs/,
  /max µs/,
];

const modes = [
  ["-i"],
  ["-i", "--http-front", "off"],
  [],
  ["--api", "v1"],
  ["--api", "v1", "-b", "50"],
  ["--protocol", "tcp"],
  ["--protocol", "tcp", "-b", "100", "--rate", "20000"],
  ["--protocol", "embedded", "-b", "10"],
];
for (const mode of modes) {
  test(`bench --spawn ${mode.join(" ") || "(phase 1 + process)"} reports and conserves money`, {
    timeout: 120_000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "txgrid-cli-"));
    try {
      const jsonPath = join(dir, "result.json");
      const spawn = mode.includes("embedded") ? [] : ["--spawn"];
      const args = ["bench", ...spawn, "-t", "3000", "-c", "8", "--accounts", "300"];
      const result = await txgrid([...args, ...mode, "--hot", "50", "--json", jsonPath]);
      assert.equal(result.code, 0, result.stdout + result.stderr);
      for (const pattern of statistics) assert.match(result.stdout, pattern);
      assert.match(result.stdout, /durability: fsync=batch, replication=none/);
      assert.match(result.stdout, /money conserved/);
      assert.match(result.stdout, /transfers recorded by the server: 3,000 \(= acknowledged\)/);
      const report = JSON.parse(readFileSync(jsonPath, "utf8"));
      assert.equal(report.okCount + report.refusedCount, 3_000);
      assert.equal(report.moneyConserved, true);
      if (mode.length === 0) assert.match(result.stdout, /phase 2 \(\/process\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test("bench --reference measures bare node:http with the same client", {
  timeout: 60_000,
}, async () => {
  const result = await txgrid(["bench", "--reference", "-i", "-t", "500", "-c", "4"]);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /^REFERENCE bare node:http: http POST \/transactions\/immediately/);
  assert.match(result.stdout, /count +500/);
  assert.match(result.stdout, /the money and durability checks do not apply/);
  assert.doesNotMatch(result.stdout, /money conserved/);
});

test("verify checks a running server and a stopped data directory", {
  timeout: 60_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), "txgrid-verify-"));
  try {
    const server = await startServer(dir, "batch");
    const created = await requestJson(`${server.url}/v1/accounts/batch`, "POST", {
      accounts: [
        { id: "v1", balance: "100" },
        { id: "v2", balance: "5" },
      ],
    });
    assert.equal(created.status, 200);
    const online = await txgrid(["verify", "--url", server.url]);
    assert.equal(online.code, 0, online.stderr);
    assert.match(online.stdout, /every invariant holds/);
    const locked = await txgrid(["verify", "--data-dir", dir]);
    assert.equal(locked.code, 1, "a directory in use is refused");
    assert.match(locked.stderr, /TXG_ERR_LOCKED/);
    await server.kill("SIGTERM");
    const offline = await txgrid(["verify", "--data-dir", dir]);
    assert.equal(offline.code, 0, offline.stderr);
    assert.match(offline.stdout, /"balanceSum": "105"/);
    assert.match(offline.stdout, /every invariant holds/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
