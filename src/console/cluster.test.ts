// Goal: the console's cluster view names the shard's primary and epoch from the replica's role
// record in cluster mode (not the node that happens to serve the page), marks a vacant epoch,
// and keeps the single-node view when there is no role. Method: the view function on fixed
// inputs.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { ReplicationRoleSample } from "../metrics/index.ts";
import { singleNodeCluster } from "./cluster.ts";

const node = { version: "0.1.0", fsyncPolicy: "lazy", replication: "received" };
const status = {
  fsyncPolicy: "lazy" as const,
  dir: null,
  batchCommandsLast: 10,
  lsn: 40,
  lsnDurable: 38,
  snapshotLsn: 0,
  queueDepth: 0,
  queueCapacity: 100,
  batchCount: 40,
  commandCount: 400,
  failed: false,
};
const role: ReplicationRoleSample = {
  shard: "0",
  epoch: 7,
  primaryId: "n2",
  primaryHttpAddress: "127.0.0.1:9102",
  replicaIds: ["n1", "n2"],
  selfId: "n1",
};

test("a standby's page shows the primary and epoch of the role record", () => {
  const view = singleNodeCluster(node, "127.0.0.1:9101", status, [], 5, role);
  assert.equal(view.mode, "cluster");
  assert.equal(view.shards[0]?.primary, "127.0.0.1:9102");
  assert.equal(view.shards[0]?.epoch, 7);
});

test("the primary's page marks itself, and a vacant epoch says so", () => {
  const self = singleNodeCluster(node, "x", status, [], 5, { ...role, selfId: "n2" });
  assert.equal(self.shards[0]?.primary, "127.0.0.1:9102 (this node)");
  const vacant = singleNodeCluster(node, "x", status, [], 5, { ...role, primaryId: "" });
  assert.equal(vacant.shards[0]?.primary, "(vacant: choosing)");
});

test("without a role record it is the single-node view", () => {
  const view = singleNodeCluster(node, "127.0.0.1:9100", status, [], 5);
  assert.equal(view.mode, "single node");
  assert.equal(view.shards[0]?.primary, "127.0.0.1:9100");
  assert.equal(view.shards[0]?.epoch, null);
});
