// A local cluster for demos and tests: one etcd, N `txgrid node` processes and (unless turned
// off) one `txgrid gateway` on loopback, described by a state file so that later commands
// (status, down) find them by pid.
//
// Layout of the cluster dir:
//   cluster.json        the state file (below), written once everything is up
//   etcd/data/          etcd's data (kept by `down`; `down --purge` removes the dir)
//   etcd/etcd.log       etcd's log;  etcd/etcd.pid its pid
//   nodes/{id}/         a node's --data-dir;  nodes/{id}.log its output
//   gateway.log         the gateway's output
//
// The flags every node gets (the contract with `txgrid node`, docs/cli.md):
//   --id n{i} --data-dir DIR/nodes/n{i} --port HTTP --tcp-port TCP
//   --etcd http://127.0.0.1:{etcdPort} --replicas R --preferred n1
//   and, when given to `up`: --fsync P --replication M --lease-ttl-ms T --busy-poll-us N
// A node counts as started once it has published itself in etcd (its key under
// {prefix}/nodes/); a node that exits first, or is not there in time, fails `up`, and `up`
// then stops everything it started. The gateway (`txgrid gateway --etcd URL --port P`) is
// started after the nodes and counts as started once it printed its listening line; it
// follows the shard's primary through etcd by itself, so it needs no other flag.
//
// Guarantees: `up` refuses a cluster dir whose state file names running processes (no second
// cluster on the same data); every process is stopped by pid with its command line checked.
import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  CLUSTER_GATEWAY_START_TIMEOUT_MS,
  CLUSTER_NODE_START_TIMEOUT_MS,
  CLUSTER_NODES_MAX,
  COORD_PREFIX_DEFAULT,
} from "../constants.ts";
import { createEtcdCoordinator, type NodeInfo, type ShardRole } from "../coord/index.ts";
import { ErrorCode, TxgridError } from "../stdx/index.ts";
import {
  findEtcdBinary,
  isHealthy,
  setupScriptPath,
  startEtcd,
  stopEtcdByPidFile,
} from "./etcd-process.ts";
import { isOurs } from "./process.ts";
import { type ChildRecord, startDetached, stopChildren, waitReady } from "./supervisor.ts";

const STATE_VERSION = 1;
const binPath = fileURLToPath(new URL("../../../bin/txgrid.js", import.meta.url));

export interface ClusterUpOptions {
  readonly dir: string;
  /** Node processes to start (0: etcd alone). */
  readonly nodes: number;
  /** Replicas per shard, passed to every node (default: nodes). */
  readonly replicas: number;
  readonly etcdClientPort: number;
  readonly etcdPeerPort: number;
  /** Node i (from 1) gets HTTP port httpPortBase + i - 1 and TCP port tcpPortBase + i - 1. */
  readonly httpPortBase: number;
  readonly tcpPortBase: number;
  readonly preferred?: string;
  /** Passed to every node as --fsync, --replication, --lease-ttl-ms when given. */
  readonly fsync?: string;
  readonly replication?: string;
  readonly leaseTtlMs?: number;
  /** Passed to every node as --snapshot-interval-bytes when given. */
  readonly snapshotIntervalBytes?: number;
  /** Passed to every node as --busy-poll-us when given. */
  readonly busyPollUs?: number;
  /** The command that runs a node (default: this node binary with bin/txgrid.js node). */
  readonly nodeCommand?: readonly string[];
  /** HTTP port of the cluster's REST gateway; absent: no gateway (always absent without nodes). */
  readonly gatewayPort?: number;
  /** The command that runs the gateway (default: this node binary with bin/txgrid.js gateway). */
  readonly gatewayCommand?: readonly string[];
}

export interface ClusterNodeRecord extends ChildRecord {
  readonly id: string;
  readonly dataDir: string;
  readonly httpPort: number;
  readonly tcpPort: number;
}

export interface ClusterGatewayRecord extends ChildRecord {
  readonly httpPort: number;
}

