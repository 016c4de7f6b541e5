// A node: a data directory, one shard, the HTTP face and the binary TCP face
// (docs/protocol.md); alone (`txgrid serve`) or, with `cluster` set, as one replica of a
// replicated shard (`txgrid node`: etcd coordination and the replication network,
// replica-node.ts). This is a composition root: the only layer that picks the real storage,
// clock and network.
// A replica that is not the primary refuses writes with NOT_PRIMARY naming the primary (TCP:
// the ERROR frame's message; REST: 503 with `primaryUrl`), and serves reads from its applied
// state, which may lag the primary by the batches not yet replicated.
// It prints the durability setting at start, logs one line per state change and one summary
// per LOG_SUMMARY_INTERVAL_MS of activity (never per request; node-log.ts), serves its
// metrics at GET /metrics and the web console at /console/, and on SIGINT/SIGTERM stops accepting work, answers what is queued, syncs the log
// and exits. A storage failure stops the process (exit 1) so that a restart recovers from
// the log: after a failed fdatasync nobody knows what the disk holds.
import { resolve } from "node:path";
import { buildHttpApp } from "../api/http/index.ts";
import { consoleRoutes } from "../console/index.ts";
import { LOG_SUMMARY_INTERVAL_MS } from "../constants.ts";
import { NodeStorage } from "../io/index.ts";
import { METRICS_CONTENT_TYPE, NodeMetrics } from "../metrics/index.ts";
import { Shard } from "../shard/index.ts";
import { ErrorCode, must, TxgridError } from "../stdx/index.ts";
import { lockDataDir } from "./data-dir-lock.ts";
import {
  createNodeLogger,
  LOG_LEVELS,
  type LogLevel,
  logShardEvent,
  summarizeActivity,
} from "./node-log.ts";
import { createReplicaNode, type ReplicaNode, type ReplicaNodeOptions } from "./replica-node.ts";
import { TcpServer } from "./tcp-server.ts";

export type FsyncPolicy = "always" | "batch" | "lazy";

export interface ServerOptions {
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  readonly fsyncPolicy: FsyncPolicy;
  /** Port of the binary protocol (0 picks a free one); absent or null: no TCP face. */
  readonly tcpPort?: number | null;
  /** Install SIGINT/SIGTERM handlers (the CLI does; tests that embed a server do not). */
  readonly handleSignals?: boolean;
  /** Default info; see node-log.ts. */
  readonly logLevel?: LogLevel;
  /** Shown in txgrid_build_info and the console (the CLI passes package.json's). */
  readonly version?: string;
  /** Run as a replica of a replicated shard (needs fixed, non-zero port and tcpPort). */
  readonly cluster?: ReplicaNodeOptions;
  /** Log bytes between snapshots (default SNAPSHOT_INTERVAL_BYTES). */
  readonly snapshotIntervalBytes?: number;
  /** Idle busy-poll window of the TCP face, µs (default 0: off; tcp-server.ts). */
  readonly busyPollUs?: number;
  /**
   * Read hot-route REST requests with the HTTP/1.1 front (api/http/http1-front.ts); default
   * true. False leaves every connection to node:http (`--http-front off`).
   */
  readonly httpFront?: boolean;
}

export interface RunningServer {
  readonly url: string;
  /** `txgrid://host:port` of the binary protocol, or null without a TCP face. */
  readonly tcpUrl: string | null;
  readonly tcp: TcpServer | null;
  readonly shard: Shard;
  readonly metrics: NodeMetrics;
  /** The replication side, or null for a single node. */
  readonly replicaNode: ReplicaNode | null;
  close(): Promise<void>;
}

const liveTickMs = 1000;

