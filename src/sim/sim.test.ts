// Goal: the replica group keeps invariants 1, 3, 4, 5 and money conservation under every
// fault the simulator injects (etcd outages for everyone included), and a seed replays exactly. Method: run a bounded number of
// seeds (CI budget: a few seconds) plus every seed that once failed, and compare two runs of
// one seed field by field.
import assert from "node:assert/strict";
import { test } from "node:test";
import { runSeed } from "./cluster.ts";

/** Seeds that found bugs during development (kept so the bugs stay fixed):
 * 68: a lost snapshot was never resent, so a standby never caught up.
 * 35: a restarted primary vacated its epoch with primaryId "", which etcd's record checks
 *     refused; the fake accepted it, so no primary was ever chosen on real etcd. */
const regressionSeeds = [68, 35];

/** Seeds found once etcd outages, etcd's lessor and address resolution were modelled:
 * 3 (received), 203 (durable): a late put under an older lease of a node moved its single
 *   node key onto that lease, whose expiry deleted it while the node's session was valid; the
 *   primary could no longer address the standby, it received nothing, never republished, and
 *   stayed behind for good.
 * 10 (received): the same lost key made a successor claim the next epoch while the old
 *   primary's lease was still valid (a second writable primary; fencing's step 3 assumes the
 *   key outlives the lease). Node keys are now per session (coord/records.ts, nodeKey). */
const outageSeeds: readonly { seed: number; mode: "received" | "durable" }[] = [
  { seed: 3, mode: "received" },
  { seed: 10, mode: "received" },
  { seed: 203, mode: "durable" },
  // A membership add whose compare-and-swap timed out during the outage was applied late:
  // the joiner became a member of an epoch whose primary had acknowledged entries without it,
  // then took over without them (acknowledged writes lost). Replica.#uncertainJoins.
  { seed: 267, mode: "durable" },
  { seed: 78, mode: "received" },
  // Not outage seeds: under received a standby that crashed between its ack and its log
  // write lost entries the primary had acknowledged, then took over without them. Found when
  // a standby's log work was deferred by 1 ms after its ack (tried for c=1 latency, reverted:
  // docs/benchmarks.md, "Replicated c=1 on one CPU"); the ack and the log write must stay in
  // one event-loop turn.
  { seed: 195, mode: "received" },
  { seed: 273, mode: "received" },
];

test("regression seeds pass", async () => {
  for (const seed of regressionSeeds) {
    // Kept with the fault schedule and models they failed under.
    const report = await runSeed({ seed, legacy: true });
    assert.equal(report.violation, null, `seed ${seed}`);
  }
  for (const { seed, mode } of outageSeeds) {
    const report = await runSeed({ seed, mode });
    assert.equal(report.violation, null, `seed ${seed} (${mode})`);
  }
});

test("random seeds pass (durable, 3 replicas)", async () => {
  const first = Number(process.env.SIM_SEED ?? 1000);
  for (let seed = first; seed < first + 3; seed++) {
    const report = await runSeed({ seed, durationMs: 8000 });
    assert.equal(report.violation, null, `seed ${seed}: replay with --seed ${seed}`);
    assert.ok(report.acknowledged > 0, "the run acknowledged writes");
  }
});

test("received mode and two replicas pass", async () => {
  const received = await runSeed({ seed: 7, mode: "received", durationMs: 6000 });
  assert.equal(received.violation, null);
  const pair = await runSeed({ seed: 8, replicaCount: 2, durationMs: 6000 });
  assert.equal(pair.violation, null);
});

test("a seed replays exactly", async () => {
  const a = await runSeed({ seed: 4242, durationMs: 4000 });
  const b = await runSeed({ seed: 4242, durationMs: 4000 });
  assert.deepEqual(a, b);
  assert.ok(a.crashes + a.epochs > 1, "faults happened");
});
