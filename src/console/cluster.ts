// The console's cluster view: every shard with its primary, standbys, epoch, log positions and
// lag. A single node has one shard, built here from the same source as GET /v1/status (the
// shard's status) and the replication hook of the metrics (standby lag); the shape already
// holds several shards, several standbys and an epoch, so the page needs no change when a
// cluster reports them (then `fromCluster` is the place to map its status).
//
// Guarantees: positions are integers from the shard's own counters; a value nobody reports
// (epoch on a single node, a standby's position) is null, never invented.
import type { ReplicationLagSample, ReplicationRoleSample } from "../metrics/index.ts";
import type { ShardStatus } from "../shard/index.ts";

export interface StandbyView {
  readonly node: string;
  /** The standby's log position, when the replication layer reports one. */
  readonly lsn: number | null;
  readonly lagBatches: number;
  readonly lagSeconds: number | null;
}

export interface ShardView {
  readonly id: string;
  readonly primary: string;
  readonly standbys: readonly StandbyView[];
  /** Fencing epoch of the primary's term; null on a single node (no terms). */
  readonly epoch: number | null;
  readonly lsnApplied: number;
  readonly lsnDurable: number;
  readonly snapshotLsn: number;
  readonly queueDepth: number;
  readonly queueCapacity: number;
  readonly batchCount: number;
  readonly commandCount: number;
  readonly failed: boolean;
}

export interface ClusterView {
  readonly mode: "single node" | "cluster";
  readonly fsyncPolicy: string;
  readonly replication: string;
  readonly version: string;
  readonly uptimeSeconds: number;
  readonly shards: readonly ShardView[];
}

export interface NodeInfo {
  readonly version: string;
  readonly fsyncPolicy: string;
  readonly replication: string;
}

export function singleNodeCluster(
  node: NodeInfo,
  self: string,
  status: ShardStatus,
  lag: readonly ReplicationLagSample[],
  uptimeSeconds: number,
  role: ReplicationRoleSample | null = null,
): ClusterView {
  const shardId = "0";
  const standbys = lag
    .filter((sample) => sample.shard === shardId)
    .map((sample) => ({
      node: sample.standby,
      lsn: Math.max(0, status.lsnDurable - sample.lagBatches),
      lagBatches: sample.lagBatches,
      lagSeconds: sample.lagSeconds,
    }));
  return {
    mode: role === null && standbys.length === 0 ? "single node" : "cluster",
    fsyncPolicy: node.fsyncPolicy,
    replication: node.replication,
    version: node.version,
    uptimeSeconds: Math.round(uptimeSeconds),
    shards: [
      {
        id: shardId,
        primary: role === null ? self : primaryName(role),
        standbys,
        epoch: role === null ? null : role.epoch,
        lsnApplied: status.lsn,
        lsnDurable: status.lsnDurable,
        snapshotLsn: status.snapshotLsn,
        queueDepth: status.queueDepth,
        queueCapacity: status.queueCapacity,
        batchCount: status.batchCount,
        commandCount: status.commandCount,
        failed: status.failed,
      },
    ],
  };
}

/** The primary as the page names it: its REST address when known, else its node id. */
function primaryName(role: ReplicationRoleSample): string {
  if (role.primaryId === "") return "(vacant: choosing)";
  const address = role.primaryHttpAddress ?? role.primaryId;
  return role.primaryId === role.selfId ? `${address} (this node)` : address;
}
