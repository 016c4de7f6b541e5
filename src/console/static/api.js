// The console's access to txgrid: JSON requests to the node that served the page (the public
// /v1 API and /console/api), and the translation of every failure into a sentence a person
// can act on. A failure is thrown as ApiError with the API's stable `code`, its `msg`, the
// HTTP status, and `message`: the readable sentence the page shows.

export class ApiError extends Error {
  /**
   * @param {number} status HTTP status (0: no answer)
   * @param {string} code the API's stable code (e.g. INSUFFICIENT_FUNDS)
   * @param {string} msg the API's own message
   * @param {unknown} data the row the failure is about, when the API sends one
   * @param {string} message the readable sentence
   */
  constructor(status, code, msg, data, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.msg = msg;
    this.data = data;
  }
}

const requestTimeoutMs = 15_000;

/**
 * Sends a request and answers the envelope's `data`, or throws ApiError.
 * @param {"GET" | "POST"} method
 * @param {string} path
 * @param {unknown} [body]
 */
export async function api(method, path, body) {
  let response;
  try {
    response = await fetch(path, {
      method,
      headers:
        body === undefined
          ? { accept: "application/json" }
          : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(requestTimeoutMs),
    });
  } catch (error) {
    const timedOut = error instanceof DOMException && error.name === "TimeoutError";
    throw new ApiError(
      0,
      timedOut ? "TIMEOUT" : "UNREACHABLE",
      String(error),
      null,
      timedOut
        ? "The server did not answer within 15 seconds. The request may still have been applied."
        : "Cannot reach the txgrid node. Is it running? The console retries on its own.",
    );
  }
  let json = null;
  try {
    json = await response.json();
  } catch {
    // Not JSON: described below from the status alone.
  }
  if (response.ok && json !== null && json.status === "success") return json.data;
  const code = json?.code ?? `HTTP_${response.status}`;
  const msg = json?.msg ?? response.statusText;
  throw new ApiError(
    response.status,
    code,
    msg,
    json?.data ?? null,
    describe(code, msg, json?.data, body),
  );
}

const amountText = (value) =>
  value === undefined || value === null ? "the amount" : String(value);

/** Readable sentences for the codes a console user meets; the API's msg for the rest. */
function describe(code, msg, data, body) {
  const debit = data?.debitAccountId ?? body?.debitAccountId;
  const credit = data?.creditAccountId ?? body?.creditAccountId;
  const amount = data?.amount ?? body?.amount;
  switch (code) {
    case "INSUFFICIENT_FUNDS":
      return `Insufficient funds: account “${debit}” cannot pay ${amountText(amount)} without going below its floor. The refusal is recorded under the transfer id.`;
    case "DEBIT_ACCOUNT_NOT_FOUND":
      return `The debit account “${debit}” does not exist.`;
    case "CREDIT_ACCOUNT_NOT_FOUND":
      return `The credit account “${credit}” does not exist.`;
    case "ACCOUNTS_MUST_BE_DIFFERENT":
      return "Debit and credit must be two different accounts.";
    case "AMOUNT_INVALID":
      return "The amount must be a whole number of minor units greater than 0.";
    case "ACCOUNT_EXISTS":
      return `An account with id “${body?.id ?? data?.id}” exists already, with other fields.`;
    case "NICKNAME_TAKEN":
      return `Another account already has the nickname “${body?.nickname}”.`;
    case "BALANCE_INVALID":
      return "The initial balance must not be below the account's floor.";
    case "TRANSFER_EXISTS":
      return `A transfer with id “${body?.id}” exists already, with other fields. Choose another id.`;
    case "TIMEOUT_INVALID":
      return "A timeout can only be set on a two-phase (pending) transfer.";
    case "PENDING_NOT_FOUND":
      return "There is no pending transfer with this id.";
    case "PENDING_ALREADY_POSTED":
      return "This transfer was posted already; it cannot be voided.";
    case "PENDING_ALREADY_VOIDED":
      return "This transfer was voided already; it cannot be posted.";
    case "PENDING_EXPIRED":
      return "This pending transfer expired (its timeout passed); its reservation was released.";
    case "NOT_PENDING":
      return "This transfer was not two-phase: there is nothing to post or void.";
    case "PENDING_LIMIT_REACHED":
      return "Too many pending transfers are open; post or void some first.";
    case "OVERFLOW":
      return "The result would exceed the largest balance txgrid can hold.";
    case "TXG_ERR_NOT_FOUND":
      return "Not found.";
    case "TXG_ERR_OVERLOADED":
      return "The node is overloaded right now; nothing was applied. Try again in a moment.";
    case "TXG_ERR_SHUTTING_DOWN":
      return "The node is shutting down; nothing was applied.";
    case "TXG_ERR_STORAGE":
      return "The node could not write its log and is stopping; nothing of this request was applied.";
    case "TXG_ERR_BAD_REQUEST":
      return `The request was refused as malformed: ${msg}`;
    default:
      return msg ? `${msg}` : `The request failed (${code}).`;
  }
}
