// Goal: the busy poller defers nothing until I/O, runs at most one chain however often it is
// touched, ends its chain after the idle window (a touch restarts the window), when it is no
// longer wanted, and after stop(); I/O right after a chain ended by its window (a peer on the
// same CPU) makes it back off for a while, other I/O does not. Method: a ManualClock and a defer queue run by hand, so
// turns are counted and time is moved explicitly: nothing here is timed.
import assert from "node:assert/strict";
import { test } from "node:test";
import { AssertionFailure } from "./assert.ts";
import { BusyPoll } from "./busy-poll.ts";
import { ManualClock } from "./clock.ts";

/** Deferred callbacks, run one turn at a time by the test. */
class DeferQueue {
  readonly pending: (() => void)[] = [];

  defer(callback: () => void): void {
    this.pending.push(callback);
  }

  /** Runs the callbacks deferred so far (one loop turn); returns how many ran. */
  turn(): number {
    const due = this.pending.splice(0);
    for (const callback of due) callback();
    return due.length;
  }
}

function poller(windowUs: number, wanted?: () => boolean) {
  const clock = new ManualClock();
  const queue = new DeferQueue();
  const busyPoll = new BusyPoll({
    windowUs,
    clock,
    timers: queue,
    handoffUs: 100,
    backoffMsMin: 10,
    backoffMsMax: 40,
    ...(wanted === undefined ? {} : { wanted }),
  });
  return { clock, queue, busyPoll };
}

test("nothing is deferred before the first touch", () => {
  const { queue, busyPoll } = poller(100);
  assert.equal(queue.turn(), 0);
  assert.equal(busyPoll.turns, 0);
  assert.equal(busyPoll.spinning, false);
});

test("one chain however often it is touched", () => {
  const { clock, queue, busyPoll } = poller(100);
  for (let index = 0; index < 10; index++) busyPoll.touch();
  assert.equal(queue.pending.length, 1);
  for (let index = 0; index < 5; index++) {
    busyPoll.touch();
    clock.advance(0.01);
    assert.equal(queue.turn(), 1, "each turn defers exactly the next one");
  }
  assert.equal(busyPoll.chains, 1);
});

test("the chain ends after the idle window; a touch restarts the window", () => {
  const { clock, queue, busyPoll } = poller(100);
  busyPoll.touch();
  clock.advance(0.06); // 60 µs idle: still spinning
  assert.equal(queue.turn(), 1);
  assert.equal(busyPoll.spinning, true);
  busyPoll.touch(); // I/O at 60 µs: the window now ends at 160 µs
  clock.advance(0.001);
  queue.turn();
  clock.advance(0.08); // 141 µs: 80 µs since the touch
  assert.equal(queue.turn(), 1);
  assert.equal(busyPoll.spinning, true, "the touch restarted the window");
  clock.advance(0.03); // 171 µs: 110 µs since the touch
  queue.turn();
  assert.equal(busyPoll.spinning, false);
  assert.equal(queue.pending.length, 0, "an ended chain defers nothing more");
  const turns = busyPoll.turns;
  clock.advance(10);
  assert.equal(queue.turn(), 0);
  assert.equal(busyPoll.turns, turns);
  busyPoll.touch();
  assert.equal(busyPoll.chains, 2, "the next I/O starts a new chain");
  assert.equal(queue.pending.length, 1);
});

test("the chain spins only while wanted, and not after stop()", () => {
  let inflight = 1;
  const { clock, queue, busyPoll } = poller(1_000, () => inflight > 0);
  busyPoll.touch();
  queue.turn();
  assert.equal(busyPoll.spinning, true);
  inflight = 0;
  clock.advance(0.001);
  queue.turn();
  assert.equal(busyPoll.spinning, false, "nothing in flight: the chain ends at once");
  inflight = 1;
  busyPoll.touch();
  busyPoll.stop();
  queue.turn();
  assert.equal(busyPoll.spinning, false);
  busyPoll.touch();
  assert.equal(queue.pending.length, 0, "a stopped poller starts no chain");
});

test("the window is a positive whole number of µs", () => {
  for (const windowUs of [0, -1, 1.5, Number.NaN]) {
    assert.throws(() => poller(windowUs), AssertionFailure, String(windowUs));
  }
});

test("I/O right after a chain ended by its window backs off, doubling; an idle gap resets", () => {
  const { clock, queue, busyPoll } = poller(200);
  /** Spins one chain to the end of its window, then touches `gapUs` later. */
  const windowThenTouch = (gapUs: number) => {
    assert.equal(busyPoll.spinning, true);
    clock.advance(0.25);
    queue.turn(); // 250 µs idle: the chain ends by its window
    assert.equal(busyPoll.spinning, false);
    clock.advance(gapUs / 1000);
    busyPoll.touch();
  };
  busyPoll.touch();
  windowThenTouch(500); // an idle connection, not a handoff
  assert.equal(busyPoll.backoffs, 0);
  assert.equal(busyPoll.chains, 2);
  // 20 µs after the window ended: the peer ran only once we stopped.
  const backoffsMs = [10, 20, 40, 40];
  for (const [index, backoffMs] of backoffsMs.entries()) {
    windowThenTouch(20);
    assert.equal(busyPoll.backoffs, index + 1);
    assert.equal(busyPoll.spinning, false, "no chain during the back-off");
    clock.advance(backoffMs - 0.1);
    busyPoll.touch();
    assert.equal(queue.pending.length, 0, `still backing off after ${backoffMs - 0.1} ms`);
    clock.advance(0.2); // the back-off is over: the next I/O spins again
    busyPoll.touch();
  }
  windowThenTouch(500); // an idle gap: the back-off is back at its minimum
  windowThenTouch(20);
  clock.advance(10.1);
  busyPoll.touch();
  assert.equal(busyPoll.spinning, true, "a 10 ms back-off again");
  assert.equal(busyPoll.backoffs, backoffsMs.length + 1);
});

test("a chain ended because nothing was wanted is no handoff", () => {
  let inflight = 1;
  const { clock, queue, busyPoll } = poller(200, () => inflight > 0);
  busyPoll.touch();
  inflight = 0;
  queue.turn();
  clock.advance(0.01);
  inflight = 1;
  busyPoll.touch();
  assert.equal(busyPoll.backoffs, 0);
  assert.equal(busyPoll.spinning, true);
});
