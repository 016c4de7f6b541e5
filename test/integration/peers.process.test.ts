// Goal: `txgrid bench --peers redis,postgres` works end to end as a user runs it: the peers are
// installed when missing (scripts/setup-peers.sh), started privately, given the same small
// workload as txgrid, checked for money conservation, put side by side with ratios, written
// to --json as plain comparison rows, and stopped and removed afterwards. Method: run
// bin/txgrid.js as a child with a small load (1,000 accounts, peers 2 s each) and TMPDIR set to
// a fresh directory, then read its table, its JSON, and what it left in TMPDIR.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import type { ComparisonRow, PeerReport } from "../../src/bench/index.ts";

const binPath = fileURLToPath(new URL("../../../bin/txgrid.js", import.meta.url));

test("bench --peers redis,postgres: same workload, money conserved, ratios, cleaned up", {
  // Installing the packages on a fresh machine takes minutes; the runs themselves ~20 s.
  timeout: 900_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), "txgrid-peers-test-"));
  // PostgreSQL runs as the postgres user when we are root: it must reach its directory.
  chmodSync(dir, 0o755);
  try {
    const jsonPath = join(dir, "result.json");
    const args = [binPath, "bench", "--spawn", "--protocol", "tcp", "-c", "4", "-t", "2000"];
    args.push("--accounts", "1000", "--peers", "redis,postgres", "--peer-duration", "2");
    args.push("--install-peers", "--json", jsonPath);
    const { code, stdout, stderr } = await new Promise<{
      code: number;
      stdout: string;
      stderr: string;
    }>((resolve) => {
      execFile(
        process.execPath,
        args,
        { timeout: 880_000, env: { ...process.env, TMPDIR: dir } },
        (error, out, err) => {
          const exit = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
          resolve({ code: exit, stdout: out, stderr: err });
        },
      );
    });
    assert.equal(code, 0, `${stdout}\n${stderr}`);
    assert.match(stdout, /^side by side: 1,000 accounts, uniform, 4 concurrent/m);
    assert.match(stdout, /^ {2}txgrid +fsync=batch +[\d,]+ .* 1\.00×$/m);
    assert.match(stdout, /^ {2}redis [\d.]+ +appendfsync=always +[\d,]+ .* \d+\.\d\d×$/m);
    assert.match(stdout, /^ {2}postgres [\d.]+ +synchronous_commit=on +[\d,]+ .* \d+\.\d\d×$/m);
    assert.match(
      stdout,
      /^redis appendfsync=always: money conserved \(balances sum to 10000000000/m,
    );
    assert.match(
      stdout,
      /^postgres synchronous_commit=on: money conserved \(balances sum to 10000000000/m,
    );

    const json = JSON.parse(readFileSync(jsonPath, "utf8")) as {
      peers: PeerReport[];
      comparison: ComparisonRow[];
    };
    assert.deepEqual(
      json.comparison.map((row) => [row.name, row.durability]),
      [
        ["txgrid", "fsync=batch"],
        ["redis", "appendfsync=always"],
        ["postgres", "synchronous_commit=on"],
      ],
    );
    for (const row of json.comparison) {
      assert.ok(row.txPerSecond > 0, `${row.name} tx/s ${row.txPerSecond}`);
      assert.ok(row.p50Us > 0 && row.p50Us <= row.p99Us && row.p99Us <= row.p999Us, row.name);
    }
    for (const peer of json.peers) {
      assert.equal(peer.runs.length, 1);
      const run = peer.runs[0];
      assert.ok(run !== undefined && run.transferCount > 0, peer.name);
      assert.equal(run.balanceSum, "10000000000");
      assert.equal(run.balanceSum, run.expectedSum);
      assert.equal(peer.errorCount, 0);
    }
    // No process runs from our directory any more, and every peer directory (and the spawned
    // server's) is gone: the peers were stopped and cleaned up.
    const leftovers = readdirSync("/proc")
      .filter((pid) => /^\d+$/.test(pid))
      .filter((pid) => {
        try {
          return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(dir);
        } catch {
          return false;
        }
      });
    assert.deepEqual(leftovers, []);
    assert.deepEqual(
      readdirSync(dir).filter((name) => name !== "result.json"),
      [],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
