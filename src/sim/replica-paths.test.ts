// Goal: the replicated write path wastes no message and no log step, and a standby rejoins the
// epoch as soon as that is safe:
// - a standby acks each entries message once, and a second time only when its durable
//   position moved (with fsync=lazy it does not; that second, identical ack cost a system call
//   on both nodes per batch);
// - the entries of one message, and of messages that arrive while the log is busy, reach the
//   log without waiting for each other (so the shard logs them with one write), but an entry
//   of a new epoch only after its epoch mark is saved;
// - a primary adds a standby that durably holds every acknowledged entry although the log end
//   moved on (under load it always does: re-adds took seconds), and then answers the later
//   entries only once that standby has them too;
// - a standby that hears nothing from its primary for a while says hello again.
// Method: one real Replica on the simulator's clock and fake etcd, a scripted ReplicaLog, and
// the test playing the other node by hand (as src/sim/standby-reset.test.ts does).
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Entry, EpochMark, ReplicaLog, ReplicationMessage } from "../replication/index.ts";
import { Replica } from "../replication/index.ts";
import { FakeEtcd } from "./fake-coordinator.ts";
import { Scheduler, settle } from "./scheduler.ts";

/** A log whose appends become durable at once (fsync on the standby) or never (lazy), and
 * can be held pending to play a busy disk. */
class ScriptedLog implements ReplicaLog {
  lsnLast = 0;
  lsnDurableNow = 0;
  readonly durableOnAppend: boolean;
  hold = false;
  /** Lsns in the order append() was called. */
  readonly appendCalls: number[] = [];
  /** How many appends had been called when each marks save was asked for. */
  readonly appendsAtMarkSaves: number[] = [];
  #held: { lsn: number; resolve: () => void }[] = [];

  constructor(durableOnAppend: boolean) {
    this.durableOnAppend = durableOnAppend;
  }

  get pendingAppends(): number {
    return this.#held.length;
  }

  lsnLogged(): number {
    return this.lsnLast;
  }

  lsnDurable(): number {
    return this.lsnDurableNow;
  }

  append(lsn: number, payload: Uint8Array): Promise<void> {
    void payload;
    assert.equal(lsn, this.lsnLast + 1, "appends follow the log");
    this.appendCalls.push(lsn);
    this.lsnLast = lsn;
    return new Promise((resolve) => {
      const done = () => {
        if (this.durableOnAppend) this.lsnDurableNow = lsn;
        resolve();
      };
      if (this.hold) this.#held.push({ lsn, resolve: done });
      else done();
    });
  }

