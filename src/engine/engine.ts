// The engine: a deterministic state machine that applies batches of commands in log order.
// It has no I/O, no clock and no randomness; time arrives as each batch's timestamp, which
// the executor stamped before logging it. Two engines that applied the same batches have the
// same digest (invariant 5), which is what replicas and tests compare.
//
// Reads (the query methods) see exactly the applied state: the executor applies a batch only
// after it is durable, so a read never shows a write that a crash could take back.
//
// Storage: the ledger's tables are column tables (system-tables.ts, column-table.ts), users'
// tables object tables (object-table.ts); one executor (txn.ts) runs transactions on both.
// Transfers, the hottest command, run the same transaction compiled (transfer-path.ts), and
// applyBatch reads ahead of them in windows of commands so that their cache misses overlap.
// Rows returned by queries are fresh objects built from the stored columns (for users' tables,
// the stored immutable objects), so none of them ever changes under its holder.
import { LIST_PAGE_ROWS_MAX, ROW_COLUMNS_MAX, TXN_OPERATIONS_MAX } from "../constants.ts";
import {
  assert,
  BytesReader,
  BytesWriter,
  createDigest,
  ErrorCode,
  TxgridError,
  unreachable,
} from "../stdx/index.ts";
import type { LogCommand } from "./commands.ts";
import {
  createAccount,
  createAsset,
  createTransfer,
  expirePending,
  processTimpe,
  resolvePending,
  updateAsset,
} from "./ledger.ts";
import { ObjectTable } from "./object-table.ts";
import { type CommandResult, ResultCode } from "./results.ts";
import { State, systemIndexes } from "./state.ts";
import type { Table } from "./table.ts";
import { TransferListRunner } from "./transfer-list.ts";
import { PREFETCH_WINDOW_COMMANDS, TransferPrefetch } from "./transfer-path.ts";
import type { Operation } from "./txn.ts";
import { decodeRow, isValidId, type Row, type Value } from "./values.ts";

/**
 * Bumped whenever the snapshot body layout changes. History: 1 = first layout (kept, byte for
 * byte, by the column-table storage: engine.reference.prop.test.ts compares with the engine
 * before it).
 */
export const ENGINE_SNAPSHOT_VERSION = 1;

const tableNamePattern = /^[a-z][a-z0-9_]{0,62}$/;
const snapshotBytesMax = 2 ** 31;
/** What digest() hashes at a time (its writer holds up to twice this, plus one row). */
const digestChunkBytes = 1 << 20;

/** The state's encoding made in steps (Engine.snapshotEncoding, Engine.digestEncoding). */
export interface SteppedEncoding<Result> {
  /** The lsn of the state being encoded. */
  readonly lsn: number;
  /** Encodes the next rows; true once the encoding is complete. */
  step(): boolean;
  /** Steps taken so far. */
  readonly stepCount: number;
  /** The snapshot's bytes or the digest (once step() returned true). */
  result(): Result;
}

/** What transferStamp reads of a stored transfer. */
export interface TransferStamp {
  /** The transfer's position in creation order (its row's `sequence`). */
  readonly sequence: number;
  readonly createdAtMs: bigint;
}

export interface EngineStats {
  readonly lsn: number;
  readonly timestampMs: number;
  readonly accountCount: number;
  readonly transferCount: number;
  readonly pendingCount: number;
  readonly assetCount: number;
  readonly tableCount: number;
}

export class Engine {
  readonly #state: State;
  readonly #prefetch: TransferPrefetch;
  readonly #lists: TransferListRunner;

  constructor(state: State = new State()) {
    this.#state = state;
    this.#prefetch = new TransferPrefetch(state);
    this.#lists = new TransferListRunner(state);
  }

  get lsn(): number {
    return this.#state.lsn;
  }

  get timestampMs(): number {
    return this.#state.timestampMs;
  }

