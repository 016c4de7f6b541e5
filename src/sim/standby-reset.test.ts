// Goal: a standby never reports a durable position it does not hold while a snapshot reset
// is being written. Under replication=durable the primary counts a standby as durable up to
// the lsnDurable of its hello and acks (and adds it to the epoch once that reaches the log
// end), so a report taken from the old log, before the new snapshot is on disk, would let the
// primary acknowledge entries that a crash of that standby loses.
// Method: one real Replica on the simulator's clock and fake etcd, a ReplicaLog whose reset
// stays pending until the test releases it (a slow disk: the simulator's storage finishes
// every write within one event, so its runs cannot show this), and the test playing the
// primary by hand. It answers every hello, so a report made during the reset would be seen.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Entry, EpochMark, ReplicaLog, ReplicationMessage } from "../replication/index.ts";
import { Replica } from "../replication/index.ts";
import { FakeEtcd } from "./fake-coordinator.ts";
import { Scheduler, settle } from "./scheduler.ts";

/** A log of `lsnLast` entries, all durable, whose reset completes only when released. */
class GatedLog implements ReplicaLog {
  lsnLast: number;
  lsnDurableNow: number;
  resetting = false;
  #release: (() => void) | null = null;

  constructor(lsnLast: number) {
    this.lsnLast = lsnLast;
    this.lsnDurableNow = lsnLast;
  }

  lsnLogged(): number {
    return this.lsnLast;
  }

  /** As Shard: the old log's durable position until the reset has replaced the log. */
  lsnDurable(): number {
    return this.lsnDurableNow;
  }

  append(lsn: number, payload: Uint8Array): Promise<void> {
    void payload;
    assert.equal(lsn, this.lsnLast + 1, "appends follow the log");
    assert.equal(this.resetting, false, "nothing is appended before the reset is done");
    this.lsnLast = lsn;
    this.lsnDurableNow = lsn;
    return Promise.resolve();
  }

  reset(lsn: number, body: Uint8Array): Promise<void> {
    void body;
    this.resetting = true;
    return new Promise((resolve) => {
      this.#release = () => {
        this.resetting = false;
        this.lsnLast = lsn;
        this.lsnDurableNow = lsn;
        resolve();
      };
    });
  }

  release(): void {
    assert.ok(this.#release !== null, "a reset is pending");
    this.#release();
    this.#release = null;
  }

  snapshot(): { lsn: number; body: Uint8Array } {
    return { lsn: this.lsnLast, body: new Uint8Array(0) };
  }

  lsnSnapshot(): number {
    return 0;
  }

  saveMarks(marks: readonly EpochMark[]): Promise<void> {
    void marks;
    return Promise.resolve();
  }

  promoted(): void {}
}

test("a standby sends no hello and no ack while a snapshot reset is being written", async () => {
  const scheduler = new Scheduler();
  const etcd = new FakeEtcd(scheduler);
  const primaryId = "p";
  const epoch = 2;
  // The standby is an old primary of epoch 1 whose log ran 20 entries, all durable; the
  // primary of epoch 2 took over at lsn 6 and is at lsn 12, so the standby's log diverged
  // after 6 and it must be reset to the primary's snapshot at 12.
  const log = new GatedLog(20);
  const primaryMarks = [
    { epoch: 1, lsnFirst: 1 },
    { epoch: 2, lsnFirst: 7 },
  ];
  const sent: ReplicationMessage[] = [];
  const replica = new Replica({
    nodeId: "s",
    shardId: 0,
    replicaCount: 2,
    mode: "durable",
    preferredPrimaryId: null,
    force: false,
    leaseTtlMs: 1000,
    tcpAddress: "s:1",
    httpAddress: "",
    clock: scheduler,
    timers: scheduler.timers(() => true),
    coordinator: etcd.client("s"),
    network: { send: (to, message) => to === primaryId && sent.push(message) },
    marks: [{ epoch: 1, lsnFirst: 1 }],
  });
  replica.attach(log);
  etcd.casRole(0, 0, { shardId: 0, epoch, primaryId, replicaIds: [primaryId] });
  replica.start();

  // The primary's side: answers a hello as Replica does (a snapshot for the diverged log,
  // otherwise the entries after the standby's position); 13 and 14 come after the snapshot.
  let primaryLsnLast = 12;
  const answer = (message: ReplicationMessage): void => {
    if (message.kind !== "hello") return;
    const base = { from: primaryId, epoch, incarnation: message.incarnation };
    if (message.lsnLast === 20) {
      const snapshot = { lsn: 12, marks: primaryMarks, body: new Uint8Array(0) };
      scheduler.at(1, () => replica.receive({ kind: "snapshot", ...base, ...snapshot }));
      return;
    }
    const entries: Entry[] = [];
    for (let lsn = message.lsnLast + 1; lsn <= primaryLsnLast; lsn++) {
      entries.push({ lsn, epoch, payload: new Uint8Array([lsn]) });
    }
    const lsnFirst = message.lsnLast + 1;
    scheduler.at(1, () =>
      replica.receive({ kind: "entries", ...base, epochPrev: epoch, lsnFirst, entries }),
    );
  };
  let answered = 0;
  const runMs = async (durationMs: number): Promise<void> => {
    await scheduler.run(scheduler.monotonicNowMs() + durationMs, 100_000, () => {
      for (; answered < sent.length; answered++) answer(sent[answered] as ReplicationMessage);
    });
    await settle();
  };

  await runMs(100);
  assert.equal(log.resetting, true, "the standby got the snapshot and started its reset");
  const sentBeforeReset = sent.length;
  primaryLsnLast = 14;
  // Long enough for every retransmit: hellos and acks would go out now if they could.
  await runMs(1000);
  const duringReset = sent.slice(sentBeforeReset);
  assert.deepEqual(
    duringReset.map((message) => message.kind),
    [],
    `while the reset is written the standby stays silent; it sent ${JSON.stringify(
      duringReset.map((message) =>
        message.kind === "hello" || message.kind === "ack"
          ? { kind: message.kind, lsnDurable: message.lsnDurable }
          : { kind: message.kind },
      ),
    )} with nothing durable past the snapshot`,
  );

  log.release();
  await runMs(500);
  const after = sent.slice(sentBeforeReset);
  const hello = after.find((message) => message.kind === "hello");
  assert.ok(hello?.kind === "hello", "the standby says hello once the reset is durable");
  assert.equal(hello.lsnLast, 12);
  assert.equal(hello.lsnDurable, 12);
  assert.equal(hello.epochLast, 2);
  for (const message of after) {
    if (message.kind === "ack") assert.ok(message.lsnDurable <= log.lsnDurableNow);
  }
  assert.equal(log.lsnLast, 14, "it streams the suffix after the snapshot");
  const lastAck = after.findLast((message) => message.kind === "ack");
  assert.ok(lastAck?.kind === "ack" && lastAck.lsnDurable === 14, "and acks it durable");
  replica.abandon();
});
