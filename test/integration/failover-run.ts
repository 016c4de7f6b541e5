// `npm run failover -- --cycles 20`: the long SIGKILL run (not part of `npm test`). A
// 3-replica cluster of real processes with real etcd under a transfer load; each cycle kills
// the primary with SIGKILL, measures until writes resume (the first acknowledgement of a
// transfer sent after the kill), restarts the killed node and waits until it is a replica of
// the epoch again. At the end: every acknowledged transfer id is looked up on every replica,
// money and digests are checked. Prints acknowledged / lost / unknown and the failover times
// (median, max); exits 1 on any lost transfer or broken check.
// Flags: --cycles N (default 20), --dir DIR, --etcd-port P (default 9850; HTTP P+2.., TCP P+5..),
// --replication received|durable, --fsync always|batch|lazy.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { median } from "../../src/bench/index.ts";
import { FailoverCluster } from "./failover-harness.ts";

const { values } = parseArgs({
  options: {
    cycles: { type: "string", default: "20" },
    dir: { type: "string" },
    "etcd-port": { type: "string", default: "9850" },
    replication: { type: "string", default: "received" },
    fsync: { type: "string", default: "lazy" },
  },
  strict: true,
});
const cycles = Number(values.cycles);
const etcdPort = Number(values["etcd-port"]);
if (!Number.isInteger(cycles) || cycles < 1 || cycles > 1_000) {
  throw new Error("--cycles must be from 1 to 1000");
}
const cluster = await FailoverCluster.start({
  dir: values.dir ?? mkdtempSync(join(tmpdir(), "txgrid-failover-run-")),
  nodes: 3,
  etcdPort,
  httpPortBase: etcdPort + 2,
  tcpPortBase: etcdPort + 5,
  replication: values.replication,
  fsync: values.fsync,
});
let exitCode = 0;
try {
  process.stdout.write(
    `cluster up (3 replicas, replication=${values.replication}, fsync=${values.fsync}); ` +
      `${cycles} SIGKILL cycles\n`,
  );
  cluster.startLoad();
  await sleep(1_000);
  const failoverMs: number[] = [];
  for (let cycle = 1; cycle <= cycles; cycle++) {
    const role = await cluster.role();
    const killMs = performance.now();
    cluster.kill(role.primaryId);
    const resumedMs = await cluster.waitWritesResume(killMs, 30_000);
    failoverMs.push(resumedMs);
    const next = await cluster.role();
    process.stdout.write(
      `cycle ${cycle}: killed ${role.primaryId} (epoch ${role.epoch}); ` +
        `${next.primaryId} primary of epoch ${next.epoch}; writes resumed after ` +
        `${resumedMs.toFixed(0)} ms; acknowledged so far ${cluster.acks.length}\n`,
    );
    await cluster.restart(role.primaryId);
    await cluster.waitFullEpoch(60_000);
    await sleep(500);
  }
  await cluster.stopLoad();
  const report = await cluster.check(["n1", "n2", "n3"]);
  const sorted = [...failoverMs].sort((a, b) => a - b);
  process.stdout.write(
    `acknowledged ${report.acknowledged}, lost ${report.lost}, unknown outcome ${report.unknown} ` +
      `(${report.transferCount - report.acknowledged} of them applied; ` +
      `${JSON.stringify(report.unknownReasons)}), refused ${report.refused}\n` +
      `failover (kill -> first write acknowledged by the new primary): median ` +
      `${(failoverMs.length === 0 ? Number.NaN : median(failoverMs)).toFixed(0)} ms, max ${(sorted.at(-1) ?? 0).toFixed(0)} ms, ` +
      `min ${(sorted[0] ?? 0).toFixed(0)} ms over ${failoverMs.length} kills\n` +
      `replicas at lsn ${report.lsn}: one digest ${report.digest.slice(0, 16)}…; money conserved\n`,
  );
  if (report.lost > 0) exitCode = 1;
} catch (error) {
  process.stderr.write(`failover run failed: ${String(error)}\n`);
  exitCode = 1;
} finally {
  await cluster.close();
}
process.exit(exitCode);
