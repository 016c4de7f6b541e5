// The replication network over node:net: ReplicaNetwork for real processes. Frames are the
// ones of messages.ts (24-byte header "TXRP", CRC-32, version, kind, length), unchanged.
//
// Shape. A node sends to a peer over ONE outgoing connection it dials itself (a "link"), and
// receives from a peer over the connection that peer dialled; a connection carries frames one
// way only. So no connection has to be matched to a node id, and a restarted peer is simply a
// new incoming connection. Incoming connections arrive through the node's binary protocol
// listener (the server sees the "TXRP" magic and hands the socket over: accept()), so a node
// has one address for clients and replicas alike (NodeInfo.tcpAddress).
//
// Fault model and guarantees (the replica protocol is built for a lossy network: it resends
// hellos, acks and unacknowledged entries, docs/design/replication.md):
// - send() never blocks and never throws on a network problem: a message is written, queued
//   behind a connect in progress, or dropped (counted). Within one link, messages arrive in
//   the order sent; across a reconnect, some may be missing.
// - Backpressure: a link holds at most REPLICATION_LINK_BUFFERED_BYTES_MAX bytes waiting (queue
//   while connecting plus the socket's write buffer); beyond, messages are dropped, never
//   buffered without bound. A link with nothing waiting always takes one message, so a snapshot
//   larger than the limit still goes out.
// - Reconnect: a failed link dials again on the next send, no sooner than a delay that doubles
//   from REPLICATION_RECONNECT_DELAY_MS_MIN to _MAX; a peer whose address changed (restarted on
//   another port) is redialled at its new address.
// - Activity: every frame written and every chunk read is reported through onActivity (the
//   node's opt-in idle busy polling restarts its window on replication traffic too).
// - Incoming: a frame is decoded only when whole; a bad header (magic, version, length over
//   REPLICATION_FRAME_BYTES_MAX) or a bad body (checksum, decode) ends that connection, never
//   the process; at most REPLICATION_INCOMING_CONNECTIONS_MAX incoming connections.
import { connect as netConnect, type Socket } from "node:net";
import {
  REPLICATION_CONNECT_TIMEOUT_MS,
  REPLICATION_INCOMING_CONNECTIONS_MAX,
  REPLICATION_LINK_BUFFERED_BYTES_MAX,
  REPLICATION_RECONNECT_DELAY_MS_MAX,
  REPLICATION_RECONNECT_DELAY_MS_MIN,
} from "../constants.ts";
import { assert, isTxgridError } from "../stdx/index.ts";
import {
  decodeReplicationFrame,
  encodeReplicationFrame,
  REPLICATION_HEADER_BYTES,
  REPLICATION_MAGIC,
  type ReplicationMessage,
  replicationFrameBytes,
} from "./messages.ts";
import type { ReplicaNetwork } from "./replica.ts";

export interface TcpNetworkOptions {
  /** host:port of a node's listener, or null while unknown (not live in the coordinator). */
  readonly resolve: (nodeId: string) => string | null;
  /** Every whole, valid incoming message, in arrival order. */
  readonly onMessage: (message: ReplicationMessage) => void;
  /** Told of connection problems (for logs); never required. */
  readonly onProblem?: (what: string, error: unknown) => void;
  /** Told of every frame written or read (the node's idle busy polling); never required. */
  readonly onActivity?: () => void;
}

export interface TcpNetworkStats {
  readonly framesSent: number;
  readonly framesReceived: number;
  readonly bytesSent: number;
  /** Messages not sent: no address, link full, or lost with a broken connection. */
  readonly messagesDropped: number;
  readonly dials: number;
  readonly incomingConnections: number;
  /** Incoming connections ended for a bad frame. */
  readonly badStreams: number;
}

interface Link {
  readonly nodeId: string;
  readonly address: string;
  socket: Socket | null;
  connected: boolean;
  /** Frames waiting for the connection to open. */
  pending: Uint8Array[];
  pendingBytes: number;
  failures: number;
  retryAtMs: number;
}

/** True when the first bytes of a stream are a replication frame's magic. */
export function isReplicationStream(head: Uint8Array): boolean {
  if (head.length < 4) return false;
  return new DataView(head.buffer, head.byteOffset, 4).getUint32(0, true) === REPLICATION_MAGIC;
}

function splitAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(":");
  assert(colon > 0, "an address is host:port");
  return {
    host: address.slice(0, colon).replace(/^\[(.*)\]$/, "$1"),
    port: Number(address.slice(colon + 1)),
  };
}

export class TcpReplicaNetwork implements ReplicaNetwork {
  readonly #options: TcpNetworkOptions;
  readonly #links = new Map<string, Link>();
  readonly #incoming = new Set<Socket>();
  #closed = false;
  #framesSent = 0;
  #framesReceived = 0;
  #bytesSent = 0;
  #messagesDropped = 0;
  #dials = 0;
  #badStreams = 0;

  constructor(options: TcpNetworkOptions) {
    this.#options = options;
  }

  stats(): TcpNetworkStats {
    return {
      framesSent: this.#framesSent,
      framesReceived: this.#framesReceived,
      bytesSent: this.#bytesSent,
      messagesDropped: this.#messagesDropped,
      dials: this.#dials,
      incomingConnections: this.#incoming.size,
      badStreams: this.#badStreams,
    };
  }

  // ---- sending ----

