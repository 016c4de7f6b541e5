// The vocabulary of `txgrid bench --peers`: which peers exist, their durability settings, the
// workload they are given, what one run of a peer reports, and the plain comparison row that
// reports and plots use for txgrid and each peer alike.

export const PEER_NAMES = ["redis", "postgres"] as const;
export type PeerName = (typeof PEER_NAMES)[number];

/**
 * Durability settings per peer, strict first. redis: `appendfsync` (always = fsync before the
 * replies of an event-loop turn go out, comparable to txgrid's fsync=batch; everysec = up to
 * about a second of acknowledged writes lost on power failure). postgres:
 * `synchronous_commit` (on = commit acknowledged after its WAL flush; off = before it, the WAL
 * writer flushes within about 600 ms). fsync itself stays on for both settings.
 */
export const PEER_SETTINGS = {
  redis: ["always", "everysec"],
  postgres: ["on", "off"],
} as const satisfies Record<PeerName, readonly string[]>;

/** One peer in one durability setting, e.g. redis with appendfsync=always. */
export interface PeerSpec {
  readonly name: PeerName;
  readonly setting: string;
}

/** The workload every peer runs: the same as txgrid's run it is compared with. */
export interface PeerWorkload {
  readonly accountCount: number;
  readonly hotPercent: number;
  /** redis-benchmark -c, pgbench -c: connections with a request in flight each. */
  readonly concurrency: number;
  /** Transfers per request: redis -P (pipelined), postgres one transaction of this many. */
  readonly batchSize: number;
  readonly durationMs: number;
}

export interface PeerLatency {
  readonly p50Us: number;
  readonly p99Us: number;
  readonly p999Us: number;
  readonly maxUs: number;
}

/** One measured run of one peer. */
export interface PeerRun {
  readonly transfersPerSecond: number;
  /** Transfers answered (applied or refused for lack of funds). */
  readonly transferCount: number;
  /** Requests answered: the latency samples (one per transaction of a batch for postgres). */
  readonly requestCount: number;
  /** The box's 1-minute load average when the run started (2 cores = 2.0 fully busy). */
  readonly loadAverageAtStart: number;
  /** Requests that failed (server errors, pgbench failed transactions). */
  readonly errorCount: number;
  /** Latency of a request: one transfer, a pipelined request, or a transaction of a batch. */
  readonly latency: PeerLatency;
  readonly balanceSum: string;
  readonly expectedSum: string;
  readonly moneyConserved: boolean;
  /** The load command, to repeat the run by hand. */
  readonly command: string;
}

/** A peer in one setting over all runs of a bench (medians when there are several). */
export interface PeerReport {
  readonly name: PeerName;
  readonly version: string;
  /** e.g. "appendfsync=always", "synchronous_commit=on". */
  readonly durability: string;
  readonly workload: PeerWorkload;
  /** What one request is for this peer (pipelining, transaction per batch...). */
  readonly perRequest: string;
  readonly runs: readonly PeerRun[];
  readonly median: PeerLatency & { readonly transfersPerSecond: number };
  readonly moneyConserved: boolean;
  readonly errorCount: number;
}

/** One line of the side-by-side table, as plain data for reports and plots. */
export interface ComparisonRow {
  readonly name: string;
  readonly durability: string;
  readonly txPerSecond: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly p999Us: number;
}

export function durabilityLabel(spec: PeerSpec): string {
  return spec.name === "redis"
    ? `appendfsync=${spec.setting}`
    : `synchronous_commit=${spec.setting}`;
}
