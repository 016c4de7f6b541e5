// Starts `txgrid serve` (or a bare reference server: node:http, or the TCP floor) as a real child process on
// 127.0.0.1 with an ephemeral port, reads its URL from the startup log line, and stops it by
// pid. Used by `txgrid bench --spawn` and `--reference`, and by the real-process tests
// (SIGKILL, restart).
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const binPath = fileURLToPath(new URL("../../../bin/txgrid.js", import.meta.url));
const referencePath = fileURLToPath(new URL("./reference-server.js", import.meta.url));
const tcpReferencePath = fileURLToPath(new URL("./tcp-reference.js", import.meta.url));

export interface ServerProcess {
  readonly url: string;
  /** The binary protocol's address (txgrid://host:port), when the server printed one. */
  readonly tcpUrl: string | null;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Everything the server printed so far. */
  readonly output: () => string;
  /** Sends `signal` and waits for the process to exit. */
  kill(signal: NodeJS.Signals): Promise<void>;
}

export interface ServerProcessOptions {
  readonly dataDir: string;
  readonly fsync: string;
  readonly startTimeoutMs?: number;
  readonly extraArgs?: readonly string[];
}

export async function startServerProcess(options: ServerProcessOptions): Promise<ServerProcess> {
  const args = [binPath, "serve", "--port", "0", "--data-dir", options.dataDir];
  args.push("--fsync", options.fsync, ...(options.extraArgs ?? []));
  return spawnUntilUrl(args, options.startTimeoutMs ?? 30_000);
}

/** Starts the bare node:http reference server (reference-server.ts) as a child process. */
export function startReferenceProcess(): Promise<ServerProcess> {
  return spawnUntilUrl([referencePath], 30_000);
}

/** Starts the bare TCP floor (tcp-reference.ts, txgrid frames, no work) as a child process. */
export function startTcpReferenceProcess(): Promise<ServerProcess> {
  return spawnUntilUrl([tcpReferencePath], 30_000);
}

/** Spawns `node args...` and waits until it prints a JSON line with its "url". */
async function spawnUntilUrl(args: readonly string[], timeoutMs: number): Promise<ServerProcess> {
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const onChunk = (chunk: Buffer) => {
    output += chunk.toString("utf8");
  };
  child.stdout?.on("data", onChunk);
  child.stderr?.on("data", onChunk);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`server did not start:\n${output}`));
    }, timeoutMs);
    const poll = setInterval(() => {
      const match = /"url":"(http:\/\/[^"]+)"/.exec(output);
      if (match?.[1] !== undefined) {
        clearInterval(poll);
        clearTimeout(timer);
        resolve(match[1]);
      }
    }, 20);
    child.once("exit", (code) => {
      clearInterval(poll);
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${output}`));
    });
  });
  const tcpUrl = /"tcpUrl":"(txgrid:\/\/[^"]+)"/.exec(output)?.[1] ?? null;
  return {
    url,
    tcpUrl,
    pid: child.pid ?? -1,
    child,
    output: () => output,
    kill: async (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
