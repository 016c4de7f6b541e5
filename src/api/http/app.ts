// The fastify application: server options, the validator, the error and not-found handlers,
// the OpenAPI generator, and the route modules. Built once; nothing here runs per request
// except the routes themselves and the error handler on failures.
//
// Guarantees: every answer is JSON in the envelope { status: "success", data } or
// { status: "failed", code, msg } (except GET /probe_status, "OK" in text/plain, and GET /docs,
// the OpenAPI document); a client error is never a 500; request bodies larger than
// HTTP_BODY_BYTES_MAX are refused before they are parsed; there are no hooks and no per-request
// logging on the hot routes. An AssertionFailure is answered with 500 and then rethrown so the
// process crashes (docs/STYLE.md: a programmer error is never swallowed).
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
import { AssertionFailure, ErrorCode } from "../../stdx/index.ts";
import { translateError } from "./errors.ts";
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

export interface HttpAppOptions {
  /** Log server events and unexpected errors (never one line per request). */
  readonly logger: boolean;
}

export function buildHttpApp(shard: Shard, options: HttpAppOptions): FastifyInstance {
  const app = fastify({
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
    registerTimpeRoutes(routes, shard);
    registerAccountRoutes(routes, shard);
    registerTransferRoutes(routes, shard);
    registerAssetRoutes(routes, shard);
    registerTableRoutes(routes, shard);
    registerAdminRoutes(routes, shard);
    routes.get(
      "/docs",
      { schema: { summary: "This API as an OpenAPI 3 document", tags: ["admin"] } },
      () => routes.swagger(),
    );
    done();
  });
  return app;
}

function sendError(error: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const translated = translateError(error);
  if (translated.unexpected) request.log.error({ err: error }, "request failed");
  if (translated.retryAfterSeconds !== null) {
    reply.header("retry-after", String(translated.retryAfterSeconds));
  }
  reply.code(translated.statusCode).send(translated.body);
  if (error instanceof AssertionFailure) {
    setImmediate(() => {
      throw error;
    });
  }
}