  /**
   * Applies one logged batch. `lsn` must follow the last applied one and `timestampMs` must
   * not go back; pending transfers whose timeout has come are voided before the commands run.
   */
  applyBatch(lsn: number, timestampMs: number, commands: readonly LogCommand[]): CommandResult[] {
    const state = this.#state;
    assert(lsn === state.lsn + 1, `batch lsn ${lsn} does not follow ${state.lsn}`);
    assert(timestampMs >= state.timestampMs, "batch timestamps must not go back");
    state.lsn = lsn;
    state.setTimestamp(timestampMs);
    expirePending(state, timestampMs);
    const results: CommandResult[] = new Array(commands.length);
    const prefetch = this.#prefetch;
    for (let index = 0; index < commands.length; index++) {
      if (index % PREFETCH_WINDOW_COMMANDS === 0) prefetch.load(commands, index);
      const command = commands[index] as LogCommand;
      results[index] =
        command.kind === "transfer.create"
          ? createTransfer(state, command, prefetch.hashesOf(commands, index))
          : this.#apply(command);
    }
    prefetch.release();
    return results;
  }

  /** The earliest pending-transfer deadline, for the executor's timer; null when none. */
  nextDeadlineMs(): number | null {
    return this.#state.deadlines.peek()?.deadlineMs ?? null;
  }

  /** Every command but transfer.create, which applyBatch runs with its prefetched hashes. */
  #apply(command: Exclude<LogCommand, { readonly kind: "transfer.create" }>): CommandResult {
    const state = this.#state;
    switch (command.kind) {
      case "account.create":
        return createAccount(state, command);
      case "transfer.post":
        return resolvePending(state, command.pendingId, "posted");
      case "transfer.void":
        return resolvePending(state, command.pendingId, "voided");
      case "transfer.list":
        return { code: ResultCode.OK, transferCodes: this.#lists.apply(command) };
      case "timpe.process":
        return processTimpe(state);
      case "asset.create":
        return createAsset(state, command.id, command.value);
      case "asset.update":
        return updateAsset(state, command.id, command.delta);
      case "table.create":
        return this.#createTable(command.name, command.indexes);
      case "txn":
        return this.#executeUserTxn(command.operations);
      default:
        return unreachable(command);
    }
  }

  #createTable(name: string, indexes: readonly string[]): CommandResult {
    if (!tableNamePattern.test(name)) return { code: ResultCode.TXN_INVALID };
    if (name in systemIndexes) return { code: ResultCode.TABLE_RESERVED };
    if (this.#state.tables.has(name)) return { code: ResultCode.TABLE_EXISTS };
    if (indexes.length > ROW_COLUMNS_MAX || new Set(indexes).size !== indexes.length) {
      return { code: ResultCode.TXN_INVALID };
    }
    this.#state.tables.set(name, new ObjectTable(name, [...indexes]));
    return { code: ResultCode.OK };
  }

