// Runs a single-member etcd from the Debian binary on loopback: for `txgrid cluster up`,
// `txgrid etcd start` and the tests that need a real etcd. Production runs its own etcd
// cluster (docs/design/coordination.md); this is the local one.
//
// Guarantees:
// - etcd listens only on 127.0.0.1, on the given client and peer ports (never on etcd's
//   defaults 2379/2380 unless asked), with its data in `dataDir` (kept across restarts: a
//   restarted etcd has every key that was not attached to an expired lease).
// - startEtcd resolves only once etcd answers GET /health with {"health":"true"}; it fails with
//   UNAVAILABLE (log tail in the message) when etcd exits or is not healthy in time, and then
//   leaves no process behind.
// - The pid is written to `pidFile` (when given) once etcd is healthy, and removed by stop().
// - ETCD_* variables of the caller's environment are not passed on: every setting is a flag.
import { spawn } from "node:child_process";
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ETCD_START_TIMEOUT_MS } from "../constants.ts";
import { ErrorCode, TxgridError } from "../stdx/index.ts";
import { isOurs, pausePid, processState, resumePid, stopPid } from "./process.ts";
import { logTail } from "./supervisor.ts";

const HEALTH_POLL_INTERVAL_MS = 50;
const HEALTH_REQUEST_TIMEOUT_MS = 1_000;

export interface EtcdOptions {
  readonly dataDir: string;
  readonly clientPort: number;
  readonly peerPort: number;
  /** Member name (default "txgrid"). */
  readonly name?: string;
  /** Where etcd writes its log (default: etcd.log beside the data dir). */
  readonly logPath?: string;
  /** Where the pid is written once healthy (default: none). */
  readonly pidFile?: string;
  /** The etcd binary (default: findEtcdBinary()). */
  readonly binaryPath?: string;
  /** Let etcd outlive this process (`txgrid cluster up`, `txgrid etcd start`). */
  readonly detached?: boolean;
  readonly startTimeoutMs?: number;
}

export interface EtcdProcess {
  readonly pid: number;
  /** http://127.0.0.1:{clientPort}, what the etcd3 client and etcdctl take. */
  readonly clientUrl: string;
  readonly dataDir: string;
  readonly logPath: string;
  /** SIGTERM, then SIGKILL; removes the pid file. */
  stop(): Promise<void>;
  /** SIGSTOP: etcd keeps its sockets open but answers nothing (an etcd outage). */
  pause(): Promise<void>;
  resume(): void;
}

/** The etcd binary: $TXGRID_ETCD_BIN, /usr/bin/etcd (Debian etcd-server), or etcd on PATH. */
export function findEtcdBinary(): string | null {
  const candidates = [process.env.TXGRID_ETCD_BIN, "/usr/bin/etcd"];
  for (const dir of (process.env.PATH ?? "").split(":"))
    if (dir !== "") candidates.push(join(dir, "etcd"));
  for (const candidate of candidates) {
    if (candidate === undefined || candidate === "") continue;
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not this one
    }
  }
  return null;
}

/** The setup script that installs etcd-server when it is missing (scripts/setup-etcd.sh). */
export function setupScriptPath(): string {
  return new URL("../../../scripts/setup-etcd.sh", import.meta.url).pathname;
}

/** etcd's command line for a single loopback member. */
export function etcdArgs(options: EtcdOptions): string[] {
  const name = options.name ?? "txgrid";
  const clientUrl = `http://127.0.0.1:${options.clientPort}`;
  const peerUrl = `http://127.0.0.1:${options.peerPort}`;
  return [
    "--name",
    name,
    "--data-dir",
    options.dataDir,
    "--listen-client-urls",
    clientUrl,
    "--advertise-client-urls",
    clientUrl,
    "--listen-peer-urls",
    peerUrl,
    "--initial-advertise-peer-urls",
    peerUrl,
    "--initial-cluster",
    `${name}=${peerUrl}`,
    "--initial-cluster-state",
    "new",
    "--initial-cluster-token",
    `txgrid-${options.clientPort}`,
    "--logger",
    "zap",
    "--log-outputs",
    "stderr",
    // Every publish() of a node's lsn makes a revision; keep the history short.
    "--auto-compaction-mode",
    "revision",
    "--auto-compaction-retention",
    "10000",
  ];
}

