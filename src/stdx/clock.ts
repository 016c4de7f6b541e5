// Time enters pure code only through Clock, so the simulator can drive it.
// `monotonicNowMs` never goes back and measures intervals (deadlines, lease timers);
// `wallNowMs` is the calendar time stamped into log batches for humans and for pending
// transfer timeouts (the executor keeps the stamps non-decreasing itself).

export interface Clock {
  monotonicNowMs(): number;
  wallNowMs(): number;
}

/** A clock the test or simulator moves by hand. */
export class ManualClock implements Clock {
  #monotonicMs: number;
  #wallMs: number;

  constructor(wallMs = 1_700_000_000_000) {
    this.#monotonicMs = 0;
    this.#wallMs = wallMs;
  }

  monotonicNowMs(): number {
    return this.#monotonicMs;
  }

  wallNowMs(): number {
    return this.#wallMs;
  }

  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError("ManualClock.advance: ms must be >= 0");
    this.#monotonicMs += ms;
    this.#wallMs += ms;
  }
}

/** Scheduling, injected like Clock so the simulator can run executors on simulated time. */
export interface Timers {
  /** Runs `callback` after the current I/O phase (lets concurrent requests join a batch). */
  defer(callback: () => void): void;
  /** Runs `callback` after `delayMs`; the returned function cancels it. */
  after(delayMs: number, callback: () => void): () => void;
}
