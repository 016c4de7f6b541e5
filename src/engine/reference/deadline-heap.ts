// FROZEN PRE-REDESIGN REFERENCE (copied from src/engine at commit 90da411, before the
// columnar storage redesign). It exists only so that engine.reference.prop.test.ts can check
// that the redesigned engine gives identical results and byte-identical snapshots for the
// same command history. Not exported from index.ts; do not change it except to keep it
// compiling. Its original header follows.
//
// A binary min-heap of (deadline, sequence, id) for pending-transfer timeouts. Ties on the
// deadline break by sequence, so expiry order is deterministic on every replica.
// push and pop are O(log n); entries of transfers resolved before their deadline stay in the
// heap and are skipped when popped (lazy deletion), which keeps post and void O(1).

export interface Deadline {
  readonly deadlineMs: number;
  readonly sequence: number;
  readonly id: string;
}

export class DeadlineHeap {
  readonly #items: Deadline[] = [];

  get size(): number {
    return this.#items.length;
  }

  peek(): Deadline | undefined {
    return this.#items[0];
  }

  push(item: Deadline): void {
    const items = this.#items;
    items.push(item);
    let index = items.length - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!isBefore(item, items[parent] as Deadline)) break;
      items[index] = items[parent] as Deadline;
      index = parent;
    }
    items[index] = item;
  }

  pop(): Deadline | undefined {
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
        right < items.length && isBefore(items[right] as Deadline, items[left] as Deadline)
          ? right
          : left;
      if (!isBefore(items[child] as Deadline, last)) break;
      items[index] = items[child] as Deadline;
      index = child;
    }
    items[index] = last;
    return top;
  }
}

function isBefore(left: Deadline, right: Deadline): boolean {
  if (left.deadlineMs !== right.deadlineMs) return left.deadlineMs < right.deadlineMs;
  return left.sequence < right.sequence;
}
