// Goal: the supervisor starts detached children with their output in a log file, reports a
// child that exits while starting (with its log) instead of waiting, times out a child that
// never gets ready, and stops children by pid. Method: trivial `node -e` children.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ErrorCode, isTxgridError } from "../stdx/index.ts";
import { isRunning } from "./process.ts";
import { startDetached, stopChildren, waitReady } from "./supervisor.ts";

test("a detached child logs to its file, gets ready, and is stopped by pid", async () => {
  const dir = mkdtempSync(join(tmpdir(), "txgrid-supervisor-"));
  try {
    const logPath = join(dir, "logs", "child.log");
    const child = startDetached({
      name: "c1",
      command: process.execPath,
      args: [
        "-e",
        "console.log('hello ' + process.env.GREETING); setInterval(() => {}, 1000)",
        "c1-marker",
      ],
      logPath,
      env: { GREETING: "there" },
    });
    await waitReady(
      child,
      () => existsSync(logPath) && readFileSync(logPath, "utf8").includes("hello there"),
      10_000,
    );
    assert.ok(isRunning(child.pid));
    assert.deepEqual(await stopChildren([child]), [{ name: "c1", outcome: "terminated" }]);
    assert.equal(isRunning(child.pid), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a child that exits while starting is reported with its log; a slow one times out", async () => {
  const dir = mkdtempSync(join(tmpdir(), "txgrid-supervisor-"));
  try {
    const failing = startDetached({
      name: "bad",
      command: process.execPath,
      args: ["-e", "console.error('cannot start: no flag'); process.exit(3)"],
      logPath: join(dir, "bad.log"),
    });
    const error = await waitReady(failing, () => false, 10_000).then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(isTxgridError(error, ErrorCode.INTERNAL), String(error));
    assert.match((error as Error).message, /cannot start: no flag/);

    const slow = startDetached({
      name: "slow",
      command: process.execPath,
      args: ["-e", "setInterval(() => {}, 1000)"],
      logPath: join(dir, "slow.log"),
    });
    const timeout = await waitReady(slow, () => false, 300).then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(isTxgridError(timeout, ErrorCode.TIMEOUT), String(timeout));
    await stopChildren([slow]);
    assert.equal(isRunning(slow.pid), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
