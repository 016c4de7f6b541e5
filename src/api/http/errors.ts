// The HTTP error registry: the one place that decides which HTTP status and which
// machine-readable code a failure gets. Every failed answer of the API has the envelope
// { status: "failed", code, msg } (plus route-specific fields), where `code` is either an
// engine result name (engine/results.ts, e.g. "INSUFFICIENT_FUNDS") or a control-plane error
// code (stdx/errors.ts, e.g. "TXG_ERR_BAD_REQUEST"). Guarantees: a client error (malformed
// JSON, wrong content type, schema violation, an oversized body) is a 4xx, never a 500; only
// an exception nobody expected becomes 500 TXG_ERR_INTERNAL.
import { ResultCode, resultName } from "../../engine/index.ts";
import { AssertionFailure, ErrorCode, isTxgridError } from "../../stdx/index.ts";

/** An exception nobody expected. */
export const INTERNAL_ERROR_CODE = ErrorCode.INTERNAL;

/** Seconds a client should wait before retrying after OVERLOADED or SHUTTING_DOWN. */
export const RETRY_AFTER_SECONDS = 1;

export interface FailedBody {
  readonly status: "failed";
  readonly code: string;
  readonly msg: string;
}

/** A failure raised by a route handler; the error handler turns it into the envelope. */
export class HttpError extends Error {
  override readonly name = "HttpError";
  readonly statusCode: number;
  readonly code: string;
  /** Extra fields merged into the failed envelope (already JSON-safe: no bigints). */
  readonly extra: Readonly<Record<string, unknown>> | null;

  constructor(
    statusCode: number,
    code: string,
    message: string,
    extra: Readonly<Record<string, unknown>> | null = null,
  ) {
    super(message);
    this.statusCode = statusCode;
    this.code = code;
    this.extra = extra;
  }
}

export function badRequest(message: string, code: string = ErrorCode.BAD_REQUEST): HttpError {
  return new HttpError(400, code, message);
}

export function notFound(message: string): HttpError {
  return new HttpError(404, ErrorCode.NOT_FOUND, message);
}

/** A bad request named after the engine's result code for it (e.g. AMOUNT_INVALID). */
export function badInput(code: ResultCode, message: string): HttpError {
  return new HttpError(400, resultName(code), message);
}

/** A refusal named by its engine result code, with the registry's status and message. */
export function refusal(
  code: ResultCode,
  extra: Readonly<Record<string, unknown>> | null = null,
  message: string = resultMessage(code),
): HttpError {
  return new HttpError(resultStatus(code), resultName(code), message, extra);
}

/** Runs `build` for item `index` of a batch, naming the item in any error it raises. */
export function inItem<T>(list: string, index: number, build: () => T): T {
  try {
    return build();
  } catch (error) {
    if (!(error instanceof HttpError)) throw error;
    const message = `${list}[${index}]: ${error.message}`;
    throw new HttpError(error.statusCode, error.code, message, error.extra);
  }
}

// 400: the request itself is wrong (found by the API before logging, or by the engine).
// 403: writes to the ledger's own tables.  404: the resource named in the path is missing.
// 409: the id exists with other fields.  422: the engine's rules refused a well-formed
// command (the refusal of a transfer is pinned to its id: a retry gets it again).
const resultStatuses: Readonly<Record<ResultCode, number>> = {
  [ResultCode.OK]: 200,
  [ResultCode.ID_INVALID]: 400,
  [ResultCode.AMOUNT_INVALID]: 400,
  [ResultCode.ACCOUNT_EXISTS]: 409,
  [ResultCode.NICKNAME_TAKEN]: 409,
  [ResultCode.DEBIT_ACCOUNT_NOT_FOUND]: 422,
  [ResultCode.CREDIT_ACCOUNT_NOT_FOUND]: 422,
  [ResultCode.ACCOUNTS_MUST_BE_DIFFERENT]: 400,
  [ResultCode.INSUFFICIENT_FUNDS]: 422,
  [ResultCode.OVERFLOW]: 422,
  [ResultCode.TRANSFER_EXISTS]: 409,
  [ResultCode.TIMEOUT_INVALID]: 400,
  [ResultCode.PENDING_NOT_FOUND]: 404,
  [ResultCode.NOT_PENDING]: 422,
  [ResultCode.PENDING_ALREADY_POSTED]: 409,
  [ResultCode.PENDING_ALREADY_VOIDED]: 409,
  [ResultCode.PENDING_EXPIRED]: 409,
  [ResultCode.PENDING_LIMIT_REACHED]: 422,
  [ResultCode.ASSET_EXISTS]: 409,
  [ResultCode.ASSET_NOT_FOUND]: 404,
  [ResultCode.TABLE_EXISTS]: 409,
  [ResultCode.TABLE_NOT_FOUND]: 404,
  [ResultCode.TABLE_RESERVED]: 403,
  [ResultCode.ROW_EXISTS]: 422,
  [ResultCode.ROW_NOT_FOUND]: 422,
  [ResultCode.CONDITION_FAILED]: 422,
  [ResultCode.FLOOR_VIOLATED]: 422,
  [ResultCode.NOT_A_NUMBER]: 422,
  [ResultCode.TXN_INVALID]: 400,
  [ResultCode.BALANCE_INVALID]: 400,
};

