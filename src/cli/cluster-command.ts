// `txgrid cluster up|status|down` (a local cluster: etcd and N node processes) and
// `txgrid etcd start|stop|status` (a local etcd alone). Flag parsing and printing only; the
// work is in the cluster module. Exit codes as in main.ts.
import { join, resolve } from "node:path";
import {
  type ClusterStatus,
  clusterDown,
  clusterStatus,
  clusterUp,
  ensureEtcdBinary,
  isHealthy,
  readClusterState,
  startEtcd,
  stopEtcdByPidFile,
} from "../cluster/index.ts";
import {
  BUSY_POLL_US_MAX,
  CLUSTER_GATEWAY_PORT_DEFAULT,
  CLUSTER_HTTP_PORT_BASE_DEFAULT,
  CLUSTER_TCP_PORT_BASE_DEFAULT,
  ETCD_CLIENT_PORT_DEFAULT,
  ETCD_PEER_PORT_DEFAULT,
  LEASE_TTL_MS_MAX,
  LEASE_TTL_MS_MIN,
} from "../constants.ts";
import { ErrorCode, TxgridError } from "../stdx/index.ts";
import { choiceFlag, integerFlag, parseFlags, stringFlag } from "./args.ts";

export const clusterUsage = `usage: txgrid cluster <up|status|down> [options]

A local cluster on 127.0.0.1: one etcd (the Debian etcd-server, installed by
scripts/setup-etcd.sh when missing), N \`txgrid node\` processes and a REST gateway that
forwards to the current primary, all detached; their pids and ports are in DIR/cluster.json.

  up       start etcd, the nodes and the gateway; returns once every node has joined etcd
           and the gateway listens
    --dir DIR            cluster directory (default ./cluster)
    --nodes N            node processes (default 3; 0 runs etcd alone)
    --replicas R         replicas per shard, passed to the nodes (default: N)
    --preferred ID       preferred primary at cold start (default n1)
    --fsync POLICY       always | batch | lazy, passed to the nodes (their default: batch)
    --replication MODE   received | durable, passed to the nodes (their default: received)
    --lease-ttl-ms MS    etcd lease TTL of the nodes (their default: 2000)
    --busy-poll-us N     idle busy polling of the nodes, µs (their default: 0, off)
    --etcd-port PORT     etcd client port (default ${ETCD_CLIENT_PORT_DEFAULT}; peer port: --etcd-peer-port,
                         default ${ETCD_PEER_PORT_DEFAULT})
    --port-base PORT     HTTP port of n1; n{i} gets PORT+i-1 (default ${CLUSTER_HTTP_PORT_BASE_DEFAULT})
    --tcp-port-base PORT binary protocol port of n1 (default ${CLUSTER_TCP_PORT_BASE_DEFAULT})
    --gateway-port PORT  HTTP port of the REST gateway (default ${CLUSTER_GATEWAY_PORT_DEFAULT})
    --no-gateway         start no gateway
  status   gateway, nodes (pid, addresses, lsn per shard) and shards (epoch, primary,
           replicas, lag)
    --dir DIR | --etcd URL    the cluster to read (default ./cluster)
    --json                    machine-readable output
  down     stop every process of the cluster by pid (gateway, nodes, then etcd); data is kept
    --dir DIR
    --purge              also delete the cluster directory (all data)
`;

export const etcdUsage = `usage: txgrid etcd <start|stop|status> [options]

A single-member etcd on 127.0.0.1 for txgrid, from the Debian binary (/usr/bin/etcd).
  --dir DIR          data (DIR/data), log (DIR/etcd.log) and pid file (default ./etcd)
  --port PORT        client port (default ${ETCD_CLIENT_PORT_DEFAULT})
  --peer-port PORT   peer port (default ${ETCD_PEER_PORT_DEFAULT})
`;

export async function clusterCommand(argv: readonly string[]): Promise<number> {
  const [action, ...rest] = argv;
  switch (action) {
    case "up":
      return up(rest);
    case "status":
      return status(rest);
    case "down":
      return down(rest);
    default:
      process.stderr.write(clusterUsage);
      return 2;
  }
}

