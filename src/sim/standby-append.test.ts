// Goal: under replication=received a standby acks an entries message at once and hands the
// entries to its log only REPLICATION_STANDBY_APPEND_DELAY_MS later, all entries received
// meanwhile in one group (one log write), and never after anything queued behind them (a
// snapshot reset). The delay keeps log work out of the event-loop turn that sent the ack, so
// a primary woken by the ack on the standby's CPU answers first (docs/benchmarks.md).
// Method: one real Replica on the simulator's clock and fake etcd, a ReplicaLog that records
// when each append and reset arrives, and the test playing the primary by hand.
import assert from "node:assert/strict";
import { test } from "node:test";
import { REPLICATION_STANDBY_APPEND_DELAY_MS } from "../constants.ts";
import type { Entry, EpochMark, ReplicaLog, ReplicationMessage } from "../replication/index.ts";
import { Replica } from "../replication/index.ts";
import { FakeEtcd } from "./fake-coordinator.ts";
import { Scheduler, settle } from "./scheduler.ts";

/** A log that records what reaches it and when (simulated ms). */
class RecordingLog implements ReplicaLog {
  lsnLast = 0;
  readonly calls: { kind: "append" | "reset"; lsn: number; atMs: number }[] = [];
  readonly #clock: Scheduler;

  constructor(clock: Scheduler) {
    this.#clock = clock;
  }

  lsnLogged(): number {
    return this.lsnLast;
  }

  lsnDurable(): number {
    return this.lsnLast;
  }

  append(lsn: number, payload: Uint8Array): Promise<void> {
    void payload;
    assert.equal(lsn, this.lsnLast + 1, "appends follow the log");
    this.lsnLast = lsn;
    this.calls.push({ kind: "append", lsn, atMs: this.#clock.monotonicNowMs() });
    return Promise.resolve();
  }

  reset(lsn: number, body: Uint8Array): Promise<void> {
    void body;
    this.lsnLast = lsn;
    this.calls.push({ kind: "reset", lsn, atMs: this.#clock.monotonicNowMs() });
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
    return Promise.resolve();
  }

  promoted(): void {}
}

test("a received-mode standby acks at once and logs what arrived within the delay together", async () => {
  const scheduler = new Scheduler();
  const etcd = new FakeEtcd(scheduler);
  const primaryId = "p";
  const epoch = 1;
  const log = new RecordingLog(scheduler);
  const sent: { message: ReplicationMessage; atMs: number; lsnLogged: number }[] = [];
  const replica = new Replica({
    nodeId: "s",
    shardId: 0,
    replicaCount: 2,
    mode: "received",
    preferredPrimaryId: null,
    force: false,
    leaseTtlMs: 1000,
    tcpAddress: "s:1",
    httpAddress: "",
    clock: scheduler,
    timers: scheduler.timers(() => true),
    coordinator: etcd.client("s"),
    network: {
      send: (to, message) => {
        if (to !== primaryId) return;
        sent.push({ message, atMs: scheduler.monotonicNowMs(), lsnLogged: log.lsnLast });
      },
    },
    marks: [],
  });
  replica.attach(log);
  etcd.casRole(0, 0, { shardId: 0, epoch, primaryId, replicaIds: [primaryId] });
  replica.start();
  const runMs = async (durationMs: number): Promise<void> => {
    await scheduler.run(scheduler.monotonicNowMs() + durationMs, 100_000, () => undefined);
    await settle();
  };
  await runMs(10);
  const hello = sent.find((item) => item.message.kind === "hello");
  assert.ok(hello?.message.kind === "hello", "the standby says hello");
  const base = { kind: "entries" as const, from: primaryId, epoch };
  const incarnation = hello.message.incarnation;
  const entries = (lsnFirst: number, count: number): Entry[] =>
    Array.from({ length: count }, (_, index) => ({
      lsn: lsnFirst + index,
      epoch,
      payload: new Uint8Array([lsnFirst + index]),
    }));
  const receivedAtMs = scheduler.monotonicNowMs();
  replica.receive({ ...base, incarnation, epochPrev: 0, lsnFirst: 1, entries: entries(1, 2) });
  const ack = sent.at(-1);
  assert.ok(ack?.message.kind === "ack", "the ack goes out in the same call");
  assert.equal(ack.message.lsnReceived, 2);
  assert.equal(ack.lsnLogged, 0, "before any entry reached the log");
  await settle();
  replica.receive({ ...base, incarnation, epochPrev: epoch, lsnFirst: 3, entries: entries(3, 1) });
  await settle();
  assert.equal(log.calls.length, 0, "nothing is logged within the turn of the ack");
  await runMs(REPLICATION_STANDBY_APPEND_DELAY_MS + 1);
  assert.deepEqual(
    log.calls.map((call) => call.lsn),
    [1, 2, 3],
    "both messages' entries reached the log",
  );
  assert.ok(log.calls.every((call) => call.atMs === (log.calls[0] as { atMs: number }).atMs));
  assert.ok((log.calls[0] as { atMs: number }).atMs >= receivedAtMs + 1, "after the delay");

  // Entries accepted just before a snapshot reach the old log before the reset, as if
  // appended at once (the reset must not be overtaken by them).
  replica.receive({ ...base, incarnation, epochPrev: epoch, lsnFirst: 4, entries: entries(4, 1) });
  replica.receive({
    kind: "snapshot",
    from: primaryId,
    epoch,
    incarnation,
    lsn: 10,
    marks: [{ epoch, lsnFirst: 1 }],
    body: new Uint8Array(0),
  });
  await runMs(REPLICATION_STANDBY_APPEND_DELAY_MS + 1);
  assert.deepEqual(
    log.calls.slice(3).map((call) => `${call.kind} ${call.lsn}`),
    ["append 4", "reset 10"],
  );
  replica.abandon();
});
