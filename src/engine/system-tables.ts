// The ledger's own tables: their fixed schemas, and the row codecs of the two hot ones.
//
// Each schema lists, in order, the fields of the rows the ledger has always written (as
// object rows, before the column tables), which is what keeps rows and snapshot bytes
// identical to those of object rows. Transfers refer to their accounts by slot (ref columns),
// and a history index lists each account's transfers newest first.
//
// Codecs: the column table's generic row loop costs about 150 instructions a column (a keyed
// read and a dispatch on the kind); every transfer inserts a row and every query reads one,
// so the transfers and accounts tables read rows, and transfers also write them, field by
// field over offsets computed once. system-tables.test.ts checks each codec against the
// generic loop on random rows, so they cannot drift apart.
//
// Records (AccountRecords, TransferRecords, at the end): the fields the ledger's compiled
// transfer reads and writes, located once, as 32-bit words and numbers; the reference test
// (engine.reference.prop.test.ts) checks that what they store reads back as the generic path's
// rows, snapshots and digests.
import { assert, must } from "../stdx/index.ts";
import {
  type Column,
  ColumnKind,
  type ColumnSpec,
  type KeyLookup,
  type RecordStore,
  type RowCodec,
} from "./column.ts";
import { HistoryIndex, ValueIndex } from "./column-indexes.ts";
import { ColumnTable } from "./column-table.ts";
import type { Row, Value } from "./values.ts";

/** The ledger's own tables. Generic transactions may read them but never write them. */
export const SystemTable = {
  ACCOUNTS: "accounts",
  TRANSFERS: "transfers",
  TRANSFER_FAILURES: "transfer_failures",
  ASSETS: "assets",
} as const;

export const systemIndexes: Readonly<Record<string, readonly string[]>> = {
  [SystemTable.ACCOUNTS]: ["nickname"],
  [SystemTable.TRANSFERS]: ["debit", "credit"],
  [SystemTable.TRANSFER_FAILURES]: [],
  [SystemTable.ASSETS]: [],
};

export type TransferState = "pending" | "posted" | "voided" | "expired";

const transferStates: readonly TransferState[] = ["pending", "posted", "voided", "expired"];
const origins: readonly string[] = ["api", "timpe"];
export const pendingChoice = transferStates.indexOf("pending");
const postedChoice = transferStates.indexOf("posted");
export const timpeChoice = origins.indexOf("timpe");
const apiChoice = origins.indexOf("api");
const { KEY, INT, INT_OR_NULL, STRING, STRING_OR_NULL, BOOLEAN, CHOICE, REF } = ColumnKind;

export function accountSpecs(): ColumnSpec[] {
  return [
    { name: "id", kind: KEY },
    { name: "nickname", kind: STRING_OR_NULL },
    { name: "balance", kind: INT },
    { name: "reserved", kind: INT },
    { name: "available", kind: INT },
    { name: "floor", kind: INT_OR_NULL },
    { name: "initial", kind: INT },
    { name: "createdAtMs", kind: INT },
  ];
}

/** What a transfer request carries besides its accounts, as both transfer tables store it. */
function requestSpecs(): ColumnSpec[] {
  return [
    { name: "amount", kind: INT },
    { name: "pending", kind: BOOLEAN },
    { name: "timeoutMs", kind: INT },
    { name: "origin", kind: CHOICE, choices: origins },
  ];
}

export function transferSpecs(accounts: KeyLookup): ColumnSpec[] {
  return [
    { name: "id", kind: KEY },
    { name: "debit", kind: REF, target: accounts },
    { name: "credit", kind: REF, target: accounts },
    ...requestSpecs(),
    { name: "state", kind: CHOICE, choices: transferStates },
    { name: "sequence", kind: INT },
    { name: "createdAtMs", kind: INT },
    { name: "resolvedAtMs", kind: INT_OR_NULL },
    { name: "expiresAtMs", kind: INT_OR_NULL },
  ];
}

/** Refused transfers, pinned to their id; their accounts need not exist, so no refs. */
function failureSpecs(): ColumnSpec[] {
  return [
    { name: "id", kind: KEY },
    { name: "debit", kind: STRING },
    { name: "credit", kind: STRING },
    ...requestSpecs(),
    { name: "code", kind: INT },
    { name: "createdAtMs", kind: INT },
  ];
}

