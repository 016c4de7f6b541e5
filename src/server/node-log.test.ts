// Goal: the node logs one line per batch only at debug, a warning for a slow flush, one line
// per state change, and a summary of a period's activity (none for a quiet period); a bad
// log level is refused by name. Method: logShardEvent into a pino logger writing to memory,
// and summarizeActivity over hand-made live points.
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { test } from "node:test";
import { pino } from "pino";
import { LOG_SLOW_FLUSH_MS } from "../constants.ts";
import type { LivePoint } from "../metrics/index.ts";
import type { ShardEvent } from "../shard/index.ts";
import { ErrorCode, isTxgridError } from "../stdx/index.ts";
import { logShardEvent, parseLogLevel, summarizeActivity } from "./node-log.ts";

function memoryLogger(level: string) {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return { logger: pino({ level, base: null }, stream), lines };
}

const batch = (flushDurationMs: number): ShardEvent => ({
  kind: "batch",
  lsn: 7,
  commandCount: 3,
  flushDurationMs,
  commands: [],
  results: [],
});

test("batches are logged at debug only; slow flushes warn; state changes at info", async () => {
  const info = memoryLogger("info");
  let failed = 0;
  logShardEvent(info.logger, batch(1), () => failed++);
  logShardEvent(info.logger, batch(LOG_SLOW_FLUSH_MS), () => failed++);
  logShardEvent(info.logger, { kind: "closed", lsn: 7 }, () => failed++);
  logShardEvent(info.logger, { kind: "failed", error: new Error("disk") }, () => failed++);
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(
    info.lines.map((line) => line.msg),
    ["slow log flush", "shard closed", "storage failed; stopping so a restart can recover"],
  );
  assert.equal(failed, 1);
  const debug = memoryLogger("debug");
  logShardEvent(debug.logger, batch(1), () => {});
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(
    debug.lines.map((line) => [line.msg, line.commandCount]),
    [["batch", 3]],
  );
});

function point(atMs: number, fields: Partial<LivePoint> = {}): LivePoint {
  return {
    atMs,
    commandsPerSecond: 0,
    batchesPerSecond: 0,
    httpRequestsPerSecond: 0,
    httpErrorsPerSecond: 0,
    writeP50Us: null,
    writeP99Us: null,
    flushP50Us: null,
    flushP99Us: null,
    queueDepth: 0,
    ...fields,
  };
}

test("a period's activity sums to one summary; a quiet period gives none", () => {
  assert.equal(summarizeActivity([]), null);
  assert.equal(summarizeActivity([point(1000), point(2000)]), null);
  const summary = summarizeActivity([
    point(1000, { commandsPerSecond: 100, batchesPerSecond: 10, writeP99Us: 900 }),
    point(2000),
    point(3000, {
      commandsPerSecond: 50,
      batchesPerSecond: 5,
      httpRequestsPerSecond: 50,
      httpErrorsPerSecond: 2,
      writeP99Us: 1200,
      flushP99Us: 400,
      queueDepth: 9,
    }),
  ]);
  assert.deepEqual(summary, {
    seconds: 3,
    commandCount: 150,
    batchCount: 15,
    httpRequestCount: 50,
    httpErrorCount: 2,
    commandsPerSecondMax: 100,
    writeP99UsMax: 1200,
    flushP99UsMax: 400,
    queueDepthMax: 9,
  });
});

test("log levels are checked by name", () => {
  assert.equal(parseLogLevel("debug", "--log-level"), "debug");
  assert.throws(
    () => parseLogLevel("loud", "TXGRID_LOG_LEVEL"),
    (error) =>
      isTxgridError(error, ErrorCode.BAD_REQUEST) && /TXGRID_LOG_LEVEL/.test(error.message),
  );
});
