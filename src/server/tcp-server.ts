// The binary protocol's server: a node:net listener (127.0.0.1 by default) whose connections
// (tcp-connection.ts) execute requests on one shard through the gateway. docs/protocol.md is
// the wire specification; docs/client.md describes the client side.
//
// Guarantees:
// - At most `connectionsMax` (TCP_CONNECTIONS_MAX) connections at once: one more gets ERROR
//   TXG_ERR_LIMIT_EXCEEDED (request id 0) and is closed; the others are not disturbed.
// - Random or hostile bytes on one connection end that connection with an ERROR frame,
//   never the process or another connection.
// - With `replication` set, a connection whose first 4 bytes are the replication magic
//   ("TXRP", src/replication) is handed to it whole (those bytes included) and does not count
//   against connectionsMax; any other first bytes are the binary protocol, as without it.
// - close(): stops accepting, refuses (SHUTTING_DOWN) frames not yet executed, answers
//   the in-flight ones, closes every connection; a peer that does not take its last bytes
//   is destroyed after TCP_CLOSE_TIMEOUT_MS. The shard stays open: its owner closes it.
// - With busyPollUs > 0 (opt-in), every request read and reply written restarts one idle
//   busy-poll window over all connections (stdx/busy-poll.ts): the event loop keeps turning
//   for up to busyPollUs µs after the last I/O, so the next request is read without a
//   wake-up; it backs off when the client seems to share its CPU (BUSY_POLL_HANDOFF_US).
//   With 0 (the default) nothing spins. A replica node's replication traffic restarts the
//   same window (touchBusyPoll), so a standby, which has no client I/O, polls too.
import { createServer, type Server, type Socket } from "node:net";
import {
  BUSY_POLL_BACKOFF_MS_MAX,
  BUSY_POLL_BACKOFF_MS_MIN,
  BUSY_POLL_HANDOFF_US,
  BUSY_POLL_US_MAX,
  TCP_CLOSE_TIMEOUT_MS,
  TCP_CONNECTIONS_MAX,
} from "../constants.ts";
import { encodeFrame, MessageKind } from "../protocol/index.ts";
import { type Shard, systemClock, systemTimers } from "../shard/index.ts";
import { assert, BusyPoll, ErrorCode } from "../stdx/index.ts";
import { TcpConnection, type TcpCounters } from "./tcp-connection.ts";

export interface TcpServerOptions {
  readonly shard: Shard;
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly connectionsMax?: number;
  /** Takes replication connections (same port as clients: one address per node). */
  readonly replication?: {
    isReplicationStream(head: Uint8Array): boolean;
    accept(socket: Socket, head: Uint8Array): void;
  };
  /** Idle busy-poll window after I/O, 0 to BUSY_POLL_US_MAX µs (default 0: off). */
  readonly busyPollUs?: number;
}

/** Bytes that tell a replication stream from a client stream (the magic). */
const STREAM_SNIFF_BYTES = 4;

export interface TcpServerStats extends Readonly<TcpCounters> {
  readonly connections: number;
  readonly connectionsAccepted: number;
  readonly connectionsRefused: number;
  /** Requests executing now, over all connections. */
  readonly inflightRequests: number;
  readonly inflightBytes: number;
  /** Bytes buffered now (partial frames in, replies out), over all connections. */
  readonly bufferedBytes: number;
  /** Turns of the busy-poll chain so far (0 when busy polling is off). */
  readonly busyPollTurns: number;
}

/** `txgrid://host:port`, with an IPv6 host in brackets. */
export function tcpUrl(host: string, port: number): string {
  return `txgrid://${host.includes(":") ? `[${host}]` : host}:${port}`;
}

