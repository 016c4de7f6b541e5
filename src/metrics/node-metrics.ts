// The metrics of one txgrid node: what the shard reports in its events (batches, snapshots,
// state changes), what the HTTP face reports per answered request, gauges read from the shard
// and the engine at scrape time, and the process. Rendered for Prometheus at GET /metrics and
// summarized per second for the console's live charts (live-series.ts).
//
// Names follow Prometheus' conventions: a unit suffix (_seconds, _bytes, _commands), _total
// for counters, base units (seconds, not ms). Label values come from closed sets (command
// kinds, result names, route patterns, method names, status codes), so the number of series
// is bounded by the code, and the registry refuses growth beyond its limit anyway.
//
// Cost on the hot path: a batch event walks its commands once (two array lookups and an
// increment each, no allocation); an HTTP request costs three Map lookups and two
// increments. Nothing here logs or allocates per command.
import { monitorEventLoopDelay } from "node:perf_hooks";
import type { Command, CommandResult, EngineStats, LogCommand } from "../engine/index.ts";
import { resultName, TRANSFER_CODE_DUPLICATE } from "../engine/index.ts";
import type { ShardEvent, ShardStatus } from "../shard/index.ts";
import { type LivePoint, LiveSeries } from "./live-series.ts";
import {
  type CounterSeries,
  exponentialBuckets,
  type HistogramSeries,
  MetricsRegistry,
} from "./registry.ts";

export interface NodeMetricsOptions {
  readonly version: string;
  readonly fsyncPolicy: string;
  /** The replication setting shown with every figure ("none" on a single node). */
  readonly replication: string;
  readonly shardStatus: () => ShardStatus;
  readonly engineStats: () => EngineStats;
  /** Wall-clock start of the first live window. */
  readonly startMs: number;
}

/**
 * One standby's distance behind its primary, as the replication layer reports it (the hook
 * for it: NodeMetrics.setReplicationSource). `lagSeconds` is null when unknown.
 */
export interface ReplicationLagSample {
  readonly shard: string;
  readonly standby: string;
  readonly lagBatches: number;
  readonly lagSeconds: number | null;
}

/** A replica's view of its shard's roles (the coordinator's role record), for the console. */
export interface ReplicationRoleSample {
  readonly shard: string;
  readonly epoch: number;
  /** The primary's node id, or "" while the epoch is vacant. */
  readonly primaryId: string;
  /** The primary's REST address, when it is known. */
  readonly primaryHttpAddress: string | null;
  readonly replicaIds: readonly string[];
  /** This node's id. */
  readonly selfId: string;
}

type CommandKind = Command["kind"];

const httpMethods = new Set(["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"]);

interface HttpSeries {
  readonly requests: CounterSeries;
  readonly duration: HistogramSeries;
}

export class NodeMetrics {
  readonly registry = new MetricsRegistry();
  readonly live: LiveSeries;
  readonly #options: NodeMetricsOptions;
  readonly #commands;
  /** Per command kind, per result code: the counter series (filled on first use). */
  readonly #commandSeries = new Map<CommandKind, CounterSeries[]>();
  /** Per result code, the transfers of one list with it (scratch of #observeTransferCodes). */
  readonly #listCodeCounts = new Uint32Array(TRANSFER_CODE_DUPLICATE);
  readonly #batches;
  readonly #batchSize;
  readonly #flushDuration;
  readonly #snapshots;
  readonly #snapshotDuration;
  readonly #snapshotBytes;
  readonly #shardEvents;
  readonly #httpRequests;
  readonly #httpDuration;
  /** route -> method -> status -> series. */
  readonly #httpSeries = new Map<string, Map<string, Map<number, HttpSeries>>>();
  readonly #replicationLagBatches;
  readonly #replicationLagSeconds;
  #replicationSource: (() => readonly ReplicationLagSample[]) | null = null;
  #roleSource: (() => ReplicationRoleSample | null) | null = null;
  readonly #eventLoopDelay = monitorEventLoopDelay({ resolution: 10 });

