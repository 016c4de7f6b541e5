// Goal: txgrid can run the Debian etcd on loopback, see it healthy, pause and resume it, stop
// it by pid and start it again on the same data dir; a port that is taken gives a clear
// UNAVAILABLE error and leaves no process behind. Method: real etcd processes on ports
// 9600-9603 in a temporary directory, checked through /health, /proc and the pid file.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ErrorCode, isTxgridError } from "../stdx/index.ts";
import { findEtcdBinary, isHealthy, startEtcd } from "./etcd-process.ts";
import { isRunning, processState } from "./process.ts";

test("etcd starts healthy, pauses, resumes, stops by pid and restarts on its data", {
  timeout: 60_000,
}, async () => {
  assert.ok(findEtcdBinary() !== null, "etcd missing: run scripts/setup-etcd.sh");
  const dir = mkdtempSync(join(tmpdir(), "txgrid-etcd-"));
  try {
    const options = {
      dataDir: join(dir, "etcd-data"),
      clientPort: 9600,
      peerPort: 9601,
      pidFile: join(dir, "etcd.pid"),
    };
    const etcd = await startEtcd(options);
    try {
      assert.equal(etcd.clientUrl, "http://127.0.0.1:9600");
      assert.equal(readFileSync(options.pidFile, "utf8").trim(), String(etcd.pid));
      assert.ok(await isHealthy(etcd.clientUrl));

      await etcd.pause();
      assert.equal(processState(etcd.pid), "T");
      assert.equal(await isHealthy(etcd.clientUrl), false, "a paused etcd answers nothing");
      etcd.resume();
      assert.ok(await isHealthy(etcd.clientUrl));

      // Same port taken: a clear error, and the failed etcd is gone.
      const clash = await startEtcd({
        ...options,
        dataDir: join(dir, "other"),
        pidFile: join(dir, "x.pid"),
        startTimeoutMs: 10_000,
      }).then(
        () => null,
        (error: unknown) => error,
      );
      assert.ok(isTxgridError(clash, ErrorCode.UNAVAILABLE), String(clash));
      assert.equal(existsSync(join(dir, "x.pid")), false);
    } finally {
      await etcd.stop();
    }
    assert.equal(isRunning(etcd.pid), false);
    assert.equal(existsSync(options.pidFile), false);
    assert.equal(await isHealthy(etcd.clientUrl), false);

    const again = await startEtcd(options);
    try {
      assert.ok(await isHealthy(again.clientUrl));
    } finally {
      await again.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
