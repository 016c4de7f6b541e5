// server: the composition root of a single node (data directory, shard, HTTP face, binary
// TCP face).
export { lockDataDir } from "./data-dir-lock.ts";
export { LOG_LEVELS, type LogLevel, parseLogLevel } from "./node-log.ts";
export type { ReplicaNode, ReplicaNodeOptions } from "./replica-node.ts";
export {
  type RestGateway,
  type RestGatewayOptions,
  startEtcdRestGateway,
  startRestGateway,
} from "./rest-gateway.ts";
export {
  type DataDirReport,
  type FsyncPolicy,
  type RunningServer,
  runServer,
  type ServerOptions,
  verifyDataDir,
} from "./server.ts";
export { TcpServer, type TcpServerOptions, type TcpServerStats, tcpUrl } from "./tcp-server.ts";
