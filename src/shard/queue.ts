// A bounded FIFO of submissions waiting for the executor, bounded by their total weight (the
// number of commands they carry), not by their count: a request of 8,000 transfers is one
// entry but takes 8,000 places. take() is O(n) in what it returns and amortised O(1) per
// entry; the backing array is compacted once its consumed head is large, so memory stays
// proportional to the entries actually waiting. A taken entry's slot is cleared at once: the
// queue never keeps a submission (its commands, its promise and whatever the caller's
// continuation holds) alive after handing it out, so short-lived requests die young instead
// of surviving scavenges in the consumed head until the next compaction.
import { assert } from "../stdx/index.ts";

export class BoundedQueue<T> {
  readonly capacity: number;
  readonly #weightOf: (item: T) => number;
  #items: (T | undefined)[] = [];
  #head = 0;
  #weight = 0;

  constructor(capacity: number, weightOf: (item: T) => number) {
    assert(capacity > 0, "queue capacity must be positive");
    this.capacity = capacity;
    this.#weightOf = weightOf;
  }

  /** The total weight waiting. */
  get length(): number {
    return this.#weight;
  }

  /** Whether `weight` more fits. */
  hasRoom(weight: number): boolean {
    return this.#weight + weight <= this.capacity;
  }

  push(item: T): void {
    const weight = this.#weightOf(item);
    assert(weight > 0, "queued items weigh at least one");
    assert(this.hasRoom(weight), "push on a full queue");
    this.#items.push(item);
    this.#weight += weight;
  }

  /**
   * Removes and returns entries from the front while their total weight stays within
   * `weightMax`; the first entry is always taken (it fits: nothing heavier is admitted).
   */
  take(weightMax: number): T[] {
    let end = this.#head;
    let weight = 0;
    while (end < this.#items.length) {
      const next = this.#weightOf(this.#items[end] as T);
      if (end > this.#head && weight + next > weightMax) break;
      weight += next;
      end++;
    }
    const taken = this.#items.slice(this.#head, end) as T[];
    this.#weight -= weight;
    if (end === this.#items.length) {
      // Emptied (the common case: a batch takes everything queued): reuse the array.
      this.#items.length = 0;
      this.#head = 0;
      return taken;
    }
    this.#items.fill(undefined, this.#head, end);
    this.#head = end;
    if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return taken;
  }

  /** Removes and returns every entry. */
  takeAll(): T[] {
    return this.take(Number.POSITIVE_INFINITY);
  }
}
