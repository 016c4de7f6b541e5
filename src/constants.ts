// Every limit in txgrid, in one place. A limit that is reached gives an explicit error or
// backpressure, never unbounded growth. Relationships between limits are asserted when this
// module loads, so an inconsistent edit crashes at start instead of misbehaving later.
import { assert } from "./stdx/assert.ts";

/** Largest amount, balance or asset value: balances are signed 64-bit integers. */
export const AMOUNT_MAX = 2n ** 63n - 1n;
/** Smallest balance or asset value. */
export const BALANCE_MIN = -(2n ** 63n);

/** Longest id of an account, transfer, asset or row key, in UTF-8 bytes. */
export const ID_BYTES_MAX = 128;
/** Longest nickname or other free text column, in UTF-8 bytes. */
export const TEXT_BYTES_MAX = 1024;
/** Longest account nickname, in UTF-16 code units (what JSON schemas count). */
export const NICKNAME_LENGTH_MAX = 256;
/** Most operations in one generic transaction. */
export const TXN_OPERATIONS_MAX = 64;
/** Most columns in one row. */
export const ROW_COLUMNS_MAX = 64;

/** Most commands the executor puts into one logged batch. */
export const BATCH_COMMANDS_MAX = 8190;
/** Most commands waiting for the executor; beyond it, submissions fail with OVERLOADED. */
export const QUEUE_COMMANDS_MAX = 65_536;
/** Most transfers in one /v1 batch request. */
export const REQUEST_TRANSFERS_MAX = 8190;

/** Largest log record (one batch), in bytes. */
export const WAL_RECORD_BYTES_MAX = 64 * 1024 * 1024;
/** A log segment is closed and a new one started once it reaches this size. */
export const WAL_SEGMENT_BYTES_MAX = 64 * 1024 * 1024;
/** Take a snapshot after this many log bytes since the last one. */
export const SNAPSHOT_INTERVAL_BYTES = 256 * 1024 * 1024;

/** Most pending (two-phase) transfers open at once; beyond it, new ones are refused. */
export const PENDING_TRANSFERS_MAX = 1_000_000;
/** Longest timeout of a pending transfer. */
export const PENDING_TIMEOUT_MS_MAX = 30 * 24 * 3600 * 1000;

/** Largest HTTP request body, in bytes. */
export const HTTP_BODY_BYTES_MAX = 4 * 1024 * 1024;
/** Most rows a list endpoint returns in one page. */
export const LIST_PAGE_ROWS_MAX = 10_000;

/** With fsync=lazy, the longest time written records stay without fdatasync. */
export const LAZY_FSYNC_INTERVAL_MS = 100;

assert(BATCH_COMMANDS_MAX <= QUEUE_COMMANDS_MAX, "a batch must fit in the queue");
assert(REQUEST_TRANSFERS_MAX <= BATCH_COMMANDS_MAX, "a request batch must fit in one log batch");
assert(WAL_RECORD_BYTES_MAX <= WAL_SEGMENT_BYTES_MAX, "a record must fit in a segment");
assert(
  BATCH_COMMANDS_MAX * (4 * ID_BYTES_MAX + 64) <= WAL_RECORD_BYTES_MAX,
  "a full batch of transfers must fit in one log record",
);
