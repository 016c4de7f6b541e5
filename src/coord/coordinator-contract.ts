// The Coordinator contract as executable checks: every implementation (etcd in real-process
// tests, the simulator's fake in seeded tests) runs the same cases through its own harness.
// The cases know nothing of etcd: time is the harness's clock and sleep, faults of the store
// are optional hooks. They return plain { name, timeoutMs, run } records, so that this module
// does not load node:test; a test file registers them:
//
//   for (const c of coordinatorContract(harness)) test(c.name, { timeout: c.timeoutMs }, c.run);
//
// What a passing implementation guarantees is what coordinator.ts promises: one winner per
// compare-and-swap, epochs that never go back, node keys that vanish when their lease ends
// (and only then: one key per session),
// a local deadline never later than the store's expiry, watches that deliver changes (also
// after a store restart), and calls that fail with UNAVAILABLE instead of hanging while the
// store does not answer.
import assert from "node:assert/strict";
import { type Clock, ErrorCode, isTxgridError } from "../stdx/index.ts";
import {
  type Coordinator,
  type NodeInfo,
  type NodeSession,
  type ShardRole,
  VACANT_PRIMARY_ID,
} from "./coordinator.ts";

export interface ContractHarness {
  /** The monotonic clock the coordinators compute deadlines with. */
  readonly clock: Clock;
  /** Waits `ms` of the harness's time (real, or simulated). */
  sleep(ms: number): Promise<void>;
  /** A new coordinator, as a separate process would have (its own connection). */
  makeCoordinator(): Promise<Coordinator>;
  /** The lease TTL the cases use. */
  readonly leaseTtlMs: number;
  /**
   * Longest time after (last keepalive + TTL) until the store has removed the key of an
   * expired lease and a watcher has heard of it (etcd checks expiry every 500 ms).
   */
  readonly expiryGraceMs: number;
  /** Longest time a call may take while the store does not answer (then UNAVAILABLE). */
  readonly callTimeoutMs: number;
  /** Stops a session's keepalives, as if its process froze; its lease must then expire. */
  stopKeepalives(session: NodeSession): void;
  /** Faults of the store itself; cases that need them exist only when given. */
  readonly store?: {
    /** The store stops answering (SIGSTOP) but keeps its connections. */
    pause(): Promise<void>;
    resume(): Promise<void>;
    /** Stop and start again on the same data. */
    restart(): Promise<void>;
  };
}

/** Where a case reports measurements (node:test's TestContext fits). */
export interface ContractReport {
  diagnostic(message: string): void;
}

export interface ContractCase {
  readonly name: string;
  readonly timeoutMs: number;
  run(context?: ContractReport): Promise<void>;
}

// Counters, not randomness: names stay distinct within one store's life and runs replay.
let nodeCounter = 0;
let shardCounter = 0;

function nodeInfo(nodeId: string, lsn = 0): NodeInfo {
  return {
    nodeId,
    tcpAddress: "127.0.0.1:1",
    httpAddress: "",
    shardLsns: { "0": lsn },
  };
}

/** A node id no other case (or earlier run on the same store) uses. */
function freshNodeId(label: string): string {
  nodeCounter += 1;
  return `${label}-${nodeCounter}`;
}

/** A shard id no other case uses (roles outlive coordinators). */
function freshShardId(): number {
  shardCounter += 1;
  return 1_000 + shardCounter;
}

