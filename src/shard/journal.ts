// What the executor needs from a log. The WAL (src/wal) is the durable implementation;
// MemoryJournal keeps nothing and serves in-memory shards (tests, `dir: null`). The
// in-memory journal's flush still settles a promise (a microtask) as the disk's does, and its
// writeNow() succeeds as the disk's does outside a segment change.

export interface Journal {
  readonly lsnLast: number;
  readonly lsnDurable: number;
  append(payload: Uint8Array): number;
  /** `background`: the fdatasync may run off the event loop (src/wal/writer.ts). */
  flush(sync: boolean, background?: boolean): Promise<void>;
  /** flush(false) done synchronously when it can be (src/wal/writer.ts); false: use flush. */
  writeNow(): boolean;
  close(): Promise<void>;
}

export class MemoryJournal implements Journal {
  #lsnLast: number;

  constructor(lsnLast: number) {
    this.#lsnLast = lsnLast;
  }

  get lsnLast(): number {
    return this.#lsnLast;
  }

  get lsnDurable(): number {
    return this.#lsnLast;
  }

  append(payload: Uint8Array): number {
    void payload;
    this.#lsnLast += 1;
    return this.#lsnLast;
  }

  flush(sync: boolean): Promise<void> {
    void sync;
    return Promise.resolve();
  }

  writeNow(): boolean {
    return true;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
