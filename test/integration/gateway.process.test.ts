// Goal: `txgrid gateway` (src/server/rest-gateway.ts) sends every REST request to the primary
// named by the shard's role record in a real etcd, follows a change of primary, answers 503
// TXG_ERR_UNAVAILABLE at once while no primary is known (no role, a vacant epoch), and 502
// when the primary does not answer, never retrying. Method: a real etcd on 127.0.0.1:9712; two
// plain node:http servers stand for the REST faces of two replicas and echo what they get;
// the role record and node keys are written through EtcdCoordinator, as replicas do.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { type EtcdProcess, startEtcd } from "../../src/cluster/index.ts";
import {
  type Coordinator,
  createEtcdCoordinator,
  type NodeSession,
} from "../../src/coord/index.ts";
import { type RestGateway, startEtcdRestGateway } from "../../src/server/index.ts";

const dir = mkdtempSync(join(tmpdir(), "txgrid-gateway-"));
const endpoints = ["http://127.0.0.1:9712"];
const prefix = "/txgrid-gateway-test";
let etcd: EtcdProcess | null = null;
let coordinator: Coordinator | null = null;
let gateway: RestGateway | null = null;
const sessions: NodeSession[] = [];
const replicas: Server[] = [];

async function replica(name: string): Promise<string> {
  const server = createServer((request, response) => {
    let body = "";
    request.setEncoding("utf8");
    request.on("data", (chunk: string) => {
      body += chunk;
    });
    request.on("end", () => {
      const text = JSON.stringify({ name, method: request.method, url: request.url, body });
      response.writeHead(200, { "content-type": "application/json" });
      response.end(text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  replicas.push(server);
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function eventually(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadlineMs = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadlineMs) assert.fail(`not within 10 s: ${what}`);
    await sleep(50);
  }
}

before(async () => {
  etcd = await startEtcd({ dataDir: join(dir, "etcd"), clientPort: 9712, peerPort: 9713 });
  coordinator = await createEtcdCoordinator({ endpoints, prefix });
  gateway = await startEtcdRestGateway({
    endpoints,
    prefix,
    host: "127.0.0.1",
    port: 0,
    shardId: 0,
  });
});

after(async () => {
  await gateway?.close();
  for (const session of sessions) await session.close().catch(() => undefined);
  await coordinator?.close();
  for (const server of replicas) server.close();
  await etcd?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function post(path: string, body: string) {
  const response = await fetch(`${gateway?.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
    signal: AbortSignal.timeout(10_000),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

test("requests go to the primary of the role record, and follow a new primary", async () => {
  const c = coordinator as Coordinator;
  const noRole = await post("/v1/transfers", "{}");
  assert.equal(noRole.status, 503);
  assert.equal(noRole.json.code, "TXG_ERR_UNAVAILABLE");

  const addressA = await replica("a");
  const addressB = await replica("b");
  for (const [nodeId, httpAddress] of [
    ["n1", addressA],
    ["n2", addressB],
  ] as const) {
    sessions.push(
      await c.join({ nodeId, tcpAddress: "127.0.0.1:1", httpAddress, shardLsns: {} }, 2_000),
    );
  }
  const replicaIds = ["n1", "n2"];
  const first = await c.compareAndSetRole(0, 0, {
    shardId: 0,
    epoch: 1,
    primaryId: "n1",
    replicaIds,
  });
  assert.ok(first !== null);
  await eventually("the gateway knows n1", async () => gateway?.primaryHttpAddress() === addressA);
  const body = JSON.stringify({ id: "t1", debitId: "a", creditId: "b", amount: "5" });
  const viaA = await post("/v1/transfers?x=1", body);
  assert.equal(viaA.status, 200);
  assert.deepEqual(viaA.json, { name: "a", method: "POST", url: "/v1/transfers?x=1", body });

  const vacant = await c.compareAndSetRole(0, first.revision, {
    shardId: 0,
    epoch: 2,
    primaryId: "",
    replicaIds,
  });
  assert.ok(vacant !== null);
  await eventually("the epoch is vacant", async () => gateway?.primaryHttpAddress() === null);
  assert.equal((await post("/v1/transfers", body)).status, 503);

  const second = await c.compareAndSetRole(0, vacant.revision, {
    shardId: 0,
    epoch: 3,
    primaryId: "n2",
    replicaIds,
  });
  assert.ok(second !== null);
  await eventually("the gateway knows n2", async () => gateway?.primaryHttpAddress() === addressB);
  assert.equal((await post("/users", "{}")).json.name, "b");

  // The primary stops answering: 502, and the gateway does not try elsewhere.
  await new Promise<void>((resolve) => (replicas[1] as Server).close(() => resolve()));
  const down = await post("/v1/transfers", body);
  assert.equal(down.status, 502);
  assert.equal(down.json.code, "TXG_ERR_UNAVAILABLE");
});
