// A binary min-heap of (deadline, transfer slot) for pending-transfer timeouts. Ties on the
// deadline break by slot, which is the transfer's sequence, so expiry order is deterministic
// on every replica.
// push and pop are O(log n); entries of transfers resolved before their deadline stay in the
// heap and are skipped when popped (lazy deletion), which keeps post and void O(1).

import { MinHeap } from "../stdx/index.ts";

export interface Deadline {
  readonly deadlineMs: number;
  /** The transfer's slot in the transfers table (equal to its sequence). */
  readonly slot: number;
}

/** The heap of pending deadlines, earliest first (ties: lower slot first). */
export class DeadlineHeap extends MinHeap<Deadline> {
  constructor() {
    super(isBefore);
  }
}

function isBefore(left: Deadline, right: Deadline): boolean {
  if (left.deadlineMs !== right.deadlineMs) return left.deadlineMs < right.deadlineMs;
  return left.slot < right.slot;
}
