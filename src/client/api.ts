// ApiCore: TxgridApi over a Transport. Both faces share it: the TCP client (tcp-transport.ts)
// and embedded mode (src/embedded) differ only in how a request frame reaches the gateway.
//
//   call ──► check and normalize the input (validate.ts) ──► admission (bounded queue)
//        ──► gathered with the other calls of its kind made in this tick
//   next tick ──► frames of up to BATCH_OPERATIONS_MAX operations ──► transport.send
//   reply ──► every call gets its slice (outgoing.ts)
//   createTransferList ──► a body encoded by the caller ──► its own frame, sent at once
//
// Guarantees:
// - Concurrent calls of one kind made in the same tick (including those made from the
//   continuations of one resolved batch) travel in as few frames as the batch limit allows.
// - Every call has a timeout (CALL_TIMEOUT_MS_DEFAULT unless the client or the call sets
//   another) and settles exactly once.
// - Operations held and not yet on the wire stay within queuedOperationsMax
//   (CLIENT_QUEUED_OPERATIONS_MAX): beyond it a call is refused with OVERLOADED.

import {
  CALL_TIMEOUT_MS_DEFAULT,
  CALL_TIMEOUT_MS_MAX,
  CLIENT_QUEUED_OPERATIONS_MAX,
} from "../constants.ts";
import {
  type AccountCreate,
  type AssetCreate,
  type AssetUpdate as AssetUpdateItem,
  BATCH_OPERATIONS_MAX,
  MessageKind,
  type Request,
  type RequestKind,
  type TransferCreate,
  TransferListEncoder,
} from "../protocol/index.ts";
import { assert, ErrorCode, TxgridError, unreachable } from "../stdx/index.ts";
import type {
  AccountRecord,
  AssetRecord,
  AssetUpdate,
  CallOptions,
  NewAccount,
  NewAsset,
  NewTransfer,
  OperationOutcome,
  TransferRecord,
  TxgridApi,
} from "./api-types.ts";
import { Call, Outgoing, type Piece, TimeoutGroup } from "./outgoing.ts";
import {
  accountCreate,
  assetCreate,
  assetUpdate,
  checkId,
  checkList,
  type Place,
  transferCreate,
} from "./validate.ts";

/** How frames reach a server (or an in-process shard) and how replies come back. */
export interface Transport {
  /** Operations handed to send() and not yet on the wire. */
  readonly queuedOperations: number;
  /** Sends the frame; later calls outgoing.deliver(reply) or outgoing.fail(error). */
  send(outgoing: Outgoing): void;
  /** Forgets queued frames whose calls all settled (timed out) already. */
  prune(): void;
  close(): Promise<void>;
}

export interface ApiOptions {
  /** Default timeout of every call, in ms (CALL_TIMEOUT_MS_DEFAULT). */
  readonly timeoutMs?: number;
  /** Most operations held and not yet on the wire (CLIENT_QUEUED_OPERATIONS_MAX). */
  readonly queuedOperationsMax?: number;
}

function checkTimeoutMs(timeoutMs: number, where: string): number {
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0 || timeoutMs > CALL_TIMEOUT_MS_MAX) {
    throw new TxgridError(
      ErrorCode.BAD_REQUEST,
      `${where} must be an integer from 1 to ${CALL_TIMEOUT_MS_MAX} (got ${timeoutMs})`,
    );
  }
  return timeoutMs;
}

function requestOf(kind: RequestKind, items: readonly unknown[]): Request {
  switch (kind) {
    case MessageKind.PING:
      return { kind };
    case MessageKind.CREATE_ACCOUNTS:
      return { kind, accounts: items as AccountCreate[] };
    case MessageKind.CREATE_TRANSFERS:
      return { kind, transfers: items as TransferCreate[] };
    case MessageKind.CREATE_ASSETS:
      return { kind, assets: items as AssetCreate[] };
    case MessageKind.UPDATE_ASSETS:
      return { kind, updates: items as AssetUpdateItem[] };
    case MessageKind.POST_TRANSFERS:
    case MessageKind.VOID_TRANSFERS:
    case MessageKind.LOOKUP_ACCOUNTS:
    case MessageKind.LOOKUP_TRANSFERS:
    case MessageKind.LOOKUP_ASSETS:
      return { kind, ids: items as string[] };
    default:
      return unreachable(kind);
  }
}

