// The TCP face's own limits (docs/protocol.md lists the protocol's). They sit beside the
// server until they move to src/constants.ts with the protocol's limits.
import { assert } from "../stdx/index.ts";

/** Most client connections open at once; one more is answered with ERROR and closed. */
export const TCP_CONNECTIONS_MAX = 256;
/**
 * Longest wait for a connection that is being closed (protocol error, refused connection,
 * server shutdown) to take its last replies; then it is destroyed. A peer that stops reading
 * cannot keep a closing connection, or a closing server, open.
 */
export const TCP_CLOSE_TIMEOUT_MS = 5_000;
/** The default port of the binary protocol (`txgrid serve --tcp-port`). */
export const TCP_PORT_DEFAULT = 9101;

assert(TCP_CONNECTIONS_MAX > 0, "the server takes at least one connection");
assert(TCP_CLOSE_TIMEOUT_MS > 0, "closing connections get time to take their replies");