function assetSpecs(): ColumnSpec[] {
  return [
    { name: "id", kind: KEY },
    { name: "value", kind: INT },
    { name: "updates", kind: INT },
  ];
}

/** The four system tables, in the order snapshots list them. */
export function createSystemTables() {
  const { ACCOUNTS, TRANSFERS, TRANSFER_FAILURES, ASSETS } = SystemTable;
  const accounts = new ColumnTable(
    ACCOUNTS,
    accountSpecs(),
    [new ValueIndex("nickname")],
    accountCodec,
  );
  const history = new HistoryIndex(["debit", "credit"]);
  const transfers = new ColumnTable(TRANSFERS, transferSpecs(accounts), [history], transferCodec);
  const failures = new ColumnTable(TRANSFER_FAILURES, failureSpecs(), []);
  const assets = new ColumnTable(ASSETS, assetSpecs(), []);
  return { accounts, history, transfers, failures, assets };
}

/** Where each named column of a record lives: its word and byte offsets. */
function offsetsOf(columns: readonly Column[]) {
  const column = (name: string) => must(columns.find((candidate) => candidate.name === name));
  return {
    word: (name: string) => column(name).wordAt,
    byte: (name: string) => column(name).byteAt,
    column,
  };
}

/** Accounts: rows read field by field (every account query and balance check reads one). */
export function accountCodec(columns: readonly Column[]): RowCodec {
  const { word, byte, column } = offsetsOf(columns);
  const nicknames = column("nickname").strings;
  const [balanceAt, reservedAt, availableAt] = [
    word("balance"),
    word("reserved"),
    word("available"),
  ];
  const [floorAt, initialAt, createdAt] = [word("floor"), word("initial"), word("createdAtMs")];
  const floorPresentAt = byte("floor");
  const read = (store: RecordStore, slot: number, key: string): Row => {
    const integers = store.integers;
    const base = slot * store.integerStride;
    const hasFloor = store.bytes[slot * store.strideBytes + floorPresentAt] === 1;
    return {
      id: key,
      nickname: nicknames[slot] as string | null,
      balance: integers[base + balanceAt] as bigint,
      reserved: integers[base + reservedAt] as bigint,
      available: integers[base + availableAt] as bigint,
      floor: hasFloor ? (integers[base + floorAt] as bigint) : null,
      initial: integers[base + initialAt] as bigint,
      createdAtMs: integers[base + createdAt] as bigint,
    };
  };
  return { read, write: null };
}

/**
 * Transfers: rows read and written field by field. The writer checks every value as the
 * generic loop does, but not the order of the row's fields (a for-in over them costs 500
 * instructions): it reads them by name, and its rows come from one object literal in
 * ledger.ts in the schema's order (another order would make results differ from queries,
 * which engine.reference.prop.test.ts checks). Snapshot loads go through the generic loop.
 */