/** What a method sends, how its input is checked, and what messages call the input. */
interface CallSpec {
  readonly kind: RequestKind;
  readonly check: (item: never, place: Place) => unknown;
  /** The argument's name in messages: for a list, and for one item. */
  readonly listLabel: string;
  readonly itemLabel: string;
}

function spec(kind: RequestKind, check: CallSpec["check"], listLabel: string, itemLabel: string) {
  return { kind, check, listLabel, itemLabel } satisfies CallSpec;
}

const specs = {
  accountsCreate: spec(MessageKind.CREATE_ACCOUNTS, accountCreate, "accounts", "account"),
  transfersCreate: spec(MessageKind.CREATE_TRANSFERS, transferCreate, "transfers", "transfer"),
  transfersPost: spec(MessageKind.POST_TRANSFERS, checkId, "ids", "id"),
  transfersVoid: spec(MessageKind.VOID_TRANSFERS, checkId, "ids", "id"),
  assetsCreate: spec(MessageKind.CREATE_ASSETS, assetCreate, "assets", "asset"),
  assetsUpdate: spec(MessageKind.UPDATE_ASSETS, assetUpdate, "updates", "update"),
  accountsLookup: spec(MessageKind.LOOKUP_ACCOUNTS, checkId, "ids", "id"),
  transfersLookup: spec(MessageKind.LOOKUP_TRANSFERS, checkId, "ids", "id"),
  assetsLookup: spec(MessageKind.LOOKUP_ASSETS, checkId, "ids", "id"),
  ping: spec(MessageKind.PING, () => assert(false, "PING has no items"), "", ""),
} as const;

export class ApiCore implements TxgridApi {
  readonly #transport: Transport;
  readonly #timeoutMs: number;
  readonly #queuedOperationsMax: number;
  /** Calls gathered in this tick, by request kind, and the kinds that have some. */
  readonly #gathered: (Call[] | undefined)[] = [];
  #gatheredKinds: RequestKind[] = [];
  #gatheredOperations = 0;
  #flushScheduled = false;
  /** The timer shared by this tick's calls with the client's default timeout. */
  #timeoutGroup: TimeoutGroup | null = null;
  #outstandingCalls = 0;
  #idle: (() => void) | null = null;
  #closing: Promise<void> | null = null;
  readonly #onSettled = () => {
    this.#outstandingCalls--;
    if (this.#outstandingCalls === 0) this.#idle?.();
  };
  readonly #flush = () => this.#flushGathered();

