// Where the load generator and the server ran during a bench run: the CPU each last ran on,
// sampled from /proc/<pid>/stat (Linux). A c=1 latency figure means little without it on a VM
// whose idle vCPUs halt: one round trip between two processes on one vCPU took ≈ 20 µs here,
// between two vCPUs ≈ 55 µs, and the scheduler picks one or the other for a whole run
// (docs/benchmarks.md, "c=1 and CPU placement"). Nothing is pinned; this only looks.
//
// Guarantees: reads only; never throws. Off Linux, or when a process is gone, a sample is
// skipped, and a run without samples reports no placement.
import { readFileSync } from "node:fs";

/** How often a run samples both processes' CPU: a /proc read costs about 10 µs. */
export const PLACEMENT_SAMPLE_INTERVAL_MS = 100;

/** How many samples found the load generator and the server last on the same CPU. */
export interface Placement {
  readonly sampleCount: number;
  readonly sameCpuCount: number;
}

/** Field 39 (`processor`, the CPU the task last ran on) of a /proc/<pid>/stat line, or null. */
export function lastCpuOf(statLine: string): number | null {
  // Field 2, the command name, is in parentheses and may itself hold spaces and ')': the
  // fields after it are counted from the last ')'.
  const commandEnd = statLine.lastIndexOf(")");
  if (commandEnd < 0) return null;
  const fields = statLine.slice(commandEnd + 2).split(" ");
  // fields[0] is field 3 (the state).
  const text = fields[39 - 3];
  if (text === undefined || !/^\d+$/.test(text)) return null;
  return Number(text);
}

function readLastCpu(pid: string): number | null {
  try {
    return lastCpuOf(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return null;
  }
}

/** Samples this process's main thread and the server's, on demand. */
export class PlacementSampler {
  readonly #serverPid: number;
  #sampleCount = 0;
  #sameCpuCount = 0;

  constructor(serverPid: number) {
    this.#serverPid = serverPid;
  }

  sample(): void {
    const client = readLastCpu("self");
    const server = readLastCpu(String(this.#serverPid));
    if (client === null || server === null) return;
    this.#sampleCount++;
    if (client === server) this.#sameCpuCount++;
  }

  summary(): Placement | null {
    if (this.#sampleCount === 0) return null;
    return { sampleCount: this.#sampleCount, sameCpuCount: this.#sameCpuCount };
  }
}