  #executeUserTxn(operations: readonly Operation[]): CommandResult {
    if (operations.length === 0 || operations.length > TXN_OPERATIONS_MAX) {
      return { code: ResultCode.TXN_INVALID };
    }
    for (let index = 0; index < operations.length; index++) {
      const code = checkUserOperation(operations[index] as Operation);
      if (code !== ResultCode.OK) return { code, operationIndex: index };
    }
    const executor = this.#state.executor;
    const rows: (Row | null)[] = [];
    const code = executor.execute(operations, rows);
    if (code === ResultCode.OK) return { code, rows };
    return { code, operationIndex: executor.failedIndex };
  }

  // ---- queries (read-only) ----

  account(id: string): Row | undefined {
    return rowOf(this.#state.accounts, id);
  }

  /** Whether the account exists; builds no row. */
  hasAccount(id: string): boolean {
    return this.#state.accounts.find(id) >= 0;
  }

  /**
   * What the account can still send, available - floor (null when it has no floor), or
   * undefined when there is no such account. Builds no row: the REST pre-check of every
   * transfer reads this instead of two whole rows.
   */
  accountHeadroom(id: string): bigint | null | undefined {
    const state = this.#state;
    const slot = state.accounts.find(id);
    return slot < 0 ? undefined : state.accountRecords.headroom(slot);
  }

  accountByNickname(nickname: string): Row | undefined {
    const accounts = this.#state.accounts;
    const [slot] = accounts.lookup("nickname", nickname, 1);
    return slot === undefined ? undefined : accounts.rowAt(slot);
  }

  /** Accounts in creation order, from position `offset`. */
  accounts(offset: number, limit: number): Row[] {
    return pageOf(this.#state.accounts, offset, limit);
  }

  transfer(id: string): Row | undefined {
    const state = this.#state;
    return rowOf(state.transfers, id) ?? rowOf(state.failures, id);
  }

  /**
   * The sequence and creation time of a stored transfer (not of a refusal), or undefined;
   * builds no row. The REST answer to a new posted transfer has every other field from its
   * request, so this is all it reads.
   */
  transferStamp(id: string): TransferStamp | undefined {
    const state = this.#state;
    const slot = state.transfers.find(id);
    if (slot < 0) return undefined;
    return { sequence: slot, createdAtMs: state.transferRecords.createdAtMs(slot) };
  }

  /** Transfers in creation order, from position `offset`. */
  transfers(offset: number, limit: number): Row[] {
    return pageOf(this.#state.transfers, offset, limit);
  }

  /** Open pending transfers, oldest first. */
  pendingTransfers(limit: number): Row[] {
    const transfers = this.#state.transfers;
    const rows: Row[] = [];
    for (const slot of this.#state.pendingSlots) {
      if (rows.length >= Math.min(limit, LIST_PAGE_ROWS_MAX)) break;
      rows.push(transfers.rowAt(slot));
    }
    return rows;
  }

  /**
   * An account's transfers (debits and credits), newest first, with sequence below
   * `beforeSequence` when given. Walks the account's history list, which is newest first
   * already (a transfer's sequence is its slot).
   */
  accountTransfers(accountId: string, limit: number, beforeSequence?: number): Row[] {
    const { accounts, transfers, history } = this.#state;
    const count = Math.min(limit, LIST_PAGE_ROWS_MAX);
    // slice(0, count) semantics: a negative or NaN count needs the whole list first.
    const countTaken = count >= 0 ? Math.trunc(count) : Number.POSITIVE_INFINITY;
    const account = accounts.find(accountId);
    const rows: Row[] = [];
    if (account < 0) return rows;
    for (let slot = history.newest(account); slot >= 0; slot = history.previous(slot, account)) {
      if (rows.length >= countTaken) break;
      if (beforeSequence !== undefined && !(slot < beforeSequence)) continue;
      rows.push(transfers.rowAt(slot));
    }
    return count >= 0 ? rows : rows.slice(0, count);
  }

  asset(id: string): Row | undefined {
    return rowOf(this.#state.assets, id);
  }

  /** A row of any table (system tables included); undefined when missing. */
  row(table: string, key: string): Row | undefined {
    const target = this.#state.tables.get(table);
    return target === undefined ? undefined : rowOf(target, key);
  }

  /** Rows of `table` whose indexed `column` equals `value` (a secondary-key query). */
  lookup(table: string, column: string, value: Value, limit: number): Row[] | null {
    const target = this.#state.tables.get(table);
    if (target === undefined || !target.isIndexed(column)) return null;
    const slots = target.lookup(column, value, Math.min(limit, LIST_PAGE_ROWS_MAX));
    return slots.map((slot) => target.rowAt(slot));
  }

  stats(): EngineStats {
    const state = this.#state;
    return {
      lsn: state.lsn,
      timestampMs: state.timestampMs,
      accountCount: state.accounts.size,
      transferCount: state.transfers.size,
      pendingCount: state.pendingSlots.size,
      assetCount: state.assets.size,
      tableCount: state.tables.size,
    };
  }

  /** Money totals: the sum of balances must always equal the sum of initial balances. */
  totals(): { balanceSum: bigint; initialSum: bigint; reservedSum: bigint; pendingSum: bigint } {
    const { accounts, transfers, pendingSlots } = this.#state;
    const balance = accounts.column("balance");
    const initial = accounts.column("initial");
    const reserved = accounts.column("reserved");
    let balanceSum = 0n;
    let initialSum = 0n;
    let reservedSum = 0n;
    for (let slot = 0; slot < accounts.size; slot++) {
      balanceSum += accounts.integerAt(slot, balance) as bigint;
      initialSum += accounts.integerAt(slot, initial) as bigint;
      reservedSum += accounts.integerAt(slot, reserved) as bigint;
    }
    let pendingSum = 0n;
    const amount = transfers.column("amount");
    for (const slot of pendingSlots) pendingSum += transfers.integerAt(slot, amount) as bigint;
    return { balanceSum, initialSum, reservedSum, pendingSum };
  }

  /** Every broken invariant, in words; empty when the state is sound. */
  checkInvariants(): string[] {
    const problems: string[] = [];
    const totals = this.totals();
    if (totals.balanceSum !== totals.initialSum) {
      problems.push(
        `money not conserved: balances sum to ${totals.balanceSum}, initial ${totals.initialSum}`,
      );
    }
    if (totals.reservedSum !== totals.pendingSum) {
      problems.push(`reserved ${totals.reservedSum} differs from pending ${totals.pendingSum}`);
    }
    const accounts = this.#state.accounts;
    for (let slot = 0; slot < accounts.size; slot++) {
      problems.push(...accountProblems(accounts.rowAt(slot)));
    }
    return problems;
  }

  /**
   * SHA-256 of the snapshot encoding: equal digests mean equal states. The encoding is hashed
   * as it is written, a chunk at a time, so a large state needs no buffer of its size (nor
   * the time to grow and copy one) and has no snapshot size limit here.
   */
  digest(): string {
    const encoding = this.digestEncoding(Number.POSITIVE_INFINITY);
    while (!encoding.step());
    return encoding.result();
  }

  /** The whole state as bytes (tables in creation order, rows in insertion order). */
  encodeSnapshot(): Uint8Array {
    const encoding = this.snapshotEncoding(Number.POSITIVE_INFINITY);
    while (!encoding.step());
    return encoding.result();
  }

  /**
   * encodeSnapshot() in steps of about `rowsPerStep` rows, for a caller that lets other work
   * run between steps (the shard: timers, network, reads). The state must not change until
   * the last step: every step asserts that the lsn is still the one of the first.
   */
  snapshotEncoding(rowsPerStep: number): SteppedEncoding<Uint8Array> {
    const writer = new BytesWriter(1 << 16, snapshotBytesMax);
    // The writer is the encoding's own and takes no more bytes, so they need no copy.
    return this.#steppedEncoding(writer, rowsPerStep, () => writer.view());
  }

  /** digest() in steps, as snapshotEncoding(). */
  digestEncoding(rowsPerStep: number): SteppedEncoding<string> {
    const digest = createDigest();
    const writer = new BytesWriter(digestChunkBytes, snapshotBytesMax, (bytes) =>
      digest.update(bytes),
    );
    return this.#steppedEncoding(writer, rowsPerStep, () => {
      writer.flush();
      return digest.hex();
    });
  }

  #steppedEncoding<Result>(
    writer: BytesWriter,
    rowsPerStep: number,
    finish: () => Result,
  ): SteppedEncoding<Result> {
    assert(rowsPerStep >= 1, "a step encodes at least one row");
    const steps = this.#encodeSnapshotSteps(writer, rowsPerStep);
    const lsn = this.#state.lsn;
    let result: { readonly value: Result } | null = null;
    let stepCount = 0;
    return {
      lsn,
      step: () => {
        assert(result === null, "a finished encoding takes no more steps");
        assert(this.#state.lsn === lsn, "the state changed while its snapshot was encoded");
        stepCount++;
        if (steps.next().done === true) result = { value: finish() };
        return result !== null;
      },
      get stepCount() {
        return stepCount;
      },
      result: () => {
        assert(result !== null, "the encoding is finished");
        return result.value;
      },
    };
  }

  *#encodeSnapshotSteps(writer: BytesWriter, rowsPerStep: number): Generator<void, void, void> {
    const state = this.#state;
    writer.u32(ENGINE_SNAPSHOT_VERSION);
    writer.u53(state.lsn);
    writer.u53(state.timestampMs);
    writer.u32(state.tables.size);
    for (const table of state.tables.values()) {
      writer.string(table.name);
      writer.u16(table.indexedColumns.length);
      for (const column of table.indexedColumns) writer.string(column);
      writer.u53(table.size);
      const slotEnd = table.slotEnd;
      for (let fromSlot = 0; fromSlot < slotEnd; fromSlot += rowsPerStep) {
        table.encodeRows(writer, fromSlot, Math.min(slotEnd, fromSlot + rowsPerStep));
        if (fromSlot + rowsPerStep < slotEnd) yield;
      }
    }
  }

  static decodeSnapshot(bytes: Uint8Array): Engine {
    const reader = new BytesReader(bytes);
    const version = reader.u32();
    if (version !== ENGINE_SNAPSHOT_VERSION) {
      throw new TxgridError(ErrorCode.VERSION, `engine snapshot version ${version} is unknown`);
    }
    const state = new State();
    state.lsn = reader.u53();
    state.setTimestamp(reader.u53());
    for (let tableCount = reader.u32(); tableCount > 0; tableCount--) {
      const name = reader.string();
      const indexes: string[] = [];
      for (let count = reader.u16(); count > 0; count--) indexes.push(reader.string());
      const table = state.tables.get(name) ?? new ObjectTable(name, indexes);
      state.tables.set(name, table);
      for (let rowCount = reader.u53(); rowCount > 0; rowCount--) {
        const key = reader.string();
        table.load(key, decodeRow(reader));
      }
    }
    if (reader.remaining !== 0)
      throw new TxgridError(ErrorCode.CORRUPT, "snapshot has trailing bytes");
    state.rebuildDerived();
    return new Engine(state);
  }
}