async function up(argv: readonly string[]): Promise<number> {
  const values = parseFlags(argv, {
    dir: { type: "string", default: "./cluster" },
    nodes: { type: "string", default: "3" },
    replicas: { type: "string" },
    preferred: { type: "string" },
    fsync: { type: "string" },
    replication: { type: "string" },
    "lease-ttl-ms": { type: "string" },
    "busy-poll-us": { type: "string" },
    "etcd-port": { type: "string", default: String(ETCD_CLIENT_PORT_DEFAULT) },
    "etcd-peer-port": { type: "string", default: String(ETCD_PEER_PORT_DEFAULT) },
    "port-base": { type: "string", default: String(CLUSTER_HTTP_PORT_BASE_DEFAULT) },
    "tcp-port-base": { type: "string", default: String(CLUSTER_TCP_PORT_BASE_DEFAULT) },
    "gateway-port": { type: "string", default: String(CLUSTER_GATEWAY_PORT_DEFAULT) },
    "no-gateway": { type: "boolean", default: false },
  });
  const nodes = integerFlag(values, "nodes", 0, 65_535);
  const gatewayPort = integerFlag(values, "gateway-port", 1, 65_535);
  const replicas =
    values.replicas === undefined ? Math.max(1, nodes) : integerFlag(values, "replicas", 1, 65_535);
  const preferred = stringFlag(values, "preferred");
  const fsync =
    values.fsync === undefined
      ? undefined
      : choiceFlag(values, "fsync", ["always", "batch", "lazy"] as const);
  const replication =
    values.replication === undefined
      ? undefined
      : choiceFlag(values, "replication", ["received", "durable"] as const);
  const leaseTtlMs =
    values["lease-ttl-ms"] === undefined
      ? undefined
      : integerFlag(values, "lease-ttl-ms", LEASE_TTL_MS_MIN, LEASE_TTL_MS_MAX);
  const busyPollUs =
    values["busy-poll-us"] === undefined
      ? undefined
      : integerFlag(values, "busy-poll-us", 0, BUSY_POLL_US_MAX);
  const state = await clusterUp({
    dir: stringFlag(values, "dir") ?? "./cluster",
    nodes,
    replicas,
    etcdClientPort: integerFlag(values, "etcd-port", 1, 65_535),
    etcdPeerPort: integerFlag(values, "etcd-peer-port", 1, 65_535),
    httpPortBase: integerFlag(values, "port-base", 1, 65_535),
    tcpPortBase: integerFlag(values, "tcp-port-base", 1, 65_535),
    ...(values["no-gateway"] === true ? {} : { gatewayPort }),
    ...(preferred === undefined ? {} : { preferred }),
    ...(fsync === undefined ? {} : { fsync }),
    ...(replication === undefined ? {} : { replication }),
    ...(leaseTtlMs === undefined ? {} : { leaseTtlMs }),
    ...(busyPollUs === undefined ? {} : { busyPollUs }),
  });
  process.stdout.write(`etcd ${state.etcd.clientUrl} (pid ${state.etcd.pid})\n`);
  for (const node of state.nodes) {
    process.stdout.write(
      `${node.id} http://127.0.0.1:${node.httpPort} txgrid://127.0.0.1:${node.tcpPort} (pid ${node.pid})\n`,
    );
  }
  const gateway = state.gateway ?? null;
  if (gateway !== null) {
    process.stdout.write(
      `gateway http://127.0.0.1:${gateway.httpPort} (pid ${gateway.pid}): REST to the primary\n`,
    );
  }
  process.stdout.write(`cluster up; state in ${join(state.dir, "cluster.json")}\n`);
  return 0;
}

async function status(argv: readonly string[]): Promise<number> {
  const values = parseFlags(argv, {
    dir: { type: "string", default: "./cluster" },
    etcd: { type: "string" },
    json: { type: "boolean", default: false },
  });
  const state = readClusterState(stringFlag(values, "dir") ?? "./cluster");
  const etcdUrl = stringFlag(values, "etcd") ?? state?.etcd.clientUrl;
  if (etcdUrl === undefined) {
    throw new TxgridError(ErrorCode.NOT_FOUND, "no cluster state here; give --dir or --etcd");
  }
  const report = await clusterStatus(etcdUrl, state);
  process.stdout.write(
    values.json === true ? `${JSON.stringify(report, null, 2)}\n` : formatStatus(report),
  );
  return report.etcd.healthy ? 0 : 1;
}

