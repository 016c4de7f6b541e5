// The single-node server: a data directory, one shard, the HTTP face and the binary TCP face
// (docs/protocol.md). This is a composition root: the only layer that picks the real storage,
// clock and network.
// It prints the durability setting at start, logs one line per state change and one summary
// per LOG_SUMMARY_INTERVAL_MS of activity (never per request; node-log.ts), serves its
// metrics at GET /metrics and the web console at /console/, and on SIGINT/SIGTERM stops accepting work, answers what is queued, syncs the log
// and exits. A storage failure stops the process (exit 1) so that a restart recovers from
// the log: after a failed fdatasync nobody knows what the disk holds.
import { resolve } from "node:path";
import { buildHttpApp } from "../api/http/index.ts";
import { consoleRoutes } from "../console/index.ts";
import { LOG_SUMMARY_INTERVAL_MS } from "../constants.ts";
import { METRICS_CONTENT_TYPE, NodeMetrics } from "../metrics/index.ts";
import { Shard } from "../shard/index.ts";
import { must } from "../stdx/index.ts";
import { lockDataDir } from "./data-dir-lock.ts";
import {
  createNodeLogger,
  LOG_LEVELS,
  type LogLevel,
  logShardEvent,
  summarizeActivity,
} from "./node-log.ts";
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
}

export interface RunningServer {
  readonly url: string;
  /** `txgrid://host:port` of the binary protocol, or null without a TCP face. */
  readonly tcpUrl: string | null;
  readonly tcp: TcpServer | null;
  readonly shard: Shard;
  readonly metrics: NodeMetrics;
  close(): Promise<void>;
}

const liveTickMs = 1000;

export async function runServer(options: ServerOptions): Promise<RunningServer> {
  const dataDir = resolve(options.dataDir);
  const lock = lockDataDir(dataDir);
  const logger = createNodeLogger(options.logLevel ?? "info");
  const version = options.version ?? "unknown";
  let opened: Shard | null = null;
  const metrics = new NodeMetrics({
    version,
    fsyncPolicy: options.fsyncPolicy,
    replication: "none",
    shardStatus: () => must(opened, "metrics are read once the shard is open").status(),
    engineStats: () => must(opened, "metrics are read once the shard is open").engine.stats(),
    startMs: Date.now(),
  });
  let shard: Shard;
  try {
    shard = await Shard.open({
      dir: dataDir,
      fsyncPolicy: options.fsyncPolicy,
      onEvent: (event) => {
        metrics.observeShardEvent(event);
        logShardEvent(logger, event, () => setImmediate(() => process.exit(1)));
      },
    });
  } catch (error) {
    metrics.close();
    lock.release();
    throw error;
  }
  opened = shard;
  const app = buildHttpApp(shard, {
    logger: false,
    onRequestDone: (route, method, statusCode, durationSeconds) =>
      metrics.observeHttpRequest(route, method, statusCode, durationSeconds),
    metrics: { contentType: METRICS_CONTENT_TYPE, render: () => metrics.render() },
  });
  app.register(
    consoleRoutes({
      shard,
      metrics,
      node: { version, fsyncPolicy: options.fsyncPolicy, replication: "none" },
    }),
  );
  let tcp: TcpServer | null = null;
  try {
    await app.listen({ host: options.host, port: options.port });
    if (options.tcpPort !== undefined && options.tcpPort !== null) {
      tcp = await TcpServer.listen({ shard, host: options.host, port: options.tcpPort });
    }
  } catch (error) {
    await app.close();
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
  lifecycle.info(
    {
      url,
      tcpUrl,
      dataDir,
      fsync: options.fsyncPolicy,
      replication: "none",
      lsn: shard.engine.lsn,
    },
    `txgrid listening on ${faces} (fsync=${options.fsyncPolicy}, replication=none, data=${dataDir})`,
  );
  let closing: Promise<void> | null = null;
  const close = () => {
    closing ??= (async () => {
      clearInterval(liveTimer);
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
  return { url, tcpUrl, tcp, shard, metrics, close };
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
