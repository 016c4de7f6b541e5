// Goal: the node's metrics count what the shard and the HTTP face report, with bounded
// labels. Method: a real in-memory shard whose events feed NodeMetrics; commands with known
// outcomes (OK, INSUFFICIENT_FUNDS) must show in txgrid_commands_total by kind and result,
// batches in the batch-size and flush histograms, shard gauges at scrape time; HTTP requests
// by route pattern, method and status; the replication hook's samples as gauges; and the
// live series' per-second point from tick().
import assert from "node:assert/strict";
import { test } from "node:test";
import { type Command, transferListOf } from "../engine/index.ts";
import { Shard } from "../shard/index.ts";
import { NodeMetrics } from "./node-metrics.ts";

const account = (id: string, balance: bigint): Command => ({
  kind: "account.create",
  id,
  balance,
  floor: 0n,
  nickname: null,
});

const transfer = (id: string, amount: bigint): Command => ({
  kind: "transfer.create",
  id,
  debitId: "a",
  creditId: "b",
  amount,
  pending: false,
  timeoutMs: 0,
  origin: "api",
});

async function openMetered() {
  let metrics: NodeMetrics | null = null;
  const shard = await Shard.open({
    dir: null,
    fsyncPolicy: "batch",
    onEvent: (event) => metrics?.observeShardEvent(event),
  });
  metrics = new NodeMetrics({
    version: "9.9.9",
    fsyncPolicy: "batch",
    replication: "none",
    shardStatus: () => shard.status(),
    engineStats: () => shard.engine.stats(),
    startMs: 1_000,
  });
  return { shard, metrics };
}

function sample(text: string, line: string): number {
  const escaped = line.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const match = new RegExp(`^${escaped} (\\S+)$`, "m").exec(text);
  assert.ok(match !== null, `no sample ${line} in\n${text}`);
  return Number(match[1]);
}

