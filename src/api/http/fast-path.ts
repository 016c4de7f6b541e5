// The fast path: the hot routes (hot-routes.ts) served without fastify's per-request layers.
// Fastify's router, request and reply objects, content-type parser with its async resource and
// reply pipeline cost about a quarter of the server's CPU per transfer on this load
// (docs/api.md, performance notes), and none of them changes what these routes answer. It is
// installed as fastify's `serverFactory` and reaches requests two ways:
//   - the HTTP/1.1 front (http1-front.ts), which reads requests off the sockets itself and
//     hands any connection it is not sure of to node:http: the way most requests come;
//   - node:http's request handler, for connections node:http serves (those the front handed
//     over, or every connection when the app is built with `front: false`).
// Both ask routeFor, so they take the same requests; every other request goes to fastify
// unchanged. app.inject() never comes here: it calls fastify's handler directly.
//
// Guarantees: a request answered here gets the same status, headers and body bytes as fastify
// would give it (fast-path.test.ts runs one table of requests through both transports and
// fastify):
//   - only `POST <exact hot url>` with `content-type: application/json` (optionally
//     `; charset=utf-8`), a Content-Length of 1..HTTP_BODY_BYTES_MAX and no Transfer-Encoding,
//     Content-Encoding or Accept-Version header is taken; anything else (oversized bodies, empty
//     bodies, other media types, query strings, chunked bodies) is left to fastify, decided from
//     the headers alone, before a byte of the body is read;
//   - per request it allocates one exchange (Exchange on node:http, the front's FrontExchange),
//     which is also the route's AnswerSink: no promise of its own between the shard's answer
//     and the response; on node:http the body listeners are shared functions that find their
//     Exchange through the request;
//   - the body is parsed as fastify's own JSON parser (secure-json-parse) parses it: a
//     __proto__ or constructor.prototype key is refused as fastify refuses it (plainJson below
//     skips that parser only where it cannot differ from JSON.parse), validated by the route's
//     compiled validator, answered by the route's answer function, and serialized by the
//     compiler fastify uses for the route, from the same response schema (JSON.stringify for a
//     status without one, as fastify does); failures go through handleFailure (errors.ts) as
//     in app.ts's error handler;
//   - a parse failure answers with `connection: close`, as fastify's content-type parser does;
//   - while the app is closing every request goes to fastify, which adds `connection: close`;
//   - with an observer (metrics), each answered request is reported once its answer is handed
//     to the socket, with the route's url, POST, the status and the latency;
//   - an answer leaves in one `write` of one string when the socket is free;
//   - a client that aborts mid-body or a request stream that fails leaves nothing behind: the
//     request's listeners go with it and `readingCount` returns to zero; a reply to a
//     destroyed socket is dropped.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import {
  errorCodes,
  type FastifyBaseLogger,
  type FastifySerializerCompiler,
  type FastifyServerFactoryHandler,
} from "fastify";
import { HTTP_BODY_BYTES_MAX } from "../../constants.ts";
import { assert, must } from "../../stdx/index.ts";
import { handleFailure } from "./errors.ts";
import { type HotRoute, validationIssues } from "./hot-routes.ts";
import { Http1Front } from "./http1-front.ts";
import type { RouteAnswer } from "./replies.ts";
import { TakenRequest } from "./taken-request.ts";

/** app.ts's RequestObserver (repeated here: app.ts imports this file). */
type Observer = (route: string, method: string, statusCode: number, seconds: number) => void;

/** Fastify's default JSON body parser as `getDefaultJsonParser` returns it (synchronous). */
export type JsonBodyParser = (
  request: unknown,
  body: string,
  done: (error: Error | null, value?: unknown) => void,
) => void;

type Serializer = (payload: unknown) => string;

export interface PreparedRoute {
  readonly route: HotRoute;
  readonly serializers: ReadonlyMap<number, Serializer>;
}

