// The fastify application: server options, the validator, the error and not-found handlers,
// the OpenAPI generator, and the route modules. Built once; nothing here runs per request
// except the routes themselves and the error handler on failures.
//
// The app's own server (fastify's `serverFactory`) puts the fast path (fast-path.ts) in front of
// fastify's router: the hot POST routes (hot-routes.ts) are answered there with the same
// validator, answer functions and serializers, byte for byte the same answers.
//
// Guarantees: every answer is JSON in the envelope { status: "success", data } or
// { status: "failed", code, msg } (except GET /probe_status, "OK" in text/plain, and GET /docs,
// the OpenAPI document); a client error is never a 500; request bodies larger than
// HTTP_BODY_BYTES_MAX are refused before they are parsed; there are no per-request hooks and
// no per-request logging on the hot routes. An AssertionFailure is answered with 500 and then
// rethrown so the process crashes (docs/STYLE.md: a programmer error is never swallowed).
import type { IncomingMessage, ServerResponse } from "node:http";
import { fastifySwagger } from "@fastify/swagger";
import { type TypeBoxTypeProvider, TypeBoxValidatorCompiler } from "@fastify/type-provider-typebox";
import {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  fastify,
  LogController,
  type RawServerDefault,
} from "fastify";
import { HTTP_BODY_BYTES_MAX } from "../../constants.ts";
import type { Shard } from "../../shard/index.ts";
import { ErrorCode } from "../../stdx/index.ts";
import { handleFailure } from "./errors.ts";
import { FastPath, type JsonBodyParser } from "./fast-path.ts";
import { registerTimpeRoutes } from "./timpe-routes.ts";
import { registerAccountRoutes } from "./v1-accounts.ts";
import { registerAdminRoutes } from "./v1-admin.ts";
import { registerAssetRoutes } from "./v1-assets.ts";
import { registerTableRoutes } from "./v1-tables.ts";
import { registerTransferRoutes } from "./v1-transfers.ts";

/** The fastify instance as the route modules see it: typebox schemas give the body types. */
export type HttpApp = FastifyInstance<
  RawServerDefault,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

/**
 * Told of every answered request: the route pattern ("/v1/accounts/:id", "unmatched" for a
 * URL no route took), the method, the status and the latency. For metrics; it must be cheap.
 */
export type RequestObserver = (
  route: string,
  method: string,
  statusCode: number,
  durationSeconds: number,
) => void;

export interface HttpAppOptions {
  /** Log server events and unexpected errors (never one line per request). */
  readonly logger: boolean;
  /**
   * Serve the hot routes through the fast path (fast-path.ts) on the app's own server;
   * default true. False leaves every request to fastify (tests compare the two).
   */
  readonly fastPath?: boolean;
  /**
   * With the fast path: read hot-route requests off the sockets with the HTTP/1.1 front
   * (http1-front.ts) instead of node:http; default true. False keeps node:http for every
   * connection (tests compare the two).
   */
  readonly front?: boolean;
  /** Sees every answered request, on the fast path too (metrics). */
  readonly onRequestDone?: RequestObserver;
  /** Serves GET /metrics (Prometheus text format) with what this returns. */
  readonly metrics?: { readonly contentType: string; render(): string };
  /** The replication setting GET /v1/status shows (default "none": a single node). */
  readonly replication?: string;
}

const fastPaths = new WeakMap<FastifyInstance, FastPath>();

/** The fast path of an app built by buildHttpApp (null without one); tests read its counters. */
export function fastPathOf(app: FastifyInstance): FastPath | null {
  return fastPaths.get(app) ?? null;
}

export function buildHttpApp(shard: Shard, options: HttpAppOptions): FastifyInstance {
  // Fastify builds its server in its constructor, so the fast path exists first; it learns its
  // routes during registration and opens when the app is ready.
  const observe = options.onRequestDone ?? null;
  const fastPath =
    options.fastPath === false ? null : new FastPath(observe, options.front !== false);
  const app = fastify({
    ...(fastPath === null ? {} : { serverFactory: fastPath.serverFactory }),
    logger: options.logger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: HTTP_BODY_BYTES_MAX,
    // While closing, requests still get our envelope (and `connection: close`); once the shard
    // is closed they get 503 TXG_ERR_SHUTTING_DOWN from it.
    return503OnClosing: false,
    frameworkErrors: (error, request, reply) => {
      sendError(error, request, reply);
    },
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.setValidatorCompiler(TypeBoxValidatorCompiler);
  // Only JSON bodies are accepted; text/plain would otherwise reach the handlers as a string.
  app.removeContentTypeParser("text/plain");
  app.setErrorHandler((error, request, reply) => {
    sendError(error, request, reply);
  });
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send({
      status: "failed",
      code: ErrorCode.NOT_FOUND,
      msg: `no route ${request.method} ${request.url.split("?", 1)[0]}`,
    });
  });
  if (observe !== null) {
    app.addHook("onResponse", (request, reply, done) => {
      const route = request.routeOptions.url ?? "unmatched";
      observe(route, request.method, reply.statusCode, reply.elapsedTime / 1000);
      done();
    });
  }
  app.register(fastifySwagger, {
    openapi: {
      info: {
        title: "txgrid",
        version: "1",
        description: "TiMPE-compatible routes and the versioned /v1 API (docs/api.md).",
      },
    },
  });
  // Routes are added inside a plugin so that the OpenAPI generator (registered above) sees them.
  app.register((instance, _options, done) => {
    const routes: HttpApp = instance.withTypeProvider<TypeBoxTypeProvider>();
    const hotRoutes = registerTimpeRoutes(routes, shard);
    registerAccountRoutes(routes, shard);
    hotRoutes.push(...registerTransferRoutes(routes, shard));
    registerAssetRoutes(routes, shard);
    registerTableRoutes(routes, shard);
    registerAdminRoutes(routes, shard, options.replication ?? "none");
    const metrics = options.metrics;
    if (metrics !== undefined) {
      routes.get(
        "/metrics",
        { schema: { summary: "Prometheus metrics (text exposition format)", tags: ["admin"] } },
        (_request, reply) => {
          reply.header("content-type", metrics.contentType);
          return metrics.render();
        },
      );
    }
    routes.get(
      "/docs",
      { schema: { summary: "This API as an OpenAPI 3 document", tags: ["admin"] } },
      () => routes.swagger(),
    );
    if (fastPath !== null) {
      fastPath.add(hotRoutes);
      routes.addHook("onReady", (hookDone) => {
        const parseJson = app.getDefaultJsonParser(
          app.initialConfig.onProtoPoisoning ?? "error",
          app.initialConfig.onConstructorPoisoning ?? "error",
        ) as JsonBodyParser;
        fastPath.prepare(routes.serializerCompiler, parseJson, app.log);
        hookDone();
      });
    }
    done();
  });
  // Fastify marks itself closing just before its preClose hooks run; from then on it answers
  // every request itself (with `connection: close`), so the fast path steps aside.
  if (fastPath !== null) {
    fastPaths.set(app, fastPath);
    app.addHook("preClose", (hookDone) => {
      fastPath.close();
      hookDone();
    });
  }
  return app;
}

function sendError(error: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const translated = handleFailure(error, request.log);
  if (translated.retryAfterSeconds !== null) {
    reply.header("retry-after", String(translated.retryAfterSeconds));
  }
  reply.code(translated.statusCode).send(translated.body);
}