export async function runServer(options: ServerOptions): Promise<RunningServer> {
  const dataDir = resolve(options.dataDir);
  const lock = lockDataDir(dataDir);
  const logger = createNodeLogger(options.logLevel ?? "info");
  const version = options.version ?? "unknown";
  let opened: Shard | null = null;
  const replicationSetting = options.cluster?.mode ?? "none";
  const storage = new NodeStorage();
  let replicaNode: ReplicaNode | null = null;
  if (options.cluster !== undefined) {
    const tcpPort = options.tcpPort ?? 0;
    if (tcpPort === 0 || options.port === 0) {
      lock.release();
      throw new TxgridError(ErrorCode.BAD_REQUEST, "a replica needs fixed HTTP and TCP ports");
    }
    try {
      replicaNode = createReplicaNode(
        options.cluster,
        {
          tcpAddress: `${options.host}:${tcpPort}`,
          httpAddress: `${options.host}:${options.port}`,
        },
        dataDir,
        storage,
        logger,
      );
    } catch (error) {
      lock.release();
      throw error;
    }
  }
  const metrics = new NodeMetrics({
    version,
    fsyncPolicy: options.fsyncPolicy,
    replication: replicationSetting,
    shardStatus: () => must(opened, "metrics are read once the shard is open").status(),
    engineStats: () => must(opened, "metrics are read once the shard is open").engine.stats(),
    startMs: Date.now(),
  });
  let shard: Shard;
  try {
    shard = await Shard.open({
      dir: dataDir,
      fsyncPolicy: options.fsyncPolicy,
      storage,
      ...(replicaNode === null ? {} : { replication: replicaNode.replica }),
      ...(options.snapshotIntervalBytes === undefined
        ? {}
        : { snapshotIntervalBytes: options.snapshotIntervalBytes }),
      onEvent: (event) => {
        metrics.observeShardEvent(event);
        logShardEvent(logger, event, () => setImmediate(() => process.exit(1)));
      },
    });
  } catch (error) {
    await replicaNode?.stop();
    metrics.close();
    lock.release();
    throw error;
  }
  opened = shard;
  if (replicaNode !== null) {
    replicaNode.attach(shard);
    const source = replicaNode;
    metrics.setReplicationSource(() => source.lagSamples());
    metrics.setRoleSource(() => source.roleSample());
  }
  const app = buildHttpApp(shard, {
    front: options.httpFront !== false,
    logger: false,
    replication: replicationSetting,
    onRequestDone: (route, method, statusCode, durationSeconds) =>
      metrics.observeHttpRequest(route, method, statusCode, durationSeconds),
    metrics: { contentType: METRICS_CONTENT_TYPE, render: () => metrics.render() },
  });
  app.register(
    consoleRoutes({
      shard,
      metrics,
      node: { version, fsyncPolicy: options.fsyncPolicy, replication: replicationSetting },
    }),
  );
  let tcp: TcpServer | null = null;
  try {
    await app.listen({ host: options.host, port: options.port });
    if (options.tcpPort !== undefined && options.tcpPort !== null) {
      tcp = await TcpServer.listen({
        shard,
        host: options.host,
        port: options.tcpPort,
        busyPollUs: options.busyPollUs ?? 0,
        ...(replicaNode === null ? {} : { replication: replicaNode.tcpHook }),
      });
      const server = tcp;
      replicaNode?.setActivityHook(() => server.touchBusyPoll());
    }
  } catch (error) {
    await app.close();
    await replicaNode?.stop();
    await shard.close();
    metrics.close();
    lock.release();
    throw error;
  }
  let lastSummaryMs = Date.now();
  const liveTimer = setInterval(() => {
    const nowMs = Date.now();
    metrics.tick(nowMs);
    if (nowMs - lastSummaryMs < LOG_SUMMARY_INTERVAL_MS) return;
    const summary = summarizeActivity(metrics.live.points(lastSummaryMs));
    lastSummaryMs = nowMs;
    if (summary !== null) logger.info(summary, "activity");
  }, liveTickMs);
  liveTimer.unref();
  // The lines a supervisor or `bench --spawn` waits for are written even at --log-level warn.
  const lifecycle =
    LOG_LEVELS.indexOf(options.logLevel ?? "info") < LOG_LEVELS.indexOf("info")
      ? logger.child({}, { level: "info" })
      : logger;
  const address = app.server.address();
  const port = typeof address === "object" && address !== null ? address.port : options.port;
  const url = `http://${options.host}:${port}`;
  const tcpUrl = tcp?.url ?? null;
  const faces = tcpUrl === null ? url : `${url} and ${tcpUrl}`;
  const cluster = options.cluster;
  const role =
    cluster === undefined
      ? ""
      : `, node ${cluster.nodeId} of ${cluster.replicas} replicas, etcd ${cluster.etcdEndpoints.join(",")}, lease ${cluster.leaseTtlMs} ms`;
  lifecycle.info(
    {
      url,
      tcpUrl,
      dataDir,
      fsync: options.fsyncPolicy,
      replication: replicationSetting,
      lsn: shard.engine.lsn,
    },
    `txgrid listening on ${faces} (fsync=${options.fsyncPolicy}, replication=${replicationSetting}, data=${dataDir}${role})`,
  );
  // Joins etcd (and may become primary) only now that both faces listen.
  replicaNode?.start();
  let closing: Promise<void> | null = null;
  const close = () => {
    closing ??= (async () => {
      clearInterval(liveTimer);
      // The replica leaves first: its lease is revoked, so a successor need not wait a TTL.
      await replicaNode?.stop();
      await Promise.all([app.close(), tcp?.close()]);
      await shard.close();
      metrics.close();
      lock.release();
      lifecycle.info({ lsn: shard.engine.lsn }, "txgrid stopped");
    })();
    return closing;
  };
  if (options.handleSignals === true) {
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      process.once(signal, () => {
        logger.info({ signal }, "shutting down");
        void close().then(() => process.exit(0));
      });
    }
  }
  return { url, tcpUrl, tcp, shard, metrics, replicaNode, close };
}

export interface DataDirReport {
  readonly ok: boolean;
  readonly problems: readonly string[];
  readonly lsn: number;
  readonly accountCount: number;
  readonly transferCount: number;
  readonly pendingCount: number;
  readonly balanceSum: bigint;
  readonly initialSum: bigint;
}

/** Opens a data directory offline (as a restart would), checks every invariant, closes it. */
export async function verifyDataDir(dir: string): Promise<DataDirReport> {
  const dataDir = resolve(dir);
  const lock = lockDataDir(dataDir);
  try {
    const shard = await Shard.open({ dir: dataDir, fsyncPolicy: "batch" });
    const problems = shard.engine.checkInvariants();
    const stats = shard.engine.stats();
    const totals = shard.engine.totals();
    await shard.close();
    return {
      ok: problems.length === 0,
      problems,
      lsn: stats.lsn,
      accountCount: stats.accountCount,
      transferCount: stats.transferCount,
      pendingCount: stats.pendingCount,
      balanceSum: totals.balanceSum,
      initialSum: totals.initialSum,
    };
  } finally {
    lock.release();
  }
}
