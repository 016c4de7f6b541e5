// Child processes for the peer benchmarks: finding the peers' binaries (and installing them
// with scripts/setup-peers.sh when asked), running a tool with a deadline, starting a server
// as a child whose pid we hold, stopping it by that pid, and finding a free port on 127.0.0.1.
//
// Guarantees: every command has a deadline and a bounded output; a server we start is a
// direct child (never daemonized), so it is stopped by its own pid, and a server still running
// when this process exits is killed then. Fault model: a tool that fails, hangs or prints too
// much ends in a TxgridError naming the command and the tail of its output.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { accessSync, constants, readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  PEER_INSTALL_TIMEOUT_MS,
  PEER_OUTPUT_BYTES_MAX,
  PEER_PORT_SCAN_COUNT,
  PEER_START_TIMEOUT_MS,
} from "../../constants.ts";
import { ErrorCode, TxgridError } from "../../stdx/index.ts";

/** From dist/src/bench/peers/ to the repository's (or the installed package's) root. */
const setupScriptPath = fileURLToPath(
  new URL("../../../../scripts/setup-peers.sh", import.meta.url),
);

/** Whose identity a peer runs under: PostgreSQL refuses to run as root. */
export interface RunAs {
  readonly uid: number;
  readonly gid: number;
}

export interface ToolResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface ToolOptions {
  readonly timeoutMs: number;
  readonly runAs?: RunAs | undefined;
  readonly cwd?: string;
  /** Non-zero exit codes are returned instead of thrown. */
  readonly allowFailure?: boolean;
}

function tail(text: string): string {
  return text.length > 2000 ? `…${text.slice(-2000)}` : text;
}

/** Runs `file args...` to completion within `timeoutMs`; throws on failure unless allowed. */
export function runTool(
  file: string,
  args: readonly string[],
  options: ToolOptions,
): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      [...args],
      {
        timeout: options.timeoutMs,
        killSignal: "SIGKILL",
        maxBuffer: PEER_OUTPUT_BYTES_MAX,
        ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
        ...(options.runAs === undefined ? {} : options.runAs),
      },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
        if (error !== null && (code === -1 || options.allowFailure !== true)) {
          const why = error.killed ? `killed after ${options.timeoutMs} ms` : `exit ${code}`;
          reject(
            new TxgridError(
              ErrorCode.UNAVAILABLE,
              `${file} ${args.join(" ")}: ${why}\n${tail(`${stdout}${stderr}`)}`,
              { cause: error },
            ),
          );
          return;
        }
        resolve({ code, stdout, stderr });
      },
    );
  });
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first executable `name` on PATH (or in /usr/bin, /usr/sbin), or null. */
export function findOnPath(name: string): string | null {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/bin", "/usr/sbin"];
  for (const dir of dirs) {
    if (dir !== "" && isExecutable(join(dir, name))) return join(dir, name);
  }
  return null;
}

/**
 * The directory holding PostgreSQL's server binaries (initdb, postgres, pgbench, psql):
 * Debian keeps them in /usr/lib/postgresql/<major>/bin, the newest major wins; elsewhere the
 * directory of `initdb` on PATH.
 */
export function findPostgresBinDir(): string | null {
  const root = "/usr/lib/postgresql";
  let majors: string[] = [];
  try {
    majors = readdirSync(root).filter((name) => /^\d+$/.test(name));
  } catch {
    // Not a Debian layout.
  }
  majors.sort((left, right) => Number(right) - Number(left));
  const needed = ["initdb", "postgres", "pgbench", "psql"];
  for (const major of majors) {
    const dir = join(root, major, "bin");
    if (needed.every((name) => isExecutable(join(dir, name)))) return dir;
  }
  const initdb = findOnPath("initdb");
  if (initdb === null) return null;
  const dir = initdb.slice(0, initdb.lastIndexOf("/"));
  return needed.every((name) => isExecutable(join(dir, name))) ? dir : null;
}

