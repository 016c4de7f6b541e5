// Goal: `txgrid cluster up|status|down` runs a local cluster a user can see and stop: etcd
// alone through the real command line; etcd plus node processes (a stand-in for `txgrid node`
// that accepts exactly the documented flags, joins etcd and names itself over HTTP) and the
// real `txgrid gateway` through the module; the gateway forwards to the primary of the role
// record and follows a new one; status shows the gateway, nodes, lsns, each shard's primary,
// epoch and lag; down leaves no process; a node or gateway that cannot start fails `up` and
// nothing is left running. Method: real processes on 127.0.0.1 ports 9650-9699, checked
// through the printed output, HTTP, etcd and /proc.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import {
  clusterDown,
  clusterStatus,
  clusterUp,
  isRunning,
  readClusterState,
} from "../../src/cluster/index.ts";
import { createEtcdCoordinator } from "../../src/coord/index.ts";
import { ErrorCode, isTxgridError } from "../../src/stdx/index.ts";

const binPath = fileURLToPath(new URL("../../../bin/txgrid.js", import.meta.url));
const fakeNodePath = fileURLToPath(new URL("./fake-node.js", import.meta.url));

function txgrid(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [binPath, ...args], { timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

test(
  "cluster up --nodes 0, status (table and --json), down: etcd alone",
  {
    timeout: 90_000,
  },
  () =>
    inClusterDir(async (dir) => {
      const ports = ["--etcd-port", "9650", "--etcd-peer-port", "9651"];
      const up = await txgrid(["cluster", "up", "--dir", dir, "--nodes", "0", ...ports]);
      assert.equal(up.code, 0, up.stderr);
      assert.match(up.stdout, /etcd http:\/\/127\.0\.0\.1:9650 \(pid \d+\)/);
      const state = readClusterState(dir);
      assert.ok(state !== null && isRunning(state.etcd.pid));

      const again = await txgrid(["cluster", "up", "--dir", dir, "--nodes", "0", ...ports]);
      assert.equal(again.code, 1, "a second cluster on the same dir is refused");
      assert.match(again.stderr, /TXG_ERR_LOCKED/);

      const table = await txgrid(["cluster", "status", "--dir", dir]);
      assert.equal(table.code, 0, table.stderr);
      assert.match(table.stdout, /etcd http:\/\/127\.0\.0\.1:9650 healthy/);
      assert.match(table.stdout, /no role yet/);
      const json = await txgrid(["cluster", "status", "--dir", dir, "--json"]);
      assert.equal(JSON.parse(json.stdout).etcd.healthy, true);

      const down = await txgrid(["cluster", "down", "--dir", dir]);
      assert.equal(down.code, 0, down.stderr);
      assert.match(down.stdout, /etcd: terminated/);
      assert.equal(isRunning(state.etcd.pid), false);
      const after = await txgrid(["cluster", "status", "--etcd", "http://127.0.0.1:9650"]);
      assert.equal(after.code, 1);
      assert.match(after.stdout, /NOT ANSWERING/);
    }),
);

test(
  "cluster up with node processes: they get the documented flags, status shows roles and lag",
  {
    timeout: 90_000,
  },
  () =>
    inClusterDir(async (dir) => {
      const state = await clusterUp({
        dir,
        nodes: 2,
        replicas: 2,
        etcdClientPort: 9660,
        etcdPeerPort: 9661,
        httpPortBase: 9662,
        tcpPortBase: 9664,
        gatewayPort: 9666,
        busyPollUs: 100,
        nodeCommand: [process.execPath, fakeNodePath],
      });
      assert.equal(state.gateway?.httpPort, 9666);
      for (const node of state.nodes) {
        assert.match(readFileSync(node.logPath, "utf8"), /fake-node busy-poll-us=100/);
      }
      assert.deepEqual(
        state.nodes.map((n) => [n.id, n.httpPort, n.tcpPort]),
        [
          ["n1", 9662, 9664],
          ["n2", 9663, 9665],
        ],
      );
      const noPrimary = await fetch("http://127.0.0.1:9666/users");
      assert.equal(noPrimary.status, 503, "no role yet: the gateway has no primary");
      assert.equal(((await noPrimary.json()) as { code: string }).code, "TXG_ERR_UNAVAILABLE");
      const coordinator = createEtcdCoordinator({ endpoints: [state.etcd.clientUrl] });
      try {
        const role = await coordinator.compareAndSetRole(0, 0, {
          shardId: 0,
          epoch: 1,
          primaryId: "n1",
          replicaIds: ["n1", "n2"],
        });
        assert.ok(role !== null);
        assert.deepEqual(await gatewayAnswer(9666, "n1"), { node: "n1" });
        const status = await clusterStatus(state.etcd.clientUrl, readClusterState(dir));
        assert.deepEqual(status.gateway, { url: "http://127.0.0.1:9666", pid: state.gateway?.pid });
        // A failover's new role: the gateway follows it without a restart.
        const next = await coordinator.compareAndSetRole(0, role.revision, {
          shardId: 0,
          epoch: 2,
          primaryId: "n2",
          replicaIds: ["n1", "n2"],
        });
        assert.ok(next !== null);
        assert.deepEqual(await gatewayAnswer(9666, "n2"), { node: "n2" });
        const back = await coordinator.compareAndSetRole(0, next.revision, {
          shardId: 0,
          epoch: 3,
          primaryId: "n1",
          replicaIds: ["n1", "n2"],
        });
        assert.ok(back !== null);
        assert.deepEqual(await gatewayAnswer(9666, "n1"), { node: "n1" });
      } finally {
        await coordinator.close();
      }
      const status = await clusterStatus(state.etcd.clientUrl, readClusterState(dir));
      assert.deepEqual(
        status.nodes.map((n) => [n.nodeId, n.pid]),
        [
          ["n1", state.nodes[0]?.pid],
          ["n2", state.nodes[1]?.pid],
        ],
      );
      const shard = status.shards[0];
      assert.ok(shard !== undefined && !("role" in shard));
      assert.equal(shard.epoch, 3);
      assert.equal(shard.primaryId, "n1");
      assert.deepEqual(shard.lsns, { n1: 5, n2: 5 });
      assert.deepEqual(shard.lags, { n1: 0, n2: 0 });

      const table = await txgrid(["cluster", "status", "--dir", dir]);
      assert.match(table.stdout, /0 +3 +n1 +n1\(5, 0\) n2\(5, 0\)/);
      assert.match(
        table.stdout,
        new RegExp(`gateway http://127.0.0.1:9666 \\(pid ${state.gateway?.pid}\\)`),
      );

      const outcomes = await clusterDown(dir);
      assert.deepEqual(
        outcomes.map((o) => o.name),
        ["gateway", "n2", "n1", "etcd"],
      );
      const gatewayPid = state.gateway?.pid ?? 0;
      for (const pid of [state.etcd.pid, gatewayPid, ...state.nodes.map((n) => n.pid)]) {
        assert.equal(isRunning(pid), false, `pid ${pid} still runs`);
      }
      assert.equal(existsSync(join(dir, "cluster.json")), false);
    }),
);

test(
  "a node that cannot start fails up with its log, and nothing is left running",
  {
    timeout: 90_000,
  },
  () =>
    inClusterDir(async (dir) => {
      const error = await clusterUp({
        dir,
        nodes: 1,
        replicas: 1,
        etcdClientPort: 9670,
        etcdPeerPort: 9671,
        httpPortBase: 9672,
        tcpPortBase: 9673,
        nodeCommand: [
          process.execPath,
          "-e",
          "console.error('no such flag'); process.exit(2)",
          "--",
        ],
      }).then(
        () => null,
        (e: unknown) => e,
      );
      assert.ok(isTxgridError(error, ErrorCode.INTERNAL), String(error));
      assert.match(
        (error as Error).message,
        /n1 \(pid \d+\) exited while starting[\s\S]*no such flag/,
      );
      assert.equal(readClusterState(dir), null);
      const status = await clusterStatus("http://127.0.0.1:9670", null);
      assert.equal(status.etcd.healthy, false, "etcd was stopped again");
    }),
);

test(
  "a gateway that cannot start fails up with its log, and nothing is left running",
  {
    timeout: 90_000,
  },
  () =>
    inClusterDir(async (dir) => {
      const error = await clusterUp({
        dir,
        nodes: 1,
        replicas: 1,
        etcdClientPort: 9675,
        etcdPeerPort: 9676,
        httpPortBase: 9677,
        tcpPortBase: 9678,
        gatewayPort: 9679,
        nodeCommand: [process.execPath, fakeNodePath],
        gatewayCommand: [
          process.execPath,
          "-e",
          "console.error('port taken'); process.exit(1)",
          "--",
        ],
      }).then(
        () => null,
        (e: unknown) => e,
      );
      assert.ok(isTxgridError(error, ErrorCode.INTERNAL), String(error));
      assert.match(
        (error as Error).message,
        /gateway \(pid \d+\) exited while starting[\s\S]*port taken/,
      );
      assert.equal(readClusterState(dir), null);
      const status = await clusterStatus("http://127.0.0.1:9675", null);
      assert.equal(status.etcd.healthy, false, "etcd was stopped again");
      const node = await fetch("http://127.0.0.1:9677/").then(
        () => "answered",
        () => "refused",
      );
      assert.equal(node, "refused", "the node was stopped again");
    }),
);

/** Asks the gateway until it forwards to `expected` (it learns roles through an etcd watch). */
async function gatewayAnswer(port: number, expected: string): Promise<unknown> {
  let last: unknown = null;
  for (let attempt = 0; attempt < 100; attempt++) {
    const response = await fetch(`http://127.0.0.1:${port}/users`);
    last = response.status === 200 ? await response.json() : await response.text();
    if ((last as { node?: string }).node === expected) return last;
    await sleep(50);
  }
  return last;
}

/** Runs `body` in a new cluster dir, and stops whatever runs from it and deletes it after. */
async function inClusterDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "txgrid-cluster-"));
  try {
    await body(dir);
  } finally {
    await clusterDown(dir, { purge: true });
  }
}
