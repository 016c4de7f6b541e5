// The transfer workload of `txgrid bench`: TiMPE's user-to-user load. Each transfer moves
// 1..100 units between two different accounts out of `accountCount`. With `hotPercent` P,
// P% of transfers pick both accounts among the HOT_ACCOUNT_COUNT first ones (contention on a
// few rows), the rest pick uniformly. The choice is seeded, so a run can be repeated.
import { assert, Prng } from "../stdx/index.ts";

export const HOT_ACCOUNT_COUNT = 10;
export const TRANSFER_AMOUNT_MAX = 100;

export interface TransferChoice {
  readonly debitIndex: number;
  readonly creditIndex: number;
  readonly amount: number;
}

/** A TransferChoice that nextInto() fills again for every transfer (no object per transfer). */
export interface TransferChoiceSlot {
  debitIndex: number;
  creditIndex: number;
  amount: number;
}

export class Workload {
  readonly #prng: Prng;
  readonly #accountCount: number;
  readonly #hotProbability: number;

  constructor(seed: number, accountCount: number, hotPercent: number) {
    assert(accountCount >= 2, "a transfer needs two accounts");
    assert(hotPercent >= 0 && hotPercent <= 100, "hot percent in 0..100");
    this.#prng = new Prng(seed);
    this.#accountCount = accountCount;
    this.#hotProbability = accountCount > HOT_ACCOUNT_COUNT ? hotPercent / 100 : 0;
  }

  next(): TransferChoice {
    return this.nextInto({ debitIndex: 0, creditIndex: 0, amount: 0 });
  }

  /** next(), written into `slot` (the same choices in the same order); returns `slot`. */
  nextInto(slot: TransferChoiceSlot): TransferChoiceSlot {
    const prng = this.#prng;
    const range = prng.chance(this.#hotProbability) ? HOT_ACCOUNT_COUNT : this.#accountCount;
    const debitIndex = prng.nextInt(range);
    // Pick from the other range - 1 accounts, so debit and credit always differ.
    let creditIndex = prng.nextInt(range - 1);
    if (creditIndex >= debitIndex) creditIndex++;
    slot.debitIndex = debitIndex;
    slot.creditIndex = creditIndex;
    slot.amount = 1 + prng.nextInt(TRANSFER_AMOUNT_MAX);
    return slot;
  }
}