  release(): void {
    for (const held of this.#held.splice(0)) held.resolve();
  }

  reset(lsn: number, body: Uint8Array): Promise<void> {
    void body;
    this.lsnLast = lsn;
    this.lsnDurableNow = lsn;
    return Promise.resolve();
  }

  snapshot(): { lsn: number; body: Uint8Array } {
    return { lsn: this.lsnLast, body: new Uint8Array(0) };
  }

  lsnSnapshot(): number {
    return 0;
  }

  saveMarks(marks: readonly EpochMark[]): Promise<void> {
    void marks;
    this.appendsAtMarkSaves.push(this.appendCalls.length);
    return Promise.resolve();
  }

  promoted(): void {}
}

interface Setup {
  readonly scheduler: Scheduler;
  readonly etcd: FakeEtcd;
  readonly replica: Replica;
  readonly sent: ReplicationMessage[];
  runMs(durationMs: number): Promise<void>;
  joinAs(id: string): Promise<void>;
}

function setUp(
  nodeId: string,
  log: ScriptedLog,
  options: { force: boolean; mode?: "received" | "durable" },
): Setup {
  const scheduler = new Scheduler();
  const etcd = new FakeEtcd(scheduler);
  const sent: ReplicationMessage[] = [];
  const replica = new Replica({
    nodeId,
    shardId: 0,
    replicaCount: 2,
    mode: options.mode ?? "received",
    preferredPrimaryId: null,
    force: options.force,
    leaseTtlMs: 2000,
    tcpAddress: `${nodeId}:1`,
    httpAddress: "",
    clock: scheduler,
    timers: scheduler.timers(() => true),
    coordinator: etcd.client(nodeId),
    network: { send: (_to, message) => sent.push(message) },
    marks: [],
  });
  replica.attach(log);
  const runMs = async (durationMs: number): Promise<void> => {
    await scheduler.run(scheduler.monotonicNowMs() + durationMs, 100_000, () => {});
    await settle();
  };
  /** Another node's session in etcd (live while the test runs). */
  const joinAs = async (id: string): Promise<void> => {
    const info = { nodeId: id, tcpAddress: `${id}:1`, httpAddress: "", shardLsns: { "0": 0 } };
    const joined = etcd.client(id).join(info, 2000);
    await runMs(20);
    await joined;
  };
  return { scheduler, etcd, replica, sent, runMs, joinAs };
}

function entries(lsnFirst: number, count: number, epoch: number): Entry[] {
  return Array.from({ length: count }, (_, index) => ({
    lsn: lsnFirst + index,
    epoch,
    payload: new Uint8Array([lsnFirst + index]),
  }));
}

/** A standby "s" following primary "p" of epoch 1, its hello answered; returns a sender. */
async function standbyFollowing(log: ScriptedLog) {
  const setup = setUp("s", log, { force: false });
  await setup.joinAs("p"); // the primary is live: s follows it, it does not take over
  setup.etcd.casRole(0, 0, { shardId: 0, epoch: 1, primaryId: "p", replicaIds: ["p", "s"] });
  setup.replica.start();
  await setup.runMs(20);
  const hello = setup.sent.find((message) => message.kind === "hello");
  assert.ok(hello?.kind === "hello", "the standby says hello to its primary");
  const base = { kind: "entries", from: "p", epoch: 1, incarnation: hello.incarnation } as const;
  const deliver = (epochPrev: number, lsnFirst: number, batch: readonly Entry[]) =>
    setup.replica.receive({ ...base, epochPrev, lsnFirst, entries: batch });
  deliver(0, 1, []); // the hello's answer: nothing to send yet
  await setup.runMs(1);
  setup.sent.length = 0;
  return { ...setup, deliver };
}

function acks(sent: readonly ReplicationMessage[]) {
  return sent.flatMap((message) =>
    message.kind === "ack" ? [{ received: message.lsnReceived, durable: message.lsnDurable }] : [],
  );
}

test("a standby acks each batch once while its durable position does not move", async () => {
  const log = new ScriptedLog(false); // fsync=lazy: the flush comes later
  const { deliver, runMs, sent, replica } = await standbyFollowing(log);
  for (let lsn = 1; lsn <= 3; lsn++) {
    deliver(lsn - 1 === 0 ? 0 : 1, lsn, entries(lsn, 1, 1));
    await runMs(1);
  }
  await runMs(30); // less than a retransmit interval: no periodic ack is due
  assert.equal(log.lsnLast, 3);
  assert.deepEqual(acks(sent), [
    { received: 1, durable: 0 },
    { received: 2, durable: 0 },
    { received: 3, durable: 0 },
  ]);
  replica.abandon();
});

test("a standby acks again once the log made its batches durable", async () => {
  const log = new ScriptedLog(true);
  const { deliver, runMs, sent, replica } = await standbyFollowing(log);
  deliver(0, 1, entries(1, 2, 1));
  await runMs(1);
  deliver(1, 3, entries(3, 1, 1));
  await runMs(30);
  assert.deepEqual(acks(sent), [
    { received: 2, durable: 0 },
    { received: 2, durable: 2 },
    { received: 3, durable: 2 },
    { received: 3, durable: 3 },
  ]);
  replica.abandon();
});

test("batches reach the log together, but a new epoch's only after its mark", async () => {
  const log = new ScriptedLog(true);
  log.hold = true; // a busy disk: nothing completes until released
  const { deliver, runMs, sent, replica } = await standbyFollowing(log);
  deliver(0, 1, entries(1, 4, 1));
  await runMs(1);
  deliver(1, 5, entries(5, 2, 1));
  await runMs(1);
  assert.equal(log.pendingAppends, 6, "six batches handed over while the first is unfinished");
  assert.deepEqual(log.appendCalls, [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(
    acks(sent).map((ack) => ack.received),
    [4, 6],
    "each message acked as received before the log work",
  );

  // Epoch 2 starts at lsn 8: its mark is saved before lsn 8 is handed to the log, and lsn 7
  // (epoch 1) goes first.
  deliver(1, 7, [...entries(7, 1, 1), ...entries(8, 2, 2)]);
  await runMs(1);
  assert.deepEqual(log.appendCalls, [1, 2, 3, 4, 5, 6, 7], "nothing of epoch 2 before its mark");
  // Epoch 1's own mark was saved before lsn 1 (0 appends then); epoch 2's is not yet.
  assert.deepEqual(log.appendsAtMarkSaves, [0], "the mark waits for the batches before it");
  log.release();
  await runMs(1);
  assert.deepEqual(log.appendsAtMarkSaves, [0, 7], "saved after lsn 7 was handed over");
  assert.deepEqual(log.appendCalls, [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  log.release();
  await runMs(30);
  assert.equal(log.lsnDurableNow, 9);
  assert.deepEqual(acks(sent).at(-1), { received: 9, durable: 9 });
  replica.abandon();
});

for (const mode of ["received", "durable"] as const) {
  test(`${mode}: a standby holding every acknowledged entry joins though the log moved on`, async () => {
    const log = new ScriptedLog(true);
    const { etcd, replica, sent, runMs, joinAs } = setUp("p", log, { force: true, mode });
    replica.start();
    await runMs(50);
    assert.equal(replica.primaryEpoch, 1, "p claimed epoch 1 alone (forced cold start)");
    assert.deepEqual(etcd.role(0)?.replicaIds, ["p"]);

    // Batch 1 is acknowledged with p alone in the epoch.
    log.lsnLast = 1;
    replica.appended(1, new Uint8Array([1]));
    await replica.replicated(1);

    // A standby s goes live and says hello from an empty log; p streams batch 1 to it.
    await joinAs("s");
    const hello = { from: "s", epoch: 1, incarnation: 1 } as const;
    replica.receive({ kind: "hello", ...hello, lsnLast: 0, lsnDurable: 0, epochLast: 0 });
    await runMs(1);
    const streamed = sent.flatMap((message) =>
      message.kind === "entries" ? message.entries.map((entry) => entry.lsn) : [],
    );
    assert.deepEqual(streamed, [1]);

    // Batch 2 is logged by p (its answer not yet asked for: the local flush runs) when s's
    // acks of batch 1 arrive: s holds everything acknowledged, not the log end. A member must
    // hold an entry as the mode says (received, or durable) before it counts; so must a joiner.
    log.lsnLast = 2;
    replica.appended(2, new Uint8Array([2]));
    replica.receive({ kind: "ack", ...hello, lsnReceived: 1, lsnDurable: 0 });
    await runMs(20);
    if (mode === "durable") {
      assert.deepEqual(etcd.role(0)?.replicaIds, ["p"], "not durable yet: not a member");
      replica.receive({ kind: "ack", ...hello, lsnReceived: 1, lsnDurable: 1 });
      await runMs(20);
    }
    assert.deepEqual(etcd.role(0)?.replicaIds, ["p", "s"], "s joined the epoch");

    // From then on batch 2 needs s: it is answered only after s has it.
    let answered = false;
    const answer = replica.replicated(2).then(() => {
      answered = true;
    });
    await runMs(100);
    assert.equal(answered, false, "batch 2 waits for the new member");
    replica.receive({ kind: "ack", ...hello, lsnReceived: 2, lsnDurable: 2 });
    await runMs(1);
    await answer;
    assert.equal(answered, true);
    replica.abandon();
  });
}

test("a standby that hears nothing from its primary says hello again", async () => {
  // The primary may have taken a late hello of an older handshake for current: it then
  // ignores this handshake's acks and sends nothing the standby takes (simulator seed 10).
  const log = new ScriptedLog(false);
  const { runMs, sent, replica } = await standbyFollowing(log);
  await runMs(900);
  assert.deepEqual(
    sent.filter((message) => message.kind === "hello"),
    [],
    "no hello while the primary may simply have nothing to send",
  );
  await runMs(200);
  const hellos = sent.filter((message) => message.kind === "hello");
  assert.equal(hellos.length, 1, "a hello after REPLICATION_SILENCE_HELLO_MS of silence");
  replica.abandon();
});