test("commands are counted by kind and result; batches and gauges follow the shard", async () => {
  const { shard, metrics } = await openMetered();
  try {
    await shard.submitMany([account("a", 10n), account("b", 0n)]);
    await shard.submit(transfer("t1", 4n));
    await shard.submit(transfer("t2", 100n)); // refused: a has 6 left
    const text = metrics.render();
    assert.equal(sample(text, 'txgrid_commands_total{kind="account.create",result="OK"}'), 2);
    assert.equal(sample(text, 'txgrid_commands_total{kind="transfer.create",result="OK"}'), 1);
    assert.equal(
      sample(text, 'txgrid_commands_total{kind="transfer.create",result="INSUFFICIENT_FUNDS"}'),
      1,
    );
    const batches = shard.status().batchCount;
    assert.equal(sample(text, "txgrid_batches_total"), batches);
    assert.equal(sample(text, "txgrid_batch_size_commands_count"), batches);
    assert.equal(sample(text, "txgrid_batch_size_commands_sum"), 4);
    assert.equal(sample(text, "txgrid_log_flush_duration_seconds_count"), batches);
    assert.equal(sample(text, 'txgrid_log_position_lsn{position="applied"}'), shard.engine.lsn);
    assert.equal(sample(text, "txgrid_accounts"), 2);
    assert.equal(sample(text, "txgrid_transfers"), 1);
    assert.equal(sample(text, "txgrid_queue_depth_commands"), 0);
    assert.equal(
      sample(text, 'txgrid_build_info{version="9.9.9",fsync="batch",replication="none"}'),
      1,
    );
    assert.ok(sample(text, "process_resident_memory_bytes") > 0);
    assert.match(text, /^# TYPE txgrid_replication_lag_batches gauge$/m);
    assert.doesNotMatch(text, /^txgrid_replication_lag_batches\{/m);
  } finally {
    await shard.close();
    metrics.close();
  }
});

test("a transfer list's transfers are counted as the transfer.create commands they stand for", async () => {
  // A TCP CREATE_TRANSFERS is one transfer.list command: its per-transfer codes (duplicates
  // included) must reach the same series as single transfers, and its batch weighs them all.
  const { shard, metrics } = await openMetered();
  try {
    await shard.submitMany([account("a", 10n), account("b", 0n)]);
    const transfers = [transfer("t1", 4n), transfer("t2", 100n), transfer("t1", 4n)];
    const list = transferListOf(transfers as Extract<Command, { kind: "transfer.create" }>[]);
    await shard.submitMany([list]);
    const text = metrics.render();
    assert.equal(sample(text, 'txgrid_commands_total{kind="transfer.create",result="OK"}'), 2);
    assert.equal(
      sample(text, 'txgrid_commands_total{kind="transfer.create",result="INSUFFICIENT_FUNDS"}'),
      1,
    );
    assert.doesNotMatch(text, /kind="transfer\.list"/);
    assert.equal(sample(text, "txgrid_batch_size_commands_sum"), 5);
  } finally {
    await shard.close();
    metrics.close();
  }
});

test("HTTP requests are counted by route pattern, method and status", async () => {
  const { shard, metrics } = await openMetered();
  try {
    metrics.observeHttpRequest("/v1/accounts/:id", "GET", 200, 0.0002);
    metrics.observeHttpRequest("/v1/accounts/:id", "GET", 200, 0.0004);
    metrics.observeHttpRequest("/v1/transfers", "POST", 422, 0.003);
    metrics.observeHttpRequest("unmatched", "BREW", 404, 0.0001);
    const text = metrics.render();
    const route = 'route="/v1/accounts/:id",method="GET"';
    assert.equal(sample(text, `txgrid_http_requests_total{${route},status="200"}`), 2);
    assert.equal(
      sample(text, 'txgrid_http_requests_total{route="/v1/transfers",method="POST",status="422"}'),
      1,
    );
    assert.equal(
      sample(text, 'txgrid_http_requests_total{route="unmatched",method="other",status="404"}'),
      1,
    );
    assert.equal(sample(text, `txgrid_http_request_duration_seconds_count{${route}}`), 2);
    assert.equal(
      sample(text, `txgrid_http_request_duration_seconds_bucket{${route},le="0.0004"}`),
      2,
    );
    assert.equal(
      sample(text, `txgrid_http_request_duration_seconds_bucket{${route},le="0.0002"}`),
      1,
    );
  } finally {
    await shard.close();
    metrics.close();
  }
});

test("the replication hook's samples become gauges at each scrape", async () => {
  const { shard, metrics } = await openMetered();
  try {
    let lag = 3;
    metrics.setReplicationSource(() => [
      { shard: "0", standby: "node-2", lagBatches: lag, lagSeconds: 0.25 },
      { shard: "0", standby: "node-3", lagBatches: 0, lagSeconds: null },
    ]);
    let text = metrics.render();
    assert.equal(sample(text, 'txgrid_replication_lag_batches{shard="0",standby="node-2"}'), 3);
    assert.equal(sample(text, 'txgrid_replication_lag_seconds{shard="0",standby="node-2"}'), 0.25);
    assert.doesNotMatch(text, /txgrid_replication_lag_seconds\{shard="0",standby="node-3"\}/);
    lag = 1;
    text = metrics.render();
    assert.equal(sample(text, 'txgrid_replication_lag_batches{shard="0",standby="node-2"}'), 1);
    assert.equal(metrics.replicationLag().length, 2);
  } finally {
    await shard.close();
    metrics.close();
  }
});

test("tick() closes a live second with rates and write latency percentiles", async () => {
  const { shard, metrics } = await openMetered();
  try {
    await shard.submitMany([account("a", 10n), account("b", 0n)]);
    for (let index = 0; index < 99; index++) {
      metrics.observeHttpRequest("/v1/transfers", "POST", 201, 0.001);
    }
    metrics.observeHttpRequest("/v1/transfers", "POST", 422, 0.1);
    metrics.observeHttpRequest("/v1/status", "GET", 200, 5);
    const point = metrics.tick(3_000); // a two-second window
    assert.equal(point.commandsPerSecond, 1);
    assert.equal(point.httpRequestsPerSecond, 50.5);
    assert.equal(point.httpErrorsPerSecond, 0.5);
    assert.ok(Math.abs((point.writeP50Us as number) - 1000) <= 22, `p50 ${point.writeP50Us}`);
    assert.ok(Math.abs((point.writeP99Us as number) - 1000) <= 22, `p99 ${point.writeP99Us}`);
    assert.notEqual(point.flushP99Us, null);
    const quiet = metrics.tick(4_000);
    assert.equal(quiet.commandsPerSecond, 0);
    assert.equal(quiet.writeP50Us, null);
    assert.deepEqual(
      metrics.live.points(3_000).map((p) => p.atMs),
      [4_000],
    );
  } finally {
    await shard.close();
    metrics.close();
  }
});
