// The fast path: a plain node:http request handler in front of fastify's router for the hot
// routes (hot-routes.ts), installed as fastify's `serverFactory`. A request it recognizes is
// read, parsed, validated, submitted and answered here; every other request goes to fastify
// unchanged. Fastify's per-request layers (router, request and reply objects, content-type
// parser with its async resource, reply pipeline) cost about a quarter of the server's CPU per
// transfer on this load (docs/api.md, performance notes), and none of them changes what these
// routes answer. app.inject() never comes here: it calls fastify's handler directly.
//
// Guarantees: a request answered here gets the same status, headers and body bytes as fastify
// would give it (fast-path.test.ts runs one table of requests through both):
//   - only `POST <exact hot url>` with `content-type: application/json` (optionally
//     `; charset=utf-8`), a Content-Length of 1..HTTP_BODY_BYTES_MAX and no Transfer-Encoding,
//     Content-Encoding or Accept-Version header is taken; anything else (oversized bodies, empty
//     bodies, other media types, query strings, chunked bodies) is left to fastify, decided from
//     the headers alone, before a byte of the body is read;
//   - per request it allocates one Exchange and two promise callbacks: the body listeners are
//     shared functions that find their Exchange through the request;
//   - the body is parsed by fastify's own JSON parser (secure-json-parse: a __proto__ or
//     constructor.prototype key is refused as fastify refuses it), validated by the route's
//     compiled validator, answered by the route's answer function, and serialized by the
//     compiler fastify uses for the route, from the same response schema (JSON.stringify for a
//     status without one, as fastify does); failures go through handleFailure (errors.ts) as
//     in app.ts's error handler;
//   - a parse failure answers with `connection: close`, as fastify's content-type parser does;
//   - while the app is closing every request goes to fastify, which adds `connection: close`;
//   - with an observer (metrics), each answered request is reported once its answer is handed
//     to the socket, with the route's url, POST, the status and the latency;
//   - an answer leaves in one `write` of one string when the socket is free (see #end);
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
import type { RouteAnswer } from "./replies.ts";

/** app.ts's RequestObserver (repeated here: app.ts imports this file). */
type Observer = (route: string, method: string, statusCode: number, seconds: number) => void;

/** Fastify's default JSON body parser as `getDefaultJsonParser` returns it (synchronous). */
export type JsonBodyParser = (
  request: unknown,
  body: string,
  done: (error: Error | null, value?: unknown) => void,
) => void;

type Serializer = (payload: unknown) => string;

interface PreparedRoute {
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

  constructor(observe: Observer | null = null) {
    this.#observe = observe;
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
    return server;
  };

  /** Takes the request (true) or leaves it to fastify (false) without touching it. */
  handle(request: IncomingMessage, response: ServerResponse): boolean {
    if (!this.#open || request.method !== "POST") return false;
    const prepared = this.#prepared.get(request.url as string);
    if (prepared === undefined) return false;
    const headers = request.headers;
    const contentType = headers["content-type"];
    if (contentType !== "application/json" && contentType !== JSON_CONTENT_TYPE) return false;
    if (
      headers["transfer-encoding"] !== undefined ||
      headers["content-encoding"] !== undefined ||
      headers["accept-version"] !== undefined
    ) {
      return false;
    }
    const contentLength = Number(headers["content-length"]);
    if (!(contentLength >= 1 && contentLength <= HTTP_BODY_BYTES_MAX)) return false;
    this.#takenCount++;
    this.#readingCount++;
    const startedMs = this.#observe === null ? 0 : performance.now();
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

  answer(exchange: Exchange, text: string): void {
    this.#parsedDone = false;
    must(this.#parseJson, "prepared")(null, text, this.#onParsed);
    assert(this.#parsedDone, "the JSON body parser answers synchronously");
    const parseError = this.#parsedError;
    const body = this.#parsedValue;
    this.#parsedError = null;
    this.#parsedValue = undefined;
    if (parseError !== null) {
      this.fail(exchange, parseError, true);
      return;
    }
    const route = exchange.prepared.route;
    const issues = validationIssues(route, body);
    if (issues !== null) {
      this.fail(exchange, validationError(issues), false);
      return;
    }
    let answer: Promise<RouteAnswer>;
    try {
      answer = route.answer(body);
    } catch (error) {
      this.fail(exchange, error, false);
      return;
    }
    answer.then(
      (answered) => this.#send(exchange, answered.statusCode, answered.payload),
      (error: unknown) => this.fail(exchange, error, false),
    );
  }

  #send(exchange: Exchange, statusCode: number, payload: unknown): void {
    let text: string;
    try {
      text = serialize(exchange.prepared, statusCode, payload);
    } catch (error) {
      this.fail(exchange, error, false);
      return;
    }
    const response = exchange.response;
    if (response.destroyed) return;
    // A flat list skips node's per-header validation, which constant names and values do not
    // need; the bytes on the wire are the same as for fastify's header object.
    response.writeHead(statusCode, [
      "content-type",
      JSON_CONTENT_TYPE,
      "content-length",
      String(Buffer.byteLength(text)),
    ]);
    this.#end(exchange, text);
  }

  /**
   * Sends the head (already set) and `text`, ends the response and reports it. `end(text)`
   * alone would queue the head and body and then an empty chunk that carries the finish
   * callback, and flush the two with a `writev`; writing the text first and uncorking the
   * socket hands head and body to the OS in one `write` of one string, so that `end()` then
   * has nothing left to send. The bytes on the wire are the same.
   */
  #end(exchange: Exchange, text: string): void {
    const response = exchange.response;
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
    // The answer is with the OS (or queued behind its predecessor's): what fastify's
    // onResponse hook would report, without a 'finish' listener per request.
    if (this.#observe !== null) {
      const seconds = (performance.now() - exchange.startedMs) / 1000;
      this.#observe(exchange.prepared.route.url, "POST", response.statusCode, seconds);
    }
  }

  /** app.ts's error handler, for the fast path: same handling, same headers. */
  fail(exchange: Exchange, error: unknown, closeConnection: boolean): void {
    const log = must(this.#log, "prepared");
    const translated = handleFailure(error, log);
    const response = exchange.response;
    if (response.destroyed) return;
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
    response.writeHead(translated.statusCode, headers);
    this.#end(exchange, text);
  }
}

/** One request taken by the fast path, from its head to its answer. */
class Exchange {
  readonly fastPath: FastPath;
  readonly prepared: PreparedRoute;
  readonly response: ServerResponse;
  readonly contentLength: number;
  /** performance.now() at arrival, when there is an observer to report the latency to. */
  readonly startedMs: number;
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
    this.fastPath = fastPath;
    this.prepared = prepared;
    this.response = response;
    this.contentLength = contentLength;
    this.startedMs = startedMs;
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
