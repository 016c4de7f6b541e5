// cluster: local processes of a txgrid cluster: etcd from the Debian binary, node processes
// under a supervisor, stopped by pid (docs/design/coordination.md, docs/cli.md).
export {
  type EtcdOptions,
  type EtcdProcess,
  etcdArgs,
  findEtcdBinary,
  isHealthy,
  isPortFree,
  setupScriptPath,
  startEtcd,
  stopEtcdByPidFile,
} from "./etcd-process.ts";
export {
  type ClusterGatewayRecord,
  type ClusterNodeRecord,
  type ClusterState,
  type ClusterStatus,
  type ClusterUpOptions,
  clusterDown,
  clusterStatus,
  clusterUp,
  ensureEtcdBinary,
  readClusterState,
  type ShardStatus,
  statePath,
} from "./local-cluster.ts";
export {
  commandLine,
  isOurs,
  isRunning,
  pausePid,
  processState,
  resumePid,
  stopPid,
  waitGone,
} from "./process.ts";
export {
  type ChildRecord,
  type ChildSpec,
  logTail,
  startDetached,
  stopChildren,
  waitReady,
} from "./supervisor.ts";
