// Goal: two replicas in one process, joined through a real etcd and connected by the TCP
// replication network over loopback, replicate every batch (equal lsn and state digest), and
// a standby refuses writes with NOT_PRIMARY naming the primary (TCP and REST) while serving
// reads. Method: etcd on 127.0.0.1:9830; two runServer nodes with the `cluster` option
// (replicas 2, preferred n1, fsync lazy); writes through the TypeScript client to the
// primary; the standby's state compared through GET /v1/verify.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { connect } from "../../src/client/index.ts";
import { type EtcdProcess, startEtcd } from "../../src/cluster/index.ts";
import { type RunningServer, runServer } from "../../src/server/index.ts";

const dir = mkdtempSync(join(tmpdir(), "txgrid-repl-"));
const etcdPort = 9830;
let etcd: EtcdProcess | null = null;
const nodes: RunningServer[] = [];

function startNode(id: string, index: number): Promise<RunningServer> {
  return runServer({
    host: "127.0.0.1",
    port: 9832 + index,
    tcpPort: 9836 + index,
    dataDir: join(dir, id),
    fsyncPolicy: "lazy",
    logLevel: "warn",
    cluster: {
      nodeId: id,
      etcdEndpoints: [`http://127.0.0.1:${etcdPort}`],
      replicas: 2,
      preferredPrimaryId: "n1",
      mode: "received",
      leaseTtlMs: 2_000,
      prefix: "/txgrid-repl-test",
    },
  });
}

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 15_000) {
  const start = performance.now();
  while (!(await condition())) {
    if (performance.now() - start > timeoutMs) throw new Error("condition not met in time");
    await sleep(20);
  }
}

async function verify(url: string): Promise<{ lsn: number; digest: string; ok: boolean }> {
  const response = await fetch(`${url}/v1/verify`);
  return ((await response.json()) as { data: { lsn: number; digest: string; ok: boolean } }).data;
}

before(async () => {
  etcd = await startEtcd({ dataDir: join(dir, "etcd"), clientPort: etcdPort, peerPort: 9831 });
  nodes.push(await startNode("n1", 0), await startNode("n2", 1));
});

after(async () => {
  for (const node of nodes) await node.close();
  await etcd?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("batches replicate over TCP; digests are equal; a standby refuses writes", {
  timeout: 60_000,
}, async () => {
  const [n1, n2] = nodes as [RunningServer, RunningServer];
  await until(() => n1.replicaNode?.replica.primaryEpoch === 1);
  // Both replicas in the epoch: the primary's answers wait for the standby from now on.
  await until(() => n1.replicaNode?.replica.role?.replicaIds.length === 2);
  const client = await connect(n1.tcpUrl as string);
  const accounts = Array.from({ length: 50 }, (_, i) => ({ id: `a${i}`, balance: 1_000n }));
  const created = await client.createAccounts(accounts);
  assert.ok(created.every((outcome) => outcome.name === "OK"));
  for (let round = 0; round < 20; round++) {
    const transfers = Array.from({ length: 50 }, (_, i) => ({
      id: `t${round}-${i}`,
      debitId: `a${i}`,
      creditId: `a${(i + round + 1) % 50}`,
      amount: BigInt(1 + ((i * 7 + round) % 90)),
    }));
    const outcomes = await Promise.all(transfers.map((t) => client.createTransfer(t)));
    assert.ok(outcomes.every((outcome) => outcome.name === "OK"));
  }
  await client.close();
  // replication=received: acknowledged means the standby has it; applied shortly after.
  const primary = await verify(n1.url);
  await until(async () => (await verify(n2.url)).lsn === primary.lsn);
  const standby = await verify(n2.url);
  assert.equal(standby.digest, primary.digest, "replicas at one lsn have one state");
  assert.ok(primary.ok && standby.ok);
  assert.ok((n1.replicaNode?.network.stats().framesSent ?? 0) > 0);

  // The standby: reads served, writes refused with the primary's addresses.
  const direct = await connect(n2.tcpUrl as string, { followPrimary: false });
  assert.equal((await direct.lookupAccount("a1"))?.id, "a1");
  await assert.rejects(direct.createAccount({ id: "x1" }), (error: Error) => {
    assert.match(error.message, /primary at 127\.0\.0\.1:9836/);
    return true;
  });
  await direct.close();
  const rest = await fetch(`${n2.url}/v1/accounts`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ id: "x2", balance: "1" }),
  });
  assert.equal(rest.status, 503);
  const body = (await rest.json()) as { code: string; primaryUrl?: string };
  assert.equal(body.code, "TXG_ERR_NOT_PRIMARY");
  assert.equal(body.primaryUrl, "http://127.0.0.1:9832");
});
