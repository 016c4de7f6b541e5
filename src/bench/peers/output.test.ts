// Goal: the figures of a peer run are read correctly from what redis-benchmark and pgbench
// print, and a report missing a figure is an error, not a zero. Method: parse outputs captured
// from real runs on the project's machine (redis-benchmark 7.0.15 with --precision 3 and -P 16;
// pgbench 15.18 -M prepared -l) and compare with the values read by hand; then cut figures out
// and expect errors. Also checks the --peers list parser and the ratio in the table.
import assert from "node:assert/strict";
import { test } from "node:test";
import { isTxgridError } from "../../stdx/index.ts";
import { LatencyRecorder } from "../latency.ts";
import {
  addPgbenchLogLatencies,
  parsePgbenchSummary,
  parseRedisBenchmark,
  peerLatencyOf,
} from "./output.ts";
import { comparisonRows, formatComparison, parsePeerList } from "./run-peers.ts";
import type { PeerReport } from "./types.ts";

// redis-benchmark -h 127.0.0.1 -p 56300 -c 4 -P 16 -r 1000000000 -n 4000 --precision 3
//   EVALSHA <sha> 0 __rand_int__ x4 1000 10 90   (shortened: the cumulative listing is cut)
const redisOutput =
  "EVALSHA 5297b0 0 __rand_int__ __rand_int__ __rand_int__ __rand_int__ 1000 10 90: rps=0.0 (overall: -nan) avg_msec=-nan (overall: -nan)\r" +
  `                                                                              \r====== EVALSHA 5297b04a0fbae818ae113e0f014715a854a9e68e 0 __rand_int__ __rand_int__ __rand_int__ __rand_int__ 1000 10 90 ======
  4000 requests completed in 0.23 seconds
  4 parallel clients
  174 bytes payload
  keep alive: 1
  host configuration "save": 
  host configuration "appendonly": yes
  multi-thread: no

Latency by percentile distribution:
0.000% <= 0.527 milliseconds (cumulative count 16)
50.000% <= 3.959 milliseconds (cumulative count 2016)
75.000% <= 4.311 milliseconds (cumulative count 3008)
87.500% <= 6.359 milliseconds (cumulative count 3504)
93.750% <= 7.391 milliseconds (cumulative count 3760)
96.875% <= 7.927 milliseconds (cumulative count 3888)
98.438% <= 7.999 milliseconds (cumulative count 3952)
99.219% <= 15.455 milliseconds (cumulative count 3984)
99.609% <= 15.487 milliseconds (cumulative count 4000)
100.000% <= 15.487 milliseconds (cumulative count 4000)

Cumulative distribution of latencies:
0.000% <= 0.103 milliseconds (cumulative count 0)
99.950% <= 8.103 milliseconds (cumulative count 3998)
100.000% <= 16.103 milliseconds (cumulative count 4000)

Summary:
  throughput summary: 17621.15 requests per second
  latency summary (msec):
          avg       min       p50       p95       p99       max
        3.541     0.520     3.959     7.479    15.399    15.487
`;

// A longer run (-c 8 -P 1 -n 5000): the listing has a row between 99.9% and 100%.
const redisListing = `Latency by percentile distribution:
0.000% <= 0.343 milliseconds (cumulative count 2)
50.000% <= 1.831 milliseconds (cumulative count 2509)
99.805% <= 14.095 milliseconds (cumulative count 4991)
99.902% <= 19.087 milliseconds (cumulative count 4996)
99.951% <= 20.511 milliseconds (cumulative count 4998)
100.000% <= 26.847 milliseconds (cumulative count 5000)
`;

// pgbench -h 127.0.0.1 -p 55400 -U postgres -n -M prepared -c 8 -j 2 -T 2 --max-tries=10 ...
const pgbenchOutput = `pgbench (15.18 (Debian 15.18-0+deb12u1))
transaction type: one.sql
scaling factor: 1
query mode: prepared
number of clients: 8
number of threads: 2
maximum number of tries: 10
duration: 2 s
number of transactions actually processed: 3528
number of failed transactions: 0 (0.000%)
number of transactions retried: 0 (0.000%)
total number of retries: 0
latency average = 4.549 ms
initial connection time = 20.768 ms
tps = 1758.669473 (without initial connection time)
`;

// Lines of a pgbench -l log from the same run (client, transaction, µs, script, epoch s, µs,
// retries); the last line is the documented form of a transaction that failed.
const pgbenchLog = `1 1 14210 0 1795416234 913581 0
0 1 17340 0 1795416234 915573 0
0 2 1204 0 1795416234 916788 0
5 1 7748 0 1795416234 907145 0
3 9 failed 0 1795416235 100000 9
`;

