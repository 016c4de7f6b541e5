// TiMPE's REST face (seeds-spec 1.4), served under both spellings its README and its code
// use: POST /users and /users/register, POST /process and /transactions/process.
//
// Phase 1 (POST /transactions) is a durable pending transfer (origin "timpe", no timeout): the
// amount is reserved in the same engine transaction that records it, so concurrent transfers
// can never overdraw (TiMPE's check-then-insert could). Phase 2 (POST /transactions/process)
// posts every pending TiMPE transfer in one logged command. /transactions/immediately does
// both phases for one transfer as one posted transfer.
//
// What TiMPE refused with 400 (unknown sender or recipient, insufficient balance) is checked
// against the applied state before anything is logged, so such a request changes nothing;
// the engine still decides for the requests that pass (a race then gives the same 400).
import { createHash } from "node:crypto";
import { Type } from "typebox";
import { ID_BYTES_MAX, LIST_PAGE_ROWS_MAX } from "../../constants.ts";
import {
  type CommandResult,
  type Engine,
  ResultCode,
  resultName,
  type TransferCreate,
} from "../../engine/index.ts";
import type { Shard } from "../../shard/index.ts";
import { must } from "../../stdx/index.ts";
import type { HttpApp } from "./app.ts";
import { badInput, HttpError, notFound, resultMessage } from "./errors.ts";
import {
  type AnswerSink,
  type HotRoute,
  hotRoute,
  registerHotRoute,
  submitOne,
} from "./hot-routes.ts";
import { parseTimpeAmount } from "./input.ts";
import { liveEngine } from "./live-engine.ts";
import { randomUuid } from "./random-uuid.ts";
import type { RouteAnswer } from "./replies.ts";
import {
  PageQuery,
  success,
  TimpeProcessReply,
  TimpeRegisterBody,
  TimpeTransaction,
  TimpeTransferBody,
  TimpeUser,
} from "./schemas.ts";
import {
  newPostedStamp,
  newPostedTimpeTransactionView,
  type TimpeTransactionJson,
  type TimpeUserJson,
  timpeState,
  timpeTransactionView,
  timpeUserView,
} from "./views.ts";

const tags = ["timpe"];
const UserParams = Type.Object({ id: Type.String({ maxLength: ID_BYTES_MAX }) });

/** TiMPE's user id: lowercase hex SHA-1 of "salt" + nickname (its code salts; its README not). */
export function timpeUserId(nickname: string): string {
  return createHash("sha1").update(`salt${nickname}`, "utf8").digest("hex");
}

/** Registers every TiMPE route; returns the hot ones (for the fast path). */
export function registerTimpeRoutes(app: HttpApp, shard: Shard): HotRoute[] {
  registerUserRoutes(app, shard);
  const hotRoutes = registerTransactionRoutes(app, shard);
  const processSchema = {
    tags,
    summary: "Phase 2: finish every pending TiMPE transaction",
    response: { 200: TimpeProcessReply },
  };
  const processAll = () => processTimpe(shard);
  app.post("/transactions/process", { schema: processSchema }, processAll);
  app.post(
    "/process",
    { schema: { ...processSchema, summary: "Same as /transactions/process" } },
    processAll,
  );
  app.get(
    "/probe_status",
    { schema: { tags, summary: "Health check: text/plain OK" } },
    (_request, reply) => {
      reply.type("text/plain").send("OK");
    },
  );
  return hotRoutes;
}

function registerUserRoutes(app: HttpApp, shard: Shard): void {
  const engine = liveEngine(shard);
  app.get(
    "/users",
    {
      schema: {
        tags,
        summary: "Users (accounts with a nickname), sorted by nickname",
        querystring: PageQuery,
        response: { 200: success(Type.Object({ users: Type.Array(TimpeUser) })) },
      },
    },
    (request) => {
      const { offset = 0, limit = LIST_PAGE_ROWS_MAX } = request.query;
      return { status: "success" as const, data: { users: timpeUsers(engine, offset, limit) } };
    },
  );
  app.get(
    "/users/:id",
    {
      schema: {
        tags,
        summary: "One user (any account) by id",
        params: UserParams,
        response: { 200: success(Type.Object({ user: TimpeUser })) },
      },
    },
    (request) => {
      const row = engine.account(request.params.id);
      if (row === undefined) throw notFound(`unknown user '${request.params.id}'`);
      return { status: "success" as const, data: { user: timpeUserView(row) } };
    },
  );
  const registerSchema = {
    tags,
    summary: "Register a user; its id is sha1('salt' + nickname)",
    body: TimpeRegisterBody,
    response: { 200: success(TimpeUser) },
  };
  app.post("/users/register", { schema: registerSchema }, (request) =>
    registerUser(shard, request.body.nickname, request.body.balance),
  );
  app.post(
    "/users",
    { schema: { ...registerSchema, summary: "Same as /users/register" } },
    (request) => registerUser(shard, request.body.nickname, request.body.balance),
  );
}

