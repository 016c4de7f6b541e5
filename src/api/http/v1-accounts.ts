// /v1 accounts: create (one or a batch), read, list, and an account's transfer history.
// Balances and floors are decimal strings in answers. Creating an account that exists with
// the same fields is an idempotent retry (200, duplicate: true); with other fields it is
// 409 ACCOUNT_EXISTS. Conflicts visible in the applied state (a nickname taken by another
// account, an id that exists with other fields) are answered before anything is logged.
import { Type } from "typebox";
import { type Command, type Engine, ResultCode, type Row } from "../../engine/index.ts";
import type { Shard } from "../../shard/index.ts";
import type { HttpApp } from "./app.ts";
import { badInput, inItem, notFound, refusal } from "./errors.ts";
import { parseSigned } from "./input.ts";
import { liveEngine } from "./live-engine.ts";
import { engineReply, submitBatch } from "./replies.ts";
import {
  AccountBatchBody,
  AccountBody,
  AccountView,
  BatchReply,
  failed,
  HistoryQuery,
  IdParams,
  LIST_PAGE_ROWS_DEFAULT,
  PageQuery,
  success,
  TransferView,
} from "./schemas.ts";
import { accountView, transferView } from "./views.ts";

const tags = ["v1 accounts"];
type AccountCreate = Extract<Command, { kind: "account.create" }>;

export function registerAccountRoutes(app: HttpApp, shard: Shard): void {
  registerAccountWrites(app, shard);
  registerAccountReads(app, liveEngine(shard));
}

function registerAccountWrites(app: HttpApp, shard: Shard): void {
  const engine = liveEngine(shard);
  app.post(
    "/v1/accounts",
    {
      schema: {
        tags,
        summary: "Create an account (idempotent for identical fields)",
        body: AccountBody,
        response: {
          200: success(AccountView),
          201: success(AccountView),
          409: failed(AccountView),
        },
      },
    },
    async (request, reply) => {
      const command = accountCommand(request.body);
      checkAccountConflicts(engine, command);
      const result = await shard.submit(command);
      return engineReply(reply, result, accountView, 201);
    },
  );
  app.post(
    "/v1/accounts/batch",
    {
      schema: {
        tags,
        summary: "Create up to REQUEST_TRANSFERS_MAX accounts; one result per item",
        body: AccountBatchBody,
        response: { 200: BatchReply },
      },
    },
    (request) => {
      const commands = request.body.accounts.map((item, index) =>
        inItem("accounts", index, () => accountCommand(item)),
      );
      return submitBatch(shard, commands);
    },
  );
}

function registerAccountReads(app: HttpApp, engine: Engine): void {
  app.get(
    "/v1/accounts",
    {
      schema: {
        tags,
        summary: "Accounts in creation order, paged",
        querystring: PageQuery,
        response: { 200: success(accountPage) },
      },
    },
    (request) => {
      const { offset = 0, limit = LIST_PAGE_ROWS_DEFAULT } = request.query;
      const accounts = engine.accounts(offset, limit).map(accountView);
      const total = engine.stats().accountCount;
      return { status: "success" as const, data: { accounts, offset, limit, total } };
    },
  );
  app.get(
    "/v1/accounts/:id",
    {
      schema: {
        tags,
        summary: "One account",
        params: IdParams,
        response: { 200: success(AccountView) },
      },
    },
    (request) => ({
      status: "success" as const,
      data: accountView(mustFind(engine, request.params.id)),
    }),
  );
  app.get(
    "/v1/accounts/:id/transfers",
    {
      schema: {
        tags,
        summary: "An account's transfers, newest first; page on with ?before=nextBefore",
        params: IdParams,
        querystring: HistoryQuery,
        response: { 200: success(historyPage) },
      },
    },
    (request) => {
      const id = mustFind(engine, request.params.id).id as string;
      const { limit = LIST_PAGE_ROWS_DEFAULT, before } = request.query;
      const rows = engine.accountTransfers(id, limit, before);
      const last = rows.length === limit ? rows[rows.length - 1] : undefined;
      const nextBefore = last === undefined ? null : Number(last.sequence);
      return {
        status: "success" as const,
        data: { transfers: rows.map(transferView), nextBefore },
      };
    },
  );
}

const accountPage = Type.Object({
  accounts: Type.Array(AccountView),
  offset: Type.Integer(),
  limit: Type.Integer(),
  total: Type.Integer(),
});

const historyPage = Type.Object({
  transfers: Type.Array(TransferView),
  nextBefore: Type.Unsafe<number | null>({ type: ["integer", "null"] }),
});

function mustFind(engine: Engine, id: string): Row {
  const row = engine.account(id);
  if (row === undefined) throw notFound(`no account '${id}'`);
  return row;
}

interface AccountInput {
  readonly id: string;
  readonly balance?: string | number;
  readonly floor?: string | number | null;
  readonly nickname?: string;
}

export function accountCommand(body: AccountInput): AccountCreate {
  const balance = parseSigned(body.balance ?? 0, "balance");
  const floor = body.floor === null ? null : parseSigned(body.floor ?? 0, "floor");
  if (floor !== null && balance < floor) {
    throw badInput(ResultCode.BALANCE_INVALID, "'balance' must not be below 'floor'");
  }
  return { kind: "account.create", id: body.id, balance, floor, nickname: body.nickname ?? null };
}

/** Conflicts the applied state already shows: answered without logging anything. */
function checkAccountConflicts(engine: Engine, command: AccountCreate): void {
  const existing = engine.account(command.id);
  if (existing !== undefined) {
    const same =
      existing.initial === command.balance &&
      existing.floor === command.floor &&
      existing.nickname === command.nickname;
    if (same) return; // an idempotent retry: the engine answers it (200, duplicate)
    throw refusal(ResultCode.ACCOUNT_EXISTS, { data: accountView(existing) });
  }
  if (command.nickname !== null && engine.accountByNickname(command.nickname) !== undefined) {
    throw refusal(ResultCode.NICKNAME_TAKEN);
  }
}