export async function startEtcd(options: EtcdOptions): Promise<EtcdProcess> {
  const binaryPath = options.binaryPath ?? findEtcdBinary();
  if (binaryPath === null) {
    throw new TxgridError(
      ErrorCode.UNAVAILABLE,
      `etcd is not installed; run ${setupScriptPath()} (as root) or apt-get install etcd-server`,
    );
  }
  // Another etcd (or anything) on our ports would answer the health check in our place.
  for (const port of [options.clientPort, options.peerPort]) {
    if (!(await isPortFree(port))) {
      throw new TxgridError(ErrorCode.UNAVAILABLE, `port 127.0.0.1:${port} is already in use`);
    }
  }
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const logPath = options.logPath ?? join(dirname(options.dataDir), "etcd.log");
  mkdirSync(dirname(logPath), { recursive: true });
  const logFd = openSync(logPath, "a");
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.startsWith("ETCD_")),
  );
  const child = spawn(binaryPath, etcdArgs(options), {
    stdio: ["ignore", logFd, logFd],
    detached: options.detached === true,
    env,
  });
  closeSync(logFd);
  const pid = child.pid;
  if (pid === undefined) {
    throw new TxgridError(ErrorCode.UNAVAILABLE, `could not start ${binaryPath}`);
  }
  let exitCode: number | null = null;
  let exited = false;
  child.once("exit", (code, signal) => {
    exited = true;
    exitCode = code ?? (signal === null ? -1 : -2);
  });
  child.once("error", () => {
    exited = true;
  });
  if (options.detached === true) child.unref();
  const clientUrl = `http://127.0.0.1:${options.clientPort}`;
  const pidFile = options.pidFile;
  const stop = async () => {
    await stopPid(pid, { expect: options.dataDir });
    if (pidFile !== undefined) rmSync(pidFile, { force: true });
  };
  const timeoutMs = options.startTimeoutMs ?? ETCD_START_TIMEOUT_MS;
  const startMs = performance.now();
  while (exited || !(await isHealthy(clientUrl))) {
    if (exited || performance.now() - startMs > timeoutMs) {
      await stop();
      const why = exited ? `exited with ${String(exitCode)}` : `not healthy after ${timeoutMs} ms`;
      throw new TxgridError(
        ErrorCode.UNAVAILABLE,
        `etcd on ${clientUrl} ${why}; log ${logPath}:\n${logTail(logPath)}`,
      );
    }
    await sleep(HEALTH_POLL_INTERVAL_MS);
  }
  if (pidFile !== undefined) writeFileSync(pidFile, `${pid}\n`);
  return {
    pid,
    clientUrl,
    dataDir: options.dataDir,
    logPath,
    stop,
    pause: async () => {
      pausePid(pid);
      // The signal is asynchronous: return once the kernel shows the process stopped.
      for (let i = 0; i < 200 && processState(pid) !== "T"; i++) await sleep(10);
    },
    resume: () => resumePid(pid),
  };
}

/** True when etcd at `clientUrl` answers its health check as healthy. */
export async function isHealthy(clientUrl: string): Promise<boolean> {
  try {
    const response = await fetch(`${clientUrl}/health`, {
      signal: AbortSignal.timeout(HEALTH_REQUEST_TIMEOUT_MS),
    });
    const body = (await response.json()) as { health?: unknown };
    return response.ok && body.health === "true";
  } catch {
    return false;
  }
}

/** Stops the etcd whose pid is in `pidFile` (if it still runs with that data dir). */
export async function stopEtcdByPidFile(pidFile: string, dataDir: string): Promise<boolean> {
  if (!existsSync(pidFile)) return false;
  const pid = Number(readFileSync(pidFile, "utf8").trim());
  const outcome = isOurs(pid, dataDir) ? await stopPid(pid, { expect: dataDir }) : "not-running";
  rmSync(pidFile, { force: true });
  return outcome !== "not-running";
}

/** True when nothing listens on 127.0.0.1:port (we could bind it). */
export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen({ port, host: "127.0.0.1", exclusive: true }, () => {
      server.close(() => resolve(true));
    });
  });
}
