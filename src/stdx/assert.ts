// Assertions for programmer errors. A failed assertion is a bug, never an operating error:
// it throws AssertionFailure, which no code in txgrid catches; the process exits and
// recovers from snapshot + log on restart. Operating errors (bad input, full disk, a lost
// lease) are results or TxgridErrors instead.

export class AssertionFailure extends Error {
  override readonly name = "AssertionFailure";
}

/** Crashes when `condition` is false. Split compound conditions into several calls. */
export function assert(condition: unknown, message = "assertion failed"): asserts condition {
  if (!condition) throw new AssertionFailure(message);
}

/** Marks a branch that exhaustive typing proves impossible. */
export function unreachable(value: never, message = "unreachable"): never {
  throw new AssertionFailure(`${message}: ${String(value)}`);
}

/**
 * Documents that `condition` may be true or false and both are legal (TigerBeetle's maybe()).
 * It costs nothing and exists so that the reader knows the case was considered.
 */
export function maybe(condition: boolean): void {
  void condition;
}

/** Returns `value`, crashing if it is null or undefined. */
export function must<T>(value: T | null | undefined, message = "unexpected null"): T {
  if (value === null || value === undefined) throw new AssertionFailure(message);
  return value;
}