/** Runs scripts/setup-peers.sh for `packages` (apt-get, only what is missing; needs root). */
export async function installPeers(peerNames: readonly string[]): Promise<string> {
  const result = await runTool("bash", [setupScriptPath, ...peerNames], {
    timeoutMs: PEER_INSTALL_TIMEOUT_MS,
  });
  return `${result.stdout}${result.stderr}`;
}

/** The uid and gid of `user` from /etc/passwd, or null. */
export function lookUpUser(user: string): RunAs | null {
  let passwd: string;
  try {
    passwd = readFileSync("/etc/passwd", "utf8");
  } catch {
    return null;
  }
  for (const line of passwd.split("\n")) {
    const fields = line.split(":");
    if (fields[0] === user && fields.length >= 4) {
      return { uid: Number(fields[2]), gid: Number(fields[3]) };
    }
  }
  return null;
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen({ host: "127.0.0.1", port, exclusive: true }, () => {
      server.close(() => resolve(true));
    });
  });
}

/** The first port from `first` that nothing listens on (127.0.0.1). */
export async function findFreePort(first: number): Promise<number> {
  for (let port = first; port < first + PEER_PORT_SCAN_COUNT; port++) {
    if (await portIsFree(port)) return port;
  }
  throw new TxgridError(
    ErrorCode.UNAVAILABLE,
    `no free port on 127.0.0.1 from ${first} to ${first + PEER_PORT_SCAN_COUNT - 1}`,
  );
}

/** A server started as a direct child. */
export interface Daemon {
  readonly pid: number;
  readonly output: () => string;
  readonly alive: () => boolean;
  /** Sends `signal`, waits for the exit (SIGKILL after PEER_START_TIMEOUT_MS). */
  stop(signal: NodeJS.Signals): Promise<void>;
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function killLeftovers() {
  for (const child of running) child.kill("SIGKILL");
}

/** Starts `file args...` as a child that keeps running; its output is kept for errors. */
export function startDaemon(
  file: string,
  args: readonly string[],
  runAs: RunAs | undefined,
  cwd: string,
): Daemon {
  const child = spawn(file, [...args], {
    cwd,
    stdio: ["ignore", "pipe", "pipe"],
    ...(runAs === undefined ? {} : runAs),
  });
  if (!exitHookInstalled) {
    // A bench interrupted by an exception must not leave servers behind.
    process.once("exit", killLeftovers);
    exitHookInstalled = true;
  }
  running.add(child);
  let output = "";
  const onChunk = (chunk: Buffer) => {
    output = (output + chunk.toString("utf8")).slice(-16_384);
  };
  child.stdout?.on("data", onChunk);
  child.stderr?.on("data", onChunk);
  child.on("error", (error) => {
    output += `\n${error.message}`;
  });
  const exited = new Promise<void>((resolve) => {
    child.once("close", () => {
      running.delete(child);
      resolve();
    });
  });
  return {
    pid: child.pid ?? -1,
    output: () => output,
    alive: () => child.exitCode === null && child.signalCode === null,
    stop: async (signal) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill("SIGKILL"), PEER_START_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Calls `probe` every 100 ms until it returns true; throws after PEER_START_TIMEOUT_MS. */
export async function waitUntil(
  what: string,
  daemon: Daemon,
  probe: () => Promise<boolean>,
): Promise<void> {
  const deadlineMs = Date.now() + PEER_START_TIMEOUT_MS;
  while (Date.now() < deadlineMs) {
    if (!daemon.alive()) {
      throw new TxgridError(ErrorCode.UNAVAILABLE, `${what} exited:\n${tail(daemon.output())}`);
    }
    if (await probe()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new TxgridError(
    ErrorCode.UNAVAILABLE,
    `${what} did not start within ${PEER_START_TIMEOUT_MS} ms:\n${tail(daemon.output())}`,
  );
}
