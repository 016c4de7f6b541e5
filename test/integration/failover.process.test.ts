// Goal: a 3-replica cluster of real processes with real etcd keeps every acknowledged transfer
// through faults: SIGKILL of the primary under load (writes resume on a new primary; failover
// time reported), SIGSTOP of the primary past its lease then SIGCONT (it acknowledges nothing
// afterwards: requests that reached it during the pause are all refused), and a standby killed
// and restarted (writes pause until the primary drops it from the epoch, then go on; it
// catches up to the same state), and etcd itself paused past the lease TTL (nothing is
// acknowledged without a valid lease; writes resume once etcd is back), and a standby stopped
// until the primary snapshotted past it, restarted: it catches up from snapshot + suffix. Method: failover-harness.ts: `txgrid node`
// processes from clusterUp (etcd 127.0.0.1:9840, HTTP 9842-9844, TCP 9845-9847), 8 closed-loop
// workers through one client given all three addresses; at the end every acknowledged id is
// looked up on every replica (0 lost), money is conserved and digests are equal. Bounded:
// about 60 s.
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { connect } from "../../src/client/index.ts";
import { pausePid, resumePid } from "../../src/cluster/index.ts";
import { FailoverCluster } from "./failover-harness.ts";

const leaseTtlMs = 2_000;
/** Small, so that a primary writes a snapshot within seconds of load (phase 5). */
const snapshotIntervalBytes = 256 * 1024;
const resetLine = "state replaced by the primary's snapshot";
const count = (text: string, what: string) => text.split(what).length - 1;
/** TXGRID_FAILOVER_PORT_BASE moves every port (to run beside another checkout's tests). */
const portBase = Number(process.env.TXGRID_FAILOVER_PORT_BASE ?? 9840);
let cluster: FailoverCluster | null = null;

before(async () => {
  cluster = await FailoverCluster.start({
    dir: mkdtempSync(join(tmpdir(), "txgrid-failover-")),
    nodes: 3,
    etcdPort: portBase,
    httpPortBase: portBase + 2,
    tcpPortBase: portBase + 5,
    snapshotIntervalBytes,
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
  const standbyRestartMs = performance.now();
  await c.restart(standby);
  await c.waitFullEpoch(30_000);
  process.stdout.write(
    `# standby SIGKILL: back in the epoch ${(performance.now() - standbyRestartMs).toFixed(0)} ms after restart\n`,
  );
  await sleep(500);

  // 4. etcd paused (SIGSTOP) for two lease TTLs under load: without a valid lease nothing is
  // acknowledged (a primary stops at its local deadline, at most one TTL after the pause);
  // after SIGCONT the replicas join again, a primary is chosen and writes resume.
  const etcdStopMs = performance.now();
  pausePid(c.state.etcd.pid);
  let probes: Promise<{ ok: boolean; atMs: number }>[] = [];
  try {
    // Probes sent once every lease deadline has passed: none may be acknowledged before
    // etcd is back (they may be afterwards).
    await sleep(leaseTtlMs + 200);
    probes = Array.from({ length: 10 }, (_, i) =>
      c.client
        .createTransfer({ id: `etcd-pause-${i}`, debitId: "acc3", creditId: "acc4", amount: 1n })
        .then(
          (outcome) => ({ ok: outcome.code === 0, atMs: performance.now() }),
          () => ({ ok: false, atMs: performance.now() }),
        ),
    );
    await sleep(leaseTtlMs + 300);
  } finally {
    resumePid(c.state.etcd.pid);
  }
  const etcdResumeMs = performance.now();
  const probesAckedWithoutLease = (await Promise.all(probes)).filter(
    (probe) => probe.ok && probe.atMs < etcdResumeMs,
  );
  assert.equal(probesAckedWithoutLease.length, 0, "no probe acknowledged while etcd was paused");
  // A transfer sent after every lease deadline had passed (no keepalive got through after the
  // pause began) cannot be acknowledged before etcd is back. Judged by send time, so that a
  // client whose loop stalled and read an earlier answer late is not counted.
  const deadlinePassedMs = etcdStopMs + leaseTtlMs;
  const acksWithoutLease = c.acks.filter(
    (ack) => ack.startMs > deadlinePassedMs && ack.endMs < etcdResumeMs,
  );
  assert.equal(acksWithoutLease.length, 0, "nothing acknowledged while no lease was valid");
  const etcdRecoveryMs = await c.waitWritesResume(etcdResumeMs, 30_000);
  process.stdout.write(
    `# etcd SIGSTOP ${(etcdResumeMs - etcdStopMs).toFixed(0)} ms: writes resumed ${etcdRecoveryMs.toFixed(0)} ms after SIGCONT\n`,
  );
  const fullEpochMs = performance.now();
  await c.waitFullEpoch(30_000);
  process.stdout.write(
    `# etcd SIGSTOP: every replica back in the epoch ${(performance.now() - etcdResumeMs).toFixed(0)} ms after SIGCONT (waited ${(performance.now() - fullEpochMs).toFixed(0)} ms)\n`,
  );

  // 5. Snapshot catch-up: a standby stopped while the primary takes writes until it has
  // written a snapshot past the standby's position (its log may no longer hold what the
  // standby lacks); restarted, the standby is reset to a snapshot, streams the suffix and is
  // re-added, while the load goes on.
  const fifth = await c.role();
  const sleeper = fifth.replicaIds.find((id) => id !== fifth.primaryId) as string;
  const sleeperLsn = await c.logPosition(sleeper, "applied");
  const resetsBefore = count(c.logText(sleeper), resetLine);
  const sleeperKillMs = performance.now();
  c.kill(sleeper);
  await c.waitWritesResume(sleeperKillMs, 10_000);
  for (;;) {
    const primaryId = (await c.role()).primaryId;
    if ((await c.logPosition(primaryId, "snapshot").catch(() => 0)) > sleeperLsn) break;
    if (performance.now() - sleeperKillMs > 60_000) assert.fail("no snapshot past the standby");
    await sleep(200);
  }
  const restartMs = performance.now();
  await c.restart(sleeper);
  await c.waitFullEpoch(30_000);
  assert.ok(
    count(c.logText(sleeper), resetLine) > resetsBefore,
    "the restarted standby caught up from a snapshot",
  );
  process.stdout.write(
    `# snapshot catch-up: stopped ${(restartMs - sleeperKillMs).toFixed(0)} ms at lsn ${sleeperLsn}, back in the epoch ${(performance.now() - restartMs).toFixed(0)} ms after restart\n`,
  );
  await sleep(500);
  await c.stopLoad();

  const report = await c.check(all);
  process.stdout.write(`# ${JSON.stringify(report)}\n`);
  assert.equal(report.lost, 0, "no acknowledged transfer lost");
  assert.ok(report.acknowledged > 100, "enough load to mean something");
  const staleOnPrimary = await c.client.lookupTransfers(stale.map((_, i) => `stale-${i}`));
  assert.equal(staleOnPrimary.filter((record) => record !== null).length, 0);
});
