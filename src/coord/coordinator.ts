// The coordination contract: what txgrid asks of etcd (the quorum of TxTest, the membership of
// CloudTPS). txgrid never decides roles by itself; every role change is a compare-and-swap on
// one key per shard, and a node's liveness is an etcd lease. Two implementations keep these
// exact semantics: the etcd one (real processes) and the simulator's fake (seeded tests).
//
// Keys (prefix configurable, default "/txgrid"):
//   {prefix}/nodes/{nodeId}/{lease}  NodeInfo as JSON, attached to that lease (one key per
//                                    session: an older session's late put cannot touch it)
//   {prefix}/shards/{shardId}/role   ShardRole as JSON (no lease: survives every node)
//
// Guarantees the callers rely on:
// - compareAndSetRole succeeds only if the role key's modification revision still equals
//   `expectedRevision` (0: the key must not exist); so two standbys racing for epoch+1 cannot
//   both win, and epochs only grow.
// - A node key disappears when its lease ends (revoked, or not kept alive for ttlMs).
// - NodeSession.deadlineMs is LOCAL and conservative: the monotonic time at which the last
//   successful keepalive was *sent*, plus the lease TTL. etcd can only expire the lease later
//   than that, so a primary that stops acknowledging at its own deadline never overlaps a
//   successor (invariant 4). It must not wait for a "lost" event, which can come late.

/** What a node publishes about itself under its lease. */
export interface NodeInfo {
  readonly nodeId: string;
  /** host:port of the node's replication and binary protocol listener. */
  readonly tcpAddress: string;
  /** host:port of the node's REST face, or "" when it has none. */
  readonly httpAddress: string;
  /** Highest log position (lsn) of each shard the node holds, by shard id. */
  readonly shardLsns: Readonly<Record<string, number>>;
}

/** The one authoritative record of a shard's roles. */
export interface ShardRole {
  readonly shardId: number;
  /** Grows by one on every change of primary; replicas reject entries of older epochs. */
  readonly epoch: number;
  /** The primary of this epoch, one of replicaIds; or VACANT_PRIMARY_ID ("") when the epoch
   * has none yet: its last primary stepped down (after a restart it cannot know whether a
   * standby holds more than it does) and the ranking of the replicas will choose one. No
   * write can be acknowledged in a vacant epoch. */
  readonly primaryId: string;
  /** Every replica of this epoch, the primary included; an entry is acknowledged only when
   * all of them have it. */
  readonly replicaIds: readonly string[];
  /** etcd's mod_revision of the role key, the token for the next compare-and-swap. */
  readonly revision: number;
}

export type ShardRoleValue = Omit<ShardRole, "revision">;

/** The primaryId of an epoch that has no primary (see ShardRole.primaryId). */
export const VACANT_PRIMARY_ID = "";

export interface NodeSession {
  readonly nodeId: string;
  /** Local monotonic ms after which this node must act as if its lease were gone. */
  deadlineMs(): number;
  /** Replaces the published NodeInfo (same lease). */
  publish(info: NodeInfo): Promise<void>;
  /** Called once when keepalives fail for good or the lease is revoked. */
  onLost(callback: () => void): void;
  /** Revokes the lease (the node key disappears at once) and stops keepalives. */
  close(): Promise<void>;
}

export interface Coordinator {
  /** Grants a lease of `leaseTtlMs`, publishes `info` under it, and keeps it alive. */
  join(info: NodeInfo, leaseTtlMs: number): Promise<NodeSession>;
  /** Nodes whose lease is alive. */
  listNodes(): Promise<NodeInfo[]>;
  readRole(shardId: number): Promise<ShardRole | null>;
  /** Writes `next` if the role's revision is still `expectedRevision`; null when it lost. */
  compareAndSetRole(
    shardId: number,
    expectedRevision: number,
    next: ShardRoleValue,
  ): Promise<ShardRole | null>;
  /** Calls back on every change of the shard's role (and once with the current value). */
  watchRole(shardId: number, callback: (role: ShardRole | null) => void): () => void;
  /** Calls back whenever the set of live nodes changes (and once with the current set). */
  watchNodes(callback: (nodes: readonly NodeInfo[]) => void): () => void;
  close(): Promise<void>;
}
