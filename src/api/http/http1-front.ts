// The front: a small HTTP/1.1 server on the app's node:http server's own connections, in
// front of node:http itself. node:http spends about 13 µs of CPU per request here on objects
// and streams (IncomingMessage, ServerResponse, their listeners, the header tables) that the
// hot routes never need; the front reads requests straight from the socket and writes each
// answer as one string, so a transfer over REST costs little more than the transfer itself.
//
// It takes a connection first. As long as every request on it is one the fast path takes
// (FastPath.routeFor: an exact hot route, a JSON body with a Content-Length, nothing unusual),
// the front parses, answers and pipelines it. At the first request it is not sure of (any
// other route or method, a chunked or compressed body, HTTP/1.0, `Connection: close`,
// `Expect`, `Upgrade`, a missing or repeated Host, a header it cannot read strictly, a head
// larger than HTTP_HEAD_BYTES_MAX, a request not whole within HTTP_FRONT_SLOW_REQUEST_MS) it
// hands the connection to node:http for good, as if node:http had accepted it: once the
// answers already taken are written, the unread bytes go back into the socket and node's
// connection listener takes over. So every other request gets exactly node:http's and
// fastify's behaviour, errors and limits included, and the front never has to answer a
// request it did not fully understand.
//
// Guarantees:
//   - answers go out in request order, each in the bytes node:http would write for the same
//     status, headers and body (the fast-path tests compare them with fastify's byte for
//     byte): the fast path's headers, then Date, then `Connection: keep-alive` and
//     `Keep-Alive: timeout=<server.keepAliveTimeout in s>`, or `Connection: close` when the
//     answer closes the connection;
//   - a request is answered only once it arrived whole, and bytes after a request the front
//     does not take are never interpreted by it: node:http reads them from the same offset;
//   - bounded: at most HTTP_PIPELINE_DEPTH_MAX unanswered requests per connection (then it
//     stops reading that socket), reading also stops while the socket's write buffer is full,
//     and a head or body never grows beyond HTTP_HEAD_BYTES_MAX or HTTP_BODY_BYTES_MAX
//     (routeFor's limit) before the connection is handed over;
//   - an idle connection is closed after the server's keepAliveTimeout, as node:http does;
//   - when the app starts closing, idle connections are closed, a connection with half a
//     request is handed to node:http (which answers as fastify does while closing), and busy
//     ones answer what they took with `Connection: close` and end.
import { type Server, STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import {
  HTTP_FRONT_SLOW_REQUEST_MS,
  HTTP_FRONT_SWEEP_MS,
  HTTP_HEAD_BYTES_MAX,
  HTTP_PIPELINE_DEPTH_MAX,
} from "../../constants.ts";
import { assert } from "../../stdx/index.ts";
import type { FastPath, PreparedRoute } from "./fast-path.ts";
import { readHotHead } from "./http1-head.ts";
import { TakenRequest } from "./taken-request.ts";

type ConnectionListener = (this: Server, socket: Socket) => void;

const HEAD_END = Buffer.from("\r\n\r\n");

export class Http1Front {
  readonly #server: Server;
  readonly #fastPath: FastPath;
  /** node:http's own connection listener: where handed-over connections go. */
  readonly #nodeListener: ConnectionListener;
  readonly #connections = new Set<FrontConnection>();
  /** #tail is made for this Date and this keepAliveTimeout of the server. */
  #tailDate = "";
  #tailKeepAliveMs = -1;
  #tail = "";
  #sweepTimer: NodeJS.Timeout | null = null;
  #closing = false;
  #handedOverCount = 0;

  /** Takes over `server`'s connections; node:http's listener must be its only one so far. */
  constructor(server: Server, fastPath: FastPath) {
    const listeners = server.listeners("connection");
    assert(listeners.length === 1, "the front installs on a fresh node:http server");
    assert(
      !((server.maxRequestsPerSocket ?? 0) > 0),
      "the front does not count requests per socket",
    );
    this.#server = server;
    this.#fastPath = fastPath;
    this.#nodeListener = listeners[0] as ConnectionListener;
    server.removeAllListeners("connection");
    server.on("connection", (socket: Socket) => this.#accept(socket));
  }

  /** Connections the front serves right now (not counting those handed to node:http). */
  get connectionCount(): number {
    return this.#connections.size;
  }

  /** Connections handed to node:http since the start. */
  get handedOverCount(): number {
    return this.#handedOverCount;
  }

  /** The app starts closing: see the header. */
  close(): void {
    this.#closing = true;
    for (const connection of [...this.#connections]) {
      if (connection.queue.length > 0) connection.closeWhenAnswered = true;
      else if (connection.bufferedBytes > 0) this.#handOver(connection);
      // Answers still in the socket's buffer (a client slow to read) go out before the FIN.
      else if (connection.socket.writableLength > 0) connection.socket.end();
      else connection.socket.destroy();
    }
  }

  #accept(socket: Socket): void {
    if (this.#closing) {
      this.#nodeListener.call(this.#server, socket);
      return;
    }
    const connection = new FrontConnection(this, socket);
    this.#connections.add(connection);
    const onData = (chunk: Buffer) => this.#onData(connection, chunk);
    const onDrain = () => this.#resume(connection, PAUSED_WRITE);
    const onEnd = () => this.#onEnd(connection);
    const onError = () => socket.destroy();
    const onClose = () => this.#onClose(connection);
    socket.on("data", onData);
    socket.on("drain", onDrain);
    socket.on("end", onEnd);
    socket.on("error", onError);
    socket.on("close", onClose);
    connection.detach = () => {
      socket.removeListener("data", onData);
      socket.removeListener("drain", onDrain);
      socket.removeListener("end", onEnd);
      socket.removeListener("error", onError);
      socket.removeListener("close", onClose);
    };
    if (this.#sweepTimer === null) {
      this.#sweepTimer = setInterval(() => this.#sweep(), HTTP_FRONT_SWEEP_MS);
      this.#sweepTimer.unref();
    }
  }

  #onData(connection: FrontConnection, chunk: Buffer): void {
    if (connection.state !== "reading") return;
    connection.active = true;
    connection.chunks.push(chunk);
    connection.bufferedBytes += chunk.length;
    if (connection.bufferedBytes >= connection.neededBytes) this.#parse(connection);
  }

  /** Takes every whole request in the buffered bytes, in order. */
  #parse(connection: FrontConnection): void {
    const chunks = connection.chunks;
    const buffer =
      chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, connection.bufferedBytes);
    let offset = 0;
    // Set again below only when a body is still arriving; a stale value would keep requests
    // already buffered from being read once the pipeline has room again.
    connection.neededBytes = 0;
    while (offset < buffer.length && connection.state === "reading") {
      if (connection.queue.length >= HTTP_PIPELINE_DEPTH_MAX) {
        this.#pause(connection, PAUSED_PIPELINE);
        break;
      }
      const headEnd = buffer.indexOf(HEAD_END, offset);
      if (headEnd < 0 || headEnd - offset > HTTP_HEAD_BYTES_MAX) {
        if (headEnd >= 0 || buffer.length - offset > HTTP_HEAD_BYTES_MAX) {
          this.#keepAndHandOver(connection, buffer.subarray(offset));
          return;
        }
        break;
      }
      const head = readHotHead(buffer, offset, headEnd);
      const prepared = head === null ? null : this.#fastPath.routeFor(head);
      if (head === null || prepared === null) {
        this.#keepAndHandOver(connection, buffer.subarray(offset));
        return;
      }
      const bodyStart = headEnd + HEAD_END.length;
      const bodyEnd = bodyStart + head.contentLength;
      if (bodyEnd > buffer.length) {
        connection.neededBytes = bodyEnd - offset;
        break;
      }
      const fastPath = this.#fastPath;
      const exchange = new FrontExchange(fastPath, connection, prepared, fastPath.taken());
      connection.queue.push(exchange);
      this.#fastPath.answer(exchange, buffer.toString("utf8", bodyStart, bodyEnd));
      offset = bodyEnd;
    }
    if (connection.state !== "reading") return;
    if (offset > 0) connection.slowSweeps = 0;
    if (offset >= buffer.length) {
      connection.chunks = [];
      connection.bufferedBytes = 0;
      connection.neededBytes = 0;
    } else if (offset > 0 || chunks.length > 1) {
      connection.chunks = [offset > 0 ? buffer.subarray(offset) : buffer];
      connection.bufferedBytes = buffer.length - offset;
    }
  }

  /** Writes every answer that is next in order; called when one is ready. */
  flush(connection: FrontConnection): void {
    const queue = connection.queue;
    let wire = "";
    let answered = 0;
    let closeAfter = false;
    while (answered < queue.length) {
      const exchange = queue[answered] as FrontExchange;
      if (exchange.wire === null) break;
      wire += exchange.wire;
      answered++;
      if (exchange.closesConnection) {
        closeAfter = true;
        break;
      }
    }
    if (answered === 0) return;
    queue.splice(0, answered);
    connection.active = true;
    const socket = connection.socket;
    const flowing = socket.write(wire);
    if (closeAfter) {
      // What node:http does after an answer with `connection: close`: nothing more is read
      // or answered on this connection.
      connection.state = "closed";
      connection.queue.length = 0;
      socket.end();
      return;
    }
    if (!flowing) this.#pause(connection, PAUSED_WRITE);
    if (queue.length > 0) return;
    if (connection.state === "handingOver") this.#completeHandOver(connection);
    else if (connection.closeWhenAnswered) socket.end();
    else this.#resume(connection, PAUSED_PIPELINE);
  }

  /**
   * The head node:http's answers would carry, for a status and the fast path's headers.
   * `named`: the headers name the connection themselves (the fast path does so only to close
   * it), so node:http would add no connection header of its own.
   */
  answerHead(
    statusCode: number,
    headers: readonly string[],
    closes: boolean,
    named: boolean,
  ): string {
    let head = statusLine(statusCode);
    for (let index = 0; index < headers.length; index += 2) {
      head += `${headers[index]}: ${headers[index + 1]}\r\n`;
    }
    if (named) return `${head}Date: ${utcDate()}\r\n\r\n`;
    if (closes) return `${head}Date: ${utcDate()}\r\nConnection: close\r\n\r\n`;
    return head + this.#keptAliveTail();
  }

  /**
   * Date, the keep-alive headers node:http writes for the server's keepAliveTimeout, and the
   * empty line, as one string made once per second: most answers end with it.
   */
  #keptAliveTail(): string {
    const date = utcDate();
    const keepAliveMs = this.#server.keepAliveTimeout;
    if (date !== this.#tailDate || keepAliveMs !== this.#tailKeepAliveMs) {
      this.#tailDate = date;
      this.#tailKeepAliveMs = keepAliveMs;
      const keepAlive =
        keepAliveMs > 0 ? `Keep-Alive: timeout=${Math.floor(keepAliveMs / 1000)}\r\n` : "";
      this.#tail = `Date: ${date}\r\nConnection: keep-alive\r\n${keepAlive}\r\n`;
    }
    return this.#tail;
  }

  get closing(): boolean {
    return this.#closing;
  }

  #pause(connection: FrontConnection, reason: number): void {
    if (connection.paused === 0) connection.socket.pause();
    connection.paused |= reason;
  }

  #resume(connection: FrontConnection, reason: number): void {
    if ((connection.paused & reason) === 0) return;
    connection.paused &= ~reason;
    if (connection.paused !== 0 || connection.state !== "reading") return;
    connection.socket.resume();
    // Requests that were already buffered when reading stopped.
    if (connection.bufferedBytes > 0 && connection.bufferedBytes >= connection.neededBytes) {
      this.#parse(connection);
    }
  }

  /** The client finished sending: what it sent is answered, then the connection ends. */
  #onEnd(connection: FrontConnection): void {
    if (connection.state !== "reading") return;
    if (connection.queue.length === 0) connection.socket.end();
    else connection.closeWhenAnswered = true;
  }

  #onClose(connection: FrontConnection): void {
    if (connection.state !== "handedOver") connection.state = "closed";
    connection.queue.length = 0;
    this.#connections.delete(connection);
  }

  /** Hands the connection over with `rest` (unread bytes) once its taken answers are out. */
  #keepAndHandOver(connection: FrontConnection, rest: Buffer): void {
    connection.chunks = rest.length === 0 ? [] : [rest];
    connection.bufferedBytes = rest.length;
    this.#handOver(connection);
  }

  #handOver(connection: FrontConnection): void {
    assert(connection.state === "reading", "a connection is handed over once");
    connection.state = "handingOver";
    // Bytes that arrive from now on stay in the socket's buffer, behind the ones put back.
    connection.socket.pause();
    if (connection.queue.length === 0) this.#completeHandOver(connection);
  }

  #completeHandOver(connection: FrontConnection): void {
    const socket = connection.socket;
    connection.state = "handedOver";
    this.#connections.delete(connection);
    this.#handedOverCount++;
    connection.detach();
    const rest = connection.chunks;
    connection.chunks = [];
    for (let index = rest.length - 1; index >= 0; index--) socket.unshift(rest[index] as Buffer);
    if (socket.destroyed) return;
    this.#nodeListener.call(this.#server, socket);
    // node:http's 'data' listener does not restart a socket paused on purpose.
    socket.resume();
  }

  /**
   * Every HTTP_FRONT_SWEEP_MS: closes connections idle for the keep-alive timeout and hands
   * over those holding a partial request for HTTP_FRONT_SLOW_REQUEST_MS (node:http's header
   * and request timeouts then apply). One timer for all connections, none per request.
   */
  #sweep(): void {
    if (this.#connections.size === 0) {
      clearInterval(this.#sweepTimer ?? undefined);
      this.#sweepTimer = null;
      return;
    }
    const keepAliveMs = this.#server.keepAliveTimeout;
    const idleSweepsMax = keepAliveMs > 0 ? Math.ceil(keepAliveMs / HTTP_FRONT_SWEEP_MS) : 0;
    const slowSweepsMax = Math.ceil(HTTP_FRONT_SLOW_REQUEST_MS / HTTP_FRONT_SWEEP_MS);
    for (const connection of [...this.#connections]) {
      if (connection.state !== "reading") continue;
      const busy = connection.queue.length > 0;
      const partial = connection.bufferedBytes > 0 && !busy;
      connection.slowSweeps = partial ? connection.slowSweeps + 1 : 0;
      connection.idleSweeps =
        connection.active || busy || connection.bufferedBytes > 0 ? 0 : connection.idleSweeps + 1;
      connection.active = false;
      if (partial && connection.slowSweeps > slowSweepsMax) {
        this.#handOver(connection);
      } else if (idleSweepsMax > 0 && connection.idleSweeps > idleSweepsMax) {
        connection.socket.destroy();
      }
    }
  }
}