export interface ClusterState {
  readonly version: number;
  readonly dir: string;
  readonly prefix: string;
  readonly etcd: {
    readonly pid: number;
    readonly clientUrl: string;
    readonly dataDir: string;
    readonly logPath: string;
    readonly pidFile: string;
  };
  readonly replicas: number;
  readonly nodes: readonly ClusterNodeRecord[];
  /** Absent in state files written before gateways were started by `up`, null when off. */
  readonly gateway?: ClusterGatewayRecord | null;
}

export function statePath(dir: string): string {
  return join(resolve(dir), "cluster.json");
}

export function readClusterState(dir: string): ClusterState | null {
  const path = statePath(dir);
  if (!existsSync(path)) return null;
  try {
    const state = JSON.parse(readFileSync(path, "utf8")) as ClusterState;
    if (state.version !== STATE_VERSION) throw new Error(`version ${String(state.version)}`);
    return state;
  } catch (error) {
    throw new TxgridError(ErrorCode.CORRUPT, `unreadable cluster state ${path}`, { cause: error });
  }
}

/** The etcd binary, installing etcd-server through scripts/setup-etcd.sh when missing. */
export function ensureEtcdBinary(): string {
  const found = findEtcdBinary();
  if (found !== null) return found;
  const result = spawnSync("bash", [setupScriptPath()], { stdio: ["ignore", "pipe", "inherit"] });
  const installed = findEtcdBinary();
  if (result.status !== 0 || installed === null) {
    throw new TxgridError(
      ErrorCode.UNAVAILABLE,
      `etcd is not installed and ${setupScriptPath()} could not install it`,
    );
  }
  return installed;
}

