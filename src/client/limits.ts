// The client's limits and defaults. Like the protocol's limits they live beside their module
// until they move to src/constants.ts.
import { BATCH_OPERATIONS_MAX } from "../protocol/index.ts";
import { assert } from "../stdx/index.ts";

/** How long a call waits for its answer unless the client or the call says otherwise. */
export const CALL_TIMEOUT_MS_DEFAULT = 10_000;
/** Longest timeout a call may ask for (what setTimeout can hold). */
export const CALL_TIMEOUT_MS_MAX = 2 ** 31 - 1;
/**
 * Most operations a client holds that are not on the wire yet: gathered for the next frame,
 * waiting for room among the in-flight requests, or waiting for a reconnect. A call that
 * would go beyond it is refused with TXG_ERR_OVERLOADED (one larger than the limit by itself
 * with TXG_ERR_LIMIT_EXCEEDED) instead of growing the queue.
 */
export const CLIENT_QUEUED_OPERATIONS_MAX = 262_144;
/** How long connect() and each reconnect attempt wait for the server. */
export const CONNECT_TIMEOUT_MS_DEFAULT = 5_000;
/** The port of a `txgrid://host` address without one (`txgrid serve --tcp-port`'s default). */
export const SERVER_PORT_DEFAULT = 9101;
/** First delay before reconnecting after a broken connection; it doubles per failure. */
export const RECONNECT_DELAY_MS_MIN = 50;
/** Longest delay between two reconnect attempts. */
export const RECONNECT_DELAY_MS_MAX = 2_000;

assert(CALL_TIMEOUT_MS_DEFAULT <= CALL_TIMEOUT_MS_MAX, "the default timeout is allowed");
assert(CLIENT_QUEUED_OPERATIONS_MAX >= BATCH_OPERATIONS_MAX, "a full batch can be queued");
assert(RECONNECT_DELAY_MS_MIN <= RECONNECT_DELAY_MS_MAX, "reconnect delays are ordered");
