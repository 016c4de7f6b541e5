// `txgrid bench --peers`: runs txgrid's workload against each peer (PostgreSQL, Redis) right
// after txgrid's own runs, and puts everything side by side with the ratio of txgrid's
// throughput to each peer's.
//
// Guarantees: every peer is started fresh for the bench (private instance, own port and
// directory), runs as many times as txgrid did (medians when more than once), has its money
// checked after every run, and is stopped by pid and removed even when a run fails. A peer
// whose binaries are missing is an error, unless installing was asked for
// (scripts/setup-peers.sh).

import { cpus } from "node:os";
import { PEER_CLIENTS_MAX } from "../../constants.ts";
import { ErrorCode, TxgridError } from "../../stdx/index.ts";
import type { BenchReport } from "../bench.ts";
import { median } from "../median.ts";
import { PostgresPeer } from "./postgres.ts";
import { findOnPath, findPostgresBinDir, installPeers } from "./processes.ts";
import { REDIS_BINARIES, RedisPeer } from "./redis.ts";
import {
  type ComparisonRow,
  durabilityLabel,
  PEER_NAMES,
  PEER_SETTINGS,
  type PeerName,
  type PeerReport,
  type PeerRun,
  type PeerSpec,
  type PeerWorkload,
} from "./types.ts";

export interface PeerComparisonOptions {
  readonly peers: readonly PeerSpec[];
  readonly workload: PeerWorkload;
  readonly runCount: number;
  /** Install missing peers with scripts/setup-peers.sh (apt-get; needs root). */
  readonly install: boolean;
  readonly log: (line: string) => void;
}

/**
 * Parses `redis,postgres,redis:everysec,postgres:off`. A name without a setting takes the one
 * matching txgrid's fsync policy: the strict one (appendfsync=always, synchronous_commit=on)
 * for always and batch, the relaxed one for lazy.
 */
export function parsePeerList(text: string, txgridFsync: string): PeerSpec[] {
  const specs: PeerSpec[] = [];
  for (const item of text.split(",")) {
    const [name, setting, extra] = item.trim().split(":");
    if (!(PEER_NAMES as readonly string[]).includes(name ?? "") || extra !== undefined) {
      throw new TxgridError(
        ErrorCode.BAD_REQUEST,
        `--peers: unknown peer "${item}" (known: ${PEER_NAMES.join(", ")}, each optionally ` +
          `:setting, e.g. redis:everysec, postgres:off)`,
      );
    }
    const peer = name as PeerName;
    const settings: readonly string[] = PEER_SETTINGS[peer];
    const chosen = setting ?? (txgridFsync === "lazy" ? settings[1] : settings[0]);
    if (chosen === undefined || !settings.includes(chosen)) {
      throw new TxgridError(
        ErrorCode.BAD_REQUEST,
        `--peers: ${peer} settings are ${settings.join(", ")} (got ${setting})`,
      );
    }
    if (!specs.some((spec) => spec.name === peer && spec.setting === chosen)) {
      specs.push({ name: peer, setting: chosen });
    }
  }
  return specs;
}

function missingPeers(names: readonly PeerName[]): PeerName[] {
  return names.filter((name) =>
    name === "redis"
      ? REDIS_BINARIES.some((binary) => findOnPath(binary) === null)
      : findPostgresBinDir() === null,
  );
}

/**
 * Checks what can be checked before txgrid's own runs, so that a missing peer or a too high
 * concurrency fails at once instead of after them: the client limit, and that every peer is
 * installed (installing it first when asked).
 */
export async function preparePeers(
  peers: readonly PeerSpec[],
  concurrency: number,
  install: boolean,
  log: (line: string) => void,
): Promise<void> {
  if (concurrency > PEER_CLIENTS_MAX) {
    throw new TxgridError(
      ErrorCode.LIMIT_EXCEEDED,
      `--peers: at most ${PEER_CLIENTS_MAX} concurrent clients (got ${concurrency})`,
    );
  }
  const names = PEER_NAMES.filter((name) => peers.some((spec) => spec.name === name));
  const missing = missingPeers(names);
  if (missing.length === 0) return;
  if (!install) {
    throw new TxgridError(
      ErrorCode.UNAVAILABLE,
      `not installed: ${missing.join(", ")}; run scripts/setup-peers.sh ${missing.join(" ")} ` +
        "as root, or add --install-peers",
    );
  }
  log(`installing ${missing.join(", ")} with scripts/setup-peers.sh`);
  await installPeers(missing);
  const still = missingPeers(missing);
  if (still.length > 0) {
    throw new TxgridError(ErrorCode.UNAVAILABLE, `still not installed: ${still.join(", ")}`);
  }
}

interface PeerInstance {
  readonly version: string;
  perRequest(workload: PeerWorkload): string;
  run(setting: string, workload: PeerWorkload): Promise<PeerRun>;
  stop(): Promise<void>;
}

function startPeer(name: PeerName, workload: PeerWorkload): Promise<PeerInstance> {
  return name === "redis"
    ? RedisPeer.start(workload.accountCount)
    : PostgresPeer.start(workload.accountCount, workload.concurrency);
}