const resultMessages: Readonly<Record<ResultCode, string>> = {
  [ResultCode.OK]: "ok",
  [ResultCode.ID_INVALID]: "an id is empty, too long or has characters outside [A-Za-z0-9._:-]",
  [ResultCode.AMOUNT_INVALID]: "the amount must be an integer > 0 and <= 2^63-1",
  [ResultCode.ACCOUNT_EXISTS]: "the account exists with different fields",
  [ResultCode.NICKNAME_TAKEN]: "another account has this nickname",
  [ResultCode.DEBIT_ACCOUNT_NOT_FOUND]: "the debit account does not exist",
  [ResultCode.CREDIT_ACCOUNT_NOT_FOUND]: "the credit account does not exist",
  [ResultCode.ACCOUNTS_MUST_BE_DIFFERENT]: "the debit and credit accounts must differ",
  [ResultCode.INSUFFICIENT_FUNDS]: "the debit account's available balance is insufficient",
  [ResultCode.OVERFLOW]: "a balance or value would leave the signed 64-bit range",
  [ResultCode.TRANSFER_EXISTS]: "the transfer id exists with different fields",
  [ResultCode.TIMEOUT_INVALID]: "the timeout is out of range or set on a non-pending transfer",
  [ResultCode.PENDING_NOT_FOUND]: "no pending transfer has this id",
  [ResultCode.NOT_PENDING]: "the transfer was never pending",
  [ResultCode.PENDING_ALREADY_POSTED]: "the pending transfer was posted already",
  [ResultCode.PENDING_ALREADY_VOIDED]: "the pending transfer was voided already",
  [ResultCode.PENDING_EXPIRED]: "the pending transfer expired",
  [ResultCode.PENDING_LIMIT_REACHED]: "too many pending transfers are open",
  [ResultCode.ASSET_EXISTS]: "the asset exists already",
  [ResultCode.ASSET_NOT_FOUND]: "the asset does not exist",
  [ResultCode.TABLE_EXISTS]: "the table exists already",
  [ResultCode.TABLE_NOT_FOUND]: "the table does not exist",
  [ResultCode.TABLE_RESERVED]: "the ledger's own tables are read-only here",
  [ResultCode.ROW_EXISTS]: "the row exists already",
  [ResultCode.ROW_NOT_FOUND]: "the row does not exist",
  [ResultCode.CONDITION_FAILED]: "a condition does not hold",
  [ResultCode.FLOOR_VIOLATED]: "a column would go below its floor",
  [ResultCode.NOT_A_NUMBER]: "an increment names a column that is not an integer",
  [ResultCode.TXN_INVALID]: "the transaction breaks a structural rule",
  [ResultCode.BALANCE_INVALID]: "the initial balance is below the account's floor",
};

export function resultStatus(code: ResultCode): number {
  return resultStatuses[code];
}

export function resultMessage(code: ResultCode): string {
  return resultMessages[code];
}

const errorStatuses: Readonly<Record<ErrorCode, number>> = {
  [ErrorCode.BAD_REQUEST]: 400,
  [ErrorCode.LIMIT_EXCEEDED]: 413,
  [ErrorCode.OVERLOADED]: 503,
  [ErrorCode.SHUTTING_DOWN]: 503,
  [ErrorCode.STORAGE]: 503,
  [ErrorCode.CORRUPT]: 500,
  [ErrorCode.VERSION]: 500,
  [ErrorCode.DECODE]: 400,
  [ErrorCode.NOT_FOUND]: 404,
  [ErrorCode.TIMEOUT]: 504,
  [ErrorCode.LOCKED]: 500,
  [ErrorCode.UNAVAILABLE]: 503,
  [ErrorCode.CONNECTION_LOST]: 502,
  [ErrorCode.NOT_PRIMARY]: 503,
  [ErrorCode.INTERNAL]: 500,
};

export interface Translated {
  readonly statusCode: number;
  readonly body: FailedBody & Readonly<Record<string, unknown>>;
  /** Set for failures that a later retry can overcome (503 OVERLOADED, SHUTTING_DOWN). */
  readonly retryAfterSeconds: number | null;
  /** True when nobody expected this error: it is worth a log line. */
  readonly unexpected: boolean;
}