export class TcpServer {
  readonly #server: Server;
  readonly #shard: Shard;
  readonly #host: string;
  readonly #connectionsMax: number;
  readonly #replication: TcpServerOptions["replication"] | null;
  readonly #connections = new Set<TcpConnection>();
  readonly #busyPoll: BusyPoll | null;
  readonly #counters: TcpCounters = {
    framesReceived: 0,
    framesSent: 0,
    protocolErrors: 0,
    pauses: 0,
    inflightRequestsPeak: 0,
    inflightBytesPeak: 0,
    writableBytesPeak: 0,
  };
  #connectionsAccepted = 0;
  #connectionsRefused = 0;
  #port = 0;
  #closing: Promise<void> | null = null;

  private constructor(options: TcpServerOptions) {
    this.#shard = options.shard;
    this.#host = options.host;
    this.#connectionsMax = options.connectionsMax ?? TCP_CONNECTIONS_MAX;
    this.#replication = options.replication ?? null;
    assert(this.#connectionsMax > 0, "connectionsMax is positive");
    const busyPollUs = options.busyPollUs ?? 0;
    assert(Number.isInteger(busyPollUs), "busyPollUs is whole µs");
    assert(busyPollUs >= 0, "busyPollUs is not negative");
    assert(busyPollUs <= BUSY_POLL_US_MAX, "busyPollUs is within BUSY_POLL_US_MAX");
    this.#busyPoll =
      busyPollUs === 0
        ? null
        : new BusyPoll({
            windowUs: busyPollUs,
            clock: systemClock,
            timers: systemTimers,
            handoffUs: BUSY_POLL_HANDOFF_US,
            backoffMsMin: BUSY_POLL_BACKOFF_MS_MIN,
            backoffMsMax: BUSY_POLL_BACKOFF_MS_MAX,
          });
    this.#server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) =>
      this.#onConnection(socket),
    );
  }

  /** I/O outside this server's connections (replication): restarts the busy-poll window. */
  touchBusyPoll(): void {
    this.#busyPoll?.touch();
  }

  /** Listens on `host:port`; rejects if the address cannot be bound. */
  static async listen(options: TcpServerOptions): Promise<TcpServer> {
    const server = new TcpServer(options);
    await new Promise<void>((resolve, reject) => {
      server.#server.once("error", reject);
      server.#server.listen({ host: options.host, port: options.port }, () => {
        server.#server.off("error", reject);
        resolve();
      });
    });
    const address = server.#server.address();
    assert(typeof address === "object" && address !== null, "a TCP server has an address");
    server.#port = address.port;
    return server;
  }

  get port(): number {
    return this.#port;
  }

  get url(): string {
    return tcpUrl(this.#host, this.#port);
  }

  stats(): TcpServerStats {
    let inflightRequests = 0;
    let inflightBytes = 0;
    let bufferedBytes = 0;
    for (const connection of this.#connections) {
      inflightRequests += connection.inflightRequests;
      inflightBytes += connection.inflightBytes;
      bufferedBytes += connection.bufferedBytes;
    }
    return {
      ...this.#counters,
      connections: this.#connections.size,
      connectionsAccepted: this.#connectionsAccepted,
      connectionsRefused: this.#connectionsRefused,
      inflightRequests,
      inflightBytes,
      bufferedBytes,
      busyPollTurns: this.#busyPoll?.turns ?? 0,
    };
  }

  #onConnection(socket: Socket): void {
    const replication = this.#replication;
    if (replication === null || replication === undefined) {
      this.#onClientConnection(socket);
      return;
    }
    // Read the first bytes, then hand the socket (paused, bytes put back) to whichever side
    // the magic names. A peer that sends fewer than 4 bytes and stops holds only its socket.
    const chunks: Buffer[] = [];
    let length = 0;
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      length += chunk.length;
      if (length < STREAM_SNIFF_BYTES) return;
      socket.off("data", onData);
      socket.off("error", onError);
      socket.pause();
      const head = Buffer.concat(chunks);
      if (replication.isReplicationStream(head)) {
        if (this.#closing !== null) {
          socket.destroy();
          return;
        }
        replication.accept(socket, head);
        return;
      }
      socket.unshift(head);
      this.#onClientConnection(socket);
      socket.resume();
    };
    const onError = () => socket.destroy();
    socket.on("data", onData);
    socket.on("error", onError);
  }

  #onClientConnection(socket: Socket): void {
    if (this.#closing !== null || this.#connections.size >= this.#connectionsMax) {
      this.#refuse(socket);
      return;
    }
    this.#connectionsAccepted++;
    const connection = new TcpConnection(
      socket,
      this.#shard,
      this.#counters,
      (closed) => {
        this.#connections.delete(closed);
      },
      this.#busyPoll,
    );
    this.#connections.add(connection);
  }

  #refuse(socket: Socket): void {
    this.#connectionsRefused++;
    const closing = this.#closing !== null;
    const message = closing
      ? "the server is closing"
      : `the server has TCP_CONNECTIONS_MAX (${this.#connectionsMax}) connections open`;
    const code = closing ? ErrorCode.SHUTTING_DOWN : ErrorCode.LIMIT_EXCEEDED;
    socket.on("error", () => {
      // The peer may be gone already; the timer below closes the socket in every case.
    });
    socket.end(encodeFrame(0, { kind: MessageKind.ERROR, code, message }));
    socket.resume();
    setTimeout(() => socket.destroy(), TCP_CLOSE_TIMEOUT_MS).unref();
  }

  /** Stops accepting, answers what was accepted, closes every connection. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#busyPoll?.stop();
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const connection of this.#connections) connection.shutdown();
    const timer = setTimeout(() => {
      for (const connection of this.#connections) connection.destroy();
    }, TCP_CLOSE_TIMEOUT_MS);
    await closed;
    clearTimeout(timer);
  }
}
