// The console's live series: one point per second (throughput, write latency p50/p99, log
// flush latency p50/p99, queue depth), kept in a ring of LIVE_SERIES_POINTS_MAX points so that
// a page opened now shows the last minutes at once. The caller closes each window with
// tick(nowMs) from a timer; nothing here reads a clock.
//
// Guarantees: rates are counts divided by the real length of the window (a late timer does
// not inflate them); a window without writes has null latencies (a gap, not a zero); the ring
// never holds more than LIVE_SERIES_POINTS_MAX points; points are in time order.
import { LIVE_SERIES_POINTS_MAX } from "../constants.ts";
import { assert } from "../stdx/index.ts";
import { WindowHistogram } from "./window-histogram.ts";

export interface LivePoint {
  /** End of the window, wall-clock milliseconds. */
  readonly atMs: number;
  /** Commands applied per second (every face: HTTP, TCP, embedded). */
  readonly commandsPerSecond: number;
  readonly batchesPerSecond: number;
  /** HTTP requests answered per second, and those answered with a status >= 400. */
  readonly httpRequestsPerSecond: number;
  readonly httpErrorsPerSecond: number;
  /** HTTP write (POST) latency in the window, microseconds; null without writes. */
  readonly writeP50Us: number | null;
  readonly writeP99Us: number | null;
  /** Log append + flush (fdatasync) latency per batch in the window, microseconds. */
  readonly flushP50Us: number | null;
  readonly flushP99Us: number | null;
  readonly queueDepth: number;
}

export class LiveSeries {
  readonly #points: LivePoint[] = [];
  readonly #writeLatency = new WindowHistogram();
  readonly #flushLatency = new WindowHistogram();
  #windowStartMs: number;
  #commandCount = 0;
  #batchCount = 0;
  #httpCount = 0;
  #httpErrorCount = 0;

  constructor(startMs: number) {
    this.#windowStartMs = startMs;
  }

  batch(commandCount: number, flushDurationMs: number): void {
    this.#batchCount++;
    this.#commandCount += commandCount;
    this.#flushLatency.record(flushDurationMs * 1000);
  }

  httpRequest(isWrite: boolean, statusCode: number, durationSeconds: number): void {
    this.#httpCount++;
    if (statusCode >= 400) this.#httpErrorCount++;
    if (isWrite) this.#writeLatency.record(durationSeconds * 1_000_000);
  }

  /** Closes the window that ends at `nowMs` and starts the next one. */
  tick(nowMs: number, queueDepth: number): LivePoint {
    const elapsedSeconds = Math.max(nowMs - this.#windowStartMs, 1) / 1000;
    const round = (value: number | null) => (value === null ? null : Math.round(value));
    const point: LivePoint = {
      atMs: nowMs,
      commandsPerSecond: this.#commandCount / elapsedSeconds,
      batchesPerSecond: this.#batchCount / elapsedSeconds,
      httpRequestsPerSecond: this.#httpCount / elapsedSeconds,
      httpErrorsPerSecond: this.#httpErrorCount / elapsedSeconds,
      writeP50Us: round(this.#writeLatency.percentile(50)),
      writeP99Us: round(this.#writeLatency.percentile(99)),
      flushP50Us: round(this.#flushLatency.percentile(50)),
      flushP99Us: round(this.#flushLatency.percentile(99)),
      queueDepth,
    };
    this.#points.push(point);
    if (this.#points.length > LIVE_SERIES_POINTS_MAX) this.#points.shift();
    assert(this.#points.length <= LIVE_SERIES_POINTS_MAX, "the ring is bounded");
    this.#windowStartMs = Math.max(nowMs, this.#windowStartMs);
    this.#commandCount = 0;
    this.#batchCount = 0;
    this.#httpCount = 0;
    this.#httpErrorCount = 0;
    this.#writeLatency.reset();
    this.#flushLatency.reset();
    return point;
  }

  /** The points after `sinceMs` (all of them for 0), oldest first. */
  points(sinceMs = 0): readonly LivePoint[] {
    return this.#points.filter((point) => point.atMs > sinceMs);
  }
}
