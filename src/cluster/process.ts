// Processes addressed by pid: liveness, stop (SIGTERM, then SIGKILL after a bounded wait),
// pause and resume (SIGSTOP/SIGCONT for fault tests). Used for processes this process started
// and for those a previous `txgrid cluster up` started (known only from its state file).
//
// Guarantees:
// - stopPid returns only once the process is gone (or a zombie, which holds no port, lock or
//   file any more); it never waits longer than timeoutMs before SIGKILL, and SIGKILL of a
//   running process is final.
// - A pid is signalled only when /proc/{pid}/cmdline still contains `expect` (when given), so a
//   stale state file whose pid was reused by an unrelated process never kills that process.
// Fault model: the process may exit at any moment between two checks (ESRCH is "gone").
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { PROCESS_STOP_TIMEOUT_MS } from "../constants.ts";
import { ErrorCode, TxgridError } from "../stdx/index.ts";

const POLL_INTERVAL_MS = 25;

/** True while the process exists and is not a zombie. */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
  return processState(pid) !== "Z";
}

/** The state letter of /proc/{pid}/stat (R, S, T, Z, ...), or null when it is gone. */
export function processState(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name is in parentheses and may contain spaces: the state follows the last ")".
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) || null;
  } catch {
    return null;
  }
}

/** The command line of a process, arguments joined by spaces, or null when it is gone. */
export function commandLine(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
  } catch {
    return null;
  }
}

/** True when `pid` runs and its command line contains `expect` (when given). */
export function isOurs(pid: number, expect?: string): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 1) return false;
  if (!isRunning(pid)) return false;
  if (expect === undefined) return true;
  return (commandLine(pid) ?? "").includes(expect);
}

/**
 * Stops a process: SIGCONT (a paused process cannot handle SIGTERM), SIGTERM, wait up to
 * timeoutMs, then SIGKILL and wait for it to be gone. Returns "not-running" when there was
 * nothing to stop (or the pid belongs to another program), "terminated" or "killed".
 */
export async function stopPid(
  pid: number,
  options: { expect?: string; timeoutMs?: number } = {},
): Promise<"not-running" | "terminated" | "killed"> {
  if (!isOurs(pid, options.expect)) return "not-running";
  signal(pid, "SIGCONT");
  signal(pid, "SIGTERM");
  if (await waitGone(pid, options.timeoutMs ?? PROCESS_STOP_TIMEOUT_MS)) return "terminated";
  signal(pid, "SIGKILL");
  if (await waitGone(pid, PROCESS_STOP_TIMEOUT_MS)) return "killed";
  throw new TxgridError(ErrorCode.INTERNAL, `process ${pid} survived SIGKILL`);
}

/** SIGSTOP: the process keeps its sockets but answers nothing until resumed. */
export function pausePid(pid: number): void {
  signal(pid, "SIGSTOP");
}

/** SIGCONT after pausePid. */
export function resumePid(pid: number): void {
  signal(pid, "SIGCONT");
}

/** Waits until the process is gone (or a zombie); false when timeoutMs passed first. */
export async function waitGone(pid: number, timeoutMs: number): Promise<boolean> {
  const startMs = performance.now();
  while (isRunning(pid)) {
    if (performance.now() - startMs > timeoutMs) return false;
    await sleep(POLL_INTERVAL_MS);
  }
  return true;
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
  }
}
