// Goal: the console's HTTP side serves exactly its files, answers its three API routes
// correctly, and the node's metrics see every answered request, the fast path's too.
// Method: an in-memory shard with the HTTP app built as the server builds it (metrics
// observer, /metrics, console plugin); requests through app.inject, and through a real
// socket on 127.0.0.1 for the fast path (app.inject never takes it).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { FastifyInstance } from "fastify";
import { buildHttpApp } from "../api/http/index.ts";
import { CONSOLE_SEARCH_RESULTS_MAX } from "../constants.ts";
import { METRICS_CONTENT_TYPE, NodeMetrics } from "../metrics/index.ts";
import { Shard } from "../shard/index.ts";
import { consoleRoutes } from "./routes.ts";

let shard: Shard;
let metrics: NodeMetrics;
let app: FastifyInstance;

before(async () => {
  let events: NodeMetrics | null = null;
  shard = await Shard.open({
    dir: null,
    fsyncPolicy: "batch",
    onEvent: (event) => events?.observeShardEvent(event),
  });
  metrics = new NodeMetrics({
    version: "1.2.3",
    fsyncPolicy: "batch",
    replication: "none",
    shardStatus: () => shard.status(),
    engineStats: () => shard.engine.stats(),
    startMs: Date.now(),
  });
  events = metrics;
  app = buildHttpApp(shard, {
    logger: false,
    onRequestDone: (route, method, status, seconds) =>
      metrics.observeHttpRequest(route, method, status, seconds),
    metrics: { contentType: METRICS_CONTENT_TYPE, render: () => metrics.render() },
  });
  app.register(
    consoleRoutes({
      shard,
      metrics,
      node: { version: "1.2.3", fsyncPolicy: "batch", replication: "none" },
    }),
  );
  await app.ready();
  const accounts = [
    { id: "alice", balance: "100", nickname: "Alice Liddell" },
    { id: "bob", balance: "5" },
    { id: "malice", balance: "0" },
    ...Array.from({ length: 150 }, (_, index) => ({ id: `acct-${index}` })),
  ];
  const created = await app.inject({
    method: "POST",
    url: "/v1/accounts/batch",
    payload: { accounts },
  });
  assert.equal(created.statusCode, 200, created.body);
});

after(async () => {
  await app.close();
  await shard.close();
  metrics.close();
});

async function getJson(url: string) {
  const response = await app.inject({ method: "GET", url });
  return { status: response.statusCode, json: JSON.parse(response.body) };
}

test("/ redirects to the console, which is served with a strict CSP and ETags", async () => {
  const root = await app.inject({ method: "GET", url: "/" });
  assert.equal(root.statusCode, 302);
  assert.equal(root.headers.location, "/console/");
  const page = await app.inject({ method: "GET", url: "/console/" });
  assert.equal(page.statusCode, 200);
  assert.match(String(page.headers["content-type"]), /^text\/html/);
  assert.match(String(page.headers["content-security-policy"]), /default-src 'self'/);
  assert.match(page.body, /<script type="module" src="app.js"><\/script>/);
  const etag = String(page.headers.etag);
  const again = await app.inject({
    method: "GET",
    url: "/console/",
    headers: { "if-none-match": etag },
  });
  assert.equal(again.statusCode, 304);
  const plot = await app.inject({ method: "GET", url: "/console/plot.js" });
  assert.equal(plot.statusCode, 200);
  assert.match(String(plot.headers["content-type"]), /^text\/javascript/);
  assert.match(plot.body, /export function lineChart/);
  assert.doesNotMatch(plot.body, /^import /m, "the browser loads plot.js alone");
});

test("only the console's own files are served", async () => {
  for (const url of ["/console/nope.js", "/console/..%2Fpackage.json", "/console/routes.ts"]) {
    const { status, json } = await getJson(url);
    // A name outside the file pattern is refused as bad input, a listed pattern as not found.
    assert.ok(status === 404 || status === 400, `${url}: ${status}`);
    assert.equal(json.status, "failed", url);
  }
});