  constructor(transport: Transport, options: ApiOptions = {}) {
    this.#transport = transport;
    this.#timeoutMs = checkTimeoutMs(options.timeoutMs ?? CALL_TIMEOUT_MS_DEFAULT, "timeoutMs");
    this.#queuedOperationsMax = options.queuedOperationsMax ?? CLIENT_QUEUED_OPERATIONS_MAX;
    assert(this.#queuedOperationsMax >= BATCH_OPERATIONS_MAX, "a full batch can be queued");
  }

  createAccounts(accounts: readonly NewAccount[], options?: CallOptions) {
    return this.#many<OperationOutcome>(specs.accountsCreate, accounts, options);
  }

  createAccount(account: NewAccount, options?: CallOptions) {
    return this.#one<OperationOutcome>(specs.accountsCreate, account, options);
  }

  createTransfers(transfers: readonly NewTransfer[], options?: CallOptions) {
    return this.#many<OperationOutcome>(specs.transfersCreate, transfers, options);
  }

  createTransfer(transfer: NewTransfer, options?: CallOptions) {
    return this.#one<OperationOutcome>(specs.transfersCreate, transfer, options);
  }

  postTransfers(ids: readonly string[], options?: CallOptions) {
    return this.#many<OperationOutcome>(specs.transfersPost, ids, options);
  }

  postTransfer(id: string, options?: CallOptions) {
    return this.#one<OperationOutcome>(specs.transfersPost, id, options);
  }

  voidTransfers(ids: readonly string[], options?: CallOptions) {
    return this.#many<OperationOutcome>(specs.transfersVoid, ids, options);
  }

  voidTransfer(id: string, options?: CallOptions) {
    return this.#one<OperationOutcome>(specs.transfersVoid, id, options);
  }

  createAssets(assets: readonly NewAsset[], options?: CallOptions) {
    return this.#many<OperationOutcome>(specs.assetsCreate, assets, options);
  }

  createAsset(asset: NewAsset, options?: CallOptions) {
    return this.#one<OperationOutcome>(specs.assetsCreate, asset, options);
  }

  updateAssets(updates: readonly AssetUpdate[], options?: CallOptions) {
    return this.#many<OperationOutcome>(specs.assetsUpdate, updates, options);
  }

  updateAsset(update: AssetUpdate, options?: CallOptions) {
    return this.#one<OperationOutcome>(specs.assetsUpdate, update, options);
  }

  /**
   * The transfers of an encoder (TransferListEncoder, checked as they were added) in one
   * frame of their own, with one outcome per transfer; the encoder may be reused as soon as
   * this returns. For bulk loads: no object per transfer on the way out.
   */
  createTransferList(
    list: TransferListEncoder,
    options?: CallOptions,
  ): Promise<OperationOutcome[]> {
    let timeoutMs: number;
    try {
      if (!(list instanceof TransferListEncoder)) {
        throw new TxgridError(ErrorCode.BAD_REQUEST, "list must be a TransferListEncoder");
      }
      timeoutMs = this.#timeoutOf(options);
    } catch (error) {
      return Promise.reject(error);
    }
    const count = list.count;
    if (count === 0) return Promise.resolve([]);
    const refusal = this.#refusal(count);
    if (refusal !== null) return Promise.reject(refusal);
    // Copied now: the caller refills the encoder while this frame waits or is resent.
    const body = list.body().slice();
    return new Promise<unknown>((resolve, reject) => {
      const settlers = { resolve, reject, onSettled: this.#onSettled };
      const call = new Call(MessageKind.CREATE_TRANSFERS, null, count, false, settlers);
      this.#outstandingCalls++;
      call.startTimer(timeoutMs);
      const outgoing = new Outgoing(null, count, body);
      outgoing.addPiece({ call, frameOffset: 0, callOffset: 0, count });
      this.#transport.send(outgoing);
    }) as Promise<OperationOutcome[]>;
  }

  lookupAccounts(ids: readonly string[], options?: CallOptions) {
    return this.#many<AccountRecord | null>(specs.accountsLookup, ids, options);
  }

  lookupAccount(id: string, options?: CallOptions) {
    return this.#one<AccountRecord | null>(specs.accountsLookup, id, options);
  }

  lookupTransfers(ids: readonly string[], options?: CallOptions) {
    return this.#many<TransferRecord | null>(specs.transfersLookup, ids, options);
  }

  lookupTransfer(id: string, options?: CallOptions) {
    return this.#one<TransferRecord | null>(specs.transfersLookup, id, options);
  }

  lookupAssets(ids: readonly string[], options?: CallOptions) {
    return this.#many<AssetRecord | null>(specs.assetsLookup, ids, options);
  }

  lookupAsset(id: string, options?: CallOptions) {
    return this.#one<AssetRecord | null>(specs.assetsLookup, id, options);
  }

  ping(options?: CallOptions): Promise<number> {
    return this.#one<number>(specs.ping, null, options);
  }

  /** Refuses new calls, waits until every outstanding call has settled, closes the transport. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    if (this.#outstandingCalls > 0) {
      await new Promise<void>((resolve) => {
        this.#idle = resolve;
      });
    }
    await this.#transport.close();
  }

  #many<R>(spec: CallSpec, input: unknown, options: CallOptions | undefined): Promise<R[]> {
    return this.#call(spec, input, false, options) as Promise<R[]>;
  }

  #one<R>(spec: CallSpec, input: unknown, options: CallOptions | undefined): Promise<R> {
    return this.#call(spec, input, true, options) as Promise<R>;
  }

  /** The call's own timeout when given (checked; throws on a bad one), else the client's. */
  #timeoutOf(options: CallOptions | undefined): number {
    return options?.timeoutMs === undefined
      ? this.#timeoutMs
      : checkTimeoutMs(options.timeoutMs, "options.timeoutMs");
  }

  /** Checks the input, then queues the call. Bad input rejects; it never throws. */
  #call(
    spec: CallSpec,
    input: unknown,
    isSingle: boolean,
    options: CallOptions | undefined,
  ): Promise<unknown> {
    let items: readonly unknown[];
    let timeoutMs: number;
    try {
      items = this.#items(spec, input, isSingle);
      timeoutMs = this.#timeoutOf(options);
    } catch (error) {
      return Promise.reject(error);
    }
    const refusal = this.#refusal(items.length);
    if (refusal !== null) return Promise.reject(refusal);
    return new Promise((resolve, reject) => {
      const settlers = { resolve, reject, onSettled: this.#onSettled };
      const call = new Call(spec.kind, items, items.length, isSingle, settlers);
      this.#outstandingCalls++;
      if (items.length === 0 && spec.kind !== MessageKind.PING) {
        call.complete([]);
        return;
      }
      if (timeoutMs === this.#timeoutMs) {
        this.#timeoutGroup ??= new TimeoutGroup(timeoutMs);
        call.joinTimeoutGroup(this.#timeoutGroup);
      } else {
        call.startTimer(timeoutMs);
      }
      this.#gather(call);
    });
  }

  #items(spec: CallSpec, input: unknown, isSingle: boolean): readonly unknown[] {
    if (spec.kind === MessageKind.PING) return [];
    if (!isSingle) return checkList(input, spec.listLabel, spec.check);
    return [spec.check(input as never, { label: spec.itemLabel, index: -1 })];
  }

  #refusal(operationCount: number): TxgridError | null {
    if (this.#closing !== null) {
      return new TxgridError(ErrorCode.SHUTTING_DOWN, "the client is closed");
    }
    const max = this.#queuedOperationsMax;
    if (operationCount > max) {
      const message = `${operationCount} operations in one call exceed the client's queue (${max})`;
      return new TxgridError(ErrorCode.LIMIT_EXCEEDED, message);
    }
    if (this.#gatheredOperations + this.#transport.queuedOperations + operationCount <= max) {
      return null;
    }
    this.#transport.prune();
    if (this.#gatheredOperations + this.#transport.queuedOperations + operationCount <= max) {
      return null;
    }
    const message = `the client holds ${max} operations not yet sent (CLIENT_QUEUED_OPERATIONS_MAX); retry later`;
    return new TxgridError(ErrorCode.OVERLOADED, message);
  }

