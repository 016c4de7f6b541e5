// The binary faces' executor: a decoded protocol request in, its reply out. Both the TCP
// server (src/server/tcp-server.ts) and embedded mode (src/embedded) go through here, so a
// request means exactly the same thing over the network and in-process.
//
//   write request ──► one engine Command per operation ──► shard.submitMany (all or none
//                     admitted: a full queue refuses the whole request with OVERLOADED)
//                 ──► RESULTS, one OperationResult per operation, in request order
//   read request  ──► answered from the applied state (no log), synchronously
//   CREATE_TRANSFERS body (TCP, embedded) ──► checked in place (checkTransferList) and
//                     submitted as ONE engine transfer.list whose records are the body's own
//                     bytes (transferListCommands): no string, BigInt or object per transfer
//                     here, in the log or in the engine ──► the same submitMany; RESULTS from
//                     the list's result codes (one byte per transfer)
//
// Guarantees: a write request becomes exactly one submitMany call (one frame, one
// admission decision); operation i of the request is command i and result i. A refusal
// (OVERLOADED, SHUTTING_DOWN, STORAGE) rejects the returned promise with that TxgridError
// and nothing of the request was executed. No await per operation: one promise per request
// (none on the TCP connection's CREATE_TRANSFERS path: submitTransferCommandsWith's callbacks).
import type { Command, CommandResult, Engine, LogCommand } from "../engine/index.ts";
import {
  type AccountsReply,
  type AssetsReply,
  type CreateAccountsRequest,
  type CreateAssetsRequest,
  type CreateTransfersRequest,
  checkTransferList,
  LIST_HEADER_BYTES,
  type LookupAccountsRequest,
  type LookupAssetsRequest,
  type LookupTransfersRequest,
  MessageKind,
  type OperationResult,
  type PingRequest,
  type PongReply,
  type PostTransfersRequest,
  type Request,
  type ResultsReply,
  type TransfersReply,
  type UpdateAssetsRequest,
  type VoidTransfersRequest,
} from "../protocol/index.ts";
import type { Shard } from "../shard/index.ts";
import { unreachable } from "../stdx/index.ts";
import {
  accountRecord,
  assetRecord,
  listOperationResult,
  operationResult,
  transferRecord,
} from "./records.ts";

/** Requests that go through the log: answered by RESULTS. */
export type WriteRequest =
  | CreateAccountsRequest
  | CreateTransfersRequest
  | PostTransfersRequest
  | VoidTransfersRequest
  | CreateAssetsRequest
  | UpdateAssetsRequest;

/** Requests answered from the applied state, without the log. */
export type ReadRequest =
  | PingRequest
  | LookupAccountsRequest
  | LookupTransfersRequest
  | LookupAssetsRequest;

export type ReadReply = PongReply | AccountsReply | TransfersReply | AssetsReply;

export function isWriteRequest(request: Request): request is WriteRequest {
  switch (request.kind) {
    case MessageKind.CREATE_ACCOUNTS:
    case MessageKind.CREATE_TRANSFERS:
    case MessageKind.POST_TRANSFERS:
    case MessageKind.VOID_TRANSFERS:
    case MessageKind.CREATE_ASSETS:
    case MessageKind.UPDATE_ASSETS:
      return true;
    default:
      return false;
  }
}

/**
 * The commands of a CREATE_TRANSFERS body: one transfer.list over the body's records, which
 * must stay unchanged until the list is applied (frame bodies are never reused). Throws the
 * protocol's decoding errors, as decoding the request would.
 */
export function transferListCommands(body: Uint8Array): LogCommand[] {
  const count = checkTransferList(body);
  if (count === 0) return [];
  return [{ kind: "transfer.list", count, records: body.subarray(LIST_HEADER_BYTES) }];
}

