// Turning an engine result into an HTTP answer on /v1, the same way on every route:
//   OK, first time      -> `createdStatus` (201 for creations, 200 otherwise) with the row
//   OK, a retry         -> 200 with duplicate: true and the row as first stored
//   refused             -> the registry's status (errors.ts) with the result name as `code`,
//                          duplicate: true when it is the stored refusal of an earlier request,
//                          and the row when the engine returned one
// Nothing here throws: a refusal is a normal answer of the data plane.
import type { FastifyReply } from "fastify";
import {
  type Command,
  type CommandResult,
  ResultCode,
  type Row,
  resultName,
} from "../../engine/index.ts";
import type { Shard } from "../../shard/index.ts";
import { must } from "../../stdx/index.ts";
import { resultMessage, resultStatus } from "./errors.ts";

export interface Succeeded<T> {
  status: "success";
  duplicate?: boolean;
  data: T;
}

export interface Refused<T> {
  status: "failed";
  code: string;
  msg: string;
  duplicate?: boolean;
  data?: T;
}

/** An answer before serialization: its status and the object the route's schema serializes. */
export interface RouteAnswer<P = unknown> {
  readonly statusCode: number;
  readonly payload: P;
}

export function engineAnswer<T>(
  result: CommandResult,
  view: (row: Row) => T,
  createdStatus: 200 | 201,
): RouteAnswer<Succeeded<T> | Refused<T>> {
  const code = result.code;
  if (code === ResultCode.OK) {
    const data = view(must(result.row, "an applied command returns its row"));
    if (result.duplicate === true) {
      return { statusCode: 200, payload: { status: "success", duplicate: true, data } };
    }
    return { statusCode: createdStatus, payload: { status: "success", data } };
  }
  const refused: Refused<T> = {
    status: "failed",
    code: resultName(code),
    msg: resultMessage(code),
  };
  if (result.duplicate === true) refused.duplicate = true;
  if (result.row !== undefined) refused.data = view(result.row);
  return { statusCode: resultStatus(code), payload: refused };
}

export function engineReply<T>(
  reply: FastifyReply,
  result: CommandResult,
  view: (row: Row) => T,
  createdStatus: 200 | 201,
): Succeeded<T> | Refused<T> {
  const answer = engineAnswer(result, view, createdStatus);
  reply.code(answer.statusCode);
  return answer.payload;
}

/**
 * Submits a batch (all admitted to the queue or none) and answers one item per command: the
 * result name, its stable number and the retry flag.
 */
export async function submitBatch(shard: Shard, commands: readonly (Command & { id: string })[]) {
  const results = await shard.submitMany(commands);
  const items = results.map((result, index) => {
    const id = (commands[index] as { id: string }).id;
    const code = result.code;
    return result.duplicate === true
      ? { id, code: resultName(code), result: code, duplicate: true }
      : { id, code: resultName(code), result: code };
  });
  return { status: "success" as const, data: { results: items } };
}
