// /v1 operations: the node's status (shard executor and engine counters, durability setting)
// and a full check of the engine's invariants with the money totals as decimal strings.
// Both read the applied state only; /v1/verify walks every account and hashes the state (the
// digest replicas compare, encoded in steps by the shard so that the event loop keeps
// running), so it is not a hot route.
import { Type } from "typebox";
import type { Shard } from "../../shard/index.ts";
import { assert } from "../../stdx/index.ts";
import type { HttpApp } from "./app.ts";
import { liveEngine } from "./live-engine.ts";
import { success } from "./schemas.ts";

const tags = ["v1 admin"];

const ShardStatusView = Type.Object({
  fsyncPolicy: Type.String(),
  dir: Type.Unsafe<string | null>({ type: ["string", "null"] }),
  lsn: Type.Integer(),
  lsnDurable: Type.Integer(),
  queueDepth: Type.Integer(),
  queueCapacity: Type.Integer(),
  batchCount: Type.Integer(),
  commandCount: Type.Integer(),
  batchCommandsLast: Type.Integer(),
  snapshotLsn: Type.Integer(),
  failed: Type.Boolean(),
});

const EngineStatsView = Type.Object({
  lsn: Type.Integer(),
  timestampMs: Type.Integer(),
  accountCount: Type.Integer(),
  transferCount: Type.Integer(),
  pendingCount: Type.Integer(),
  assetCount: Type.Integer(),
  tableCount: Type.Integer(),
});

const VerifyView = Type.Object({
  ok: Type.Boolean(),
  problems: Type.Array(Type.String()),
  balanceSum: Type.String(),
  initialSum: Type.String(),
  reservedSum: Type.String(),
  pendingSum: Type.String(),
  accountCount: Type.Integer(),
  transferCount: Type.Integer(),
  /** Applied log position and the SHA-256 of the state there: replicas at one lsn agree. */
  lsn: Type.Integer(),
  digest: Type.String(),
});

/** `replication`: the node's setting ("none" alone, "received" or "durable" as a replica). */
export function registerAdminRoutes(app: HttpApp, shard: Shard, replication: string): void {
  const engine = liveEngine(shard);
  app.get(
    "/v1/status",
    {
      schema: {
        tags,
        summary: "Executor and engine counters, and the durability setting",
        response: {
          200: success(
            Type.Object({
              fsyncPolicy: Type.String(),
              replication: Type.String(),
              shard: ShardStatusView,
              engine: EngineStatsView,
            }),
          ),
        },
      },
    },
    () => ({
      status: "success" as const,
      data: {
        fsyncPolicy: shard.fsyncPolicy,
        replication,
        shard: shard.status(),
        engine: engine.stats(),
      },
    }),
  );
  app.get(
    "/v1/verify",
    {
      schema: {
        tags,
        summary: "Check the invariants: money conserved, reserves match pending, floors held",
        response: { 200: success(VerifyView) },
      },
    },
    async () => {
      const problems = engine.checkInvariants();
      const totals = engine.totals();
      const stats = engine.stats();
      // Started in this turn, so at the same state as the figures above; encoded in steps
      // that let the event loop run (a large state's digest takes a second or more).
      const { lsn, digest } = await shard.digest();
      assert(lsn === stats.lsn, "the digest is of the state checked");
      const data = {
        ok: problems.length === 0,
        problems,
        balanceSum: totals.balanceSum.toString(),
        initialSum: totals.initialSum.toString(),
        reservedSum: totals.reservedSum.toString(),
        pendingSum: totals.pendingSum.toString(),
        accountCount: stats.accountCount,
        transferCount: stats.transferCount,
        lsn,
        digest,
      };
      return { status: "success" as const, data };
    },
  );
}