/** The engine command of every operation of `request`, in order. */
export function requestCommands(request: WriteRequest): Command[] {
  switch (request.kind) {
    case MessageKind.CREATE_ACCOUNTS:
      return request.accounts.map((account) => ({
        kind: "account.create",
        id: account.id,
        balance: account.balance,
        floor: account.floor,
        nickname: account.nickname,
      }));
    case MessageKind.CREATE_TRANSFERS:
      return request.transfers.map((transfer) => ({
        kind: "transfer.create",
        id: transfer.id,
        debitId: transfer.debitId,
        creditId: transfer.creditId,
        amount: transfer.amount,
        pending: transfer.pending,
        timeoutMs: transfer.timeoutMs,
        origin: "api",
      }));
    case MessageKind.POST_TRANSFERS:
      return request.ids.map((pendingId) => ({ kind: "transfer.post", pendingId }));
    case MessageKind.VOID_TRANSFERS:
      return request.ids.map((pendingId) => ({ kind: "transfer.void", pendingId }));
    case MessageKind.CREATE_ASSETS:
      return request.assets.map((asset) => ({
        kind: "asset.create",
        id: asset.id,
        value: asset.value,
      }));
    case MessageKind.UPDATE_ASSETS:
      return request.updates.map((update) => ({
        kind: "asset.update",
        id: update.id,
        delta: update.delta,
      }));
    default:
      return unreachable(request);
  }
}

/** The RESULTS of a write request, from the engine's results of its commands. */
export function resultsReply(request: WriteRequest, results: readonly CommandResult[]) {
  const withValue =
    request.kind === MessageKind.CREATE_ASSETS || request.kind === MessageKind.UPDATE_ASSETS;
  return resultsOf(results, withValue);
}

/**
 * RESULTS; `withValue` for assets (each result carries the row's value after it). A
 * transfer.list's result stands for its transfers: one operation result per code.
 */
function resultsOf(results: readonly CommandResult[], withValue: boolean) {
  let count = 0;
  for (const result of results) count += result.transferCodes?.length ?? 1;
  const replyResults: OperationResult[] = new Array(count);
  let at = 0;
  for (let index = 0; index < results.length; index++) {
    const result = results[index] as CommandResult;
    const codes = result.transferCodes;
    if (codes === undefined) replyResults[at++] = operationResult(result, withValue);
    else
      for (let code = 0; code < codes.length; code++) {
        replyResults[at++] = listOperationResult(codes[code] as number);
      }
  }
  return { kind: MessageKind.RESULTS, results: replyResults } satisfies ResultsReply;
}

/** Logs, applies and answers a write request; rejects with the shard's refusal. */
export function submitWrite(shard: Shard, request: WriteRequest): Promise<ResultsReply> {
  return shard
    .submitMany(requestCommands(request))
    .then((results) => resultsReply(request, results));
}

/** Logs, applies and answers the commands of a CREATE_TRANSFERS (transferListCommands). */
export function submitTransferCommands(
  shard: Shard,
  commands: readonly LogCommand[],
): Promise<ResultsReply> {
  return shard.submitMany(commands).then((results) => resultsOf(results, false));
}

/**
 * submitTransferCommands with callbacks (Shard.submitWith), for the TCP connection: no promise
 * between the shard's answer and the reply's encoding. One of them is called, once, and never
 * during this call.
 */
export function submitTransferCommandsWith(
  shard: Shard,
  commands: readonly LogCommand[],
  onReply: (reply: ResultsReply) => void,
  onRefusal: (error: unknown) => void,
): void {
  shard.submitWith(commands, (results) => onReply(resultsOf(results, false)), onRefusal);
}

/** Like submitTransferCommands on the body's commands; a malformed body rejects (DECODE). */
export function submitTransferList(shard: Shard, body: Uint8Array): Promise<ResultsReply> {
  let commands: LogCommand[];
  try {
    commands = transferListCommands(body);
  } catch (error) {
    return Promise.reject(error);
  }
  return submitTransferCommands(shard, commands);
}

/** Answers a read request from the engine's applied state. */
export function answerRead(engine: Engine, request: ReadRequest): ReadReply {
  switch (request.kind) {
    case MessageKind.PING:
      return { kind: MessageKind.PONG };
    case MessageKind.LOOKUP_ACCOUNTS:
      return {
        kind: MessageKind.ACCOUNTS,
        accounts: request.ids.map((id) => {
          const row = engine.account(id);
          return row === undefined ? null : accountRecord(row);
        }),
      };
    case MessageKind.LOOKUP_TRANSFERS:
      return {
        kind: MessageKind.TRANSFERS,
        transfers: request.ids.map((id) => {
          const row = engine.transfer(id);
          return row === undefined ? null : transferRecord(row);
        }),
      };
    case MessageKind.LOOKUP_ASSETS:
      return {
        kind: MessageKind.ASSETS,
        assets: request.ids.map((id) => {
          const row = engine.asset(id);
          return row === undefined ? null : assetRecord(row);
        }),
      };
    default:
      return unreachable(request);
  }
}
