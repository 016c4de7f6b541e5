// The single-node server: a data directory, one shard, the HTTP face and the binary TCP face
// (docs/protocol.md). This is a composition root: the only layer that picks the real storage,
// clock and network.
// It prints the durability setting at start, logs one line per state change (never per
// request), and on SIGINT/SIGTERM stops accepting work, answers what is queued, syncs the log
// and exits. A storage failure stops the process (exit 1) so that a restart recovers from
// the log: after a failed fdatasync nobody knows what the disk holds.
import { resolve } from "node:path";
import { pino } from "pino";
import { buildHttpApp } from "../api/http/index.ts";
import { Shard, type ShardEvent } from "../shard/index.ts";
import { lockDataDir } from "./data-dir-lock.ts";
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
}

export interface RunningServer {
  readonly url: string;
  /** `txgrid://host:port` of the binary protocol, or null without a TCP face. */
  readonly tcpUrl: string | null;
  readonly tcp: TcpServer | null;
  readonly shard: Shard;
  close(): Promise<void>;
}

const logger = pino({ base: null, timestamp: pino.stdTimeFunctions.isoTime });

function logShardEvent(event: ShardEvent): void {
  switch (event.kind) {
    case "batch":
      return; // per-batch detail goes to metrics, not to the log
    case "failed":
      logger.fatal({ err: event.error }, "storage failed; stopping so a restart can recover");
      setImmediate(() => process.exit(1));
      return;
    default:
      logger.info(event, `shard ${event.kind}`);
  }
}

export async function runServer(options: ServerOptions): Promise<RunningServer> {
  const dataDir = resolve(options.dataDir);
  const lock = lockDataDir(dataDir);
  let shard: Shard;
  try {
    shard = await Shard.open({
      dir: dataDir,
      fsyncPolicy: options.fsyncPolicy,
      onEvent: logShardEvent,
    });
  } catch (error) {
    lock.release();
    throw error;
  }
  const app = buildHttpApp(shard, { logger: false });
  let tcp: TcpServer | null = null;
  try {
    await app.listen({ host: options.host, port: options.port });
    if (options.tcpPort !== undefined && options.tcpPort !== null) {
      tcp = await TcpServer.listen({ shard, host: options.host, port: options.tcpPort });
    }
  } catch (error) {
    await app.close();
    await shard.close();
    lock.release();
    throw error;
  }
  const address = app.server.address();
  const port = typeof address === "object" && address !== null ? address.port : options.port;
  const url = `http://${options.host}:${port}`;
  const tcpUrl = tcp?.url ?? null;
  const faces = tcpUrl === null ? url : `${url} and ${tcpUrl}`;
  logger.info(
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
      await Promise.all([app.close(), tcp?.close()]);
      await shard.close();
      lock.release();
      logger.info({ lsn: shard.engine.lsn }, "txgrid stopped");
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
  return { url, tcpUrl, tcp, shard, close };
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