  constructor(options: NodeMetricsOptions) {
    this.#options = options;
    this.live = new LiveSeries(options.startMs);
    const registry = this.registry;
    registry
      .gauge(
        "txgrid_build_info",
        "The node's version and durability setting; the value is always 1.",
        ["version", "fsync", "replication"],
      )
      .series(options.version, options.fsyncPolicy, options.replication)
      .set(1);
    this.#commands = registry.counter(
      "txgrid_commands_total",
      "Commands applied by the shard, by kind and result code (OK or the refusal's name).",
      ["kind", "result"],
    );
    this.#batches = registry.counter(
      "txgrid_batches_total",
      "Batches logged and applied (one log record and at most one fdatasync each).",
    );
    this.#batchSize = registry.histogram(
      "txgrid_batch_size_commands",
      "Commands per batch (group commit).",
      [],
      exponentialBuckets(1, 2, 14),
    );
    this.#flushDuration = registry.histogram(
      "txgrid_log_flush_duration_seconds",
      "Log append and flush per batch: write, plus fdatasync unless fsync=lazy.",
      [],
      exponentialBuckets(0.00005, 2, 16),
    );
    this.#snapshots = registry.counter("txgrid_snapshots_total", "Snapshots written.");
    this.#snapshotDuration = registry.histogram(
      "txgrid_snapshot_duration_seconds",
      "Time to encode and write a snapshot.",
      [],
      exponentialBuckets(0.01, 2, 12),
    );
    this.#snapshotBytes = registry.gauge(
      "txgrid_snapshot_size_bytes",
      "Size of the newest snapshot.",
    );
    this.#shardEvents = registry.counter(
      "txgrid_shard_state_changes_total",
      "Shard state changes: opened, closed, failed, snapshot-failed.",
      ["event"],
    );
    this.#registerShardGauges();
    this.#httpRequests = registry.counter(
      "txgrid_http_requests_total",
      "HTTP requests answered, by route pattern, method and status.",
      ["route", "method", "status"],
    );
    this.#httpDuration = registry.histogram(
      "txgrid_http_request_duration_seconds",
      "HTTP request latency, from the request's arrival to the answer's hand-off to the OS.",
      ["route", "method"],
      exponentialBuckets(0.00005, 2, 18),
    );
    this.#replicationLagBatches = registry.gauge(
      "txgrid_replication_lag_batches",
      "Log batches a standby is behind its primary (empty on a single node).",
      ["shard", "standby"],
    );
    this.#replicationLagSeconds = registry.gauge(
      "txgrid_replication_lag_seconds",
      "Age of the oldest batch a standby has not acknowledged (empty on a single node).",
      ["shard", "standby"],
    );
    registry.onCollect(() => this.#collectReplication());
    this.#registerProcessGauges();
  }

  /** The shard's event hook (ShardOptions.onEvent); call it for every event. */
  observeShardEvent(event: ShardEvent): void {
    switch (event.kind) {
      case "batch": {
        this.#batches.series().inc();
        this.#batchSize.series().observe(event.commandCount);
        this.#flushDuration.series().observe(event.flushDurationMs / 1000);
        const { commands, results } = event;
        for (let index = 0; index < commands.length; index++) {
          const command = commands[index] as LogCommand;
          const result = results[index] as CommandResult;
          if (command.kind === "transfer.list") this.#observeTransferCodes(result.transferCodes);
          else this.#commandSeriesOf(command.kind, result.code).inc();
        }
        this.live.batch(event.commandCount, event.flushDurationMs);
        return;
      }
      case "snapshot":
        this.#snapshots.series().inc();
        this.#snapshotDuration.series().observe(event.durationMs / 1000);
        this.#snapshotBytes.series().set(event.bytes);
        return;
      case "replay-progress":
        return;
      default:
        this.#shardEvents.series(event.kind).inc();
    }
  }

  /**
   * One answered HTTP request. `route` is the route pattern ("/v1/accounts/:id"), never the
   * raw URL, so that ids do not become series; unmatched URLs come as "unmatched".
   */
  observeHttpRequest(
    route: string,
    method: string,
    statusCode: number,
    durationSeconds: number,
  ): void {
    const methodLabel = httpMethods.has(method) ? method : "other";
    let byMethod = this.#httpSeries.get(route);
    if (byMethod === undefined) {
      byMethod = new Map();
      this.#httpSeries.set(route, byMethod);
    }
    let byStatus = byMethod.get(methodLabel);
    if (byStatus === undefined) {
      byStatus = new Map();
      byMethod.set(methodLabel, byStatus);
    }
    let series = byStatus.get(statusCode);
    if (series === undefined) {
      series = {
        requests: this.#httpRequests.series(route, methodLabel, String(statusCode)),
        duration: this.#httpDuration.series(route, methodLabel),
      };
      byStatus.set(statusCode, series);
    }
    series.requests.inc();
    series.duration.observe(durationSeconds);
    this.live.httpRequest(methodLabel === "POST", statusCode, durationSeconds);
  }

  /**
   * The replication hook: the replication layer registers a function that reports every
   * standby's lag; it is read at each scrape (txgrid_replication_lag_*) and by the console.
   */
  setReplicationSource(source: () => readonly ReplicationLagSample[]): void {
    this.#replicationSource = source;
  }

  replicationLag(): readonly ReplicationLagSample[] {
    return this.#replicationSource?.() ?? [];
  }

  /** Where a replicated node reads its shard's roles from (null on a single node). */
  setRoleSource(source: () => ReplicationRoleSample | null): void {
    this.#roleSource = source;
  }

  replicationRole(): ReplicationRoleSample | null {
    return this.#roleSource?.() ?? null;
  }

  /** Closes the console's current one-second window (the server calls it every second). */
  tick(nowMs: number): LivePoint {
    return this.live.tick(nowMs, this.#options.shardStatus().queueDepth);
  }

  render(): string {
    return this.registry.render();
  }

  close(): void {
    this.#eventLoopDelay.disable();
  }

  /** A transfer.list's transfers, counted as the transfer.create commands they stand for. */
  #observeTransferCodes(codes: Uint8Array | undefined): void {
    const counts = this.#listCodeCounts;
    counts.fill(0);
    for (const code of codes ?? []) {
      const plain = code & ~TRANSFER_CODE_DUPLICATE;
      counts[plain] = (counts[plain] as number) + 1;
    }
    for (let code = 0; code < counts.length; code++) {
      const count = counts[code] as number;
      if (count > 0) this.#commandSeriesOf("transfer.create", code).inc(count);
    }
  }

  #commandSeriesOf(kind: CommandKind, code: number): CounterSeries {
    let byCode = this.#commandSeries.get(kind);
    if (byCode === undefined) {
      byCode = [];
      this.#commandSeries.set(kind, byCode);
    }
    let series = byCode[code];
    if (series === undefined) {
      series = this.#commands.series(kind, resultName(code as Parameters<typeof resultName>[0]));
      byCode[code] = series;
    }
    return series;
  }

  #registerShardGauges(): void {
    const registry = this.registry;
    const queueDepth = registry.gauge(
      "txgrid_queue_depth_commands",
      "Commands waiting for the executor.",
    );
    const queueCapacity = registry.gauge(
      "txgrid_queue_capacity_commands",
      "Commands the queue holds before submissions are refused (503 OVERLOADED).",
    );
    const logPosition = registry.gauge(
      "txgrid_log_position_lsn",
      "Log positions: applied (visible to reads), durable (fdatasync'ed), snapshot.",
      ["position"],
    );
    const failed = registry.gauge(
      "txgrid_shard_failed",
      "1 once the shard's storage failed (it refuses writes until a restart).",
    );
    const accounts = registry.gauge("txgrid_accounts", "Accounts in the ledger.");
    const transfers = registry.gauge(
      "txgrid_transfers",
      "Transfers recorded (posted, pending, voided, expired).",
    );
    const pending = registry.gauge("txgrid_transfers_pending", "Open pending transfers.");
    registry.onCollect(() => {
      const status = this.#options.shardStatus();
      const stats = this.#options.engineStats();
      queueDepth.series().set(status.queueDepth);
      queueCapacity.series().set(status.queueCapacity);
      logPosition.series("applied").set(status.lsn);
      logPosition.series("durable").set(status.lsnDurable);
      logPosition.series("snapshot").set(status.snapshotLsn);
      failed.series().set(status.failed ? 1 : 0);
      accounts.series().set(stats.accountCount);
      transfers.series().set(stats.transferCount);
      pending.series().set(stats.pendingCount);
    });
  }

  #registerProcessGauges(): void {
    const registry = this.registry;
    const cpu = registry.counter(
      "process_cpu_seconds_total",
      "User and system CPU time of this process.",
    );
    const resident = registry.gauge("process_resident_memory_bytes", "Resident memory.");
    const start = registry.gauge(
      "process_start_time_seconds",
      "Start of this process, seconds since the Unix epoch.",
    );
    const heap = registry.gauge("nodejs_heap_used_bytes", "V8 heap in use.");
    const delayP99 = registry.gauge(
      "nodejs_eventloop_delay_p99_seconds",
      "99th percentile of the event loop's delay since the previous scrape.",
    );
    const delayMax = registry.gauge(
      "nodejs_eventloop_delay_max_seconds",
      "Longest event loop delay since the previous scrape.",
    );
    start.series().set(Math.round((Date.now() - process.uptime() * 1000) / 1000));
    this.#eventLoopDelay.enable();
    registry.onCollect(() => {
      const usage = process.cpuUsage();
      const cpuSeries = cpu.series();
      cpuSeries.inc((usage.user + usage.system) / 1e6 - cpuSeries.value);
      const memory = process.memoryUsage();
      resident.series().set(memory.rss);
      heap.series().set(memory.heapUsed);
      const histogram = this.#eventLoopDelay;
      delayP99.series().set(histogram.count === 0 ? 0 : histogram.percentile(99) / 1e9);
      delayMax.series().set(histogram.count === 0 ? 0 : histogram.max / 1e9);
      histogram.reset();
    });
  }

  #collectReplication(): void {
    this.#replicationLagBatches.clear();
    this.#replicationLagSeconds.clear();
    for (const sample of this.replicationLag()) {
      this.#replicationLagBatches.series(sample.shard, sample.standby).set(sample.lagBatches);
      if (sample.lagSeconds !== null) {
        this.#replicationLagSeconds.series(sample.shard, sample.standby).set(sample.lagSeconds);
      }
    }
  }
}
