// Starts long-running child processes that outlive the command that started them (detached,
// output to a log file), and checks and stops them later by pid. Generic: `txgrid cluster up`
// uses it for node processes, the tests for trivial children.
//
// Guarantees:
// - startDetached returns a record with the pid only once the process was spawned; its
//   stdout and stderr go to `logPath` (appended), its stdin is closed, and it is in its own
//   process group, so a Ctrl-C of the starting terminal does not reach it.
// - waitReady resolves when `ready()` is true and fails (INTERNAL, with the log tail) as soon
//   as the process has exited, or after timeoutMs: a child that cannot start is reported,
//   never waited for forever.
// - stopChildren stops in reverse start order, each by pid with the stop rules of process.ts
//   (its command line must still contain the record's `expect` marker).
import { spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ErrorCode, TxgridError } from "../stdx/index.ts";
import { isRunning, stopPid } from "./process.ts";

const READY_POLL_INTERVAL_MS = 50;
const LOG_TAIL_BYTES = 2_000;

export interface ChildSpec {
  /** A name for messages and the state file (e.g. the node id). */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly logPath: string;
  /** Extra environment variables. */
  readonly env?: Readonly<Record<string, string>>;
}

export interface ChildRecord {
  readonly name: string;
  readonly pid: number;
  readonly command: string;
  readonly args: readonly string[];
  readonly logPath: string;
  /** A string of its command line that identifies it (checked before any signal). */
  readonly expect: string;
}

export function startDetached(spec: ChildSpec): ChildRecord {
  mkdirSync(dirname(spec.logPath), { recursive: true });
  const logFd = openSync(spec.logPath, "a");
  try {
    const child = spawn(spec.command, [...spec.args], {
      stdio: ["ignore", logFd, logFd],
      detached: true,
      env: { ...process.env, ...spec.env },
    });
    child.on("error", () => undefined); // reported as "exited" by waitReady
    child.unref();
    if (child.pid === undefined) {
      throw new TxgridError(ErrorCode.INTERNAL, `could not start ${spec.name} (${spec.command})`);
    }
    return {
      name: spec.name,
      pid: child.pid,
      command: spec.command,
      args: [...spec.args],
      logPath: spec.logPath,
      expect: spec.args.join(" "),
    };
  } finally {
    closeSync(logFd);
  }
}

export async function waitReady(
  record: ChildRecord,
  ready: () => Promise<boolean> | boolean,
  timeoutMs: number,
): Promise<void> {
  const startMs = performance.now();
  for (;;) {
    if (!isRunning(record.pid)) {
      throw new TxgridError(
        ErrorCode.INTERNAL,
        `${record.name} (pid ${record.pid}) exited while starting; log ${record.logPath}:\n${logTail(record.logPath)}`,
      );
    }
    if (await ready()) return;
    if (performance.now() - startMs > timeoutMs) {
      throw new TxgridError(
        ErrorCode.TIMEOUT,
        `${record.name} (pid ${record.pid}) not ready after ${timeoutMs} ms; log ${record.logPath}:\n${logTail(record.logPath)}`,
      );
    }
    await sleep(READY_POLL_INTERVAL_MS);
  }
}

/** Stops children in reverse order; returns what happened to each. */
export async function stopChildren(
  records: readonly ChildRecord[],
): Promise<{ name: string; outcome: string }[]> {
  const outcomes: { name: string; outcome: string }[] = [];
  for (const record of [...records].reverse()) {
    const outcome = await stopPid(record.pid, { expect: record.expect });
    outcomes.push({ name: record.name, outcome });
  }
  return outcomes;
}

export function logTail(logPath: string): string {
  try {
    return readFileSync(logPath, "utf8").slice(-LOG_TAIL_BYTES);
  } catch {
    return "(no log)";
  }
}