test("redis-benchmark: count, throughput, p50/p99/max from the summary, p99.9 from the listing", () => {
  const figures = parseRedisBenchmark(redisOutput);
  assert.equal(figures.requestCount, 4000);
  assert.equal(figures.requestsPerSecond, 17621.15);
  assert.deepEqual(figures.latency, { p50Us: 3959, p99Us: 15399, p999Us: 15487, maxUs: 15487 });
  assert.equal(figures.errorLineCount, 0);
});

test("redis-benchmark: p99.9 is the first listing row at or above 99.9%", () => {
  const summaryStart = redisOutput.indexOf("Summary:");
  const output = `${redisOutput.split("Latency by percentile")[0]}${redisListing}\n${redisOutput.slice(summaryStart)}`;
  assert.equal(parseRedisBenchmark(output).latency.p999Us, 19087);
});

test("redis-benchmark: a report without a figure is an error", () => {
  const cuts = [
    redisOutput.replace(/throughput summary.*\n/, ""),
    redisOutput.replace(/ +3\.541 .*\n/, ""),
    redisOutput.replace(/requests completed/, ""),
    redisOutput.replace(/^99\.[69].*\n|^100\.000% <= 15.*\n/gm, ""),
    "Error from server: NOSCRIPT No matching script. Please use EVAL.\n",
  ];
  for (const output of cuts) {
    assert.throws(
      () => parseRedisBenchmark(output),
      (error) => isTxgridError(error),
    );
  }
});

test("pgbench: transactions, failures and tps without connection time", () => {
  assert.deepEqual(parsePgbenchSummary(pgbenchOutput), {
    transactionCount: 3528,
    failedCount: 0,
    transactionsPerSecond: 1758.669473,
  });
  assert.throws(
    () => parsePgbenchSummary(pgbenchOutput.replace(/^tps = .*\n/m, "")),
    (error) => isTxgridError(error),
  );
  assert.throws(
    () => parsePgbenchSummary(pgbenchOutput.replace(/actually processed/, "")),
    (error) => isTxgridError(error),
  );
});

test("pgbench log: latencies in µs from the third column, failed transactions skipped", () => {
  const recorder = new LatencyRecorder();
  assert.equal(addPgbenchLogLatencies(pgbenchLog, recorder), 4);
  const latency = peerLatencyOf(recorder);
  assert.ok(Math.abs(latency.p50Us - 7748) <= 8, `p50 ${latency.p50Us}`);
  assert.ok(Math.abs(latency.maxUs - 17340) <= 17, `max ${latency.maxUs}`);
});

test("--peers: names, optional settings, defaults that follow txgrid's fsync", () => {
  assert.deepEqual(parsePeerList("redis,postgres", "batch"), [
    { name: "redis", setting: "always" },
    { name: "postgres", setting: "on" },
  ]);
  assert.deepEqual(parsePeerList("redis,postgres", "lazy"), [
    { name: "redis", setting: "everysec" },
    { name: "postgres", setting: "off" },
  ]);
  assert.deepEqual(parsePeerList("redis:always,redis:everysec,redis", "always"), [
    { name: "redis", setting: "always" },
    { name: "redis", setting: "everysec" },
  ]);
  for (const bad of ["mysql", "redis:never", "postgres:on:x", ""]) {
    assert.throws(
      () => parsePeerList(bad, "batch"),
      (error) => isTxgridError(error),
    );
  }
});

test("the table gives txgrid's tx/s over each peer's", () => {
  const workload = {
    accountCount: 1000,
    hotPercent: 0,
    concurrency: 8,
    batchSize: 1,
    durationMs: 2000,
  };
  const peer = (name: "redis" | "postgres", durability: string, tps: number): PeerReport => ({
    name,
    version: "7",
    durability,
    workload,
    perRequest: "one transfer",
    runs: [],
    median: { transfersPerSecond: tps, p50Us: 1, p99Us: 2, p999Us: 3, maxUs: 4 },
    moneyConserved: true,
    errorCount: 0,
  });
  const peers = [
    peer("redis", "appendfsync=always", 4000),
    peer("postgres", "synchronous_commit=on", 0),
  ];
  const txgrid = {
    name: "txgrid",
    durability: "fsync=batch",
    txPerSecond: 10_000,
    p50Us: 5,
    p99Us: 6,
    p999Us: 7,
  };
  const rows = [txgrid, ...comparisonRows([], peers)];
  assert.equal(rows.length, 3);
  assert.deepEqual(rows[1], {
    name: "redis",
    durability: "appendfsync=always",
    txPerSecond: 4000,
    p50Us: 1,
    p99Us: 2,
    p999Us: 3,
  });
  const text = formatComparison(rows, peers, "tcp createTransfers");
  assert.match(text, /redis 7 +appendfsync=always +4,000 +1 +2 +3 +2\.50×/);
  assert.match(text, /postgres 7 +synchronous_commit=on +0 .* –/);
  assert.match(text, /redis appendfsync=always: money conserved/);
});
