// Calls and the frames that carry them. A call is one API invocation (createTransfers with
// 1,000 transfers, or createTransfer with one); a frame (Outgoing) is one protocol request.
// Calls of the same kind made in the same tick share frames, and a call larger than
// BATCH_OPERATIONS_MAX spans several: each piece records where its operations sit in the
// frame and in the call, so every caller gets exactly its own slice of the reply, in order.
//
// Guarantees: a call settles exactly once, with its results, an error, or TIMEOUT when its
// timer (its own, or its tick's TimeoutGroup) fires first (later answers are ignored). A frame is `live` while any of its calls
// waits: a transport drops a frame nobody waits for instead of sending or resending it.
import { performance } from "node:perf_hooks";
import { ResultCode } from "../engine/index.ts";
import {
  type ErrorReply,
  MessageKind,
  type OperationResult,
  type Reply,
  type Request,
  type RequestKind,
} from "../protocol/index.ts";
import { assert, ErrorCode, TxgridError } from "../stdx/index.ts";
import type { OperationOutcome } from "./api-types.ts";

/** Result code names by code: the client takes only ResultCode's values from the engine. */
const resultNames: string[] = [];
for (const [name, code] of Object.entries(ResultCode)) resultNames[code] = name;

/** Outcomes without a value are shared: index `code * 2 + (duplicate ? 1 : 0)`. */
const sharedOutcomes: OperationOutcome[] = [];
for (const [name, code] of Object.entries(ResultCode)) {
  sharedOutcomes[code * 2] = Object.freeze({ code, name, duplicate: false });
  sharedOutcomes[code * 2 + 1] = Object.freeze({ code, name, duplicate: true });
}

function outcomeOf(result: OperationResult): OperationOutcome {
  if (result.value === null) {
    return sharedOutcomes[result.code * 2 + (result.duplicate ? 1 : 0)] as OperationOutcome;
  }
  const { code, duplicate, value } = result;
  return { code, name: resultNames[code] as string, duplicate, value };
}

/** The entries of a reply, one per operation; PONG has none. */
function replyEntries(reply: Exclude<Reply, ErrorReply>): readonly unknown[] {
  switch (reply.kind) {
    case MessageKind.PONG:
      return [];
    case MessageKind.RESULTS:
      return reply.results;
    case MessageKind.ACCOUNTS:
      return reply.accounts;
    case MessageKind.TRANSFERS:
      return reply.transfers;
    case MessageKind.ASSETS:
      return reply.assets;
  }
}

const knownErrorCodes = new Set<string>(Object.values(ErrorCode));

/** A TxgridError from an ERROR reply; a code this build does not know is a generic failure. */
export function errorOfReply(reply: ErrorReply): TxgridError {
  if (knownErrorCodes.has(reply.code)) {
    return new TxgridError(reply.code as ErrorCode, reply.message);
  }
  return new TxgridError(ErrorCode.INTERNAL, `${reply.code}: ${reply.message}`);
}

function timeoutError(timeoutMs: number): TxgridError {
  const message =
    `no answer within ${timeoutMs} ms; the request may or may not have been applied ` +
    "(creating again with the same ids is safe)";
  return new TxgridError(ErrorCode.TIMEOUT, message);
}

/**
 * One timer for the calls made in one tick with the same timeout (a closed loop's burst of
 * calls after a batch of answers): arming and clearing a Node timer per call cost about as
 * much as the rest of a small call's bookkeeping. The timer fails whichever of them has not
 * settled when it fires, and is cleared as soon as the last of them settles, so nothing
 * keeps an idle process alive. Every call still times out no earlier than its timeout: the
 * group's timer is armed when its first call is made, and the others join in the same tick.
 */
export class TimeoutGroup {
  #calls: Call[] | null = [];
  #live = 0;
  readonly #timer: NodeJS.Timeout;

