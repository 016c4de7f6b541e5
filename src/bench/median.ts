// The median of a list of measurements (the middle one, or the mean of the two middle ones),
// used for `--runs` medians of txgrid and of its peers.
import { assert } from "../stdx/index.ts";

export function median(values: readonly number[]): number {
  assert(values.length > 0, "the median of nothing");
  const sorted = [...values].sort((left, right) => left - right);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}