export function coordinatorContract(harness: ContractHarness): ContractCase[] {
  const { clock } = harness;
  const coordinators: Coordinator[] = [];
  const open = async () => {
    const coordinator = await harness.makeCoordinator();
    coordinators.push(coordinator);
    return coordinator;
  };
  const closeAll = async () => {
    await Promise.all(coordinators.splice(0).map((c) => c.close()));
  };
  /** Polls `condition` every 20 ms of harness time until true, for at most `withinMs`. */
  const eventually = async (what: string, withinMs: number, condition: () => boolean) => {
    const startMs = clock.monotonicNowMs();
    while (!condition()) {
      if (clock.monotonicNowMs() - startMs > withinMs)
        assert.fail(`not within ${withinMs} ms: ${what}`);
      await harness.sleep(20);
    }
  };
  const ttl = harness.leaseTtlMs;
  const cases: ContractCase[] = [];
  const add = (
    name: string,
    timeoutMs: number,
    body: (context: ContractReport | undefined) => Promise<void>,
  ) => {
    cases.push({
      name,
      timeoutMs,
      run: async (context) => {
        try {
          await body(context);
        } finally {
          await closeAll();
        }
      },
    });
  };

  add(
    "join publishes a node under its lease; publish replaces it; close removes it",
    30_000,
    async () => {
      const a = await open();
      const b = await open();
      const id = freshNodeId("join");
      const seen: (readonly NodeInfo[])[] = [];
      const unwatch = b.watchNodes((nodes) => seen.push(nodes));
      const session = await a.join(nodeInfo(id, 1), ttl);
      assert.equal(session.nodeId, id);
      assert.ok(session.deadlineMs() > clock.monotonicNowMs(), "a fresh lease has time left");
      assert.ok(session.deadlineMs() <= clock.monotonicNowMs() + ttl, "deadline within one TTL");
      assert.deepEqual(
        (await b.listNodes()).find((n) => n.nodeId === id),
        nodeInfo(id, 1),
      );
      await session.publish(nodeInfo(id, 7));
      assert.equal((await b.listNodes()).find((n) => n.nodeId === id)?.shardLsns["0"], 7);
      await eventually("watchNodes sees lsn 7", 5_000, () =>
        seen.some((nodes) => nodes.some((n) => n.nodeId === id && n.shardLsns["0"] === 7)),
      );
      await session.close();
      assert.ok(session.deadlineMs() <= clock.monotonicNowMs(), "a closed session has no time");
      assert.equal(
        (await b.listNodes()).some((n) => n.nodeId === id),
        false,
        "gone at once",
      );
      await eventually("watchNodes sees it go", 5_000, () =>
        (seen.at(-1) ?? []).every((n) => n.nodeId !== id),
      );
      unwatch();
    },
  );

  add(
    "an older session's late publish and end do not hide the node's current session",
    30_000,
    async () => {
      // What a slow or paused store can do: a put the node sent under its older lease is
      // served after its newer session's join. With one key per node, the older lease then
      // owned the key and its end deleted it while the newer session was valid: peers could
      // not address the node and a successor could claim while its lease was valid
      // (simulator seeds 3, 10, 203).
      const a = await open();
      const b = await open();
      const id = freshNodeId("sessions");
      const older = await a.join(nodeInfo(id, 1), ttl);
      const newer = await a.join(nodeInfo(id, 2), ttl);
      await older.publish(nodeInfo(id, 1));
      await older.close();
      const listed = (await b.listNodes()).find((n) => n.nodeId === id);
      assert.ok(listed !== undefined, "the newer session keeps the node live");
      assert.ok(newer.deadlineMs() > clock.monotonicNowMs());
      await newer.publish(nodeInfo(id, 3));
      assert.equal((await b.listNodes()).find((n) => n.nodeId === id)?.shardLsns["0"], 3);
      await newer.close();
      assert.equal(
        (await b.listNodes()).some((n) => n.nodeId === id),
        false,
      );
    },
  );

  add("two racers for the same compare-and-swap: exactly one wins", 30_000, async () => {
    const a = await open();
    const b = await open();
    const shardId = freshShardId();
    const value = (epoch: number, primaryId: string) => ({
      shardId,
      epoch,
      primaryId,
      replicaIds: ["n1", "n2"],
    });
    // Creation (expected revision 0), then five rounds of epoch+1 from the same revision.
    const created = await Promise.all([
      a.compareAndSetRole(shardId, 0, value(1, "n1")),
      b.compareAndSetRole(shardId, 0, value(1, "n2")),
    ]);
    assert.equal(created.filter((r) => r !== null).length, 1, "one creator wins");
    let current = created.find((r) => r !== null) as ShardRole;
    for (let round = 0; round < 5; round++) {
      const next = current.epoch + 1;
      const results = await Promise.all([
        a.compareAndSetRole(shardId, current.revision, value(next, "n1")),
        b.compareAndSetRole(shardId, current.revision, value(next, "n2")),
      ]);
      const winners = results.filter((r): r is ShardRole => r !== null);
      assert.equal(winners.length, 1, `round ${round}: exactly one winner`);
      const winner = winners[0] as ShardRole;
      assert.ok(winner.revision > current.revision, "the revision grows");
      assert.deepEqual(await a.readRole(shardId), winner, "both read the winner");
      assert.deepEqual(await b.readRole(shardId), winner);
      current = winner;
    }
    // The loser's stale revision keeps failing.
    assert.equal(await a.compareAndSetRole(shardId, 0, value(99, "n1")), null);
  });

  add("epochs never go back; bad roles are refused", 30_000, async () => {
    const a = await open();
    const shardId = freshShardId();
    const seen: (ShardRole | null)[] = [];
    const unwatch = a.watchRole(shardId, (role) => seen.push(role));
    const base = { shardId, primaryId: "n1", replicaIds: ["n1", "n2"] };
    let role = await a.compareAndSetRole(shardId, 0, { ...base, epoch: 3 });
    assert.ok(role !== null);
    const back = await a.compareAndSetRole(shardId, role.revision, { ...base, epoch: 2 }).then(
      () => null,
      (error: unknown) => error,
    );
    assert.ok(isTxgridError(back, ErrorCode.BAD_REQUEST), `epoch 2 after 3: ${String(back)}`);
    for (const epoch of [3, 4, 6]) {
      role = await a.compareAndSetRole(shardId, role.revision, { ...base, epoch });
      assert.ok(role !== null);
    }
    for (const bad of [
      { ...base, primaryId: "n9" },
      { ...base, replicaIds: [] },
      { ...base, replicaIds: ["n1", "n1"] },
      { ...base, shardId: shardId + 1 },
      { ...base, epoch: -1 },
    ]) {
      const error = await a.compareAndSetRole(shardId, role.revision, { epoch: 7, ...bad }).then(
        () => null,
        (e: unknown) => e,
      );
      assert.ok(isTxgridError(error, ErrorCode.BAD_REQUEST), JSON.stringify(bad));
    }
    assert.equal((await a.readRole(shardId))?.epoch, 6);
    await eventually("the watch reaches epoch 6", 5_000, () => seen.at(-1)?.epoch === 6);
    const epochs = seen.map((r) => r?.epoch ?? -1);
    const revisions = seen.map((r) => r?.revision ?? 0);
    assert.deepEqual(
      [...epochs].sort((x, y) => x - y),
      epochs,
      "delivered epochs grow",
    );
    assert.deepEqual(
      [...revisions].sort((x, y) => x - y),
      revisions,
      "revisions grow",
    );
    unwatch();
  });

  add("an epoch may be vacant (no primary yet), and the next epoch fills it", 30_000, async () => {
    const a = await open();
    const shardId = freshShardId();
    const replicaIds = ["n1", "n2", "n3"];
    const first = await a.compareAndSetRole(shardId, 0, {
      shardId,
      epoch: 1,
      primaryId: "n1",
      replicaIds,
    });
    assert.ok(first !== null);
    const vacant = await a.compareAndSetRole(shardId, first.revision, {
      shardId,
      epoch: 2,
      primaryId: VACANT_PRIMARY_ID,
      replicaIds,
    });
    assert.ok(vacant !== null, "a vacant epoch is a valid role");
    assert.equal((await a.readRole(shardId))?.primaryId, VACANT_PRIMARY_ID);
    const filled = await a.compareAndSetRole(shardId, vacant.revision, {
      shardId,
      epoch: 3,
      primaryId: "n2",
      replicaIds,
    });
    assert.equal(filled?.primaryId, "n2");
  });

  add("watchRole delivers the current value first, then every change", 30_000, async () => {
    const a = await open();
    const b = await open();
    const shardId = freshShardId();
    const seen: (ShardRole | null)[] = [];
    const unwatch = b.watchRole(shardId, (role) => seen.push(role));
    await eventually("the first callback (no role yet)", 5_000, () => seen.length === 1);
    assert.equal(seen[0], null);
    let revision = 0;
    for (const epoch of [1, 2, 3]) {
      const role = await a.compareAndSetRole(shardId, revision, {
        shardId,
        epoch,
        primaryId: "n1",
        replicaIds: ["n1"],
      });
      assert.ok(role !== null);
      revision = role.revision;
      await eventually(`epoch ${epoch} delivered`, 5_000, () => seen.at(-1)?.epoch === epoch);
      assert.deepEqual(seen.at(-1), role);
    }
    assert.equal(seen.length, 4, "one callback per change");
    unwatch();
    await a.compareAndSetRole(shardId, revision, {
      shardId,
      epoch: 4,
      primaryId: "n1",
      replicaIds: ["n1"],
    });
    await harness.sleep(300);
    assert.equal(seen.length, 4, "no callback after unwatch");
  });

  add(
    "a lease without keepalives ends: the key vanishes, deadlineMs came first",
    60_000,
    async (context) => {
      const a = await open();
      const b = await open();
      const id = freshNodeId("expire");
      let goneAtMs = -1;
      let seenOnce = false;
      const unwatch = b.watchNodes((nodes) => {
        if (goneAtMs < 0 && seenOnce && !nodes.some((n) => n.nodeId === id)) {
          goneAtMs = clock.monotonicNowMs();
        }
        if (nodes.some((n) => n.nodeId === id)) seenOnce = true;
      });
      const session = await a.join(nodeInfo(id), ttl);
      let lostAtMs = -1;
      let deadlineAtLossMs = -1;
      session.onLost(() => {
        lostAtMs = clock.monotonicNowMs();
        deadlineAtLossMs = session.deadlineMs();
      });
      await eventually("the watcher sees the node", 5_000, () => seenOnce);
      await harness.sleep(ttl / 2); // some keepalives succeed first
      harness.stopKeepalives(session);
      const stoppedMs = clock.monotonicNowMs();
      assert.ok(session.deadlineMs() > stoppedMs, "the lease was alive when keepalives stopped");
      await eventually("the key vanishes", ttl + harness.expiryGraceMs, () => goneAtMs >= 0);
      await eventually("onLost fires", 1_000, () => lostAtMs >= 0);
      // A keepalive in flight when they stopped may still have moved the deadline: the
      // deadline that counts is the one the session had when it gave up.
      assert.ok(
        deadlineAtLossMs <= goneAtMs,
        `local deadline ${deadlineAtLossMs.toFixed(1)} is after the expiry seen at ${goneAtMs.toFixed(1)}`,
      );
      assert.ok(lostAtMs >= deadlineAtLossMs, "lost at the deadline, not before");
      assert.ok(session.deadlineMs() <= deadlineAtLossMs, "the deadline never moves after loss");
      context?.diagnostic(
        `keepalives stopped at 0 ms; local deadline +${(deadlineAtLossMs - stoppedMs).toFixed(0)} ms; ` +
          `onLost +${(lostAtMs - stoppedMs).toFixed(0)} ms; key gone (seen by a watcher) ` +
          `+${(goneAtMs - stoppedMs).toFixed(0)} ms; TTL ${ttl} ms`,
      );
      const publish = await session.publish(nodeInfo(id, 5)).then(
        () => null,
        (e: unknown) => e,
      );
      assert.ok(isTxgridError(publish), "a lost session cannot publish");
      assert.equal(
        (await b.listNodes()).some((n) => n.nodeId === id),
        false,
      );
      unwatch();
    },
  );

  add("lease TTLs out of range are refused", 10_000, async () => {
    const a = await open();
    for (const bad of [0, 10, 10 * 60_000]) {
      const error = await a.join(nodeInfo(freshNodeId("ttl")), bad).then(
        () => null,
        (e: unknown) => e,
      );
      assert.ok(isTxgridError(error, ErrorCode.LIMIT_EXCEEDED), `ttl ${bad}: ${String(error)}`);
    }
  });

  const store = harness.store;
  if (store !== undefined) {
    add(
      "while the store is paused: calls fail with UNAVAILABLE, sessions are lost at their deadline",
      90_000,
      async () => {
        const a = await open();
        const shardId = freshShardId();
        const role = await a.compareAndSetRole(shardId, 0, {
          shardId,
          epoch: 1,
          primaryId: "n1",
          replicaIds: ["n1"],
        });
        assert.ok(role !== null);
        const session = await a.join(nodeInfo(freshNodeId("pause")), ttl);
        let lostAtMs = -1;
        let deadlineAtLossMs = -1;
        session.onLost(() => {
          lostAtMs = clock.monotonicNowMs();
          deadlineAtLossMs = session.deadlineMs();
        });
        await store.pause();
        try {
          const deadlineMs = session.deadlineMs();
          const startMs = clock.monotonicNowMs();
          const read = await a.readRole(shardId).then(
            () => null,
            (e: unknown) => e,
          );
          const tookMs = clock.monotonicNowMs() - startMs;
          assert.ok(isTxgridError(read, ErrorCode.UNAVAILABLE), `read: ${String(read)}`);
          assert.ok(tookMs <= harness.callTimeoutMs + 1_000, `no hang: ${tookMs} ms`);
          const cas = await a.compareAndSetRole(shardId, role.revision, { ...role, epoch: 2 }).then(
            () => null,
            (e: unknown) => e,
          );
          assert.ok(isTxgridError(cas, ErrorCode.UNAVAILABLE), `cas: ${String(cas)}`);
          await eventually("the session is lost", ttl + 1_000, () => lostAtMs >= 0);
          // A keepalive answered just before the pause took effect may have moved the deadline.
          assert.ok(deadlineAtLossMs >= deadlineMs, "the deadline did not go back");
          assert.ok(lostAtMs >= deadlineAtLossMs, "not lost before its deadline");
          assert.ok(
            lostAtMs <= deadlineAtLossMs + 1_000,
            `lost at its own deadline, not on a late event (${lostAtMs - deadlineAtLossMs} ms after)`,
          );
          assert.ok(session.deadlineMs() <= clock.monotonicNowMs());
        } finally {
          await store.resume();
        }
        // Back: reads work, nothing was lost, a new session can be had.
        const after = await retry(harness, () => a.readRole(shardId));
        assert.deepEqual(after, role);
        const again = await retry(harness, () => a.join(nodeInfo(freshNodeId("back")), ttl));
        assert.ok(again.deadlineMs() > clock.monotonicNowMs());
        await again.close();
      },
    );

    add(
      "across a store restart: roles survive, watches and sessions work again",
      90_000,
      async () => {
        const a = await open();
        const b = await open();
        const shardId = freshShardId();
        const role = await a.compareAndSetRole(shardId, 0, {
          shardId,
          epoch: 1,
          primaryId: "n1",
          replicaIds: ["n1", "n2"],
        });
        assert.ok(role !== null);
        const seen: (ShardRole | null)[] = [];
        const unwatch = b.watchRole(shardId, (r) => seen.push(r));
        await eventually("the watch has the role", 5_000, () => seen.at(-1)?.epoch === 1);
        await store.restart();
        assert.deepEqual(await retry(harness, () => a.readRole(shardId)), role, "role kept");
        const next = await retry(harness, () =>
          a.compareAndSetRole(shardId, role.revision, { ...role, epoch: 2, primaryId: "n2" }),
        );
        assert.ok(next !== null && next.revision > role.revision, "revisions go on growing");
        await eventually(
          "the watch delivers the change after the restart",
          10_000,
          () => seen.at(-1)?.epoch === 2,
        );
        const session = await retry(harness, () => a.join(nodeInfo(freshNodeId("restart")), ttl));
        assert.ok((await b.listNodes()).some((n) => n.nodeId === session.nodeId));
        await session.close();
        unwatch();
      },
    );
  }
  return cases;
}

/** Retries `run` while it fails with UNAVAILABLE, for at most 15 s of harness time. */
async function retry<T>(harness: ContractHarness, run: () => Promise<T>): Promise<T> {
  const startMs = harness.clock.monotonicNowMs();
  for (;;) {
    try {
      return await run();
    } catch (error) {
      if (!isTxgridError(error, ErrorCode.UNAVAILABLE)) throw error;
      if (harness.clock.monotonicNowMs() - startMs > 15_000) throw error;
      await harness.sleep(100);
    }
  }
}
