// api/http: the REST faces (TiMPE routes and /v1). STUB: being written.
import type { FastifyInstance } from "fastify";
import type { Shard } from "../../shard/index.ts";

export function buildHttpApp(shard: Shard, options: { logger: boolean }): FastifyInstance {
  void shard;
  void options;
  throw new Error("buildHttpApp: not implemented yet");
}