test("search finds exact ids and nicknames first, then substrings, newest first", async () => {
  let { status, json } = await getJson("/console/api/accounts?q=alice");
  assert.equal(status, 200);
  assert.deepEqual(
    json.data.accounts.map((account: { id: string }) => account.id),
    ["alice", "malice"],
  );
  assert.equal(json.data.complete, true);
  assert.equal(json.data.total, 153);
  ({ json } = await getJson("/console/api/accounts?q=Alice%20Liddell"));
  assert.deepEqual(
    json.data.accounts.map((account: { id: string }) => account.id),
    ["alice"],
  );
  ({ json } = await getJson("/console/api/accounts?q=acct-&limit=3"));
  assert.deepEqual(
    json.data.accounts.map((account: { id: string }) => account.id),
    ["acct-149", "acct-148", "acct-147"],
  );
  assert.equal(json.data.accounts[0].balance, "0");
  ({ status, json } = await getJson(
    `/console/api/accounts?q=a&limit=${CONSOLE_SEARCH_RESULTS_MAX + 1}`,
  ));
  assert.equal(status, 400);
  assert.equal(json.code, "TXG_ERR_BAD_REQUEST");
  ({ status } = await getJson("/console/api/accounts"));
  assert.equal(status, 400);
});

test("the cluster view shows the shard's positions and the standbys the hook reports", async () => {
  let { json } = await getJson("/console/api/cluster");
  const status = shard.status();
  assert.equal(json.data.mode, "single node");
  assert.equal(json.data.version, "1.2.3");
  const [only] = json.data.shards;
  assert.equal(json.data.shards.length, 1);
  assert.equal(only.lsnApplied, status.lsn);
  assert.equal(only.lsnDurable, status.lsnDurable);
  assert.equal(only.epoch, null);
  assert.deepEqual(only.standbys, []);
  metrics.setReplicationSource(() => [
    { shard: "0", standby: "node-b", lagBatches: 1, lagSeconds: 0.01 },
  ]);
  ({ json } = await getJson("/console/api/cluster"));
  assert.equal(json.data.mode, "cluster");
  assert.deepEqual(json.data.shards[0].standbys, [
    { node: "node-b", lsn: status.lsnDurable - 1, lagBatches: 1, lagSeconds: 0.01 },
  ]);
  metrics.setReplicationSource(() => []);
});

test("the live series answers the points after ?since", async () => {
  const first = metrics.tick(Date.now());
  const second = metrics.tick(first.atMs + 1000);
  const { json } = await getJson(`/console/api/live?since=${first.atMs}`);
  assert.deepEqual(
    json.data.points.map((point: { atMs: number }) => point.atMs),
    [second.atMs],
  );
});

test("/metrics counts requests by route pattern, the fast path's too", async () => {
  await app.listen({ host: "127.0.0.1", port: 0 });
  const address = app.server.address();
  assert.ok(typeof address === "object" && address !== null);
  const response = await fetch(`http://127.0.0.1:${address.port}/v1/transfers`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      id: "t1",
      debitAccountId: "alice",
      creditAccountId: "bob",
      amount: "7",
    }),
  });
  assert.equal(response.status, 201);
  await getJson("/v1/accounts/alice");
  await getJson("/no/such/route");
  const scrape = await app.inject({ method: "GET", url: "/metrics" });
  assert.equal(scrape.headers["content-type"], METRICS_CONTENT_TYPE);
  const text = scrape.body;
  assert.match(
    text,
    /^txgrid_http_requests_total\{route="\/v1\/transfers",method="POST",status="201"\} 1$/m,
  );
  assert.match(
    text,
    /^txgrid_http_requests_total\{route="\/v1\/accounts\/:id",method="GET",status="200"\} 1$/m,
  );
  assert.match(text, /^txgrid_commands_total\{kind="transfer.create",result="OK"\} 1$/m);
  assert.match(text, /^txgrid_commands_total\{kind="account.create",result="OK"\} 153$/m);
  assert.match(
    text,
    /^txgrid_http_requests_total\{route="unmatched",method="GET",status="404"\} \d+$/m,
  );
});