function timpeUsers(engine: Engine, offset: number, limit: number): TimpeUserJson[] {
  const rows = [];
  const accountCount = engine.stats().accountCount;
  for (let from = 0; from < accountCount; from += LIST_PAGE_ROWS_MAX) {
    for (const row of engine.accounts(from, LIST_PAGE_ROWS_MAX)) {
      if (typeof row.nickname === "string") rows.push(row);
    }
  }
  rows.sort((left, right) => compareText(left.nickname as string, right.nickname as string));
  return rows.slice(offset, offset + limit).map(timpeUserView);
}

function compareText(left: string, right: string): number {
  return left < right ? -1 : left > right ? 1 : 0;
}

async function registerUser(shard: Shard, nickname: string, balanceNumber: number | undefined) {
  const balanceValue = balanceNumber ?? 0;
  if (!Number.isSafeInteger(balanceValue) || balanceValue < 0) {
    throw badInput(ResultCode.BALANCE_INVALID, "'balance' must be an integer >= 0 and <= 2^53-1.");
  }
  const taken = () =>
    new HttpError(400, resultName(ResultCode.NICKNAME_TAKEN), `user '${nickname}' exists already`);
  if (shard.engine.accountByNickname(nickname) !== undefined) throw taken();
  const id = timpeUserId(nickname);
  const balance = BigInt(balanceValue);
  const result = await shard.submit({
    kind: "account.create",
    id,
    balance,
    floor: 0n,
    nickname,
  });
  // TiMPE answers a second registration of a nickname with 400, whatever the balance.
  if (result.duplicate === true || result.code === ResultCode.NICKNAME_TAKEN) throw taken();
  if (result.code !== ResultCode.OK) {
    throw new HttpError(400, resultName(result.code), resultMessage(result.code));
  }
  return { status: "success" as const, data: { id, nickname, balance } };
}

function registerTransactionRoutes(app: HttpApp, shard: Shard): HotRoute[] {
  const engine = liveEngine(shard);
  const phases = [
    { url: "/transactions", pending: true, summary: "Phase 1: record a transfer durably" },
    { url: "/transactions/immediately", pending: false, summary: "Both phases for one transfer" },
  ];
  const routes: HotRoute[] = [];
  for (const { url, pending, summary } of phases) {
    const route = hotRoute({
      url,
      body: TimpeTransferBody,
      response: timpeTransferReplies,
      answer: (body, sink) => createTimpeTransfer(shard, body as TimpeTransfer, pending, sink),
    });
    registerHotRoute(app, route, { tags, summary });
    routes.push(route);
  }
  app.get(
    "/transactions",
    {
      schema: {
        tags,
        summary: "Transactions in the order they were recorded",
        querystring: PageQuery,
        response: { 200: success(Type.Array(TimpeTransaction)) },
      },
    },
    (request) => {
      const { offset = 0, limit = LIST_PAGE_ROWS_MAX } = request.query;
      const rows = engine.transfers(offset, limit);
      return { status: "success" as const, data: rows.map(timpeTransactionView) };
    },
  );
  return routes;
}

const timpeTransferReplies = { 200: success(TimpeTransaction) };

interface TimpeTransfer {
  readonly sender: string;
  readonly recipient: string;
  readonly amount: number;
  readonly id?: string;
}

