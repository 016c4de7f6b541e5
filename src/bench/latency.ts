// Latency statistics for benchmark results, recorded in microseconds in an HDR histogram
// (3 significant digits, up to 100 s) and reported the way TxTest's client does: count,
// throughput, mean, median, the 1/2/3-standard-deviation percentiles (68.27, 95.45, 99.73),
// p99.9 and max.
import * as hdr from "hdr-histogram-js";

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

  record(latencyUs: number): void {
    this.#histogram.recordValue(Math.min(Math.max(1, Math.round(latencyUs)), 100_000_000));
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
    const points = [0, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 100];
    return points.map((percentile) => ({
      percentile,
      latencyUs: this.#histogram.getValueAtPercentile(percentile),
    }));
  }
}
