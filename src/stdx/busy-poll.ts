// Adaptive busy polling for one Node event loop: after I/O, keep the loop turning for a
// bounded window of idleness instead of letting it sleep in epoll, so that the next message
// is read without a wake-up (docs/benchmarks.md, "busy polling at c=1": on a VM whose idle
// vCPU halts at once, a wake-up across vCPUs costs tens of µs).
//
// How: while a deferred callback (setImmediate) is pending, libuv polls with a zero timeout
// and the process never sleeps. The poller keeps exactly one such callback pending while it
// spins ("one chain"), and each turn of the chain costs one clock read.
//
// Guarantees:
// - Nothing is deferred until touch() is called; at most one chain exists at a time, however
//   often touch() is called (touch() is a counter increment while a chain runs).
// - The chain ends at the first turn where `wanted()` is false, or where no touch() came for
//   `windowUs` (touch() restarts the window), or after stop(). Real work is never held: a
//   turn runs in the loop's check phase, after the I/O that was ready.
// - Handoff back-off: the chain keeps only this process on its CPU. When the peer shares
//   that CPU, it runs only after our window ends (a round trip then takes two windows), and
//   its message arrives just after our chain ended. So a chain that ended by its window and
//   is followed by I/O within `handoffUs` makes the poller start no chain for a back-off,
//   then try again (the scheduler may have moved a process meanwhile). The back-off doubles
//   per handoff in a row from `backoffMsMin` to `backoffMsMax`, and is back at its minimum
//   after a chain that was not a handoff (ended because nothing was wanted, or followed by a
//   longer gap).
// - Time enters through the injected Clock and the chain through Timers.defer, so tests count
//   turns on a ManualClock instead of timing anything.
import { assert } from "./assert.ts";
import type { Clock, Timers } from "./clock.ts";

export interface BusyPollOptions {
  /** Idle window in µs: positive (the caller checks it against BUSY_POLL_US_MAX). */
  readonly windowUs: number;
  readonly clock: Pick<Clock, "monotonicNowMs">;
  readonly timers: Pick<Timers, "defer">;
  /** Spin only while this holds (the client: while calls are in flight). Default: always. */
  readonly wanted?: () => boolean;
  /** I/O this soon after a chain ended by its window means a shared CPU (BUSY_POLL_HANDOFF_US). */
  readonly handoffUs: number;
  /** Shortest and longest back-off after a handoff (BUSY_POLL_BACKOFF_MS_MIN / _MAX). */
  readonly backoffMsMin: number;
  readonly backoffMsMax: number;
}

export class BusyPoll {
  readonly #windowMs: number;
  readonly #clock: Pick<Clock, "monotonicNowMs">;
  readonly #timers: Pick<Timers, "defer">;
  readonly #wanted: () => boolean;
  /** touch() calls so far; a turn that sees a new count restarts the window. */
  #touches = 0;
  #touchesSeen = 0;
  #idleSinceMs = 0;
  #spinning = false;
  #stopped = false;
  #turns = 0;
  #chains = 0;
  #backoffs = 0;
  readonly #handoffMs: number;
  readonly #backoffMsMin: number;
  readonly #backoffMsMax: number;
  /** The next back-off's length. */
  #backoffMs: number;
  /** When the last chain ended by its window (NaN: it did not, or it was seen already). */
  #windowEndedAtMs = Number.NaN;
  #backoffUntilMs = Number.NEGATIVE_INFINITY;

  constructor(options: BusyPollOptions) {
    assert(Number.isInteger(options.windowUs), "the busy-poll window is whole µs");
    assert(options.windowUs > 0, "a busy-poll window is positive (0 means no poller)");
    this.#windowMs = options.windowUs / 1000;
    this.#clock = options.clock;
    this.#timers = options.timers;
    this.#wanted = options.wanted ?? (() => true);
    assert(options.handoffUs > 0, "a handoff gap is positive");
    assert(options.backoffMsMin > 0, "a back-off is positive");
    assert(options.backoffMsMin <= options.backoffMsMax, "back-off bounds are ordered");
    this.#handoffMs = options.handoffUs / 1000;
    this.#backoffMsMin = options.backoffMsMin;
    this.#backoffMsMax = options.backoffMsMax;
    this.#backoffMs = options.backoffMsMin;
  }

  /** Turns of the chain so far (deferred callbacks scheduled by this poller). */
  get turns(): number {
    return this.#turns;
  }

  /** Chains started so far. */
  get chains(): number {
    return this.#chains;
  }

  get spinning(): boolean {
    return this.#spinning;
  }

  /** Handoffs seen so far (each started a back-off). */
  get backoffs(): number {
    return this.#backoffs;
  }

  /** I/O happened: restart the idle window, and start the chain if none runs. */
  touch(): void {
    this.#touches++;
    if (this.#spinning || this.#stopped) return;
    const nowMs = this.#clock.monotonicNowMs();
    const sinceWindowEndedMs = nowMs - this.#windowEndedAtMs;
    if (sinceWindowEndedMs < this.#handoffMs) {
      this.#backoffs++;
      this.#backoffUntilMs = nowMs + this.#backoffMs;
      this.#backoffMs = Math.min(this.#backoffMs * 2, this.#backoffMsMax);
    } else if (sinceWindowEndedMs >= this.#handoffMs) {
      this.#backoffMs = this.#backoffMsMin; // an idle gap, not a handoff (NaN compares false)
    }
    this.#windowEndedAtMs = Number.NaN;
    if (nowMs < this.#backoffUntilMs) return;
    this.#spinning = true;
    this.#chains++;
    this.#touchesSeen = this.#touches;
    this.#idleSinceMs = nowMs;
    this.#defer();
  }

  /** Ends the chain at its next turn; later touch() calls start nothing. */
  stop(): void {
    this.#stopped = true;
  }

  #defer(): void {
    this.#turns++;
    this.#timers.defer(this.#turn);
  }

  readonly #turn = (): void => {
    assert(this.#spinning, "a turn belongs to the running chain");
    if (this.#stopped || !this.#wanted()) {
      this.#spinning = false;
      this.#backoffMs = this.#backoffMsMin; // the chain did its job (or was stopped)
      return;
    }
    const nowMs = this.#clock.monotonicNowMs();
    if (this.#touches !== this.#touchesSeen) {
      this.#touchesSeen = this.#touches;
      this.#idleSinceMs = nowMs;
    } else if (nowMs - this.#idleSinceMs >= this.#windowMs) {
      this.#spinning = false;
      this.#windowEndedAtMs = nowMs;
      return;
    }
    this.#defer();
  };
}