  send(to: string, message: ReplicationMessage): void {
    if (this.#closed) return;
    const address = this.#options.resolve(to);
    if (address === null) {
      this.#messagesDropped++;
      return;
    }
    let link = this.#links.get(to);
    if (link !== undefined && link.address !== address) {
      this.#drop(link); // the peer restarted elsewhere
      link = undefined;
    }
    if (link === undefined) {
      link = {
        nodeId: to,
        address,
        socket: null,
        connected: false,
        pending: [],
        pendingBytes: 0,
        failures: 0,
        retryAtMs: 0,
      };
      this.#links.set(to, link);
    }
    if (link.socket === null) {
      if (performance.now() < link.retryAtMs) {
        this.#messagesDropped++;
        return;
      }
      this.#dial(link);
    }
    const frame = encodeReplicationFrame(message);
    const socket = link.socket as Socket;
    const waitingBytes = link.connected ? socket.writableLength : link.pendingBytes;
    if (waitingBytes > 0 && waitingBytes + frame.length > REPLICATION_LINK_BUFFERED_BYTES_MAX) {
      this.#messagesDropped++;
      return;
    }
    if (!link.connected) {
      link.pending.push(frame);
      link.pendingBytes += frame.length;
      return;
    }
    this.#write(socket, frame);
  }

  #write(socket: Socket, frame: Uint8Array): void {
    // write() returning false only means the buffer is over the socket's high-water mark; the
    // link's own limit (above) is what bounds it.
    socket.write(frame);
    this.#options.onActivity?.();
    this.#framesSent++;
    this.#bytesSent += frame.length;
  }

  #dial(link: Link): void {
    this.#dials++;
    const { host, port } = splitAddress(link.address);
    const socket = netConnect({ host, port, noDelay: true });
    link.socket = socket;
    link.connected = false;
    const timer = setTimeout(() => socket.destroy(), REPLICATION_CONNECT_TIMEOUT_MS);
    timer.unref();
    socket.on("connect", () => {
      clearTimeout(timer);
      if (link.socket !== socket) return;
      link.connected = true;
      link.failures = 0;
      socket.cork();
      for (const frame of link.pending) this.#write(socket, frame);
      socket.uncork();
      link.pending = [];
      link.pendingBytes = 0;
    });
    // Nothing comes back on an outgoing link; reading keeps a peer's FIN noticed.
    socket.on("data", () => undefined);
    socket.on("error", (error) => this.#options.onProblem?.(`link to ${link.nodeId}`, error));
    socket.on("close", () => {
      clearTimeout(timer);
      if (link.socket !== socket) return;
      this.#messagesDropped += link.pending.length;
      link.socket = null;
      link.connected = false;
      link.pending = [];
      link.pendingBytes = 0;
      const delayMs = Math.min(
        REPLICATION_RECONNECT_DELAY_MS_MAX,
        REPLICATION_RECONNECT_DELAY_MS_MIN * 2 ** Math.min(link.failures, 20),
      );
      link.failures++;
      link.retryAtMs = performance.now() + delayMs;
    });
  }

  #drop(link: Link): void {
    this.#links.delete(link.nodeId);
    const socket = link.socket;
    link.socket = null;
    socket?.destroy();
  }

  // ---- receiving ----

  /** Takes an incoming replication connection; `head` holds bytes already read from it. */
  accept(socket: Socket, head: Uint8Array): void {
    if (this.#closed || this.#incoming.size >= REPLICATION_INCOMING_CONNECTIONS_MAX) {
      socket.destroy();
      return;
    }
    this.#incoming.add(socket);
    socket.setNoDelay(true);
    const chunks: Buffer[] = [];
    let bufferedBytes = 0;
    let frameBytes = 0;
    const onChunk = (chunk: Buffer) => {
      this.#options.onActivity?.();
      chunks.push(chunk);
      bufferedBytes += chunk.length;
      try {
        for (;;) {
          if (frameBytes === 0) {
            if (bufferedBytes < REPLICATION_HEADER_BYTES) return;
            const first = chunks[0] as Buffer;
            const header =
              first.length >= REPLICATION_HEADER_BYTES
                ? first
                : Buffer.concat(chunks, REPLICATION_HEADER_BYTES);
            frameBytes = replicationFrameBytes(header);
          }
          if (bufferedBytes < frameBytes) return;
          const all = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
          const frame = all.subarray(0, frameBytes);
          const rest = all.subarray(frameBytes);
          chunks.length = 0;
          if (rest.length > 0) chunks.push(rest);
          bufferedBytes = rest.length;
          frameBytes = 0;
          const message = decodeReplicationFrame(frame);
          this.#framesReceived++;
          this.#options.onMessage(message);
          if (socket.destroyed) return;
        }
      } catch (error) {
        if (!isTxgridError(error)) throw error;
        this.#badStreams++;
        this.#options.onProblem?.("incoming replication stream", error);
        socket.destroy();
      }
    };
    socket.on("data", onChunk);
    socket.on("error", () => {
      // 'close' follows; a peer that died is the protocol's business, not an error here.
    });
    socket.on("close", () => this.#incoming.delete(socket));
    if (head.length > 0) onChunk(Buffer.from(head.buffer, head.byteOffset, head.length));
    socket.resume();
  }

  /** Ends every link and incoming connection; later sends are ignored. */
  close(): void {
    this.#closed = true;
    for (const link of [...this.#links.values()]) this.#drop(link);
    for (const socket of this.#incoming) socket.destroy();
    this.#incoming.clear();
  }
}
