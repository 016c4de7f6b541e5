// A bounded FIFO of submitted commands waiting for the executor. take() is O(n) in what it
// returns and amortised O(1) per entry; the backing array is compacted once its consumed
// head is large, so memory stays proportional to the entries actually waiting.
import { assert } from "../stdx/index.ts";

export class BoundedQueue<T> {
  readonly capacity: number;
  #items: T[] = [];
  #head = 0;

  constructor(capacity: number) {
    assert(capacity > 0, "queue capacity must be positive");
    this.capacity = capacity;
  }

  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Whether `count` more entries fit. */
  hasRoom(count: number): boolean {
    return this.length + count <= this.capacity;
  }

  push(item: T): void {
    assert(this.length < this.capacity, "push on a full queue");
    this.#items.push(item);
  }

  /** Removes and returns up to `countMax` entries from the front. */
  take(countMax: number): T[] {
    const end = Math.min(this.#items.length, this.#head + countMax);
    const taken = this.#items.slice(this.#head, end);
    this.#head = end;
    if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return taken;
  }
}
