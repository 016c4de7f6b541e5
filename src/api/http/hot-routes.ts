// Hot routes: the POST routes that carry the transfer load (POST /transactions,
// /transactions/immediately and /v1/transfers). Each is defined once, here, as data plus one
// answer function, and served by two paths that must answer the same bytes:
//   - the fastify route (registerHotRoute), used by app.inject() and by any request the fast
//     path declines;
//   - the fast path (fast-path.ts), a plain node:http handler in front of fastify's router.
// Both call the same compiled body validator (compiled once, here, with the app's compiler),
// the same answer function, and serializers compiled by the same compiler from the same
// response schemas, so they cannot drift apart on validation or on what they answer.
//
// Guarantees: `answer` is only called with a body that passed `validate`; it answers its sink
// once with the status and the payload that the route's response schema for that status
// serializes (or JSON.stringify when the route has no schema for it, as fastify does), or
// throws or fails with what the error handler translates (errors.ts), exactly like a route
// handler.
import { TypeBoxValidatorCompiler } from "@fastify/type-provider-typebox";
import type { FastifySchemaCompiler, FastifySchemaValidationError } from "fastify";
import type { TSchema } from "typebox";
import type { CommandResult, LogCommand } from "../../engine/index.ts";
import type { Shard } from "../../shard/index.ts";
import { assert } from "../../stdx/index.ts";
import type { HttpApp } from "./app.ts";
import type { RouteAnswer } from "./replies.ts";

type BodyValidator = ReturnType<FastifySchemaCompiler<TSchema>>;

export interface HotRoute {
  /** The exact path (no query string, no trailing slash); always POST, JSON body. */
  readonly url: string;
  readonly body: TSchema;
  /** Response schemas by exact status code (no "2xx" or "default" keys). */
  readonly response: Readonly<Record<number, TSchema>>;
  /** The body validator both paths call (compiled once). */
  readonly validate: BodyValidator;
  /**
   * Answers a body that passed `validate` through `sink`, exactly once; may also throw, before
   * it has called the sink, what a route handler would throw.
   */
  answer(body: unknown, sink: AnswerSink): void;
}

/**
 * Where a hot route's answer goes: exactly one call, of one of the two. The fast path's
 * requests are their own sinks (no promise per request); the fastify route wraps a promise.
 */
export interface AnswerSink {
  answered(answer: RouteAnswer): void;
  /** What the error handler translates (errors.ts), as a route handler's throw. */
  failed(error: unknown): void;
}

/**
 * The hot routes' common tail: submits one command, then answers `sink` with
 * `toAnswer(results)`, or with what it throws, or with the submission's failure.
 */
export function submitOne<C extends LogCommand>(
  shard: Shard,
  command: C,
  sink: AnswerSink,
  toAnswer: (command: C, results: readonly CommandResult[]) => RouteAnswer,
): void {
  // Callbacks, not a promise: the answer is written from within the shard's answers, with no
  // promise reactions between the batch and the response.
  shard.submitWith(
    [command],
    (results) => {
      let answer: RouteAnswer;
      try {
        answer = toAnswer(command, results);
      } catch (error) {
        sink.failed(error);
        return;
      }
      sink.answered(answer);
    },
    (error: unknown) => sink.failed(error),
  );
}

export interface HotRouteSpec {
  readonly url: string;
  readonly body: TSchema;
  readonly response: Readonly<Record<number, TSchema>>;
  answer(body: unknown, sink: AnswerSink): void;
}

export function hotRoute(spec: HotRouteSpec): HotRoute {
  return {
    url: spec.url,
    body: spec.body,
    response: spec.response,
    validate: TypeBoxValidatorCompiler({
      schema: spec.body,
      method: "POST",
      url: spec.url,
      httpPart: "body",
    }),
    answer: spec.answer,
  };
}

export interface RouteDocs {
  readonly tags: readonly string[];
  readonly summary: string;
}

/** Registers the fastify face of a hot route: same validator, same answer function. */
export function registerHotRoute(app: HttpApp, route: HotRoute, docs: RouteDocs): void {
  app.post(
    route.url,
    {
      schema: {
        tags: [...docs.tags],
        summary: docs.summary,
        body: route.body,
        response: route.response,
      },
      validatorCompiler: () => route.validate,
    },
    async (request, reply) => {
      const answer = await new Promise<RouteAnswer>((resolve, reject) =>
        route.answer(request.body, { answered: resolve, failed: reject }),
      );
      reply.code(answer.statusCode);
      return answer.payload;
    },
  );
}

/** The validation issues of a body, or null when it passed (typebox's compiler shape). */
export function validationIssues(
  route: HotRoute,
  body: unknown,
): readonly FastifySchemaValidationError[] | null {
  const result = route.validate(body);
  // TypeBoxValidatorCompiler answers { value } or { error: issues }, never a boolean or a
  // promise, and its issues are a list (fastify's validation.js reads the same shapes).
  assert(typeof result === "object" && result !== null, "the body validator answers an object");
  assert(!("then" in result), "the body validator is synchronous");
  const issues = result.error;
  if (issues === undefined) return null;
  assert(Array.isArray(issues), "the body validator reports a list of issues");
  return issues;
}
