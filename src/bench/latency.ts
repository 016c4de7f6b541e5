// Latency statistics for benchmark results, recorded in microseconds in an HDR histogram
// (3 significant digits, up to 100 s) and reported the way TxTest's client does: count,
// throughput, mean, median, the 1/2/3-standard-deviation percentiles (68.27, 95.45, 99.73),
// p99.9 and max. Beside the HDR histogram, a coarse distribution (BUCKETS_PER_DECADE
// logarithmic buckets) is kept for the report's histogram plot.
import * as hdr from "hdr-histogram-js";

/** Buckets per power of ten in the distribution the report plots (1 µs .. 100 s). */
const BUCKETS_PER_DECADE = 10;
const DECADE_COUNT = 8;

/** Requests whose latency fell in [fromUs, toUs). */
export interface LatencyBucket {
  readonly fromUs: number;
  readonly toUs: number;
  readonly count: number;
}

export interface LatencySummary {
  readonly count: number;
  readonly meanUs: number;
  readonly minUs: number;
  readonly p50Us: number;
  readonly p68Us: number;
  readonly p95Us: number;
  readonly p99Us: number;
  readonly p997Us: number;
  readonly p999Us: number;
  readonly maxUs: number;
}

export class LatencyRecorder {
  readonly #histogram = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 100_000_000,
    numberOfSignificantValueDigits: 3,
  });
  readonly #buckets = new Float64Array(BUCKETS_PER_DECADE * DECADE_COUNT);

  record(latencyUs: number): void {
    const clamped = Math.min(Math.max(1, Math.round(latencyUs)), 100_000_000);
    this.#histogram.recordValue(clamped);
    const index = Math.min(
      this.#buckets.length - 1,
      Math.floor(Math.log10(clamped) * BUCKETS_PER_DECADE),
    );
    this.#buckets[index] = (this.#buckets[index] as number) + 1;
  }

  /** The distribution from the first to the last non-empty bucket (empty runs: []). */
  distribution(): LatencyBucket[] {
    const counts = [...this.#buckets];
    const first = counts.findIndex((count) => count > 0);
    if (first < 0) return [];
    const last = counts.length - 1 - [...counts].reverse().findIndex((count) => count > 0);
    const edge = (index: number) => Number((10 ** (index / BUCKETS_PER_DECADE)).toPrecision(3));
    return counts.slice(first, last + 1).map((count, offset) => ({
      fromUs: edge(first + offset),
      toUs: edge(first + offset + 1),
      count,
    }));
  }

  summary(): LatencySummary {
    const histogram = this.#histogram;
    const at = (percentile: number) => histogram.getValueAtPercentile(percentile);
    return {
      count: histogram.totalCount,
      meanUs: histogram.totalCount === 0 ? 0 : histogram.mean,
      minUs: histogram.totalCount === 0 ? 0 : histogram.minNonZeroValue,
      p50Us: at(50),
      p68Us: at(68.27),
      p95Us: at(95.45),
      p99Us: at(99),
      p997Us: at(99.73),
      p999Us: at(99.9),
      maxUs: histogram.maxValue,
    };
  }

  /** Percentile curve points (percentile, µs) for plots. */
  percentileCurve(): { percentile: number; latencyUs: number }[] {
    const points = [
      0, 10, 20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 95, 97.5, 99, 99.5, 99.75, 99.9, 99.95, 99.99,
      99.999, 100,
    ];
    return points.map((percentile) => ({
      percentile,
      latencyUs: this.#histogram.getValueAtPercentile(percentile),
    }));
  }
}
