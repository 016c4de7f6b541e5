// Who should be primary: pure decisions over what the coordinator shows (the live nodes with
// the log positions they published, and the shard's role record). The decision only picks
// who *tries*; safety never depends on it, because every change is a compare-and-swap on the
// role record and epochs only grow. A wrong or stale pick costs time, never data.
//
// Cold start (no role record yet): wait until `replicaCount` nodes are live (unless forced);
// the highest log position wins, ties go to the preferred primary, then to the smallest id.
// The first epoch's replicas are the live nodes at that same position: a node with less is
// not a replica until it has caught up, so no replica ever lacks an acknowledged entry.
//
// A primary that restarted (or lost its lease) vacates its epoch: it writes epoch + 1 with no
// primary, since it cannot know whether a standby has more than it has.
// Failover (the role's primary has no live lease, or the epoch is vacant): among
// the live replicas of the last epoch, the same order picks who takes over with epoch + 1;
// the next epoch's replicas are the live replicas of the last one. Every replica of an epoch
// has every entry acknowledged in it (that is the acknowledgement rule), so any of them may
// take over; preferring the longest log only spares the others a cut.
import {
  type NodeInfo,
  type ShardRole,
  type ShardRoleValue,
  VACANT_PRIMARY_ID,
} from "../coord/index.ts";

export interface RoleView {
  readonly shardId: number;
  readonly selfId: string;
  readonly replicaCount: number;
  readonly preferredPrimaryId: string | null;
  /** The operator's "start without all replicas". */
  readonly force: boolean;
  readonly role: ShardRole | null;
  readonly nodes: readonly NodeInfo[];
  /** This node's own log position (fresher than what it published). */
  readonly selfLsn: number;
  /** Whether this process currently acts as the role's primary. */
  readonly selfActing: boolean;
}

export type RoleDecision =
  | { readonly kind: "wait"; readonly reason: string }
  | {
      readonly kind: "claim";
      readonly expectedRevision: number;
      readonly next: ShardRoleValue;
    };

function lsnOf(view: RoleView, node: NodeInfo): number {
  if (node.nodeId === view.selfId) return view.selfLsn;
  return node.shardLsns[String(view.shardId)] ?? 0;
}

/** Orders candidates: highest log first, then the preferred primary, then the smallest id. */
export function rankCandidates(view: RoleView, candidates: readonly NodeInfo[]): NodeInfo[] {
  return [...candidates].sort((a, b) => {
    const byLsn = lsnOf(view, b) - lsnOf(view, a);
    if (byLsn !== 0) return byLsn;
    const aPreferred = a.nodeId === view.preferredPrimaryId ? 1 : 0;
    const bPreferred = b.nodeId === view.preferredPrimaryId ? 1 : 0;
    if (aPreferred !== bPreferred) return bPreferred - aPreferred;
    return a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0;
  });
}

export function decideRole(view: RoleView): RoleDecision {
  const live = new Map(view.nodes.map((node) => [node.nodeId, node]));
  if (!live.has(view.selfId)) return { kind: "wait", reason: "this node has no live lease" };
  const role = view.role;
  if (role === null) {
    if (view.nodes.length < view.replicaCount && !view.force) {
      return {
        kind: "wait",
        reason: `cold start: ${view.nodes.length} of ${view.replicaCount} replicas are up`,
      };
    }
    const ranked = rankCandidates(view, view.nodes).slice(0, view.replicaCount);
    const winner = ranked[0];
    if (winner === undefined || winner.nodeId !== view.selfId) {
      return { kind: "wait", reason: `cold start: ${winner?.nodeId} should start` };
    }
    const lsnTop = lsnOf(view, winner);
    const replicaIds = ranked
      .filter((node) => lsnOf(view, node) === lsnTop)
      .map((node) => node.nodeId);
    return {
      kind: "claim",
      expectedRevision: 0,
      next: { shardId: view.shardId, epoch: 1, primaryId: view.selfId, replicaIds },
    };
  }
  if (role.primaryId === view.selfId && !view.selfActing) {
    // This node was primary before a restart (or a lost lease): it cannot tell whether a
    // standby holds more than it does, so it vacates the epoch and lets the ranking decide.
    return {
      kind: "claim",
      expectedRevision: role.revision,
      next: { ...roleValue(role), epoch: role.epoch + 1, primaryId: VACANT_PRIMARY_ID },
    };
  }
  const primaryGone = role.primaryId === VACANT_PRIMARY_ID || !live.has(role.primaryId);
  if (!primaryGone) return { kind: "wait", reason: `primary ${role.primaryId} is live` };
  if (!role.replicaIds.includes(view.selfId)) {
    return { kind: "wait", reason: `not a replica of epoch ${role.epoch}` };
  }
  const candidates = view.nodes.filter((node) => role.replicaIds.includes(node.nodeId));
  const winner = rankCandidates(view, candidates)[0];
  if (winner === undefined || winner.nodeId !== view.selfId) {
    return { kind: "wait", reason: `failover: ${winner?.nodeId} should take over` };
  }
  const replicaIds = candidates.map((node) => node.nodeId).sort();
  return {
    kind: "claim",
    expectedRevision: role.revision,
    next: { shardId: view.shardId, epoch: role.epoch + 1, primaryId: view.selfId, replicaIds },
  };
}

export function roleValue(role: ShardRole): ShardRoleValue {
  return {
    shardId: role.shardId,
    epoch: role.epoch,
    primaryId: role.primaryId,
    replicaIds: role.replicaIds,
  };
}
