// What the executor needs from a log. The WAL (src/wal) is the durable implementation;
// MemoryJournal keeps nothing and serves in-memory shards (tests, `dir: null`). The
// in-memory journal still yields to the event loop on every flush, so batching behaves
// as it does with a disk.

export interface Journal {
  readonly lsnLast: number;
  readonly lsnDurable: number;
  append(payload: Uint8Array): number;
  /** `background`: the fdatasync may run off the event loop (src/wal/writer.ts). */
  flush(sync: boolean, background?: boolean): Promise<void>;
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

  close(): Promise<void> {
    return Promise.resolve();
  }
}
