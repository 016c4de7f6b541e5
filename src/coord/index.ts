// coord: the coordination contract (roles, epochs, leases) that etcd fulfils, its etcd
// implementation, the checks of its records, and the contract test suite every
// implementation (etcd, the simulator's fake) must pass.
export {
  type Coordinator,
  type NodeInfo,
  type NodeSession,
  type ShardRole,
  type ShardRoleValue,
  VACANT_PRIMARY_ID,
} from "./coordinator.ts";
export {
  type ContractCase,
  type ContractHarness,
  type ContractReport,
  coordinatorContract,
} from "./coordinator-contract.ts";
export {
  createEtcdCoordinator,
  EtcdCoordinator,
  type EtcdCoordinatorOptions,
  EtcdNodeSession,
  systemClock,
} from "./etcd-coordinator.ts";
export {
  checkLeaseTtlMs,
  checkNodeId,
  checkShardId,
  decodeNodeInfo,
  decodeRole,
  encodeNodeInfo,
  encodeRoleValue,
  newestPerNode,
  nodeKey,
  nodesPrefix,
  roleKey,
} from "./records.ts";
