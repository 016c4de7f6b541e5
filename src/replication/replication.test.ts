// Goal: the pure parts of replication behave as documented: frames round-trip and reject
// damage, epoch marks answer epochAt and refuse disorder, role decisions follow the ranking
// rules. Method: examples, plus a fast-check round trip of random messages.
import { deepEqual as looseDeepEqual } from "node:assert";
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import type { NodeInfo } from "../coord/index.ts";
import { isTxgridError } from "../stdx/index.ts";
import { EpochHistory } from "./epochs.ts";
import {
  decodeReplicationFrame,
  encodeReplicationFrame,
  type ReplicationMessage,
} from "./messages.ts";
import { decideRole } from "./roles.ts";

test("frames round-trip and a flipped bit is refused", () => {
  const u53 = fc.integer({ min: 0, max: 2 ** 40 });
  const entry = fc.record({ lsn: u53, epoch: u53, payload: fc.uint8Array({ maxLength: 64 }) });
  const message: fc.Arbitrary<ReplicationMessage> = fc.oneof(
    fc.record({
      kind: fc.constant("hello" as const),
      from: fc.constant("n1"),
      epoch: u53,
      incarnation: u53,
      lsnLast: u53,
      lsnDurable: u53,
      epochLast: u53,
    }),
    fc.record({
      kind: fc.constant("entries" as const),
      from: fc.constant("n2"),
      epoch: u53,
      incarnation: u53,
      epochPrev: u53,
      lsnFirst: u53,
      entries: fc.array(entry, { maxLength: 4 }),
    }),
    fc.record({
      kind: fc.constant("ack" as const),
      from: fc.constant("n3"),
      epoch: u53,
      incarnation: u53,
      lsnReceived: u53,
      lsnDurable: u53,
    }),
  );
  fc.assert(
    fc.property(message, fc.nat(), (original, flip) => {
      const frame = encodeReplicationFrame(original);
      // fast-check's records have no prototype; the decoder's do: compare loosely.
      looseDeepEqual(decodeReplicationFrame(frame), original);
      const damaged = frame.slice();
      const index = flip % damaged.length;
      damaged[index] = (damaged[index] as number) ^ 1;
      assert.throws(
        () => decodeReplicationFrame(damaged),
        (error) => isTxgridError(error),
      );
    }),
    { numRuns: 200 },
  );
});

test("epoch marks", () => {
  const history = new EpochHistory([
    { epoch: 1, lsnFirst: 1 },
    { epoch: 3, lsnFirst: 10 },
  ]);
  assert.equal(history.epochAt(0, 20), 0);
  assert.equal(history.epochAt(9, 20), 1);
  assert.equal(history.epochAt(10, 20), 3);
  assert.equal(history.epochAt(21, 20), null);
  assert.equal(history.begin(5, 15), true);
  assert.equal(history.begin(6, 15), true, "an empty epoch's mark is replaced");
  assert.deepEqual(history.through(12), [
    { epoch: 1, lsnFirst: 1 },
    { epoch: 3, lsnFirst: 10 },
  ]);
  assert.throws(
    () =>
      new EpochHistory([
        { epoch: 2, lsnFirst: 5 },
        { epoch: 2, lsnFirst: 6 },
      ]),
  );
});

function node(nodeId: string, lsn: number): NodeInfo {
  return { nodeId, tcpAddress: "", httpAddress: "", shardLsns: { "0": lsn } };
}

test("cold start waits for every replica, then the longest log wins; ties go to the preferred", () => {
  const base = {
    shardId: 0,
    replicaCount: 3,
    preferredPrimaryId: "b",
    force: false,
    role: null,
    selfActing: false,
  };
  const two = [node("a", 5), node("b", 5)];
  assert.equal(decideRole({ ...base, selfId: "b", nodes: two, selfLsn: 5 }).kind, "wait");
  const forced = decideRole({ ...base, force: true, selfId: "b", nodes: two, selfLsn: 5 });
  assert.equal(forced.kind, "claim");
  const three = [node("a", 5), node("b", 5), node("c", 4)];
  const tie = decideRole({ ...base, selfId: "b", nodes: three, selfLsn: 5 });
  assert.ok(tie.kind === "claim");
  assert.deepEqual(tie.next.replicaIds, ["b", "a"], "the shorter log joins later");
  const longer = [node("a", 6), node("b", 5), node("c", 4)];
  assert.equal(decideRole({ ...base, selfId: "b", nodes: longer, selfLsn: 5 }).kind, "wait");
});

test("failover: a replica of the last epoch takes over with epoch + 1; others wait", () => {
  const role = { shardId: 0, epoch: 4, primaryId: "a", replicaIds: ["a", "b"], revision: 9 };
  const base = { shardId: 0, replicaCount: 3, preferredPrimaryId: null, force: false, role };
  const nodes = [node("b", 7), node("c", 9)];
  const b = decideRole({ ...base, selfId: "b", nodes, selfLsn: 7, selfActing: false });
  assert.ok(b.kind === "claim");
  assert.equal(b.next.epoch, 5);
  assert.equal(b.expectedRevision, 9);
  assert.deepEqual(b.next.replicaIds, ["b"]);
  const c = decideRole({ ...base, selfId: "c", nodes, selfLsn: 9, selfActing: false });
  assert.equal(c.kind, "wait", "not a replica of the last epoch");
  const restarted = decideRole({
    ...base,
    selfId: "a",
    nodes: [node("a", 7), node("b", 7)],
    selfLsn: 7,
    selfActing: false,
  });
  assert.ok(restarted.kind === "claim");
  assert.equal(restarted.next.primaryId, "", "a restarted primary vacates its epoch");
});
