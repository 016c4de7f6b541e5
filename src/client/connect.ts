// connect(): a TxgridApi over TCP. Parses the address, opens the connection, and proves it
// with one PING round trip before resolving, so that an unreachable server, a full server
// (TXG_ERR_LIMIT_EXCEEDED) or one of another protocol version (TXG_ERR_VERSION) fails
// connect() itself rather than the first call.

import {
  BUSY_POLL_US_MAX,
  CLIENT_ADDRESSES_MAX,
  CONNECT_TIMEOUT_MS_DEFAULT,
  RECONNECT_DELAY_MS_MAX,
  RECONNECT_DELAY_MS_MIN,
  TCP_PORT_DEFAULT,
} from "../constants.ts";
import { ErrorCode, TxgridError } from "../stdx/index.ts";
import { ApiCore, type ApiOptions } from "./api.ts";
import type { TxgridApi } from "./api-types.ts";
import { type TcpAddress, TcpTransport, type TcpTransportStats } from "./tcp-transport.ts";

export interface ClientOptions extends ApiOptions {
  /** How long connect() and each reconnect attempt wait (CONNECT_TIMEOUT_MS_DEFAULT). */
  readonly connectTimeoutMs?: number;
  /** First delay before a reconnect attempt; doubles per failure (RECONNECT_DELAY_MS_MIN). */
  readonly reconnectDelayMsMin?: number;
  /** Longest delay between reconnect attempts (RECONNECT_DELAY_MS_MAX). */
  readonly reconnectDelayMsMax?: number;
  /**
   * Follow a replica's NOT_PRIMARY (and a deposed primary's UNAVAILABLE) to the primary,
   * resending retry-safe requests (default true; docs/client.md, "Failover").
   */
  readonly followPrimary?: boolean;
  /**
   * Opt-in busy polling: while calls are in flight, keep the event loop turning instead of
   * sleeping for up to this many µs without an answer, 0 to BUSY_POLL_US_MAX (default 0:
   * off). Lower latency at one call at a time, for CPU (docs/client.md, "Busy polling").
   */
  readonly busyPollUs?: number;
}

export type ClientStats = TcpTransportStats;

/** A TxgridApi connected to a server over TCP. */
export interface Client extends TxgridApi {
  /** `txgrid://host:port`. */
  readonly url: string;
  stats(): ClientStats;
}

class TcpClient extends ApiCore implements Client {
  readonly #transport: TcpTransport;

  constructor(transport: TcpTransport, options: ClientOptions) {
    super(transport, options);
    this.#transport = transport;
  }

  get url(): string {
    return this.#transport.url;
  }

  stats(): ClientStats {
    return this.#transport.stats();
  }
}

/** `{ host, port }` from an address object or a `txgrid://host:port` URL. */
export function parseAddress(address: string | TcpAddress): TcpAddress {
  if (typeof address !== "string") return { host: address.host, port: address.port };
  let url: URL;
  try {
    url = new URL(address);
  } catch (error) {
    throw new TxgridError(ErrorCode.BAD_REQUEST, `bad address ${address}`, { cause: error });
  }
  if (url.protocol !== "txgrid:" || url.hostname === "" || url.pathname !== "") {
    throw new TxgridError(ErrorCode.BAD_REQUEST, `bad address ${address}: want txgrid://host:port`);
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  return { host, port: url.port === "" ? TCP_PORT_DEFAULT : Number(url.port) };
}

function checkPositive(value: number, name: string): number {
  if (!Number.isInteger(value) || value <= 0) {
    throw new TxgridError(ErrorCode.BAD_REQUEST, `${name} must be a positive integer`);
  }
  return value;
}

/** The busy-poll window of `options`: an integer from 0 to BUSY_POLL_US_MAX. */
export function checkBusyPollUs(value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > BUSY_POLL_US_MAX) {
    throw new TxgridError(
      ErrorCode.BAD_REQUEST,
      `busyPollUs must be an integer from 0 to BUSY_POLL_US_MAX (${BUSY_POLL_US_MAX}), got ${value}`,
    );
  }
  return value;
}

/** Every address of `address`: one, a list, or a comma-separated string of URLs. */
export function parseAddresses(
  address: string | TcpAddress | readonly (string | TcpAddress)[],
): TcpAddress[] {
  const list =
    typeof address === "string"
      ? address.split(",").map((part) => part.trim())
      : Array.isArray(address)
        ? address
        : [address as TcpAddress];
  if (list.length === 0 || list.length > CLIENT_ADDRESSES_MAX) {
    throw new TxgridError(
      ErrorCode.BAD_REQUEST,
      `give 1 to ${CLIENT_ADDRESSES_MAX} addresses (got ${list.length})`,
    );
  }
  return list.map((one) => {
    const parsed = parseAddress(one);
    if (!Number.isInteger(parsed.port) || parsed.port <= 0 || parsed.port > 65_535) {
      throw new TxgridError(ErrorCode.BAD_REQUEST, `bad port ${parsed.port}`);
    }
    return parsed;
  });
}

/**
 * Connects to a txgrid server: `connect("txgrid://127.0.0.1:9101")` or
 * `connect({ host: "127.0.0.1", port: 9101 })`; to a replicated shard, give every replica
 * (`connect("txgrid://h:9301,txgrid://h:9302")` or an array): the client finds the primary and
 * follows it through failovers. Rejects with a TxgridError if no server can be reached or it
 * refuses the connection within connectTimeoutMs.
 */
export async function connect(
  address: string | TcpAddress | readonly (string | TcpAddress)[],
  options: ClientOptions = {},
): Promise<Client> {
  const addresses = parseAddresses(address);
  const connectTimeoutMs = checkPositive(
    options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS_DEFAULT,
    "connectTimeoutMs",
  );
  const busyPollUs = checkBusyPollUs(options.busyPollUs ?? 0);
  const transport = new TcpTransport({
    busyPollUs,
    addresses,
    followPrimary: options.followPrimary ?? true,
    connectTimeoutMs,
    reconnectDelayMsMin: checkPositive(
      options.reconnectDelayMsMin ?? RECONNECT_DELAY_MS_MIN,
      "reconnectDelayMsMin",
    ),
    reconnectDelayMsMax: checkPositive(
      options.reconnectDelayMsMax ?? RECONNECT_DELAY_MS_MAX,
      "reconnectDelayMsMax",
    ),
  });
  const client = new TcpClient(transport, options);
  try {
    await client.ping({ timeoutMs: connectTimeoutMs });
  } catch (error) {
    await client.close();
    throw error;
  }
  return client;
}
