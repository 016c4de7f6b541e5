// The simulator's time: one seeded event queue drives every clock and timer of every node,
// the network and the fake coordinator. Nothing in a simulation touches real time.
//
// Events run in (time, insertion order), so a run is a pure function of the seed. After each
// event the scheduler lets every promise reaction settle (one setImmediate turn: all
// microtasks run before it) before the next event, so async code inside the nodes (the
// shard's executor, MemoryStorage's promises) finishes what the event started, in a fixed
// order. A node's timers belong to its current life: crash() ends it and every timer and
// callback of that life is dropped.
import { assert, type Clock, MinHeap, type Timers } from "../stdx/index.ts";

interface SimEvent {
  readonly atMs: number;
  readonly sequence: number;
  readonly run: () => void;
  cancelled: boolean;
}

function before(a: SimEvent, b: SimEvent): boolean {
  return a.atMs < b.atMs || (a.atMs === b.atMs && a.sequence < b.sequence);
}

const wallEpochMs = 1_700_000_000_000;

export class Scheduler implements Clock {
  readonly #heap = new MinHeap<SimEvent>(before);
  #nowMs = 0;
  #sequence = 0;
  #eventCount = 0;

  monotonicNowMs(): number {
    return this.#nowMs;
  }

  wallNowMs(): number {
    return wallEpochMs + this.#nowMs;
  }

  get eventCount(): number {
    return this.#eventCount;
  }

  /** Runs `run` after `delayMs` of simulated time; the result cancels it. */
  at(delayMs: number, run: () => void): () => void {
    assert(delayMs >= 0 && Number.isFinite(delayMs), "delays are finite and not negative");
    const event: SimEvent = {
      atMs: this.#nowMs + delayMs,
      sequence: this.#sequence++,
      run,
      cancelled: false,
    };
    this.#heap.push(event);
    return () => {
      event.cancelled = true;
    };
  }

  /** Timers for one life of a node: nothing scheduled through them runs once `alive` is false. */
  timers(alive: () => boolean): Timers {
    return {
      defer: (callback) => {
        this.at(0, () => {
          if (alive()) callback();
        });
      },
      after: (delayMs, callback) =>
        this.at(Math.max(0, delayMs), () => {
          if (alive()) callback();
        }),
    };
  }

  /**
   * Runs events up to `untilMs`, settling promises after each; `afterEach` runs after every
   * event (the invariant checks). Returns false if `eventCountMax` was reached first.
   */
  async run(untilMs: number, eventCountMax: number, afterEach: () => void): Promise<boolean> {
    for (;;) {
      const next = this.#heap.peek();
      if (next === undefined || next.atMs > untilMs) break;
      if (this.#eventCount >= eventCountMax) return false;
      this.#heap.pop();
      if (next.cancelled) continue;
      this.#nowMs = next.atMs;
      this.#eventCount++;
      next.run();
      await settle();
      afterEach();
    }
    this.#nowMs = Math.max(this.#nowMs, untilMs);
    return true;
  }
}

/** Lets every pending promise reaction run (microtasks drain before an immediate). */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
