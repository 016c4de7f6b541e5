// A minimal keep-alive HTTP/1.1 client connection for the load generator. The benchmark
// client shares the machine's two cores with the server it measures, so every microsecond it
// spends is taken from the server: this client formats requests as one string, sends each in
// one write, and parses only the status line and Content-Length of the answer. It carries
// one request at a time (like a browser connection without pipelining), which is the
// closed-loop model `txgrid bench -c N` measures with N connections.
//
// Limits: an answer larger than RESPONSE_BYTES_MAX or without Content-Length fails the
// request and closes the connection; every request has a timeout.
import { connect, type Socket } from "node:net";
import { ErrorCode, TxgridError } from "../stdx/index.ts";

const RESPONSE_BYTES_MAX = 16 * 1024 * 1024;
const headerEnd = Buffer.from("\r\n\r\n");

export interface HttpAnswer {
  readonly status: number;
  readonly body: string;
}

interface Waiter {
  readonly resolve: (answer: HttpAnswer) => void;
  readonly reject: (error: unknown) => void;
  readonly timer: NodeJS.Timeout;
}

export class HttpConnection {
  readonly #socket: Socket;
  readonly #hostHeader: string;
  readonly #timeoutMs: number;
  #buffered: Buffer = Buffer.alloc(0);
  #waiter: Waiter | null = null;
  #closedError: Error | null = null;

  private constructor(socket: Socket, hostHeader: string, timeoutMs: number) {
    this.#socket = socket;
    this.#hostHeader = hostHeader;
    this.#timeoutMs = timeoutMs;
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    socket.on("error", (error) => this.#fail(error));
    socket.on("close", () => this.#fail(new Error("connection closed by the server")));
  }

  static open(url: URL, timeoutMs: number): Promise<HttpConnection> {
    const port = Number(url.port || 80);
    return new Promise((resolve, reject) => {
      const socket = connect({ host: url.hostname, port });
      socket.once("connect", () => resolve(new HttpConnection(socket, url.host, timeoutMs)));
      socket.once("error", reject);
    });
  }

  /** Sends one request; `body` is JSON text or null. */
  request(method: "GET" | "POST", path: string, body: string | null): Promise<HttpAnswer> {
    if (this.#closedError !== null) return Promise.reject(this.#closedError);
    if (this.#waiter !== null) throw new Error("HttpConnection carries one request at a time");
    const head =
      body === null
        ? `${method} ${path} HTTP/1.1\r\nHost: ${this.#hostHeader}\r\n\r\n`
        : `${method} ${path} HTTP/1.1\r\nHost: ${this.#hostHeader}\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#fail(new TxgridError(ErrorCode.TIMEOUT, `no answer within ${this.#timeoutMs} ms`));
      }, this.#timeoutMs);
      this.#waiter = { resolve, reject, timer };
      this.#socket.write(head);
    });
  }

  close(): void {
    this.#closedError ??= new Error("connection closed");
    this.#socket.destroy();
  }

  #onData(chunk: Buffer): void {
    this.#buffered = this.#buffered.length === 0 ? chunk : Buffer.concat([this.#buffered, chunk]);
    const answer = this.#parse();
    if (answer === null) return;
    const waiter = this.#waiter;
    this.#waiter = null;
    if (waiter === null) {
      this.#fail(new Error("an answer arrived with no request waiting"));
      return;
    }
    clearTimeout(waiter.timer);
    waiter.resolve(answer);
  }

  /** The answer once it is complete; null while more bytes are needed. */
  #parse(): HttpAnswer | null {
    const buffered = this.#buffered;
    const headLength = buffered.indexOf(headerEnd);
    if (headLength < 0) {
      if (buffered.length > RESPONSE_BYTES_MAX) this.#fail(new Error("response head too large"));
      return null;
    }
    const head = buffered.toString("latin1", 0, headLength);
    const status = Number(head.slice(9, 12));
    const lengthMatch = /\r\ncontent-length: *(\d+)/i.exec(head);
    if (lengthMatch === null) {
      this.#fail(new Error("response without Content-Length"));
      return null;
    }
    const bodyLength = Number(lengthMatch[1]);
    if (bodyLength > RESPONSE_BYTES_MAX) {
      this.#fail(new Error(`response body of ${bodyLength} bytes is over the limit`));
      return null;
    }
    const bodyStart = headLength + headerEnd.length;
    if (buffered.length < bodyStart + bodyLength) return null;
    const body = buffered.toString("utf8", bodyStart, bodyStart + bodyLength);
    this.#buffered = buffered.subarray(bodyStart + bodyLength);
    return { status, body };
  }

  #fail(error: Error): void {
    this.#closedError ??= error;
    this.#socket.destroy();
    const waiter = this.#waiter;
    this.#waiter = null;
    if (waiter !== null) {
      clearTimeout(waiter.timer);
      waiter.reject(error);
    }
  }
}