/** Maps anything a route may throw to its status and envelope. */
export function translateError(error: unknown): Translated {
  if (error instanceof HttpError) {
    const body = { status: "failed", code: error.code, msg: error.message, ...error.extra };
    return translated(error.statusCode, body as Translated["body"]);
  }
  if (isTxgridError(error)) {
    const statusCode = errorStatuses[error.code];
    const retry = error.code === ErrorCode.OVERLOADED || error.code === ErrorCode.SHUTTING_DOWN;
    // A standby names the primary's REST face in its refusal (replication/replica.ts): the
    // client resends the same request (same ids: safe) to `primaryUrl`. Nothing was executed.
    const primaryUrl =
      error.code === ErrorCode.NOT_PRIMARY
        ? (/\bhttp:\/\/[^\s,;)]+/.exec(error.message)?.[0] ?? null)
        : null;
    return {
      statusCode,
      body: {
        status: "failed",
        code: error.code,
        msg: error.message,
        ...(primaryUrl === null ? {} : { primaryUrl }),
      },
      retryAfterSeconds: retry ? RETRY_AFTER_SECONDS : null,
      unexpected: statusCode >= 500 && !retry,
    };
  }
  const client = clientErrorOf(error);
  if (client !== null) return client;
  return {
    statusCode: 500,
    body: { status: "failed", code: INTERNAL_ERROR_CODE, msg: "internal error" },
    retryAfterSeconds: null,
    unexpected: true,
  };
}

/**
 * What every failed answer does besides its status and body, on both the fastify path and the
 * fast path: log an unexpected error, and crash soon after answering an AssertionFailure (a
 * programmer error is never swallowed; docs/STYLE.md).
 */
export function handleFailure(
  error: unknown,
  log: { error(object: object, message: string): void },
): Translated {
  const failure = translateError(error);
  if (failure.unexpected) log.error({ err: error }, "request failed");
  if (error instanceof AssertionFailure) {
    setImmediate(() => {
      throw error;
    });
  }
  return failure;
}

function translated(statusCode: number, body: Translated["body"]): Translated {
  return { statusCode, body, retryAfterSeconds: null, unexpected: false };
}

interface FrameworkError {
  readonly statusCode?: unknown;
  readonly code?: unknown;
  readonly message?: unknown;
  readonly validation?: unknown;
  readonly validationContext?: unknown;
}

/**
 * Fastify's own client errors (FST_ERR_*: malformed JSON, empty JSON body, unsupported media
 * type, body too large, schema validation, a bad URL) and the JSON parser's prototype
 * poisoning refusal: all carry a 4xx statusCode. They become our codes; none leaks as 500.
 */
function clientErrorOf(error: unknown): Translated | null {
  if (typeof error !== "object" || error === null) return null;
  const { statusCode, code } = error as FrameworkError;
  if (typeof statusCode !== "number" || statusCode < 400 || statusCode > 499) return null;
  if (statusCode === 413) {
    return translated(413, failedBody(ErrorCode.LIMIT_EXCEEDED, "the request body is too large"));
  }
  if (statusCode === 404) return translated(404, failedBody(ErrorCode.NOT_FOUND, "not found"));
  const validation = validationFailure(error as FrameworkError);
  if (validation !== null) return validation;
  const message = describeClientError(code, (error as FrameworkError).message);
  return translated(400, failedBody(ErrorCode.BAD_REQUEST, message));
}

function describeClientError(code: unknown, message: unknown): string {
  switch (code) {
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return "unsupported content type: send application/json";
    case "FST_ERR_CTP_INVALID_JSON_BODY":
      return "the body is not valid JSON";
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return "the body is empty but the content type is application/json";
    default:
      return typeof message === "string" ? message : "bad request";
  }
}

interface ValidationIssue {
  readonly keyword?: unknown;
  readonly schemaPath?: unknown;
  readonly instancePath?: unknown;
  readonly message?: unknown;
  readonly params?: { readonly additionalProperties?: unknown };
}

/** A schema violation: 400, except a list over its named limit (413 LIMIT_EXCEEDED). */
function validationFailure(error: FrameworkError): Translated | null {
  if (!Array.isArray(error.validation)) return null;
  const issues = error.validation as readonly ValidationIssue[];
  const part = typeof error.validationContext === "string" ? error.validationContext : "request";
  const message = `${part}${describeIssue(mainIssue(issues))}`;
  if (issues.some((issue) => issue.keyword === "maxItems")) {
    return translated(413, failedBody(ErrorCode.LIMIT_EXCEEDED, message));
  }
  return translated(400, failedBody(ErrorCode.BAD_REQUEST, message));
}

/**
 * The issue worth reporting: not the "schema is false" echo of an extra property, and not a
 * single branch of a union (the union's own "must match" issue says more).
 */
function mainIssue(issues: readonly ValidationIssue[]): ValidationIssue | undefined {
  const useful = issues.filter((issue) => issue.keyword !== "boolean");
  const outsideUnions = useful.filter(
    (issue) => typeof issue.schemaPath !== "string" || !issue.schemaPath.includes("/anyOf/"),
  );
  return outsideUnions[0] ?? useful[0] ?? issues[0];
}

function describeIssue(issue: ValidationIssue | undefined): string {
  const path = typeof issue?.instancePath === "string" ? issue.instancePath : "";
  const what = typeof issue?.message === "string" ? issue.message : "is invalid";
  const extra = issue?.params?.additionalProperties;
  const names = Array.isArray(extra) ? `: ${extra.join(", ")}` : "";
  return `${path} ${what}${names}`;
}

function failedBody(code: string, msg: string): Translated["body"] {
  return { status: "failed", code, msg };
}
