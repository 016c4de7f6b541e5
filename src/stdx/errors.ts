// The control-plane error registry. Every error that crosses a module boundary carries a
// stable `code` from this table; codes are documented API (docs/api.md) and are what the
// HTTP layer maps to statuses. Data-plane outcomes (a refused transfer) are not errors: they
// are result codes (engine/results.ts).

export const ErrorCode = {
  /** The request is malformed: wrong types, missing fields, out-of-range values. */
  BAD_REQUEST: "TXG_ERR_BAD_REQUEST",
  /** A named limit was reached (batch size, queue depth, body size). */
  LIMIT_EXCEEDED: "TXG_ERR_LIMIT_EXCEEDED",
  /** The server is at capacity; retry later with backoff. */
  OVERLOADED: "TXG_ERR_OVERLOADED",
  /** The server is closing or closed. */
  SHUTTING_DOWN: "TXG_ERR_SHUTTING_DOWN",
  /** The durable log could not be written; the node stops accepting writes. */
  STORAGE: "TXG_ERR_STORAGE",
  /** Bytes on disk or on the wire failed validation. */
  CORRUPT: "TXG_ERR_CORRUPT",
  /** A format version this build does not understand. */
  VERSION: "TXG_ERR_VERSION",
  /** A wire frame could not be decoded. */
  DECODE: "TXG_ERR_DECODE",
  /** Something that was looked up does not exist. */
  NOT_FOUND: "TXG_ERR_NOT_FOUND",
  /** An operation took longer than its deadline. */
  TIMEOUT: "TXG_ERR_TIMEOUT",
  /** The data directory is used by another process. */
  LOCKED: "TXG_ERR_LOCKED",
  /** No server could be reached (nothing listening, connection refused). */
  UNAVAILABLE: "TXG_ERR_UNAVAILABLE",
  /** The connection broke while a request that cannot be resent safely was in flight. */
  CONNECTION_LOST: "TXG_ERR_CONNECTION_LOST",
  /** This replica is not the shard's primary (or not yet); the message names the primary's
   * address when known ("primary at host:port"), where the client retries. */
  NOT_PRIMARY: "TXG_ERR_NOT_PRIMARY",
  /** An unexpected failure inside txgrid (a bug); the request may or may not have applied. */
  INTERNAL: "TXG_ERR_INTERNAL",
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class TxgridError extends Error {
  override readonly name = "TxgridError";
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export function isTxgridError(value: unknown, code?: ErrorCode): value is TxgridError {
  return value instanceof TxgridError && (code === undefined || value.code === code);
}