/** Why reading a connection stopped (bits): too many unanswered requests, a full buffer. */
const PAUSED_PIPELINE = 1;
const PAUSED_WRITE = 2;

/** One connection the front serves. */
class FrontConnection {
  readonly front: Http1Front;
  readonly socket: Socket;
  /**
   * reading: the front serves it; handingOver: it waits for its taken answers before going to
   * node:http; handedOver: node:http serves it; closed: gone.
   */
  state: "reading" | "handingOver" | "handedOver" | "closed" = "reading";
  /** Bytes received and not yet taken as requests, in order. */
  chunks: Buffer[] = [];
  bufferedBytes = 0;
  /** Parse again once this many bytes are buffered (the rest of a known body); 0: at once. */
  neededBytes = 0;
  /** Taken requests in arrival order, answered or not; answers leave from the front. */
  readonly queue: FrontExchange[] = [];
  closeWhenAnswered = false;
  /** PAUSED_* bits. */
  paused = 0;
  /** Set by any traffic, cleared by each sweep. */
  active = true;
  idleSweeps = 0;
  slowSweeps = 0;
  /** Removes the front's listeners from the socket (set when the front accepts it). */
  detach: () => void = () => {};

  constructor(front: Http1Front, socket: Socket) {
    this.front = front;
    this.socket = socket;
  }
}