  #gather(call: Call): void {
    let calls = this.#gathered[call.kind];
    if (calls === undefined) {
      calls = [];
      this.#gathered[call.kind] = calls;
      this.#gatheredKinds.push(call.kind);
    }
    calls.push(call);
    this.#gatheredOperations += call.operationCount;
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      // After the microtasks of this tick: the continuations of one answered batch that
      // call again all join the same frame.
      process.nextTick(this.#flush);
    }
  }

  #flushGathered(): void {
    this.#flushScheduled = false;
    this.#timeoutGroup = null;
    const kinds = this.#gatheredKinds;
    this.#gatheredKinds = [];
    for (const kind of kinds) {
      const calls = this.#gathered[kind];
      assert(calls !== undefined, "a gathered kind has calls");
      this.#gathered[kind] = undefined;
      this.#gatheredOperations -= calls.reduce((sum, call) => sum + call.operationCount, 0);
      if (kind !== MessageKind.PING) this.#frame(kind, calls);
      else
        for (const call of calls)
          this.#sendFrame(kind, [], [{ call, frameOffset: 0, callOffset: 0, count: 0 }]);
    }
    assert(this.#gatheredOperations === 0, "every gathered operation went into a frame");
  }

  /** Cuts the calls' operations into frames of at most BATCH_OPERATIONS_MAX. */
  #frame(kind: RequestKind, calls: readonly Call[]): void {
    let items: unknown[] = [];
    let pieces: Piece[] = [];
    for (const call of calls) {
      const callItems = call.items;
      if (call.settled || callItems === null) continue;
      let callOffset = 0;
      while (callOffset < callItems.length) {
        const count = Math.min(BATCH_OPERATIONS_MAX - items.length, callItems.length - callOffset);
        pieces.push({ call, frameOffset: items.length, callOffset, count });
        for (let index = 0; index < count; index++) items.push(callItems[callOffset + index]);
        callOffset += count;
        if (items.length === BATCH_OPERATIONS_MAX) {
          this.#sendFrame(kind, items, pieces);
          items = [];
          pieces = [];
        }
      }
      call.items = null;
    }
    if (items.length > 0) this.#sendFrame(kind, items, pieces);
  }

  #sendFrame(kind: RequestKind, items: readonly unknown[], pieces: readonly Piece[]): void {
    const outgoing = new Outgoing(requestOf(kind, items), items.length);
    for (const piece of pieces) outgoing.addPiece(piece);
    this.#transport.send(outgoing);
  }
}
