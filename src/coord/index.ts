// coord: the coordination contract (roles, epochs, leases) that etcd fulfils.
export type {
  Coordinator,
  NodeInfo,
  NodeSession,
  ShardRole,
  ShardRoleValue,
} from "./coordinator.ts";