/** One request the front took, from its head to its answer. */
class FrontExchange extends TakenRequest {
  readonly connection: FrontConnection;
  /** Head and body of the answer, once it is ready. */
  wire: string | null = null;
  closesConnection = false;

  constructor(
    fastPath: FastPath,
    connection: FrontConnection,
    prepared: PreparedRoute,
    startedMs: number,
  ) {
    super(fastPath, prepared, startedMs);
    this.connection = connection;
  }

  deliver(statusCode: number, headers: string[], text: string): boolean {
    const connection = this.connection;
    if (connection.state === "closed" || connection.socket.destroyed) return false;
    const front = connection.front;
    let named = false;
    for (let index = 0; index < headers.length; index += 2) {
      if (headers[index] === "connection") {
        assert(headers[index + 1] === "close", "the fast path names the connection to close it");
        named = true;
      }
    }
    const closes = named || connection.closeWhenAnswered || front.closing;
    this.closesConnection = closes;
    this.wire = front.answerHead(statusCode, headers, closes, named) + text;
    front.flush(connection);
    return true;
  }
}

const statusLines: string[] = [];

/** `HTTP/1.1 <code> <reason>\r\n` with node:http's reason phrase (made once per code). */
function statusLine(statusCode: number): string {
  let line = statusLines[statusCode];
  if (line === undefined) {
    line = `HTTP/1.1 ${statusCode} ${STATUS_CODES[statusCode] ?? "unknown"}\r\n`;
    statusLines[statusCode] = line;
  }
  return line;
}

let dateSeconds = -1;
let dateText = "";

/** The Date header's value, as node:http writes it (computed once per second). */
function utcDate(): string {
  const seconds = Math.floor(Date.now() / 1000);
  if (seconds !== dateSeconds) {
    dateSeconds = seconds;
    dateText = new Date(seconds * 1000).toUTCString();
  }
  return dateText;
}
