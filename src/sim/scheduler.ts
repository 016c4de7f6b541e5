// The simulator's time: one seeded event queue drives every clock and timer of every node,
// the network and the fake coordinator. Nothing in a simulation touches real time.
//
// Events run in (time, insertion order), so a run is a pure function of the seed. After each
// event the scheduler lets every promise reaction settle (one setImmediate turn: all
// microtasks run before it) before the next event, so async code inside the nodes (the
// shard's executor, MemoryStorage's promises) finishes what the event started, in a fixed
// order. A node's timers belong to its current life: crash() ends it and every timer and
// callback of that life is dropped.
import { assert, type Clock, type Timers } from "../stdx/index.ts";

interface SimEvent {
  readonly atMs: number;
  readonly sequence: number;
  readonly run: () => void;
  cancelled: boolean;
}

/** A binary min-heap on (atMs, sequence). */
class EventHeap {
  readonly #items: SimEvent[] = [];

  get size(): number {
    return this.#items.length;
  }

  peek(): SimEvent | undefined {
    return this.#items[0];
  }

  push(event: SimEvent): void {
    const items = this.#items;
    items.push(event);
    let index = items.length - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!before(event, items[parent] as SimEvent)) break;
      items[index] = items[parent] as SimEvent;
      index = parent;
    }
    items[index] = event;
  }

  pop(): SimEvent | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    let index = 0;
    for (;;) {
      const left = index * 2 + 1;
      if (left >= items.length) break;
      const right = left + 1;
      const child =
        right < items.length && before(items[right] as SimEvent, items[left] as SimEvent)
          ? right
          : left;
      if (!before(items[child] as SimEvent, last)) break;
      items[index] = items[child] as SimEvent;
      index = child;
    }
    items[index] = last;
    return top;
  }
}

function before(a: SimEvent, b: SimEvent): boolean {
  return a.atMs < b.atMs || (a.atMs === b.atMs && a.sequence < b.sequence);
}

const wallEpochMs = 1_700_000_000_000;

export class Scheduler implements Clock {
  readonly #heap = new EventHeap();
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
