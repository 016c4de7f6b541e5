// Goal: a 3-replica cluster of real processes with real etcd keeps every acknowledged transfer
// through faults: SIGKILL of the primary under load (writes resume on a new primary; failover
// time reported), SIGSTOP of the primary past its lease then SIGCONT (it acknowledges nothing
// afterwards: requests that reached it during the pause are all refused), and a standby killed
// and restarted (writes pause until the primary drops it from the epoch, then go on; it
// catches up to the same state). Method: failover-harness.ts: `txgrid node`
// processes from clusterUp (etcd 127.0.0.1:9840, HTTP 9842-9844, TCP 9845-9847), 8 closed-loop
// workers through one client given all three addresses; at the end every acknowledged id is
// looked up on every replica (0 lost), money is conserved and digests are equal. Bounded:
// about 40 s.
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { connect } from "../../src/client/index.ts";
import { FailoverCluster } from "./failover-harness.ts";

const leaseTtlMs = 2_000;
let cluster: FailoverCluster | null = null;

before(async () => {
  cluster = await FailoverCluster.start({
    dir: mkdtempSync(join(tmpdir(), "txgrid-failover-")),
    nodes: 3,
    etcdPort: 9840,
    httpPortBase: 9842,
    tcpPortBase: 9845,
  });
});

after(async () => {
  await cluster?.close();
});

test("faults on real processes lose no acknowledged transfer", { timeout: 150_000 }, async () => {
  const c = cluster as FailoverCluster;
  const all = ["n1", "n2", "n3"];
  c.startLoad();
  await sleep(1_000);
  assert.ok(c.acks.length > 0, "the load is acknowledged");

  // 1. SIGKILL of the primary under load.
  const first = await c.role();
  const killMs = performance.now();
  c.kill(first.primaryId);
  const failoverMs = await c.waitWritesResume(killMs, 15_000);
  const second = await c.role();
  assert.notEqual(second.primaryId, first.primaryId);
  assert.ok(second.epoch > first.epoch);
  process.stdout.write(`# SIGKILL failover: writes resumed after ${failoverMs.toFixed(0)} ms\n`);
  await c.restart(first.primaryId);
  await c.waitFullEpoch(30_000);

  // 2. SIGSTOP of the primary for two lease TTLs, requests sent to it meanwhile, SIGCONT.
  const paused = await c.role();
  const pausedNode = c.state.nodes.find((node) => node.id === paused.primaryId);
  assert.ok(pausedNode !== undefined);
  const direct = await connect(`txgrid://127.0.0.1:${pausedNode.tcpPort}`, {
    followPrimary: false,
    timeoutMs: 20_000,
  });
  const stopMs = performance.now();
  c.pause(paused.primaryId);
  const stale = Array.from({ length: 20 }, (_, i) =>
    direct.createTransfer({ id: `stale-${i}`, debitId: "acc1", creditId: "acc2", amount: 1n }).then(
      (outcome) => ({ ok: outcome.code === 0, atMs: performance.now() }),
      () => ({ ok: false, atMs: performance.now() }),
    ),
  );
  const pauseFailoverMs = await c.waitWritesResume(stopMs, 15_000);
  await sleep(Math.max(0, 2 * leaseTtlMs - (performance.now() - stopMs)));
  c.resume(paused.primaryId);
  const staleResults = await Promise.all(stale);
  const lateAcks = staleResults.filter((result) => result.ok && result.atMs > stopMs + leaseTtlMs);
  assert.equal(lateAcks.length, 0, "the paused primary acknowledged nothing after its lease");
  await direct.close();
  const third = await c.role();
  assert.notEqual(third.primaryId, paused.primaryId);
  process.stdout.write(
    `# SIGSTOP failover: writes resumed after ${pauseFailoverMs.toFixed(0)} ms\n`,
  );
  await c.waitFullEpoch(30_000);

  // 3. A standby killed, load goes on, restarted: it catches up.
  const standby = third.replicaIds.find((id) => id !== third.primaryId) as string;
  const standbyKillMs = performance.now();
  c.kill(standby);
  // Writes wait for every replica of the epoch: they pause until the primary removes the dead
  // standby (no progress for REPLICATION_ACK_TIMEOUT_MS, or its lease gone), then go on.
  const pauseMs = await c.waitWritesResume(standbyKillMs, 10_000);
  process.stdout.write(`# standby SIGKILL: writes paused ${pauseMs.toFixed(0)} ms\n`);
  await sleep(1_000);
  await c.restart(standby);
  await c.waitFullEpoch(30_000);
  await sleep(500);
  await c.stopLoad();

  const report = await c.check(all);
  process.stdout.write(`# ${JSON.stringify(report)}\n`);
  assert.equal(report.lost, 0, "no acknowledged transfer lost");
  assert.ok(report.acknowledged > 100, "enough load to mean something");
  const staleOnPrimary = await c.client.lookupTransfers(stale.map((_, i) => `stale-${i}`));
  assert.equal(staleOnPrimary.filter((record) => record !== null).length, 0);
});