export async function clusterUp(options: ClusterUpOptions): Promise<ClusterState> {
  if (!Number.isSafeInteger(options.nodes) || options.nodes < 0) {
    throw new TxgridError(ErrorCode.BAD_REQUEST, "--nodes must be a whole number");
  }
  if (options.nodes > CLUSTER_NODES_MAX) {
    throw new TxgridError(ErrorCode.LIMIT_EXCEEDED, `at most ${CLUSTER_NODES_MAX} nodes`);
  }
  if (options.replicas < 1 || (options.nodes > 0 && options.replicas > options.nodes)) {
    throw new TxgridError(ErrorCode.BAD_REQUEST, "--replicas must be from 1 to --nodes");
  }
  const gatewayPort = options.nodes > 0 ? options.gatewayPort : undefined;
  if (
    gatewayPort !== undefined &&
    (!Number.isSafeInteger(gatewayPort) || gatewayPort < 1 || gatewayPort > 65_535)
  ) {
    throw new TxgridError(ErrorCode.BAD_REQUEST, "the gateway port must be from 1 to 65535");
  }
  const dir = resolve(options.dir);
  const previous = readClusterState(dir);
  if (previous !== null && isAnyRunning(previous)) {
    throw new TxgridError(
      ErrorCode.LOCKED,
      `a cluster is already running from ${dir}; run \`txgrid cluster down --dir ${options.dir}\``,
    );
  }
  const binaryPath = ensureEtcdBinary();
  mkdirSync(dir, { recursive: true });
  const etcdDir = join(dir, "etcd");
  const pidFile = join(etcdDir, "etcd.pid");
  const etcd = await startEtcd({
    dataDir: join(etcdDir, "data"),
    logPath: join(etcdDir, "etcd.log"),
    pidFile,
    clientPort: options.etcdClientPort,
    peerPort: options.etcdPeerPort,
    binaryPath,
    detached: true,
  });
  const nodes: ClusterNodeRecord[] = [];
  let gateway: ClusterGatewayRecord | null = null;
  const coordinator = createEtcdCoordinator({ endpoints: [etcd.clientUrl] });
  try {
    const preferred = options.preferred ?? (options.nodes > 0 ? "n1" : "");
    for (let i = 1; i <= options.nodes; i++) {
      const id = `n${i}`;
      const dataDir = join(dir, "nodes", id);
      const httpPort = options.httpPortBase + i - 1;
      const tcpPort = options.tcpPortBase + i - 1;
      const nodeArgs = [
        "--id",
        id,
        "--data-dir",
        dataDir,
        "--port",
        String(httpPort),
        "--tcp-port",
        String(tcpPort),
        "--etcd",
        etcd.clientUrl,
        "--replicas",
        String(options.replicas),
        "--preferred",
        preferred,
        ...(options.fsync === undefined ? [] : ["--fsync", options.fsync]),
        ...(options.replication === undefined ? [] : ["--replication", options.replication]),
        ...(options.leaseTtlMs === undefined ? [] : ["--lease-ttl-ms", String(options.leaseTtlMs)]),
        ...(options.snapshotIntervalBytes === undefined
          ? []
          : ["--snapshot-interval-bytes", String(options.snapshotIntervalBytes)]),
        ...(options.busyPollUs === undefined ? [] : ["--busy-poll-us", String(options.busyPollUs)]),
      ];
      const [command, ...prefixArgs] = options.nodeCommand ?? [process.execPath, binPath, "node"];
      const record = startDetached({
        name: id,
        command: command as string,
        args: [...prefixArgs, ...nodeArgs],
        logPath: join(dir, "nodes", `${id}.log`),
      });
      nodes.push({ ...record, id, dataDir, httpPort, tcpPort });
    }
    // Nodes start in parallel; each must publish itself in etcd before `up` returns.
    for (const node of nodes) {
      await waitReady(
        node,
        async () =>
          (await coordinator.listNodes().catch(() => [])).some((n) => n.nodeId === node.id),
        CLUSTER_NODE_START_TIMEOUT_MS,
      );
    }
    if (gatewayPort !== undefined) {
      gateway = await startGateway(dir, etcd.clientUrl, gatewayPort, options.gatewayCommand);
    }
  } catch (error) {
    if (gateway !== null) await stopChildren([gateway]);
    await stopChildren(nodes);
    await etcd.stop();
    throw error;
  } finally {
    await coordinator.close();
  }
  const state: ClusterState = {
    version: STATE_VERSION,
    dir,
    prefix: COORD_PREFIX_DEFAULT,
    etcd: {
      pid: etcd.pid,
      clientUrl: etcd.clientUrl,
      dataDir: etcd.dataDir,
      logPath: etcd.logPath,
      pidFile,
    },
    replicas: options.replicas,
    nodes,
    gateway,
  };
  const path = statePath(dir);
  writeFileSync(`${path}.tmp`, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(`${path}.tmp`, path);
  return state;
}

/**
 * Starts the cluster's REST gateway and waits for its listening line (only lines written after
 * the start count: the log is appended to across runs). A gateway that cannot listen (its port
 * taken) exits, and the wait reports it with the log's tail.
 */
async function startGateway(
  dir: string,
  etcdUrl: string,
  httpPort: number,
  gatewayCommand: readonly string[] | undefined,
): Promise<ClusterGatewayRecord> {
  const logPath = join(dir, "gateway.log");
  const logStartBytes = existsSync(logPath) ? statSync(logPath).size : 0;
  const [command, ...prefixArgs] = gatewayCommand ?? [process.execPath, binPath, "gateway"];
  const record = startDetached({
    name: "gateway",
    command: command as string,
    args: [...prefixArgs, "--etcd", etcdUrl, "--port", String(httpPort)],
    logPath,
  });
  const listening = `txgrid gateway on http://127.0.0.1:${httpPort} `;
  await waitReady(
    record,
    () => readFileSync(logPath).subarray(logStartBytes).toString("utf8").includes(listening),
    CLUSTER_GATEWAY_START_TIMEOUT_MS,
  );
  return { ...record, httpPort };
}

export interface ShardStatus extends ShardRole {
  /** Highest lsn each replica published for this shard (null: not live). */
  readonly lsns: Readonly<Record<string, number | null>>;
  /** How far each replica is behind the primary, in log positions (null: unknown). */
  readonly lags: Readonly<Record<string, number | null>>;
}

export interface ClusterStatus {
  readonly etcd: { readonly url: string; readonly healthy: boolean; readonly pid: number | null };
  /** The gateway the state file names (null: none; pid null: no longer running). */
  readonly gateway: { readonly url: string; readonly pid: number | null } | null;
  readonly nodes: readonly (NodeInfo & { readonly pid: number | null })[];
  /** Shards with a role record, plus shards that live nodes report lsns for. */
  readonly shards: readonly (ShardStatus | { readonly shardId: number; readonly role: null })[];
}

/** Reads etcd: live nodes with their lsns, and each known shard's role with lags. */
export async function clusterStatus(
  etcdUrl: string,
  state: ClusterState | null,
): Promise<ClusterStatus> {
  const healthy = await isHealthy(etcdUrl);
  const etcdPid =
    state !== null && isOurs(state.etcd.pid, state.etcd.dataDir) ? state.etcd.pid : null;
  const recorded = state?.gateway ?? null;
  const gateway =
    recorded === null
      ? null
      : {
          url: `http://127.0.0.1:${recorded.httpPort}`,
          pid: isOurs(recorded.pid, recorded.expect) ? recorded.pid : null,
        };
  if (!healthy) {
    return { etcd: { url: etcdUrl, healthy, pid: etcdPid }, gateway, nodes: [], shards: [] };
  }
  const coordinator = createEtcdCoordinator({
    endpoints: [etcdUrl],
    prefix: state?.prefix ?? COORD_PREFIX_DEFAULT,
  });
  try {
    const live = await coordinator.listNodes();
    const pidOf = (id: string) => {
      const node = state?.nodes.find((n) => n.id === id);
      return node !== undefined && isOurs(node.pid, node.expect) ? node.pid : null;
    };
    const shardIds = new Set<number>([0]);
    for (const node of live)
      for (const shard of Object.keys(node.shardLsns)) shardIds.add(Number(shard));
    const shards: ClusterStatus["shards"][number][] = [];
    for (const shardId of [...shardIds].sort((a, b) => a - b)) {
      const role = await coordinator.readRole(shardId);
      if (role === null) {
        shards.push({ shardId, role: null });
        continue;
      }
      const lsnOf = (id: string) =>
        live.find((n) => n.nodeId === id)?.shardLsns[String(shardId)] ?? null;
      const primaryLsn = lsnOf(role.primaryId);
      const lsns = Object.fromEntries(role.replicaIds.map((id) => [id, lsnOf(id)]));
      const lags = Object.fromEntries(
        role.replicaIds.map((id) => {
          const lsn = lsnOf(id);
          return [id, lsn === null || primaryLsn === null ? null : Math.max(0, primaryLsn - lsn)];
        }),
      );
      shards.push({ ...role, lsns, lags });
    }
    return {
      etcd: { url: etcdUrl, healthy, pid: etcdPid },
      gateway,
      nodes: live.map((node) => ({ ...node, pid: pidOf(node.nodeId) })),
      shards,
    };
  } finally {
    await coordinator.close();
  }
}

/** Stops every process of the cluster by pid (the gateway, the nodes, then etcd). */
export async function clusterDown(
  dir: string,
  options: { purge?: boolean } = {},
): Promise<{ name: string; outcome: string }[]> {
  const state = readClusterState(dir);
  const outcomes: { name: string; outcome: string }[] = [];
  if (state !== null) {
    const gateway = state.gateway ?? null;
    if (gateway !== null) outcomes.push(...(await stopChildren([gateway])));
    outcomes.push(...(await stopChildren(state.nodes)));
    const stopped = await stopEtcdByPidFile(state.etcd.pidFile, state.etcd.dataDir);
    outcomes.push({ name: "etcd", outcome: stopped ? "terminated" : "not-running" });
    rmSync(statePath(dir), { force: true });
  }
  if (options.purge === true) rmSync(resolve(dir), { recursive: true, force: true });
  return outcomes;
}

function isAnyRunning(state: ClusterState): boolean {
  const gateway = state.gateway ?? null;
  return (
    isOurs(state.etcd.pid, state.etcd.dataDir) ||
    state.nodes.some((n) => isOurs(n.pid, n.expect)) ||
    (gateway !== null && isOurs(gateway.pid, gateway.expect))
  );
}
