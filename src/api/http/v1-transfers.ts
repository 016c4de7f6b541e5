// /v1 transfers: create (one or a batch), post or void a pending one, read and list.
//
// Exactly once: a transfer id is the client's idempotency key. A retry of an id with the same
// fields gets the first outcome again (200 duplicate: true for a success; the same 4xx code
// with duplicate: true for a refusal) and nothing is applied twice. The engine pins refusals
// to the id too, which is why GET /v1/transfers/:id finds refused transfers (state "failed").
// What can be judged from the request alone (amount range, equal accounts, a timeout on a
// non-pending transfer) is a 400 before logging, so it is never pinned and changes nothing.
//
// POST /v1/transfers is a hot route (hot-routes.ts, served by the fast path on real sockets):
// one schema check, one submit, one compiled serializer.
import { Type } from "typebox";
import {
  type CommandResult,
  type Engine,
  ResultCode,
  type Row,
  type TransferCreate,
} from "../../engine/index.ts";
import type { Shard } from "../../shard/index.ts";
import { must } from "../../stdx/index.ts";
import type { HttpApp } from "./app.ts";
import { badInput, badRequest, inItem, notFound, refusal } from "./errors.ts";
import { type HotRoute, hotRoute, registerHotRoute, submitOne } from "./hot-routes.ts";
import { parseAmount } from "./input.ts";
import { liveEngine } from "./live-engine.ts";
import { engineAnswer, engineReply, type RouteAnswer, submitBatch } from "./replies.ts";
import {
  BatchReply,
  failed,
  IdParams,
  LIST_PAGE_ROWS_DEFAULT,
  success,
  TransferBatchBody,
  TransferBody,
  TransfersQuery,
  TransferView,
} from "./schemas.ts";
import { isRefusal, newPostedStamp, newPostedTransferView, transferView } from "./views.ts";

const tags = ["v1 transfers"];
const transferReplies = {
  200: success(TransferView),
  201: success(TransferView),
  409: failed(TransferView),
  422: failed(TransferView),
};

/** Registers the /v1 transfer routes; returns the hot one (for the fast path). */
export function registerTransferRoutes(app: HttpApp, shard: Shard): HotRoute[] {
  const hotRoutes = registerTransferWrites(app, shard);
  registerPendingRoutes(app, shard);
  registerTransferReads(app, liveEngine(shard));
  return hotRoutes;
}

function registerTransferWrites(app: HttpApp, shard: Shard): HotRoute[] {
  const create = hotRoute({
    url: "/v1/transfers",
    body: TransferBody,
    response: transferReplies,
    answer: (body, sink) => {
      submitOne(shard, transferCommand(body as TransferInput), sink, (command, results) =>
        transferAnswer(shard.engine, command, results),
      );
    },
  });
  registerHotRoute(app, create, {
    tags,
    summary: "Create a transfer (posted, or pending with an optional timeout)",
  });
  app.post(
    "/v1/transfers/batch",
    {
      schema: {
        tags,
        summary: "Create up to REQUEST_TRANSFERS_MAX transfers in order; one result per item",
        body: TransferBatchBody,
        response: { 200: BatchReply },
      },
    },
    (request) => {
      const commands = request.body.transfers.map((item, index) =>
        inItem("transfers", index, () => transferCommand(item)),
      );
      return submitBatch(shard, commands);
    },
  );
  return [create];
}

function transferAnswer(
  engine: Engine,
  command: TransferCreate,
  results: readonly CommandResult[],
): RouteAnswer {
  const result = must(results[0], "one result per command");
  // A new posted transfer: its row is the command's, stamped (no row built).
  const stamp = newPostedStamp(engine, command, result);
  if (stamp !== undefined) {
    const data = newPostedTransferView(command, stamp);
    return { statusCode: 201, payload: { status: "success", data } };
  }
  return engineAnswer(result, transferView, 201);
}

interface TransferInput {
  readonly id: string;
  readonly debitAccountId: string;
  readonly creditAccountId: string;
  readonly amount: string | number;
  readonly pending?: boolean;
  readonly timeoutMs?: number;
}

export function transferCommand(body: TransferInput): TransferCreate {
  const pending = body.pending === true;
  const timeoutMs = body.timeoutMs ?? 0;
  if (!pending && timeoutMs !== 0) {
    throw badInput(ResultCode.TIMEOUT_INVALID, "'timeoutMs' is only for pending transfers");
  }
  if (body.debitAccountId === body.creditAccountId) {
    throw badInput(ResultCode.ACCOUNTS_MUST_BE_DIFFERENT, "the accounts must differ");
  }
  return {
    kind: "transfer.create",
    id: body.id,
    debitId: body.debitAccountId,
    creditId: body.creditAccountId,
    amount: parseAmount(body.amount, "amount"),
    pending,
    timeoutMs,
    origin: "api",
  };
}

function registerPendingRoutes(app: HttpApp, shard: Shard): void {
  for (const action of ["post", "void"] as const) {
    app.post(
      `/v1/transfers/:id/${action}`,
      {
        schema: {
          tags,
          summary: `${action === "post" ? "Post" : "Void"} a pending transfer`,
          params: IdParams,
          response: {
            200: success(TransferView),
            409: failed(TransferView),
            422: failed(TransferView),
          },
        },
      },
      async (request, reply) => {
        const id = request.params.id;
        checkPending(shard.engine, id);
        const kind = action === "post" ? "transfer.post" : "transfer.void";
        const result = await shard.submit({ kind, pendingId: id });
        return engineReply(reply, result, transferView, 200);
      },
    );
  }
}

/** A missing or never-pending transfer stays so: refused without logging anything. */
function checkPending(engine: Engine, id: string): void {
  const row = engine.transfer(id);
  if (row === undefined || isRefusal(row)) throw refusal(ResultCode.PENDING_NOT_FOUND);
  if (row.pending !== true) throw refusal(ResultCode.NOT_PENDING, { data: transferView(row) });
}

function registerTransferReads(app: HttpApp, engine: Engine): void {
  app.get(
    "/v1/transfers/:id",
    {
      schema: {
        tags,
        summary: "One transfer, or the stored refusal of one (state failed)",
        params: IdParams,
        response: { 200: success(TransferView) },
      },
    },
    (request) => {
      const row = engine.transfer(request.params.id);
      if (row === undefined) throw notFound(`no transfer '${request.params.id}'`);
      return { status: "success" as const, data: transferView(row) };
    },
  );
  app.get(
    "/v1/transfers",
    {
      schema: {
        tags,
        summary: "Transfers in creation order, paged; ?state=pending lists open pending ones",
        querystring: TransfersQuery,
        response: { 200: success(transferPage) },
      },
    },
    (request) => {
      const { offset = 0, limit = LIST_PAGE_ROWS_DEFAULT, state } = request.query;
      if (state === "pending" && offset !== 0) {
        throw badRequest("'offset' is not supported with state=pending");
      }
      const stats = engine.stats();
      const rows: Row[] =
        state === "pending" ? engine.pendingTransfers(limit) : engine.transfers(offset, limit);
      const total = state === "pending" ? stats.pendingCount : stats.transferCount;
      const transfers = rows.map(transferView);
      return { status: "success" as const, data: { transfers, offset, limit, total } };
    },
  );
}

const transferPage = Type.Object({
  transfers: Type.Array(TransferView),
  offset: Type.Integer(),
  limit: Type.Integer(),
  total: Type.Integer(),
});