/** Runs every peer spec `runCount` times; one fresh instance per peer name. */
export async function runPeers(options: PeerComparisonOptions): Promise<PeerReport[]> {
  const names = PEER_NAMES.filter((name) => options.peers.some((spec) => spec.name === name));
  await preparePeers(options.peers, options.workload.concurrency, options.install, options.log);
  const reports: PeerReport[] = [];
  for (const name of names) {
    const specs = options.peers.filter((spec) => spec.name === name);
    options.log(
      `${name}: starting a private instance, loading ${options.workload.accountCount} accounts`,
    );
    const peer = await startPeer(name, options.workload);
    try {
      const runs = new Map<PeerSpec, PeerRun[]>(specs.map((spec) => [spec, []]));
      for (let run = 0; run < options.runCount; run++) {
        for (const spec of specs) {
          options.log(`${name} ${durabilityLabel(spec)}: run ${run + 1} of ${options.runCount}`);
          runs.get(spec)?.push(await peer.run(spec.setting, options.workload));
        }
      }
      for (const spec of specs) {
        const list = runs.get(spec) ?? [];
        const pick = (select: (run: PeerRun) => number) => Math.round(median(list.map(select)));
        reports.push({
          name,
          version: peer.version,
          durability: durabilityLabel(spec),
          workload: options.workload,
          perRequest: peer.perRequest(options.workload),
          runs: list,
          median: {
            transfersPerSecond: pick((run) => run.transfersPerSecond),
            p50Us: pick((run) => run.latency.p50Us),
            p99Us: pick((run) => run.latency.p99Us),
            p999Us: pick((run) => run.latency.p999Us),
            maxUs: pick((run) => run.latency.maxUs),
          },
          moneyConserved: list.every((run) => run.moneyConserved),
          errorCount: list.reduce((sum, run) => sum + run.errorCount, 0),
        });
      }
    } finally {
      await peer.stop();
    }
  }
  return reports;
}

/** txgrid's medians and each peer's, as plain rows (txgrid first). */
export function comparisonRows(
  txgrid: readonly BenchReport[],
  peers: readonly PeerReport[],
): ComparisonRow[] {
  const pick = (select: (report: BenchReport) => number) => Math.round(median(txgrid.map(select)));
  const first = txgrid[0];
  const rows: ComparisonRow[] = [];
  if (first !== undefined) {
    rows.push({
      name: "txgrid",
      durability: `fsync=${first.durability.fsync}`,
      txPerSecond: pick((report) => report.transfersPerSecond),
      p50Us: pick((report) => report.latency.p50Us),
      p99Us: pick((report) => report.latency.p99Us),
      p999Us: pick((report) => report.latency.p999Us),
    });
  }
  for (const peer of peers) {
    rows.push({
      name: peer.name,
      durability: peer.durability,
      txPerSecond: peer.median.transfersPerSecond,
      p50Us: peer.median.p50Us,
      p99Us: peer.median.p99Us,
      p999Us: peer.median.p999Us,
    });
  }
  return rows;
}

const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

/** txgrid's throughput over a row's, e.g. "4.12×"; "–" when the row has none. */
export function throughputRatio(txgrid: ComparisonRow, row: ComparisonRow): string {
  return row.txPerSecond > 0 ? `${(txgrid.txPerSecond / row.txPerSecond).toFixed(2)}×` : "–";
}

/** The range of the box's load average over the peer runs: figures from a busy box are noise. */
function loadLine(peers: readonly PeerReport[]): string[] {
  const loads = peers.flatMap((peer) => peer.runs.map((run) => run.loadAverageAtStart));
  if (loads.length === 0) return [];
  const low = Math.min(...loads).toFixed(1);
  const high = Math.max(...loads).toFixed(1);
  return [
    `  1-min load average at the start of the peer runs: ${low === high ? low : `${low}–${high}`}` +
      ` (${cpus().length} cores)`,
  ];
}

/** The side-by-side table, what one request is for each system, and the money verdicts. */
export function formatComparison(
  rows: readonly ComparisonRow[],
  peers: readonly PeerReport[],
  txgridRoute: string,
): string {
  const txgrid = rows[0];
  if (txgrid === undefined) return "";
  const workload = peers[0]?.workload;
  const header = ["system", "durability", "tx/s", "p50 µs", "p99 µs", "p99.9 µs", "txgrid ÷"];
  const table = rows.map((row, index) => {
    const peer = index === 0 ? undefined : peers[index - 1];
    return [
      peer === undefined ? row.name : `${row.name} ${peer.version}`,
      row.durability,
      integer.format(row.txPerSecond),
      integer.format(row.p50Us),
      integer.format(row.p99Us),
      integer.format(row.p999Us),
      index === 0 ? "1.00×" : throughputRatio(txgrid, row),
    ];
  });
  const widths = header.map((title, column) =>
    Math.max(title.length, ...table.map((cells) => (cells[column] ?? "").length)),
  );
  const line = (cells: readonly string[]) =>
    `  ${cells.map((cell, column) => (column < 2 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0))).join("  ")}`;
  const lines = [
    workload === undefined
      ? "side by side:"
      : `side by side: ${integer.format(workload.accountCount)} accounts, ` +
        `${workload.hotPercent > 0 ? `hot ${workload.hotPercent}%` : "uniform"}, ` +
        `${workload.concurrency} concurrent, ${workload.batchSize} transfer(s) per request, ` +
        `peers ${Math.round(workload.durationMs / 1000)} s per run; medians`,
    line(header),
    ...table.map(line),
    ...loadLine(peers),
    "  latency is per request:",
    `    txgrid: ${txgridRoute}`,
    ...peers.map((peer) => `    ${peer.name} ${peer.durability}: ${peer.perRequest}`),
  ];
  for (const peer of peers) {
    const last = peer.runs[peer.runs.length - 1];
    lines.push(
      peer.moneyConserved
        ? `${peer.name} ${peer.durability}: money conserved (balances sum to ${last?.balanceSum} after every run)` +
            (peer.errorCount > 0 ? `; ${peer.errorCount} failed requests` : "")
        : `${peer.name} ${peer.durability}: MONEY NOT CONSERVED: ` +
            peer.runs.map((run) => `${run.balanceSum} vs ${run.expectedSum}`).join(", "),
    );
  }
  return lines.join("\n");
}
