// The node's structured log (pino, one JSON object per line on stdout): one line per state
// change (opened, snapshot, closed, failed), one summary line per LOG_SUMMARY_INTERVAL_MS of
// activity, a warning per batch whose flush was slow, and at level debug one line per batch.
// Never one line per transfer or per request: under load that would cost more than the work.
//
// Levels: fatal, error, warn, info (default), debug, trace, silent; chosen with
// `txgrid serve --log-level` or TXGRID_LOG_LEVEL.
import { type Logger, pino } from "pino";
import { LOG_SLOW_FLUSH_MS } from "../constants.ts";
import type { LivePoint } from "../metrics/index.ts";
import type { ShardEvent } from "../shard/index.ts";
import { ErrorCode, TxgridError } from "../stdx/index.ts";

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export function parseLogLevel(text: string, source: string): LogLevel {
  if (!(LOG_LEVELS as readonly string[]).includes(text)) {
    throw new TxgridError(
      ErrorCode.BAD_REQUEST,
      `${source} must be one of ${LOG_LEVELS.join(", ")} (got ${text})`,
    );
  }
  return text as LogLevel;
}

export function createNodeLogger(level: LogLevel): Logger {
  return pino({ base: null, level, timestamp: pino.stdTimeFunctions.isoTime });
}

/** Logs a shard event; `onFailed` runs after a storage failure is logged (the server exits). */
export function logShardEvent(logger: Logger, event: ShardEvent, onFailed: () => void): void {
  switch (event.kind) {
    case "batch":
      if (event.flushDurationMs >= LOG_SLOW_FLUSH_MS) {
        logger.warn(
          { lsn: event.lsn, commandCount: event.commandCount, flushMs: event.flushDurationMs },
          "slow log flush",
        );
      } else if (logger.isLevelEnabled("debug")) {
        logger.debug(
          { lsn: event.lsn, commandCount: event.commandCount, flushMs: event.flushDurationMs },
          "batch",
        );
      }
      return;
    case "failed":
      logger.fatal({ err: event.error }, "storage failed; stopping so a restart can recover");
      onFailed();
      return;
    case "snapshot-failed":
      logger.error({ err: event.error }, "snapshot failed; the log keeps everything");
      return;
    default:
      logger.info(event, `shard ${event.kind}`);
  }
}

export interface ActivitySummary {
  readonly seconds: number;
  readonly commandCount: number;
  readonly batchCount: number;
  readonly httpRequestCount: number;
  readonly httpErrorCount: number;
  readonly commandsPerSecondMax: number;
  /** The worst per-second p99 of the period, or null without writes. */
  readonly writeP99UsMax: number | null;
  readonly flushP99UsMax: number | null;
  readonly queueDepthMax: number;
}

/** Sums the live points of a period into one log line's fields; null when nothing happened. */
export function summarizeActivity(points: readonly LivePoint[]): ActivitySummary | null {
  let commandCount = 0;
  let batchCount = 0;
  let httpRequestCount = 0;
  let httpErrorCount = 0;
  let commandsPerSecondMax = 0;
  let writeP99UsMax: number | null = null;
  let flushP99UsMax: number | null = null;
  let queueDepthMax = 0;
  let previousAtMs = points[0] === undefined ? 0 : points[0].atMs - 1000;
  for (const point of points) {
    const seconds = (point.atMs - previousAtMs) / 1000;
    previousAtMs = point.atMs;
    commandCount += point.commandsPerSecond * seconds;
    batchCount += point.batchesPerSecond * seconds;
    httpRequestCount += point.httpRequestsPerSecond * seconds;
    httpErrorCount += point.httpErrorsPerSecond * seconds;
    commandsPerSecondMax = Math.max(commandsPerSecondMax, point.commandsPerSecond);
    if (point.writeP99Us !== null) writeP99UsMax = Math.max(writeP99UsMax ?? 0, point.writeP99Us);
    if (point.flushP99Us !== null) flushP99UsMax = Math.max(flushP99UsMax ?? 0, point.flushP99Us);
    queueDepthMax = Math.max(queueDepthMax, point.queueDepth);
  }
  if (batchCount === 0 && httpRequestCount === 0) return null;
  const first = points[0] as LivePoint;
  const last = points[points.length - 1] as LivePoint;
  return {
    seconds: Math.round((last.atMs - first.atMs) / 1000) + 1,
    commandCount: Math.round(commandCount),
    batchCount: Math.round(batchCount),
    httpRequestCount: Math.round(httpRequestCount),
    httpErrorCount: Math.round(httpErrorCount),
    commandsPerSecondMax: Math.round(commandsPerSecondMax),
    writeP99UsMax,
    flushP99UsMax,
    queueDepthMax,
  };
}