const JSON_CONTENT_TYPE = "application/json; charset=utf-8";

export class FastPath {
  readonly #routes: HotRoute[] = [];
  readonly #observe: Observer | null;
  readonly #prepared = new Map<string, PreparedRoute>();
  #parseJson: JsonBodyParser | null = null;
  #log: FastifyBaseLogger | null = null;
  /** True between prepare() (the app is ready) and close() (the app starts closing). */
  #open = false;
  #readingCount = 0;
  #takenCount = 0;
  readonly #frontEnabled: boolean;
  #front: Http1Front | null = null;
  // The JSON parser answers synchronously through a callback; one reusable callback writes its
  // outcome here instead of a closure per request.
  #parsedError: Error | null = null;
  #parsedValue: unknown;
  #parsedDone = false;
  readonly #onParsed = (error: Error | null, value?: unknown): void => {
    this.#parsedError = error;
    this.#parsedValue = value;
    this.#parsedDone = true;
  };

  constructor(observe: Observer | null = null, front = true) {
    this.#observe = observe;
    this.#frontEnabled = front;
  }

  /** Requests whose body is being read right now (aborted ones must not stay counted). */
  get readingCount(): number {
    return this.#readingCount;
  }

  /** Requests the fast path took since the app started. */
  get takenCount(): number {
    return this.#takenCount;
  }

  add(routes: readonly HotRoute[]): void {
    assert(!this.#open, "hot routes are added before the app is ready");
    this.#routes.push(...routes);
  }

  /**
   * Opens the fast path once the app is ready: `compile` is the serializer compiler fastify
   * used for the routes, `parseJson` fastify's JSON body parser with the app's options.
   */
  prepare(
    compile: FastifySerializerCompiler<unknown> | undefined,
    parseJson: JsonBodyParser,
    log: FastifyBaseLogger,
  ): void {
    assert(compile !== undefined, "fastify set up its serializer compiler for the routes");
    assert(!this.#open, "the fast path opens once");
    this.#parseJson = parseJson;
    this.#log = log;
    for (const route of this.#routes) {
      const serializers = new Map<number, Serializer>();
      for (const [status, schema] of Object.entries(route.response)) {
        assert(/^[1-5][0-9][0-9]$/.test(status), "hot routes name exact response statuses");
        serializers.set(
          Number(status),
          compile({ schema, method: "POST", url: route.url, httpStatus: status }) as Serializer,
        );
      }
      assert(!this.#prepared.has(route.url), "one hot route per url");
      this.#prepared.set(route.url, { route, serializers });
    }
    this.#open = true;
  }

  /** From now on every request goes to fastify (which answers with `connection: close`). */
  close(): void {
    this.#open = false;
    this.#front?.close();
  }

  /** The HTTP/1.1 front on the app's server, when there is one (tests read its counters). */
  get front(): Http1Front | null {
    return this.#front;
  }

  /**
   * Fastify's `serverFactory`: the HTTP/1 server fastify would build (lib/server.js sets the
   * same timeouts), with the fast path in front of fastify's handler.
   */
  readonly serverFactory = (
    handler: FastifyServerFactoryHandler,
    options: Readonly<Record<string, unknown>>,
  ): Server => {
    const server = createServer((request, response) => {
      if (!this.handle(request, response)) handler(request, response);
    });
    server.keepAliveTimeout = Number(options.keepAliveTimeout);
    server.requestTimeout = Number(options.requestTimeout);
    server.setTimeout(Number(options.connectionTimeout));
    const maxRequestsPerSocket = Number(options.maxRequestsPerSocket);
    if (maxRequestsPerSocket > 0) server.maxRequestsPerSocket = maxRequestsPerSocket;
    // The front reads hot-route requests off the sockets itself and hands every connection it
    // is not sure of to the server above (http1-front.ts). It keeps no per-socket count of
    // requests and no connection timeout, so it stays out when either is set.
    if (this.#frontEnabled && !(maxRequestsPerSocket > 0) && server.timeout === 0) {
      this.#front = new Http1Front(server, this);
    }
    return server;
  };

  /**
   * The hot route a request goes to, decided from its head alone; null leaves it to fastify.
   * Both transports ask here: node:http's handler (handle, below) and the front
   * (http1-front.ts), so they take exactly the same requests.
   */
  routeFor(head: HotHead): PreparedRoute | null {
    if (!this.#open || head.method !== "POST") return null;
    const prepared = this.#prepared.get(head.url);
    if (prepared === undefined) return null;
    const contentType = head.contentType;
    if (contentType !== "application/json" && contentType !== JSON_CONTENT_TYPE) return null;
    if (head.hasTransferEncoding || head.hasContentEncoding || head.hasAcceptVersion) return null;
    const contentLength = head.contentLength;
    if (!(contentLength >= 1 && contentLength <= HTTP_BODY_BYTES_MAX)) return null;
    return prepared;
  }

  /** Counts a request taken by either transport; returns its arrival time for the observer. */
  taken(): number {
    this.#takenCount++;
    return this.#observe === null ? 0 : performance.now();
  }

  /** Takes the request (true) or leaves it to fastify (false) without touching it. */
  handle(request: IncomingMessage, response: ServerResponse): boolean {
    const headers = request.headers;
    const contentLength = Number(headers["content-length"]);
    const prepared = this.routeFor({
      method: request.method as string,
      url: request.url as string,
      contentType: headers["content-type"],
      contentLength,
      hasTransferEncoding: headers["transfer-encoding"] !== undefined,
      hasContentEncoding: headers["content-encoding"] !== undefined,
      hasAcceptVersion: headers["accept-version"] !== undefined,
    });
    if (prepared === null) return false;
    const startedMs = this.taken();
    this.#readingCount++;
    const exchange = new Exchange(this, prepared, response, contentLength, startedMs);
    (request as ExchangeCarrier)[exchangeKey] = exchange;
    // Module-level listeners (they find the exchange through the request): no closures per
    // request. They stay attached until the request is collected: removing them costs more
    // than it saves, and `reading` makes every late event a no-op.
    request.on("data", onBodyData);
    request.on("end", onBodyEnd);
    request.on("error", onBodyError);
    return true;
  }

  // stopReading, answer and fail are for the body listeners below (module-level functions).

  /** The body stopped being read (whole, failed or aborted); true the first time only. */
  stopReading(exchange: Exchange): boolean {
    if (!exchange.reading) return false;
    exchange.reading = false;
    this.#readingCount--;
    return true;
  }

  answer(exchange: TakenRequest, text: string): void {
    let body = plainJson(text);
    if (body === NOT_PLAIN) {
      this.#parsedDone = false;
      must(this.#parseJson, "prepared")(null, text, this.#onParsed);
      assert(this.#parsedDone, "the JSON body parser answers synchronously");
      const parseError = this.#parsedError;
      body = this.#parsedValue;
      this.#parsedError = null;
      this.#parsedValue = undefined;
      if (parseError !== null) {
        this.fail(exchange, parseError, true);
        return;
      }
    }
    const route = exchange.prepared.route;
    const issues = validationIssues(route, body);
    if (issues !== null) {
      this.fail(exchange, validationError(issues), false);
      return;
    }
    try {
      route.answer(body, exchange);
    } catch (error) {
      // Thrown before the route called the sink (the hot routes' refusals of their input).
      this.fail(exchange, error, false);
    }
  }

  /** A route's answer for a taken request (its AnswerSink.answered). */
  answered(exchange: TakenRequest, answer: RouteAnswer): void {
    this.#send(exchange, answer.statusCode, answer.payload);
  }

  #send(exchange: TakenRequest, statusCode: number, payload: unknown): void {
    let text: string;
    try {
      text = serialize(exchange.prepared, statusCode, payload);
    } catch (error) {
      this.fail(exchange, error, false);
      return;
    }
    const headers = [
      "content-type",
      JSON_CONTENT_TYPE,
      "content-length",
      String(Buffer.byteLength(text)),
    ];
    this.#deliver(exchange, statusCode, headers, text);
  }

  /** Hands the answer to the request's transport and reports it to the observer. */
  #deliver(exchange: TakenRequest, statusCode: number, headers: string[], text: string): void {
    if (!exchange.deliver(statusCode, headers, text)) return;
    // The answer is with the OS (or queued behind its predecessor's): what fastify's
    // onResponse hook would report, without a 'finish' listener per request.
    if (this.#observe !== null) {
      const seconds = (performance.now() - exchange.startedMs) / 1000;
      this.#observe(exchange.prepared.route.url, "POST", statusCode, seconds);
    }
  }

  /** app.ts's error handler, for the fast path: same handling, same headers. */
  fail(exchange: TakenRequest, error: unknown, closeConnection: boolean): void {
    const log = must(this.#log, "prepared");
    const translated = handleFailure(error, log);
    let text: string;
    try {
      text = serialize(exchange.prepared, translated.statusCode, translated.body);
    } catch (serializationError) {
      // The failed envelopes fit every response schema of the hot routes; should one not, the
      // client still gets an answer and the process does not die of an unhandled rejection.
      log.error({ err: serializationError }, "serializing a failure failed");
      text = JSON.stringify(translated.body);
    }
    const headers: string[] = [];
    // Fastify's order: the parser's `connection`, the handler's `retry-after`, then its own.
    if (closeConnection) headers.push("connection", "close");
    if (translated.retryAfterSeconds !== null) {
      headers.push("retry-after", String(translated.retryAfterSeconds));
    }
    headers.push("content-type", JSON_CONTENT_TYPE);
    headers.push("content-length", String(Buffer.byteLength(text)));
    this.#deliver(exchange, translated.statusCode, headers, text);
  }
}

/** What routeFor reads of a request's head. */
export interface HotHead {
  readonly method: string;
  readonly url: string;
  readonly contentType: string | undefined;
  /** NaN when absent or not a number. */
  readonly contentLength: number;
  readonly hasTransferEncoding: boolean;
  readonly hasContentEncoding: boolean;
  readonly hasAcceptVersion: boolean;
}

/** One request node:http brought to the fast path, from its head to its answer. */
class Exchange extends TakenRequest {
  readonly response: ServerResponse;
  readonly contentLength: number;
  reading = true;
  receivedBytes = 0;
  /** The body's first chunk; most bodies arrive whole, in one. */
  firstChunk: Buffer | null = null;
  /** The chunks after the first, when the body came in several. */
  laterChunks: Buffer[] | null = null;

  constructor(
    fastPath: FastPath,
    prepared: PreparedRoute,
    response: ServerResponse,
    contentLength: number,
    startedMs: number,
  ) {
    super(fastPath, prepared, startedMs);
    this.response = response;
    this.contentLength = contentLength;
  }

  /**
   * Sends the head and `text` and ends the response. `end(text)` alone would queue the head
   * and body and then an empty chunk that carries the finish callback, and flush the two with
   * a `writev`; writing the text first and uncorking the socket hands head and body to the OS
   * in one `write` of one string, so that `end()` then has nothing left to send. The bytes on
   * the wire are the same.
   */
  deliver(statusCode: number, headers: string[], text: string): boolean {
    const response = this.response;
    if (response.destroyed) return false;
    // A flat list skips node's per-header validation, which constant names and values do not
    // need; the bytes on the wire are the same as for fastify's header object.
    response.writeHead(statusCode, headers);
    const socket = response.socket;
    // Only when the response owns an uncorked socket: a pipelined response waiting for the
    // one before it has no socket yet, and a cork that is not ours is not ours to lift.
    if (socket !== null && socket.writableCorked === 0) {
      response.write(text);
      socket.uncork();
      response.end();
    } else {
      response.end(text);
    }
    return true;
  }

  bodyText(): string {
    const first = must(this.firstChunk, "a body of at least one byte came");
    const later = this.laterChunks;
    if (later === null) return first.toString("utf8");
    return Buffer.concat([first, ...later], this.receivedBytes).toString("utf8");
  }
}

const exchangeKey = Symbol("txgrid.fastPathExchange");
type ExchangeCarrier = IncomingMessage & { [exchangeKey]: Exchange };

function onBodyData(this: IncomingMessage, chunk: Buffer): void {
  const exchange = (this as ExchangeCarrier)[exchangeKey];
  if (!exchange.reading) return;
  exchange.receivedBytes += chunk.length;
  // Unreachable while node frames the body by Content-Length; kept as fastify keeps it.
  if (exchange.receivedBytes > HTTP_BODY_BYTES_MAX) {
    exchange.fastPath.stopReading(exchange);
    exchange.fastPath.fail(exchange, new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE(), true);
    return;
  }
  if (exchange.firstChunk === null) exchange.firstChunk = chunk;
  else if (exchange.laterChunks === null) exchange.laterChunks = [chunk];
  else exchange.laterChunks.push(chunk);
}

function onBodyEnd(this: IncomingMessage): void {
  const exchange = (this as ExchangeCarrier)[exchangeKey];
  const fastPath = exchange.fastPath;
  if (!fastPath.stopReading(exchange)) return;
  if (exchange.receivedBytes !== exchange.contentLength) {
    fastPath.fail(exchange, new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH(), true);
    return;
  }
  fastPath.answer(exchange, exchange.bodyText());
}

function onBodyError(this: IncomingMessage, error: Error & { statusCode?: unknown }): void {
  const exchange = (this as ExchangeCarrier)[exchangeKey];
  if (!exchange.fastPath.stopReading(exchange)) return;
  // What fastify's body reader does with a stream error; the answer is usually dropped
  // because the client is gone.
  if (!(typeof error.statusCode === "number" && error.statusCode >= 400)) {
    error.statusCode = 400;
  }
  exchange.fastPath.fail(exchange, error, true);
}

const NOT_PLAIN = Symbol("not plain JSON");

/**
 * The value of a body fastify's JSON parser would give exactly as JSON.parse gives it, else
 * NOT_PLAIN. That parser (secure-json-parse) strips a byte order mark, parses, and then scans
 * the text twice with regular expressions for a `"__proto__":` or `"constructor":` key, each
 * letter possibly written as a \u escape. A text with no BOM, no backslash and neither word
 * cannot match either, so for it the parser's answer is JSON.parse's; three substring
 * searches cost less than the two scans. Anything else, and every text JSON.parse refuses,
 * goes through fastify's parser, which gives its own errors.
 */
function plainJson(text: string): unknown {
  if (
    text.length === 0 ||
    text.charCodeAt(0) === 0xfeff ||
    text.includes("\\") ||
    text.includes("__proto__") ||
    text.includes("constructor")
  ) {
    return NOT_PLAIN;
  }
  try {
    return JSON.parse(text);
  } catch {
    return NOT_PLAIN;
  }
}

/** Fastify's choice of serializer: the route's schema for this exact status, else JSON. */
function serialize(prepared: PreparedRoute, statusCode: number, payload: unknown): string {
  const serializer = prepared.serializers.get(statusCode);
  return serializer === undefined ? JSON.stringify(payload) : serializer(payload);
}

/** The fields of fastify's validation error that translateError reads (validation.js). */
function validationError(issues: readonly unknown[]) {
  return {
    statusCode: 400,
    code: "FST_ERR_VALIDATION",
    validation: issues,
    validationContext: "body",
  };
}