export function transferCodec(columns: readonly Column[]): RowCodec {
  const { word, byte, column } = offsetsOf(columns);
  const [debitAt, creditAt] = [word("debit"), word("credit")];
  const [amountAt, timeoutAt, sequenceAt] = [word("amount"), word("timeoutMs"), word("sequence")];
  const [createdAt, resolvedAt, expiresAt] = [
    word("createdAtMs"),
    word("resolvedAtMs"),
    word("expiresAtMs"),
  ];
  const [pendingAt, originAt, stateAt] = [byte("pending"), byte("origin"), byte("state")];
  const [resolvedPresentAt, expiresPresentAt] = [byte("resolvedAtMs"), byte("expiresAtMs")];
  const accounts = must(column("debit").target, "debit is a ref");
  assert(column("credit").target === accounts, "debit and credit name the same table");
  const read = (store: RecordStore, slot: number, key: string): Row => {
    const integers = store.integers;
    const base = slot * store.integerStride;
    const refBase = slot * store.refStride;
    const bytes = store.bytes;
    const byteBase = slot * store.strideBytes;
    return {
      id: key,
      debit: accounts.keyAt(store.refs[refBase + debitAt] as number),
      credit: accounts.keyAt(store.refs[refBase + creditAt] as number),
      amount: integers[base + amountAt] as bigint,
      pending: bytes[byteBase + pendingAt] === 1,
      timeoutMs: integers[base + timeoutAt] as bigint,
      origin: origins[bytes[byteBase + originAt] as number] as string,
      state: transferStates[bytes[byteBase + stateAt] as number] as string,
      sequence: integers[base + sequenceAt] as bigint,
      createdAtMs: integers[base + createdAt] as bigint,
      resolvedAtMs:
        bytes[byteBase + resolvedPresentAt] === 1 ? (integers[base + resolvedAt] as bigint) : null,
      expiresAtMs:
        bytes[byteBase + expiresPresentAt] === 1 ? (integers[base + expiresAt] as bigint) : null,
    };
  };
  const write = (store: RecordStore, slot: number, key: string, row: Row): boolean => {
    if (row.id !== key) return false;
    const { debit, credit, amount, pending, timeoutMs, sequence, createdAtMs } = row;
    const { origin, state, resolvedAtMs, expiresAtMs } = row;
    if (typeof debit !== "string" || typeof credit !== "string") return false;
    if (typeof pending !== "boolean") return false;
    if (!isInt64(amount) || !isInt64(timeoutMs) || !isInt64(sequence)) return false;
    if (!isInt64(createdAtMs) || !isInt64OrNull(resolvedAtMs) || !isInt64OrNull(expiresAtMs)) {
      return false;
    }
    const originCode = choiceOf(origins, origin);
    const stateCode = choiceOf(transferStates, state);
    const debitSlot = accounts.find(debit);
    const creditSlot = accounts.find(credit);
    if (originCode < 0 || stateCode < 0 || debitSlot < 0 || creditSlot < 0) return false;
    const integers = store.integers;
    const base = slot * store.integerStride;
    integers[base + amountAt] = amount;
    integers[base + timeoutAt] = timeoutMs;
    integers[base + sequenceAt] = sequence;
    integers[base + createdAt] = createdAtMs;
    integers[base + resolvedAt] = resolvedAtMs ?? 0n;
    integers[base + expiresAt] = expiresAtMs ?? 0n;
    const refBase = slot * store.refStride;
    store.refs[refBase + debitAt] = debitSlot;
    store.refs[refBase + creditAt] = creditSlot;
    const bytes = store.bytes;
    const byteBase = slot * store.strideBytes;
    bytes[byteBase + pendingAt] = pending ? 1 : 0;
    bytes[byteBase + originAt] = originCode;
    bytes[byteBase + stateAt] = stateCode;
    bytes[byteBase + resolvedPresentAt] = resolvedAtMs === null ? 0 : 1;
    bytes[byteBase + expiresPresentAt] = expiresAtMs === null ? 0 : 1;
    return true;
  };
  return { read, write };
}

/** The position of `value` among `choices`, or -1 (a loop: indexOf is a builtin call). */
function choiceOf(choices: readonly string[], value: Value | undefined): number {
  for (let index = 0; index < choices.length; index++) {
    if (choices[index] === value) return index;
  }
  return -1;
}

function isInt64(value: Value | undefined): value is bigint {
  return typeof value === "bigint" && BigInt.asIntN(64, value) === value;
}

function isInt64OrNull(value: Value | undefined): value is bigint | null {
  return value === null || isInt64(value);
}

// ---- records as 32-bit words, for the ledger's compiled transfer (transfer-path.ts) ----
//
// An integer field of a record is 8 bytes: seen through the store's Int32Array (`refs`), its
// low word is at 2 * wordAt and its high word right after it (the platform is little-endian:
// asserted below). Reading the two words as numbers allocates nothing, where reading the
// BigInt64Array allocates a bigint; a value below 2^52 in magnitude is exact as a number, and
// so is the sum of two such values, so balance arithmetic needs no bigint in that range. Out
// of it, readers say so (NaN) and the caller takes the generic, bigint path.

assert(new Uint8Array(new Uint32Array([1]).buffer)[0] === 1, "records assume little-endian");

const wordBase = 2 ** 32;
/** |value| < 2^52 exactly when the high word is in [-2^20, 2^20). */
const highSmallLimit = 2 ** 20;

/** The integer at words `at` (low), `at + 1` (high) when below 2^52 in magnitude, else NaN. */
function smallIntegerAt(words: Int32Array, at: number): number {
  const high = words[at + 1] as number;
  if (high < -highSmallLimit || high >= highSmallLimit) return Number.NaN;
  return high * wordBase + ((words[at] as number) >>> 0);
}

