// Test support for the HTTP API tests: an in-memory shard with the app built on it, a small
// request helper over app.inject() (no sockets), and the check that a refused request left
// the engine exactly as it was (equal digests before and after; the digest covers the log
// position too, so even a refused command that was logged would show).
import assert from "node:assert/strict";
import type { FastifyInstance } from "fastify";
import { Shard, type ShardOptions } from "../../shard/index.ts";
import { buildHttpApp, type HttpAppOptions } from "./app.ts";

export interface Harness {
  readonly shard: Shard;
  readonly app: FastifyInstance;
  close(): Promise<void>;
}

export async function openHarness(
  options: Partial<ShardOptions> = {},
  appOptions: Partial<HttpAppOptions> = {},
): Promise<Harness> {
  const shard = await Shard.open({ dir: null, fsyncPolicy: "batch", ...options });
  const app = buildHttpApp(shard, { logger: false, ...appOptions });
  return {
    shard,
    app,
    close: async () => {
      await app.close();
      await shard.close();
    },
  };
}

/** Runs `run` against a fresh harness and closes it afterwards, whatever happens. */
export async function withHarness(
  run: (harness: Harness) => Promise<void>,
  options: Partial<ShardOptions> = {},
): Promise<void> {
  const harness = await openHarness(options);
  try {
    await run(harness);
  } finally {
    await harness.close();
  }
}

export interface Answer {
  readonly status: number;
  readonly headers: Record<string, unknown>;
  readonly text: string;
  readonly json: unknown;
}

/** The value at a dotted path of a JSON answer ("data.users.0.balance"); undefined if absent. */
export function at(json: unknown, path: string): unknown {
  let value: unknown = json;
  for (const key of path.split(".")) {
    if (typeof value !== "object" || value === null) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** The array at a dotted path, asserting that it is one. */
export function items(json: unknown, path: string): unknown[] {
  const value = at(json, path);
  assert.ok(Array.isArray(value), `expected an array at ${path}, got ${JSON.stringify(value)}`);
  return value;
}

export type Method = "GET" | "POST";

/** One request; a string body is sent as is (with the given headers), anything else as JSON. */
export async function call(
  app: FastifyInstance,
  method: Method,
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const payload =
    body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
  const contentType: Record<string, string> =
    body === undefined || typeof body === "string" ? {} : { "content-type": "application/json" };
  const response = await app.inject({
    method,
    url,
    headers: { ...contentType, ...headers },
    ...(payload === undefined ? {} : { payload }),
  });
  let json: unknown = {};
  try {
    json = JSON.parse(response.body);
  } catch {
    json = {};
  }
  const status = response.statusCode;
  return { status, headers: response.headers, text: response.body, json };
}

/**
 * Sends a request that must be refused with `status` and `code`, and checks that the engine's
 * state (digest) did not change.
 */
export async function expectRefused(
  harness: Harness,
  method: Method,
  url: string,
  body: unknown,
  status: number,
  code: string,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const before = harness.shard.engine.digest();
  const answer = await call(harness.app, method, url, body, headers);
  const shown = `${method} ${url} ${typeof body === "string" ? body : JSON.stringify(body)}`;
  assert.equal(answer.status, status, `${shown}: ${answer.text}`);
  assert.equal(at(answer.json, "status"), "failed", `${shown}: ${answer.text}`);
  assert.equal(at(answer.json, "code"), code, `${shown}: ${answer.text}`);
  assert.equal(typeof at(answer.json, "msg"), "string");
  assert.equal(harness.shard.engine.digest(), before, `${shown} changed the state`);
  return answer;
}

/** Sends a request that must succeed with `status`; returns its answer. */
export async function expectStatus(
  harness: Harness,
  method: Method,
  url: string,
  body: unknown,
  status: number,
): Promise<Answer> {
  const answer = await call(harness.app, method, url, body);
  assert.equal(answer.status, status, `${method} ${url}: ${answer.text}`);
  return answer;
}
