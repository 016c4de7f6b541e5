// Parsers for what the peers' load generators print: redis-benchmark's final report (7.x
// text format, with --precision 3) and pgbench's summary and per-transaction log (`-l`).
//
// Guarantees: a report that lacks a figure we need is an error naming the missing figure,
// never a zero or NaN passed on as a measurement.
import { ErrorCode, TxgridError } from "../../stdx/index.ts";
import type { LatencyRecorder } from "../latency.ts";
import type { PeerLatency } from "./types.ts";

export interface RedisBenchmarkFigures {
  readonly requestCount: number;
  readonly requestsPerSecond: number;
  readonly latency: PeerLatency;
  /** Lines reporting a server error (redis-benchmark 7 stops at the first and exits 1). */
  readonly errorLineCount: number;
}

export interface PgbenchFigures {
  readonly transactionCount: number;
  readonly failedCount: number;
  readonly transactionsPerSecond: number;
}

function missing(tool: string, what: string, text: string): TxgridError {
  return new TxgridError(
    ErrorCode.UNAVAILABLE,
    `${tool} output has no ${what}:\n${text.length > 2000 ? `…${text.slice(-2000)}` : text}`,
  );
}

const msToUs = (ms: number) => Math.round(ms * 1000);

/**
 * redis-benchmark's final report. p50, p99 and max come from the "latency summary" line
 * (milliseconds); p99.9 is the first row of the "Latency by percentile distribution" listing
 * at or above 99.9%, an upper bound of the true p99.9 within the listing's resolution.
 */
export function parseRedisBenchmark(output: string): RedisBenchmarkFigures {
  // Progress lines end in \r; only the report after them matters.
  const text = output.replace(/\r/g, "\n");
  const completed = /(\d+) requests completed in ([\d.]+) seconds/.exec(text);
  if (completed === null) throw missing("redis-benchmark", "request count", text);
  const throughput = /throughput summary: ([\d.]+) requests per second/.exec(text);
  if (throughput === null) throw missing("redis-benchmark", "throughput summary", text);
  const summary =
    /latency summary \(msec\):\s*\n\s*avg\s+min\s+p50\s+p95\s+p99\s+max\s*\n\s*([\d.\s]+)\n/.exec(
      text,
    );
  const values = summary?.[1]?.trim().split(/\s+/).map(Number) ?? [];
  if (values.length !== 6 || values.some((value) => !Number.isFinite(value))) {
    throw missing("redis-benchmark", "latency summary", text);
  }
  const [, , p50Ms, , p99Ms, maxMs] = values as [number, number, number, number, number, number];
  // Only the percentile listing: the cumulative listing after it has rows in another grid.
  const distribution =
    text.split("Latency by percentile distribution:")[1]?.split("Cumulative distribution")[0] ?? "";
  let p999Ms: number | null = null;
  for (const match of distribution.matchAll(/^([\d.]+)% <= ([\d.]+) milliseconds/gm)) {
    if (Number(match[1]) >= 99.9) {
      p999Ms = Number(match[2]);
      break;
    }
  }
  if (p999Ms === null) throw missing("redis-benchmark", "p99.9 in the percentile listing", text);
  return {
    requestCount: Number(completed[1]),
    requestsPerSecond: Number(throughput[1]),
    latency: {
      p50Us: msToUs(p50Ms),
      p99Us: msToUs(p99Ms),
      p999Us: msToUs(p999Ms),
      maxUs: msToUs(maxMs),
    },
    errorLineCount: (text.match(/^Error from server/gm) ?? []).length,
  };
}

/** pgbench's summary: transactions processed and failed, tps without connection time. */
export function parsePgbenchSummary(output: string): PgbenchFigures {
  const processed = /^number of transactions actually processed: (\d+)/m.exec(output);
  if (processed === null) throw missing("pgbench", "transaction count", output);
  const tps = /^tps = ([\d.]+) \(without initial connection time\)/m.exec(output);
  if (tps === null) throw missing("pgbench", "tps", output);
  const failed = /^number of failed transactions: (\d+)/m.exec(output);
  return {
    transactionCount: Number(processed[1]),
    failedCount: failed === null ? 0 : Number(failed[1]),
    transactionsPerSecond: Number(tps[1]),
  };
}

/**
 * Adds the latencies of a pgbench per-transaction log to `recorder`: one line per transaction,
 * `client_id transaction_no time script_no time_epoch time_us [...]`, with `time` the
 * latency in µs ("failed" or "skipped" for transactions that did not complete). Returns the
 * number of latencies added.
 */
export function addPgbenchLogLatencies(log: string, recorder: LatencyRecorder): number {
  let count = 0;
  for (const line of log.split("\n")) {
    const field = line.split(" ")[2];
    if (field === undefined || !/^\d+$/.test(field)) continue;
    recorder.record(Number(field));
    count++;
  }
  return count;
}

/** The three percentiles and max of a recorder, in µs. */
export function peerLatencyOf(recorder: LatencyRecorder): PeerLatency {
  const summary = recorder.summary();
  return {
    p50Us: summary.p50Us,
    p99Us: summary.p99Us,
    p999Us: summary.p999Us,
    maxUs: summary.maxUs,
  };
}