async function down(argv: readonly string[]): Promise<number> {
  const values = parseFlags(argv, {
    dir: { type: "string", default: "./cluster" },
    purge: { type: "boolean", default: false },
  });
  const dir = stringFlag(values, "dir") ?? "./cluster";
  const outcomes = await clusterDown(dir, { purge: values.purge === true });
  if (outcomes.length === 0) process.stdout.write(`no cluster state in ${resolve(dir)}\n`);
  for (const { name, outcome } of outcomes) process.stdout.write(`${name}: ${outcome}\n`);
  return 0;
}

export async function etcdCommand(argv: readonly string[]): Promise<number> {
  const [action, ...rest] = argv;
  const values = parseFlags(rest, {
    dir: { type: "string", default: "./etcd" },
    port: { type: "string", default: String(ETCD_CLIENT_PORT_DEFAULT) },
    "peer-port": { type: "string", default: String(ETCD_PEER_PORT_DEFAULT) },
  });
  const dir = resolve(stringFlag(values, "dir") ?? "./etcd");
  const dataDir = join(dir, "data");
  const pidFile = join(dir, "etcd.pid");
  const clientPort = integerFlag(values, "port", 1, 65_535);
  switch (action) {
    case "start": {
      const etcd = await startEtcd({
        dataDir,
        clientPort,
        peerPort: integerFlag(values, "peer-port", 1, 65_535),
        pidFile,
        logPath: join(dir, "etcd.log"),
        binaryPath: ensureEtcdBinary(),
        detached: true,
      });
      process.stdout.write(`etcd ${etcd.clientUrl} (pid ${etcd.pid}, data ${dataDir})\n`);
      return 0;
    }
    case "stop": {
      const stopped = await stopEtcdByPidFile(pidFile, dataDir);
      process.stdout.write(stopped ? "etcd stopped\n" : "etcd was not running\n");
      return 0;
    }
    case "status": {
      const url = `http://127.0.0.1:${clientPort}`;
      const healthy = await isHealthy(url);
      process.stdout.write(`etcd ${url} ${healthy ? "healthy" : "not answering"}\n`);
      return healthy ? 0 : 1;
    }
    default:
      process.stderr.write(etcdUsage);
      return 2;
  }
}

/** The human table of `cluster status`. */
export function formatStatus(report: ClusterStatus): string {
  const lines = [
    `etcd ${report.etcd.url} ${report.etcd.healthy ? "healthy" : "NOT ANSWERING"}` +
      (report.etcd.pid === null ? "" : ` (pid ${report.etcd.pid})`),
  ];
  if (report.gateway !== null) {
    lines.push(
      `gateway ${report.gateway.url} ` +
        (report.gateway.pid === null ? "NOT RUNNING" : `(pid ${report.gateway.pid})`),
    );
  }
  if (!report.etcd.healthy) return `${lines.join("\n")}\n`;
  lines.push("", "nodes");
  lines.push(
    ...table([
      ["id", "pid", "tcp", "http", "lsn by shard"],
      ...report.nodes.map((node) => [
        node.nodeId,
        node.pid === null ? "-" : String(node.pid),
        node.tcpAddress,
        node.httpAddress || "-",
        Object.entries(node.shardLsns)
          .map(([shard, lsn]) => `${shard}:${lsn}`)
          .join(" ") || "-",
      ]),
    ]),
  );
  if (report.nodes.length === 0) lines.push("  (no live node)");
  lines.push("", "shards");
  lines.push(
    ...table([
      ["shard", "epoch", "primary", "replicas (lsn, lag)"],
      ...report.shards.map((shard) =>
        "role" in shard
          ? [String(shard.shardId), "-", "-", "no role yet"]
          : [
              String(shard.shardId),
              String(shard.epoch),
              shard.primaryId,
              shard.replicaIds
                .map((id) => `${id}(${shard.lsns[id] ?? "down"}, ${shard.lags[id] ?? "?"})`)
                .join(" "),
            ],
      ),
    ]),
  );
  return `${lines.join("\n")}\n`;
}

function table(rows: readonly (readonly string[])[]): string[] {
  const widths = (rows[0] ?? []).map((_, column) =>
    Math.max(...rows.map((row) => (row[column] ?? "").length)),
  );
  return rows.map(
    (row) =>
      `  ${row
        .map((cell, column) => cell.padEnd(widths[column] ?? 0))
        .join("  ")
        .trimEnd()}`,
  );
}
