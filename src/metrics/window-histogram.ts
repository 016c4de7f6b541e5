// Percentiles over a short window (one second of the console's live charts): a histogram
// with logarithmic buckets, 16 per power of two, from 1 to 2^27 (about 134 s in µs).
// Recording is a log2, a multiply and an increment; no allocation; reset() clears it for the
// next window.
//
// Guarantees: percentile(p) answers the geometric middle of the bucket that holds the
// nearest-rank p-th value, clamped to the smallest and largest value recorded, so it is within
// 2.2% (half a bucket: 2^(1/32)) of the exact nearest-rank value for values in [1, 2^27];
// values below 1 fall in the first bucket, above 2^27 in the last (then exact via the clamp
// only for the maximum, which p100 answers exactly). An empty window answers null.
import { assert } from "../stdx/index.ts";

const bucketsPerOctave = 16;
const octaveCount = 27;
const bucketCount = bucketsPerOctave * octaveCount + 1;

export class WindowHistogram {
  readonly #counts = new Float64Array(bucketCount);
  #count = 0;
  #min = Number.POSITIVE_INFINITY;
  #max = Number.NEGATIVE_INFINITY;

  get count(): number {
    return this.#count;
  }

  record(value: number): void {
    assert(!Number.isNaN(value), "a recorded value is a number");
    const index =
      value <= 1 ? 0 : Math.min(bucketCount - 1, Math.floor(Math.log2(value) * bucketsPerOctave));
    this.#counts[index] = (this.#counts[index] as number) + 1;
    this.#count++;
    if (value < this.#min) this.#min = value;
    if (value > this.#max) this.#max = value;
  }

  /** The p-th percentile (0 < p <= 100) by nearest rank, or null for an empty window. */
  percentile(p: number): number | null {
    assert(p > 0 && p <= 100, "a percentile is in (0, 100]");
    if (this.#count === 0) return null;
    const rank = Math.ceil((p / 100) * this.#count);
    if (rank >= this.#count) return this.#max;
    let seen = 0;
    for (let index = 0; index < bucketCount; index++) {
      seen += this.#counts[index] as number;
      if (seen >= rank) {
        const middle = 2 ** ((index + 0.5) / bucketsPerOctave);
        return Math.min(this.#max, Math.max(this.#min, middle));
      }
    }
    return this.#max;
  }

  reset(): void {
    if (this.#count === 0) return;
    this.#counts.fill(0);
    this.#count = 0;
    this.#min = Number.POSITIVE_INFINITY;
    this.#max = Number.NEGATIVE_INFINITY;
  }
}
