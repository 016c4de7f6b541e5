// replication: primary/standby replication of a shard's log (docs/design/replication.md):
// the replica state machine, the role decisions over the coordinator, epoch marks, the
// replication messages and frames, and the adapters to a shard and to TCP.
export { EpochHistory, type EpochMark } from "./epochs.ts";
export {
  decodeReplicationFrame,
  type Entry,
  encodeReplicationFrame,
  REPLICATION_HEADER_BYTES,
  REPLICATION_PROTOCOL_VERSION,
  type ReplicationMessage,
  replicationFrameBytes,
} from "./messages.ts";
export {
  Replica,
  type ReplicaEvent,
  type ReplicaLog,
  type ReplicaNetwork,
  type ReplicaOptions,
  type ReplicationMode,
} from "./replica.ts";
export {
  decideRole,
  type RoleDecision,
  type RoleView,
  rankCandidates,
} from "./roles.ts";
export { readEpochMarks, ShardLog, writeEpochMarks } from "./shard-log.ts";
export {
  isReplicationStream,
  type TcpNetworkOptions,
  type TcpNetworkStats,
  TcpReplicaNetwork,
} from "./tcp-network.ts";
