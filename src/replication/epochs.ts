// Epoch marks: which epoch's primary wrote which part of a replica's log. A mark (e, L) says
// that the entries from lsn L on were written by the primary of epoch e, up to the next mark.
// This is how two replicas find out whether one's log is a prefix of the other's without
// comparing entries (Kafka's leader-epoch checkpoint; Raft's log matching): at most one
// primary exists per epoch and it writes each lsn once, so two logs that hold an entry of the
// same epoch at the same lsn hold the same entries up to it.
//
// Guarantees: marks are ordered by epoch and by lsnFirst, both strictly growing; at most
// EPOCH_MARKS_MAX are kept (the oldest go first; an lsn before the first kept mark has an
// unknown epoch, which only ever makes a standby take a snapshot). Pure: persisting the
// marks is the caller's job (epoch-file.ts), and must happen before the first entry a new
// mark covers is durable.
import { EPOCH_MARKS_MAX } from "../constants.ts";
import { assert, ErrorCode, TxgridError } from "../stdx/index.ts";

export interface EpochMark {
  readonly epoch: number;
  readonly lsnFirst: number;
}

export class EpochHistory {
  #marks: EpochMark[];

  constructor(marks: readonly EpochMark[] = []) {
    EpochHistory.check(marks);
    this.#marks = [...marks];
  }

  /** Throws CORRUPT unless the marks are strictly growing in epoch and lsnFirst. */
  static check(marks: readonly EpochMark[]): void {
    if (marks.length > EPOCH_MARKS_MAX) {
      throw new TxgridError(ErrorCode.CORRUPT, `${marks.length} epoch marks exceed the limit`);
    }
    for (let index = 0; index < marks.length; index++) {
      const mark = marks[index] as EpochMark;
      const previous = marks[index - 1];
      const valid =
        Number.isSafeInteger(mark.epoch) &&
        mark.epoch >= 1 &&
        Number.isSafeInteger(mark.lsnFirst) &&
        mark.lsnFirst >= 1 &&
        (previous === undefined ||
          (mark.epoch > previous.epoch && mark.lsnFirst > previous.lsnFirst));
      if (!valid) throw new TxgridError(ErrorCode.CORRUPT, "epoch marks are not ordered");
    }
  }

  get marks(): readonly EpochMark[] {
    return this.#marks;
  }

  /** Epoch of the newest mark (0 before any). */
  get epochLast(): number {
    return this.#marks[this.#marks.length - 1]?.epoch ?? 0;
  }

  /**
   * The epoch whose primary wrote the entry at `lsn` of a log that ends at `lsnLast`; 0 for
   * lsn 0 (the empty prefix every log shares); null when unknown (beyond the log, or before
   * the oldest mark kept).
   */
  epochAt(lsn: number, lsnLast: number): number | null {
    if (lsn === 0) return 0;
    if (lsn > lsnLast) return null;
    for (let index = this.#marks.length - 1; index >= 0; index--) {
      const mark = this.#marks[index] as EpochMark;
      if (mark.lsnFirst <= lsn) return mark.epoch;
    }
    return null;
  }

  /** Drops the marks of entries after `lsn` (they were cut or never written). */
  truncateAfter(lsn: number): boolean {
    const before = this.#marks.length;
    while (this.#marks.length > 0 && (this.#marks.at(-1) as EpochMark).lsnFirst > lsn) {
      this.#marks.pop();
    }
    return this.#marks.length !== before;
  }

  /**
   * Records that entries from `lsnFirst` on are written by the primary of `epoch`. Returns
   * false when the newest mark already says so (nothing to persist).
   */
  begin(epoch: number, lsnFirst: number): boolean {
    // A mark past the log's end is left by a primary that wrote nothing in its epoch.
    const dropped = this.truncateAfter(lsnFirst - 1);
    const last = this.#marks.at(-1);
    if (last !== undefined && last.epoch === epoch) return dropped;
    assert(last === undefined || epoch > last.epoch, "epochs only grow along a log");
    assert(last === undefined || lsnFirst > last.lsnFirst, "marks move forward");
    this.#marks.push({ epoch, lsnFirst });
    if (this.#marks.length > EPOCH_MARKS_MAX) this.#marks.shift();
    return true;
  }

  /** The marks that describe a log ending at `lsn` (what a snapshot at `lsn` carries). */
  through(lsn: number): EpochMark[] {
    return this.#marks.filter((mark) => mark.lsnFirst <= lsn);
  }

  replace(marks: readonly EpochMark[]): void {
    EpochHistory.check(marks);
    this.#marks = [...marks];
  }
}