/** Throws a refusal synchronously; otherwise answers `sink` once the transfer is applied. */
function createTimpeTransfer(
  shard: Shard,
  body: TimpeTransfer,
  pending: boolean,
  sink: AnswerSink,
): void {
  const amount = parseTimpeAmount(body.amount);
  const id = body.id ?? randomUuid();
  // A client id seen before goes straight to the engine, which answers with its first outcome.
  if (body.id === undefined || shard.engine.transfer(id) === undefined) {
    checkTimpeTransfer(shard.engine, body.sender, body.recipient, amount);
  }
  const command: TransferCreate = {
    kind: "transfer.create",
    id,
    debitId: body.sender,
    creditId: body.recipient,
    amount,
    pending,
    timeoutMs: 0,
    origin: "timpe",
  };
  submitOne(shard, command, sink, (submitted, results) =>
    timpeTransferAnswer(shard.engine, submitted, results),
  );
}

function timpeTransferAnswer(
  engine: Engine,
  command: TransferCreate,
  results: readonly CommandResult[],
): RouteAnswer {
  const result = must(results[0], "one result per command");
  if (result.code !== ResultCode.OK) throw timpeRefusal(result.code);
  // A new posted transfer: its row is the command's, stamped (no row built).
  const stamp = newPostedStamp(engine, command, result);
  if (stamp !== undefined) {
    const data = newPostedTimpeTransactionView(command, stamp);
    return { statusCode: 200, payload: { status: "success", data } };
  }
  const data: TimpeTransactionJson = timpeTransactionView(
    must(result.row, "an applied transfer has its row"),
  );
  if (result.duplicate === true) {
    return { statusCode: 200, payload: { status: "success", duplicate: true, data } };
  }
  return { statusCode: 200, payload: { status: "success", data } };
}

/**
 * TiMPE's phase-1 checks, on the applied state (a refusal here logs nothing). It reads what
 * it needs of the two accounts (existence, available - floor), never their whole rows.
 */
function checkTimpeTransfer(engine: Engine, sender: string, recipient: string, amount: bigint) {
  const headroom = engine.accountHeadroom(sender);
  if (headroom === undefined) throw timpeRefusal(ResultCode.DEBIT_ACCOUNT_NOT_FOUND);
  if (!engine.hasAccount(recipient)) throw timpeRefusal(ResultCode.CREDIT_ACCOUNT_NOT_FOUND);
  if (sender === recipient) throw timpeRefusal(ResultCode.ACCOUNTS_MUST_BE_DIFFERENT);
  // available - amount < floor, as the engine's floor check reads it.
  if (headroom !== null && amount > headroom) throw timpeRefusal(ResultCode.INSUFFICIENT_FUNDS);
}

const timpeMessages: Partial<Record<ResultCode, string>> = {
  [ResultCode.DEBIT_ACCOUNT_NOT_FOUND]: "unknown 'sender'",
  [ResultCode.CREDIT_ACCOUNT_NOT_FOUND]: "unknown 'recipient'",
  [ResultCode.INSUFFICIENT_FUNDS]: "sender balance is insufficient",
  [ResultCode.ACCOUNTS_MUST_BE_DIFFERENT]: "'sender' and 'recipient' must differ",
};

/** TiMPE refused every phase-1 failure with 400; a reused id with other fields is a 409. */
function timpeRefusal(code: ResultCode): HttpError {
  const statusCode = code === ResultCode.TRANSFER_EXISTS ? 409 : 400;
  const message =
    timpeMessages[code] ?? `could not add the new transaction: ${resultMessage(code)}`;
  return new HttpError(statusCode, resultName(code), message);
}

async function processTimpe(shard: Shard) {
  const result = await shard.submit({ kind: "timpe.process" });
  const processed = result.processed ?? [];
  const failures = [];
  for (const { id, code } of processed) {
    if (code === ResultCode.OK) continue;
    const row = shard.engine.transfer(id) ?? {};
    failures.push({
      transaction: {
        id,
        sender: String(row.debit),
        recipient: String(row.credit),
        amount: row.amount as bigint,
        state: timpeState(String(row.state)),
      },
      code: resultName(code),
      reason: resultMessage(code),
    });
  }
  return {
    status: failures.length === 0 ? ("success" as const) : ("failed" as const),
    msg: "processed all transactions",
    failed_transactions: failures,
    data: { processedCount: processed.length },
  };
}