/** Stores an integer-valued number below 2^63 in magnitude as its two words. */
function storeIntegerNumber(words: Int32Array, at: number, value: number): void {
  // ToUint32 and a floor division by 2^32 are exact on integer-valued numbers.
  words[at] = value >>> 0;
  words[at + 1] = Math.floor(value / wordBase);
}

/** The fields of an account record that a transfer reads and writes, located once. */
export class AccountRecords {
  readonly #store: RecordStore;
  readonly #balanceAt: number;
  readonly #reservedAt: number;
  readonly #availableAt: number;
  readonly #floorAt: number;
  readonly #floorPresentAt: number;
  /** available and floor as indexes of the int64 view (headroom). */
  readonly #availableInteger: number;
  readonly #floorInteger: number;

  constructor(accounts: ColumnTable) {
    this.#store = accounts.store;
    const word = (name: string) => accounts.column(name).wordAt * 2;
    this.#balanceAt = word("balance");
    this.#reservedAt = word("reserved");
    this.#availableAt = word("available");
    this.#floorAt = word("floor");
    this.#floorPresentAt = accounts.column("floor").byteAt;
    this.#availableInteger = accounts.column("available").wordAt;
    this.#floorInteger = accounts.column("floor").wordAt;
  }

  /** available - floor of the account at `slot`, exactly; null when it has no floor. */
  headroom(slot: number): bigint | null {
    if (!this.hasFloor(slot)) return null;
    const store = this.#store;
    const base = slot * store.integerStride;
    const integers = store.integers;
    return (
      (integers[base + this.#availableInteger] as bigint) -
      (integers[base + this.#floorInteger] as bigint)
    );
  }

  /** The first word and the last byte of the record of `slot` (prefetching only). */
  touch(slot: number): number {
    const store = this.#store;
    if (slot >= store.capacity) return 0;
    const lastByte = store.bytes[(slot + 1) * store.strideBytes - 1] as number;
    return (store.refs[slot * store.refStride] as number) + lastByte;
  }

  /** Word index of the record of `slot`, for the readers and writers below. */
  baseOf(slot: number): number {
    return slot * this.#store.refStride;
  }

  /** balance at `base` when below 2^52 in magnitude, else NaN. */
  balance(base: number): number {
    return smallIntegerAt(this.#store.refs, base + this.#balanceAt);
  }

  reserved(base: number): number {
    return smallIntegerAt(this.#store.refs, base + this.#reservedAt);
  }

  available(base: number): number {
    return smallIntegerAt(this.#store.refs, base + this.#availableAt);
  }

  hasFloor(slot: number): boolean {
    const store = this.#store;
    return store.bytes[slot * store.strideBytes + this.#floorPresentAt] === 1;
  }

  /** floor at `base` (hasFloor must be true) when below 2^52 in magnitude, else NaN. */
  floor(base: number): number {
    return smallIntegerAt(this.#store.refs, base + this.#floorAt);
  }

  setBalance(base: number, value: number): void {
    storeIntegerNumber(this.#store.refs, base + this.#balanceAt, value);
  }

  setReserved(base: number, value: number): void {
    storeIntegerNumber(this.#store.refs, base + this.#reservedAt, value);
  }

  setAvailable(base: number, value: number): void {
    storeIntegerNumber(this.#store.refs, base + this.#availableAt, value);
  }
}

/**
 * The transfer record writer of the compiled transfer: stores exactly the row that ledger.ts
 * builds for a new transfer (the same values in every column, so rows read back, snapshots
 * and digests are the same), from numbers and slots instead of a row object.
 */
export class TransferRecords {
  readonly #store: RecordStore;
  readonly #debitAt: number;
  readonly #creditAt: number;
  readonly #amountAt: number;
  readonly #timeoutAt: number;
  readonly #sequenceAt: number;
  readonly #createdAt: number;
  readonly #resolvedAt: number;
  readonly #expiresAt: number;
  readonly #pendingAt: number;
  readonly #originAt: number;
  readonly #stateAt: number;
  readonly #resolvedPresentAt: number;
  readonly #expiresPresentAt: number;
  /** createdAtMs as an index of the int64 view. */
  readonly #createdInteger: number;

  constructor(transfers: ColumnTable) {
    this.#store = transfers.store;
    const column = (name: string) => transfers.column(name);
    const word = (name: string) => column(name).wordAt * 2;
    this.#debitAt = column("debit").wordAt;
    this.#creditAt = column("credit").wordAt;
    this.#amountAt = word("amount");
    this.#timeoutAt = word("timeoutMs");
    this.#sequenceAt = word("sequence");
    this.#createdAt = word("createdAtMs");
    this.#resolvedAt = word("resolvedAtMs");
    this.#expiresAt = word("expiresAtMs");
    this.#pendingAt = column("pending").byteAt;
    this.#originAt = column("origin").byteAt;
    this.#stateAt = column("state").byteAt;
    this.#resolvedPresentAt = column("resolvedAtMs").byteAt;
    this.#expiresPresentAt = column("expiresAtMs").byteAt;
    this.#createdInteger = column("createdAtMs").wordAt;
  }

  /** createdAtMs of the transfer at `slot`, as its row holds it. */
  createdAtMs(slot: number): bigint {
    const store = this.#store;
    return store.integers[slot * store.integerStride + this.#createdInteger] as bigint;
  }

  /**
   * Whether the transfer at `slot` was asked for with these fields (a retry, ledger.ts): its
   * accounts as slots (-1 for none), its amount and timeout as numbers below 2^52 in
   * magnitude (a stored value beyond reads as NaN, which equals nothing).
   */
  sameRequest(
    slot: number,
    debit: number,
    credit: number,
    amount: number,
    pending: boolean,
    timeoutMs: number,
    origin: string,
  ): boolean {
    const store = this.#store;
    const words = store.refs;
    const base = slot * store.refStride;
    const bytes = store.bytes;
    const byteBase = slot * store.strideBytes;
    return (
      words[base + this.#debitAt] === debit &&
      words[base + this.#creditAt] === credit &&
      smallIntegerAt(words, base + this.#amountAt) === amount &&
      (bytes[byteBase + this.#pendingAt] === 1) === pending &&
      smallIntegerAt(words, base + this.#timeoutAt) === timeoutMs &&
      origins[bytes[byteBase + this.#originAt] as number] === origin
    );
  }

  /** Whether the transfer at `slot` is still pending, so its row can still change. */
  isOpen(slot: number): boolean {
    const store = this.#store;
    return store.bytes[slot * store.strideBytes + this.#stateAt] === pendingChoice;
  }

  /**
   * Writes the record of a new transfer at `slot` (its sequence): a pending one is open, with
   * a deadline when `timeoutMs` > 0; another is posted at `timestampMs`. Every value is an
   * integer-valued number below 2^63 in magnitude (the caller checked).
   */
  write(
    slot: number,
    debit: number,
    credit: number,
    amount: number,
    pending: boolean,
    timeoutMs: number,
    isTimpe: boolean,
    timestampMs: number,
  ): void {
    const store = this.#store;
    const words = store.refs;
    const base = slot * store.refStride;
    words[base + this.#debitAt] = debit;
    words[base + this.#creditAt] = credit;
    storeIntegerNumber(words, base + this.#amountAt, amount);
    storeIntegerNumber(words, base + this.#timeoutAt, timeoutMs);
    storeIntegerNumber(words, base + this.#sequenceAt, slot);
    storeIntegerNumber(words, base + this.#createdAt, timestampMs);
    const hasDeadline = pending && timeoutMs > 0;
    // As ledger.ts computes it: the sum of two numbers, then exactly that number as an int64.
    storeIntegerNumber(words, base + this.#expiresAt, hasDeadline ? timestampMs + timeoutMs : 0);
    storeIntegerNumber(words, base + this.#resolvedAt, pending ? 0 : timestampMs);
    const bytes = store.bytes;
    const byteBase = slot * store.strideBytes;
    bytes[byteBase + this.#pendingAt] = pending ? 1 : 0;
    bytes[byteBase + this.#originAt] = isTimpe ? timpeChoice : apiChoice;
    bytes[byteBase + this.#stateAt] = pending ? pendingChoice : postedChoice;
    bytes[byteBase + this.#resolvedPresentAt] = pending ? 0 : 1;
    bytes[byteBase + this.#expiresPresentAt] = hasDeadline ? 1 : 0;
  }
}