function rowOf(table: Table, key: string): Row | undefined {
  const slot = table.find(key);
  return slot < 0 ? undefined : table.rowAt(slot);
}

/** Rows of `table` in insertion order, as `allRows.slice(offset, offset + limit)` would be. */
function pageOf(table: Table, offset: number, limit: number): Row[] {
  assert(offset >= 0 && limit >= 0, "page bounds must not be negative");
  const start = Math.min(Math.trunc(offset), table.size);
  const end = Math.min(Math.trunc(offset + Math.min(limit, LIST_PAGE_ROWS_MAX)), table.size);
  const rows: Row[] = [];
  for (let slot = start; slot < end; slot++) rows.push(table.rowAt(slot));
  return rows;
}

function accountProblems(row: Row): string[] {
  const problems: string[] = [];
  const { balance, reserved, available, floor } = row as Record<string, bigint>;
  if (available !== (balance as bigint) - (reserved as bigint)) {
    problems.push(`account ${row.id}: available is not balance - reserved`);
  }
  if ((reserved as bigint) < 0n) problems.push(`account ${row.id}: negative reserve`);
  if (typeof floor === "bigint" && (available as bigint) < floor) {
    problems.push(`account ${row.id}: available ${available} below floor ${floor}`);
  }
  return problems;
}

/** Structural rules for a user's generic transaction (the ledger's tables stay read-only). */
function checkUserOperation(operation: Operation): ResultCode {
  if (!isValidId(operation.key)) return ResultCode.ID_INVALID;
  const writes = operation.kind !== "read";
  if (writes && operation.table in systemIndexes) return ResultCode.TABLE_RESERVED;
  const columns =
    operation.kind === "insert"
      ? Object.keys(operation.values)
      : operation.kind === "update"
        ? [...Object.keys(operation.set ?? {}), ...Object.keys(operation.increment ?? {})]
        : [];
  if (columns.length > ROW_COLUMNS_MAX) return ResultCode.TXN_INVALID;
  return ResultCode.OK;
}