  constructor(timeoutMs: number) {
    this.#timer = setTimeout(() => {
      const calls = this.#calls;
      this.#calls = null;
      if (calls === null) return;
      const error = timeoutError(timeoutMs);
      for (const call of calls) call.fail(error);
    }, timeoutMs);
  }

  add(call: Call): void {
    assert(this.#calls !== null, "calls join a group before its timer fires");
    this.#calls.push(call);
    this.#live++;
  }

  /** One of the group's calls settled. */
  release(): void {
    this.#live--;
    if (this.#live > 0) return;
    clearTimeout(this.#timer);
    this.#calls = null;
  }
}

export class Call {
  readonly kind: RequestKind;
  /** The call's operations, normalized; released once they are in frames. */
  items: readonly unknown[] | null;
  readonly operationCount: number;
  /** A single-item convenience: resolves with the one result instead of an array. */
  readonly single: boolean;
  /** When a PING was made, for its round-trip time; 0 for other calls. */
  readonly startedMs: number;
  settled = false;
  readonly #resolve: (value: unknown) => void;
  readonly #reject: (error: unknown) => void;
  readonly #onSettled: () => void;
  #timer: NodeJS.Timeout | null = null;
  #group: TimeoutGroup | null = null;
  #parts: unknown[] | null = null;
  #piecesLeft = 0;

  /** `items` null: the operations are already encoded (a transfer list of operationCount). */
  constructor(
    kind: RequestKind,
    items: readonly unknown[] | null,
    operationCount: number,
    single: boolean,
    settlers: {
      readonly resolve: (value: unknown) => void;
      readonly reject: (error: unknown) => void;
      readonly onSettled: () => void;
    },
  ) {
    this.kind = kind;
    assert(items === null || items.length === operationCount, "a call counts its items");
    this.items = items;
    this.operationCount = operationCount;
    this.single = single;
    this.startedMs = kind === MessageKind.PING ? performance.now() : 0;
    this.#resolve = settlers.resolve;
    this.#reject = settlers.reject;
    this.#onSettled = settlers.onSettled;
  }

  startTimer(timeoutMs: number): void {
    this.#timer = setTimeout(() => this.fail(timeoutError(timeoutMs)), timeoutMs);
  }

  /** Times out with `group` instead of a timer of its own (same timeout, same tick). */
  joinTimeoutGroup(group: TimeoutGroup): void {
    this.#group = group;
    group.add(this);
  }

  addPiece(): void {
    this.#piecesLeft++;
  }

  /** Operations [frameOffset, +count) of a reply are operations [callOffset, +count) here. */
  receive(
    entries: readonly unknown[],
    mapEntry: (entry: unknown) => unknown,
    frameOffset: number,
    callOffset: number,
    count: number,
  ): void {
    if (this.settled) return;
    if (this.single) {
      this.#settle(mapEntry(entries[frameOffset]));
      return;
    }
    this.#parts ??= new Array(this.operationCount);
    for (let index = 0; index < count; index++) {
      this.#parts[callOffset + index] = mapEntry(entries[frameOffset + index]);
    }
    this.#piecesLeft--;
    if (this.#piecesLeft === 0) this.#settle(this.#parts);
  }

  /** Settles with `value` directly (PING, empty calls). */
  complete(value: unknown): void {
    if (!this.settled) this.#settle(value);
  }

  fail(error: TxgridError): void {
    if (this.settled) return;
    this.#finish();
    this.#reject(error);
  }

  #settle(value: unknown): void {
    this.#finish();
    this.#resolve(value);
  }

  #finish(): void {
    this.settled = true;
    this.items = null;
    this.#parts = null;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    const group = this.#group;
    this.#group = null;
    group?.release();
    this.#onSettled();
  }
}

/** Operations [frameOffset, +count) of a frame are operations [callOffset, +count) of call. */
export interface Piece {
  readonly call: Call;
  readonly frameOffset: number;
  readonly callOffset: number;
  readonly count: number;
}

function identity(entry: unknown): unknown {
  return entry;
}

/**
 * One request frame and the pieces of calls it carries: a request to encode, or a
 * CREATE_TRANSFERS body encoded by the caller (TransferListEncoder, already checked).
 */
export class Outgoing {
  readonly kind: RequestKind;
  readonly request: Request | null;
  readonly transferList: Uint8Array | null;
  readonly operationCount: number;
  /** Safe to send again after a disconnect: the server dedupes it by id, or it only reads. */
  readonly retrySafe: boolean;
  readonly #pieces: Piece[] = [];
  /** Set by a transport: the encoded frame and its request id. */
  bytes: Uint8Array | null = null;
  requestId = 0;
  /** Times sent again because a replica was not (or no longer) the primary. */
  primaryRetries = 0;

  /** `transferList`: a CREATE_TRANSFERS body of `operationCount` transfers, owned here. */
  constructor(
    request: Request | null,
    operationCount: number,
    transferList: Uint8Array | null = null,
  ) {
    assert((request === null) !== (transferList === null), "a request or an encoded list");
    this.kind = request?.kind ?? MessageKind.CREATE_TRANSFERS;
    this.request = request;
    this.transferList = transferList;
    this.operationCount = operationCount;
    this.retrySafe = this.kind !== MessageKind.UPDATE_ASSETS;
  }

  addPiece(piece: Piece): void {
    assert(piece.frameOffset + piece.count <= this.operationCount, "a piece lies in its frame");
    this.#pieces.push(piece);
    piece.call.addPiece();
  }

  get live(): boolean {
    for (const piece of this.#pieces) if (!piece.call.settled) return true;
    return false;
  }

  /** Hands every call its slice of `reply` (already checked to match this request). */
  deliver(reply: Reply): void {
    if (reply.kind === MessageKind.ERROR) {
      this.fail(errorOfReply(reply));
      return;
    }
    if (reply.kind === MessageKind.PONG) {
      for (const piece of this.#pieces)
        piece.call.complete(performance.now() - piece.call.startedMs);
      return;
    }
    const entries = replyEntries(reply);
    assert(entries.length === this.operationCount, "a reply has one entry per operation");
    const mapEntry =
      reply.kind === MessageKind.RESULTS ? (outcomeOf as (e: unknown) => unknown) : identity;
    for (const piece of this.#pieces) {
      piece.call.receive(entries, mapEntry, piece.frameOffset, piece.callOffset, piece.count);
    }
  }

  fail(error: TxgridError): void {
    for (const piece of this.#pieces) piece.call.fail(error);
  }
}
