// Goal: the role record checks accept exactly what replication writes, including a vacant
// epoch (primary "") that a primary writes when it lost its lease; before this was allowed,
// EtcdCoordinator refused the vacate and a cluster whose primary lost its lease under load
// stayed without a primary. Method: encodeRoleValue / decodeRole on hand-made values.
import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeRole, encodeRoleValue } from "./records.ts";

test("a vacant epoch is a valid role; a primary outside the replicas is not", () => {
  const vacant = { shardId: 0, epoch: 3, primaryId: "", replicaIds: ["n1", "n2"] };
  const json = encodeRoleValue(0, vacant);
  assert.deepEqual(JSON.parse(json), vacant);
  assert.equal(decodeRole(json, 7).primaryId, "");
  assert.throws(() => encodeRoleValue(0, { ...vacant, primaryId: "n3" }), /one of the replicas/);
  assert.throws(() => encodeRoleValue(0, { ...vacant, replicaIds: ["", "n1"] }), /bad node id/);
});
