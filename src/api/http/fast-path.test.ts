// Goal: the fast path (fast-path.ts) answers exactly what fastify answers: same status, same
// headers (but Date), same body bytes, for every kind of request to the hot routes (successes,
// retries, conflicts, refusals, every bad input of the route tests, malformed JSON, prototype
// poisoning, other media types, oversized and empty bodies, shutdown), and it takes exactly
// the requests it claims to take, on both of its transports: the HTTP/1.1 front
// (http1-front.ts) and node:http. It survives clients that abort mid-body or leave before the
// answer. Method: four in-memory shards on frozen manual clocks evolve in lockstep under the
// same table of requests: one app with the fast path behind the front on a real socket, one
// with the fast path on node:http's requests, one without the fast path on a real socket
// (fastify answers), one through app.inject() (fastify, no socket). Answers are compared byte
// for byte; random UUIDs are masked; the counters show which requests the fast path took,
// that the front handed every other connection to node:http, and that aborted requests leave
// nothing counted.
import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { HTTP_BODY_BYTES_MAX } from "../../constants.ts";
import { ManualClock, must } from "../../stdx/index.ts";
import { fastPathOf } from "./app.ts";
import type { FastPath } from "./fast-path.ts";
import { type Harness, openHarness } from "./test-support.ts";

const elon = "6ca595a7875dca8fc5b193aa7eaa566a6b0afdff";
const ada = "a92ea8a96974941a1d7f0b8ca9a1202b9aa704b5";
const uuidPattern = /[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}/g;

interface RawAnswer {
  readonly status: number;
  /** Header lines in wire order, as [name, value]; Date is left out (it is the time). */
  readonly headers: readonly (readonly [string, string])[];
  readonly body: string;
}

interface Case {
  readonly name: string;
  readonly url: string;
  /** The body; a string is sent as UTF-8. */
  readonly body: string | Buffer;
  /** Content-Type header; null sends none. */
  readonly contentType?: string | null;
  /** Whether the fast path must take it (it must decline everything else). */
  readonly fast: boolean;
  /** Send the body chunked (Transfer-Encoding) instead of with a Content-Length. */
  readonly chunked?: boolean;
  /** Send only the head, claiming this Content-Length (oversized bodies). */
  readonly declaredLength?: number;
  /** Send the body in two writes split at this byte, with a pause between them. */
  readonly splitAt?: number;
}

function head(kase: Case, bodyBytes: number): string {
  const lines = [`POST ${kase.url} HTTP/1.1`, "Host: localhost"];
  const contentType = kase.contentType === undefined ? "application/json" : kase.contentType;
  if (contentType !== null) lines.push(`Content-Type: ${contentType}`);
  if (kase.chunked === true) lines.push("Transfer-Encoding: chunked");
  else lines.push(`Content-Length: ${kase.declaredLength ?? bodyBytes}`);
  return `${lines.join("\r\n")}\r\n\r\n`;
}

/** Parses one complete answer from `bytes`; null while it is incomplete. */
function parseAnswer(bytes: Buffer): RawAnswer | null {
  const end = bytes.indexOf("\r\n\r\n");
  if (end < 0) return null;
  const [statusLine = "", ...lines] = bytes.toString("latin1", 0, end).split("\r\n");
  const headers: [string, string][] = [];
  let length = 0;
  for (const line of lines) {
    const colon = line.indexOf(":");
    const name = line.slice(0, colon);
    const value = line.slice(colon + 1).trim();
    if (name.toLowerCase() === "content-length") length = Number(value);
    if (name.toLowerCase() !== "date") headers.push([name, value]);
  }
  if (bytes.length < end + 4 + length) return null;
  const body = bytes.toString("utf8", end + 4, end + 4 + length);
  return { status: Number(statusLine.split(" ")[1]), headers, body };
}

/** Writes `parts` to a fresh connection (pausing between them) and reads one answer. */
async function exchange(port: number, parts: readonly (string | Buffer)[]): Promise<RawAnswer> {
  const socket = connect({ host: "127.0.0.1", port });
  await once(socket, "connect");
  let received = Buffer.alloc(0);
  const answered = new Promise<RawAnswer>((resolve, reject) => {
    socket.on("data", (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const answer = parseAnswer(received);
      if (answer !== null) resolve(answer);
    });
    socket.on("error", reject);
    socket.on("close", () => reject(new Error(`closed before an answer: ${received}`)));
  });
  for (const [index, part] of parts.entries()) {
    if (index > 0) await sleep(20);
    socket.write(part);
  }
  try {
    return await answered;
  } finally {
    socket.destroy();
  }
}

function wireParts(kase: Case): (string | Buffer)[] {
  const body = typeof kase.body === "string" ? Buffer.from(kase.body, "utf8") : kase.body;
  if (kase.declaredLength !== undefined) return [head(kase, 0)];
  if (kase.chunked === true) {
    return [head(kase, 0), `${body.length.toString(16)}\r\n`, body, "\r\n0\r\n\r\n"];
  }
  if (kase.splitAt !== undefined) {
    return [
      Buffer.concat([Buffer.from(head(kase, body.length)), body.subarray(0, kase.splitAt)]),
      body.subarray(kase.splitAt),
    ];
  }
  return [Buffer.concat([Buffer.from(head(kase, body.length)), body])];
}

async function inject(harness: Harness, kase: Case): Promise<RawAnswer> {
  const contentType = kase.contentType === undefined ? "application/json" : kase.contentType;
  const body =
    kase.declaredLength === undefined ? kase.body : Buffer.alloc(kase.declaredLength, 0x20);
  const response = await harness.app.inject({
    method: "POST",
    url: kase.url,
    headers: contentType === null ? {} : { "content-type": contentType },
    payload: body,
  });
  return { status: response.statusCode, headers: [], body: response.body };
}

function masked(answer: RawAnswer): RawAnswer {
  return { ...answer, body: answer.body.replace(uuidPattern, "<uuid>") };
}

interface Trio {
  /** The fast path behind the HTTP/1.1 front (the default). */
  readonly fast: Harness;
  /** The fast path on node:http's own requests (no front). */
  readonly nodeFast: Harness;
  readonly plain: Harness;
  readonly injected: Harness;
  readonly fastPort: number;
  readonly nodeFastPort: number;
  readonly plainPort: number;
  readonly fastPath: FastPath;
  readonly nodeFastPath: FastPath;
}

async function listen(harness: Harness): Promise<number> {
  await harness.app.listen({ host: "127.0.0.1", port: 0 });
  const address = harness.app.server.address();
  assert.ok(typeof address === "object" && address !== null);
  return address.port;
}

async function withTrio(run: (trio: Trio) => Promise<void>): Promise<void> {
  const fast = await openHarness({ clock: new ManualClock() });
  const nodeFast = await openHarness({ clock: new ManualClock() }, { front: false });
  const plain = await openHarness({ clock: new ManualClock() }, { fastPath: false });
  const injected = await openHarness({ clock: new ManualClock() });
  const all = [fast, nodeFast, plain, injected];
  try {
    const fastPort = await listen(fast);
    const nodeFastPort = await listen(nodeFast);
    const plainPort = await listen(plain);
    const fastPath = fastPathOf(fast.app);
    const nodeFastPath = fastPathOf(nodeFast.app);
    assert.ok(fastPath !== null && fastPath.front !== null);
    assert.ok(nodeFastPath !== null && nodeFastPath.front === null);
    assert.equal(fastPathOf(plain.app), null);
    for (const harness of all) await seed(harness);
    await run({
      fast,
      nodeFast,
      plain,
      injected,
      fastPort,
      nodeFastPort,
      plainPort,
      fastPath,
      nodeFastPath,
    });
  } finally {
    for (const harness of all) await harness.close();
  }
}

async function seed(harness: Harness): Promise<void> {
  const post = async (url: string, body: unknown) => {
    const response = await harness.app.inject({ method: "POST", url, payload: body as object });
    assert.ok(response.statusCode < 300, response.body);
  };
  await post("/users/register", { nickname: "elon_musk", balance: 10_000 });
  await post("/users/register", { nickname: "lovelace", balance: 500 });
  const accounts = [
    { id: "a", balance: "1000" },
    { id: "b", balance: "0" },
    { id: "c", balance: "0" },
  ];
  await post("/v1/accounts/batch", { accounts });
}

/** Runs one case on all three apps and checks that they answer alike. */
async function check(trio: Trio, kase: Case): Promise<RawAnswer> {
  const takenBefore = trio.fastPath.takenCount;
  const handedOverBefore = must(trio.fastPath.front, "a front").handedOverCount;
  const fast = masked(await exchange(trio.fastPort, wireParts(kase)));
  assert.equal(trio.fastPath.takenCount - takenBefore, kase.fast ? 1 : 0, `${kase.name}: taken`);
  // A fresh connection per case: the front keeps it for a request it takes and hands it to
  // node:http (and fastify) for any other.
  const handedOver = must(trio.fastPath.front, "a front").handedOverCount - handedOverBefore;
  assert.equal(handedOver, kase.fast ? 0 : 1, `${kase.name}: handed to node:http`);
  const nodeTakenBefore = trio.nodeFastPath.takenCount;
  const viaNode = masked(await exchange(trio.nodeFastPort, wireParts(kase)));
  const nodeTaken = trio.nodeFastPath.takenCount - nodeTakenBefore;
  assert.equal(nodeTaken, kase.fast ? 1 : 0, `${kase.name}: taken without the front`);
  assert.deepEqual(fast, viaNode, `${kase.name}: the front vs node:http, both on the fast path`);
  const plain = masked(await exchange(trio.plainPort, wireParts(kase)));
  assert.deepEqual(fast, plain, `${kase.name}: fast path vs fastify over a socket`);
  // app.inject() cannot send chunked bodies; it sends the same bytes with a Content-Length.
  const injected = masked(await inject(trio.injected, kase));
  assert.equal(fast.status, injected.status, `${kase.name}: status vs app.inject()`);
  assert.equal(fast.body, injected.body, `${kase.name}: body vs app.inject()`);
  return fast;
}

function json(value: unknown): string {
  return JSON.stringify(value);
}

function timpeCases(url: string): Case[] {
  const base = { sender: elon, recipient: ada, amount: 1 };
  const tag = url.endsWith("immediately") ? "i" : "p";
  const cases: Case[] = [
    { name: "happy with id", url, body: json({ ...base, id: `${tag}-1` }), fast: true },
    { name: "retry", url, body: json({ ...base, id: `${tag}-1` }), fast: true },
    { name: "conflict", url, body: json({ ...base, amount: 2, id: `${tag}-1` }), fast: true },
    { name: "happy without id", url, body: json({ ...base, amount: 3 }), fast: true },
    { name: "unknown sender", url, body: json({ ...base, sender: "nobody" }), fast: true },
    { name: "unknown recipient", url, body: json({ ...base, recipient: "nobody" }), fast: true },
    { name: "poor", url, body: json({ sender: ada, recipient: elon, amount: 501 }), fast: true },
    { name: "same accounts", url, body: json({ ...base, recipient: elon }), fast: true },
    { name: "non-ASCII sender", url, body: json({ ...base, sender: "é" }), fast: true },
    { name: "BOM before JSON", url, body: `\uFEFF${json(base)}`, fast: true },
  ];
  for (const amount of [0, -1, 1.5, 2 ** 53, 2 ** 63, 1e300, "400", null]) {
    cases.push({ name: `amount ${amount}`, url, body: json({ ...base, amount }), fast: true });
  }
  for (const [name, body] of [
    ["sender a number", json({ ...base, sender: 42 })],
    ["bad id", json({ ...base, id: "not valid!" })],
    ["extra field", json({ ...base, memo: "extra" })],
    ["missing amount", json({ sender: elon, recipient: ada })],
    ["array", "[]"],
    ["null", "null"],
    ["string", '"x"'],
    ["number", "5"],
    ["empty object", "{}"],
    ["malformed", "{"],
    ["truncated", '{"sender":'],
    ["one space", " "],
    ["__proto__", `{"__proto__":{"x":1},"sender":"${elon}","recipient":"${ada}","amount":1}`],
    ["constructor.prototype", '{"constructor":{"prototype":{"x":1}}}'],
  ] as const) {
    cases.push({ name, url, body, fast: true });
  }
  return cases;
}

function transferCases(): Case[] {
  const url = "/v1/transfers";
  const base = { id: "t", debitAccountId: "a", creditAccountId: "b", amount: "1" };
  const cases: Case[] = [
    { name: "created", url, body: json({ ...base, id: "t1", amount: "250" }), fast: true },
    { name: "retry", url, body: json({ ...base, id: "t1", amount: 250 }), fast: true },
    { name: "conflict", url, body: json({ ...base, id: "t1", amount: "2" }), fast: true },
    {
      name: "refused",
      url,
      body: json({ ...base, id: "big", debitAccountId: "b", creditAccountId: "a", amount: 5000 }),
      fast: true,
    },
    {
      name: "refusal retried",
      url,
      body: json({ ...base, id: "big", debitAccountId: "b", creditAccountId: "a", amount: 5000 }),
      fast: true,
    },
    { name: "no credit", url, body: json({ ...base, id: "g", creditAccountId: "zz" }), fast: true },
    { name: "no debit", url, body: json({ ...base, id: "g2", debitAccountId: "zz" }), fast: true },
    {
      name: "largest amount",
      url,
      body: json({ ...base, id: "max", amount: "9223372036854775807" }),
      fast: true,
    },
    {
      name: "pending with timeout",
      url,
      body: json({ ...base, id: "p1", pending: true, timeoutMs: 5000 }),
      fast: true,
    },
  ];
  const amounts = [0, "0", -1, "-1", 1.5, 2 ** 53, 2 ** 63, 1e300, "9223372036854775808"];
  const badAmounts = ["1.5", "1e3", " 1", "", "0x10", true, null, [1], { value: 1 }];
  for (const amount of [...amounts, ...badAmounts, "99999999999999999999"]) {
    cases.push({
      name: `amount ${json(amount)}`,
      url,
      body: json({ ...base, amount }),
      fast: true,
    });
  }
  for (const [name, fields] of [
    ["same accounts", { creditAccountId: "a" }],
    ["timeout without pending", { timeoutMs: 1000 }],
    ["negative timeout", { pending: true, timeoutMs: -1 }],
    ["fractional timeout", { pending: true, timeoutMs: 1.5 }],
    ["timeout too long", { pending: true, timeoutMs: 30 * 24 * 3600 * 1000 + 1 }],
    ["pending a string", { pending: "yes" }],
    ["id with a space", { id: "no spaces" }],
    ["id non-ASCII", { id: "é" }],
    ["debit a number", { debitAccountId: 5 }],
    ["extra field", { memo: "extra" }],
  ] as const) {
    cases.push({ name, url, body: json({ ...base, ...fields }), fast: true });
  }
  for (const [name, body] of [
    ["missing fields", json({ id: "t", debitAccountId: "a" })],
    ["array", "[]"],
    ["truncated", '{"id":"t",'],
    ["__proto__", '{"__proto__":{"x":1}}'],
  ] as const) {
    cases.push({ name, url, body, fast: true });
  }
  return cases;
}

/** Requests the fast path must leave to fastify, decided from their heads alone. */
function declinedCases(): Case[] {
  const url = "/v1/transfers";
  const body = json({ id: "d1", debitAccountId: "a", creditAccountId: "c", amount: 1 });
  return [
    {
      name: "charset, with a space",
      url,
      body,
      contentType: "application/json; charset=utf-8",
      fast: true,
    },
    {
      name: "charset, no space",
      url,
      body,
      contentType: "application/json;charset=utf-8",
      fast: false,
    },
    { name: "upper-case media type", url, body, contentType: "APPLICATION/JSON", fast: false },
    { name: "text/plain", url, body, contentType: "text/plain", fast: false },
    {
      name: "form",
      url,
      body: "id=t",
      contentType: "application/x-www-form-urlencoded",
      fast: false,
    },
    { name: "no content type", url, body, contentType: null, fast: false },
    { name: "query string", url: `${url}?x=1`, body, fast: false },
    { name: "trailing slash", url: `${url}/`, body, fast: false },
    { name: "other route", url: "/v1/accounts", body: json({ id: "d" }), fast: false },
    { name: "empty body", url, body: "", fast: false },
    {
      name: "chunked",
      url,
      body: json({ id: "d2", debitAccountId: "a", creditAccountId: "c", amount: 1 }),
      chunked: true,
      fast: false,
    },
    { name: "oversized", url, body: "", declaredLength: HTTP_BODY_BYTES_MAX + 1, fast: false },
    {
      name: "oversized TiMPE",
      url: "/transactions",
      body: "",
      declaredLength: HTTP_BODY_BYTES_MAX + 1,
      fast: false,
    },
  ];
}

test("the fast path answers every hot-route request exactly as fastify does", async () => {
  await withTrio(async (trio) => {
    const cases = [
      ...timpeCases("/transactions"),
      ...timpeCases("/transactions/immediately"),
      ...transferCases(),
      ...declinedCases(),
    ];
    const statuses = new Set<number>();
    for (const kase of cases) statuses.add((await check(trio, kase)).status);
    // The table reaches every kind of answer the hot routes give, and fastify's 404 and 413.
    assert.deepEqual([...statuses].sort(), [200, 201, 400, 404, 409, 413, 422]);
    const keepAlive = await check(trio, cases[0] as Case);
    assert.deepEqual(
      keepAlive.headers.map(([name]) => name.toLowerCase()),
      ["content-type", "content-length", "connection", "keep-alive"],
    );
    const malformed = await check(trio, {
      name: "malformed",
      url: "/v1/transfers",
      body: "{",
      fast: true,
    });
    assert.equal(malformed.headers[0]?.[1], "close", "a parse failure closes the connection");
    // The three engines applied the same commands (digests differ only by the random UUIDs).
    const states = [trio.fast, trio.plain, trio.injected].map((harness) =>
      JSON.stringify(
        { ...harness.shard.engine.stats(), ...harness.shard.engine.totals() },
        (_, v) => (typeof v === "bigint" ? v.toString() : v),
      ),
    );
    assert.equal(new Set(states).size, 1, states.join("\n"));
  });
});

test("a body split across packets, even inside a UTF-8 character, reads whole", async () => {
  await withTrio(async (trio) => {
    const text = json({ sender: "ééé", recipient: ada, amount: 1 });
    const splitAt = Buffer.from(text).indexOf(0xc3) + 1;
    const answer = await check(trio, {
      name: "split",
      url: "/transactions",
      body: text,
      splitAt,
      fast: true,
    });
    assert.equal(answer.status, 400);
    assert.match(answer.body, /unknown 'sender'/);
    const v1 = json({ id: "s1", debitAccountId: "a", creditAccountId: "b", amount: "7" });
    const created = await check(trio, {
      name: "split v1",
      url: "/v1/transfers",
      body: v1,
      splitAt: 9,
      fast: true,
    });
    assert.equal(created.status, 201);
  });
});

test("once the shard is closed both paths answer 503 SHUTTING_DOWN with Retry-After", async () => {
  await withTrio(async (trio) => {
    for (const harness of [trio.fast, trio.nodeFast, trio.plain, trio.injected]) {
      await harness.shard.close();
    }
    const v1 = json({ id: "late", debitAccountId: "a", creditAccountId: "b", amount: 1 });
    const refused = await check(trio, {
      name: "late v1",
      url: "/v1/transfers",
      body: v1,
      fast: true,
    });
    assert.equal(refused.status, 503);
    assert.deepEqual(refused.headers[0], ["retry-after", "1"]);
    const timpe = json({ sender: elon, recipient: ada, amount: 1 });
    const late = await check(trio, {
      name: "late TiMPE",
      url: "/transactions/immediately",
      body: timpe,
      fast: true,
    });
    assert.equal(late.status, 503);
  });
});

test("pipelined requests on one keep-alive connection are answered in order", async () => {
  await withTrio(async (trio) => {
    const bodies = [1, 2, 3].map((n) =>
      json({ id: `k${n}`, debitAccountId: "a", creditAccountId: "b", amount: n }),
    );
    const wire = bodies
      .map((body) => head({ name: "", url: "/v1/transfers", body, fast: true }, body.length) + body)
      .join("");
    const socket = connect({ host: "127.0.0.1", port: trio.fastPort });
    await once(socket, "connect");
    let received = "";
    socket.on("data", (chunk: Buffer) => {
      received += chunk.toString("latin1");
    });
    socket.write(wire);
    while ((received.match(/HTTP\/1\.1 /g) ?? []).length < 3 || !received.endsWith("}")) {
      await sleep(5);
    }
    socket.destroy();
    const ids = [...received.matchAll(/"id":"(k\d)"/g)].map((match) => match[1]);
    assert.deepEqual(ids, ["k1", "k2", "k3"]);
    assert.equal(trio.fastPath.readingCount, 0);
  });
});

test("clients that abort mid-body or leave before the answer leave nothing behind", async () => {
  await withTrio(async (trio) => {
    const body = json({ id: "gone", debitAccountId: "a", creditAccountId: "b", amount: 1 });
    for (let round = 0; round < 20; round++) {
      const socket = connect({ host: "127.0.0.1", port: trio.fastPort });
      await once(socket, "connect");
      const kase: Case = { name: "", url: "/v1/transfers", body, fast: true };
      // Half of the body, then the client vanishes.
      socket.write(head(kase, body.length) + body.slice(0, 10));
      await sleep(2);
      socket.destroy();
    }
    // The whole body, then the client vanishes before the answer.
    const socket = connect({ host: "127.0.0.1", port: trio.fastPort });
    await once(socket, "connect");
    const full = json({ id: "left", debitAccountId: "a", creditAccountId: "b", amount: 1 });
    const wire = head({ name: "", url: "/v1/transfers", body: full, fast: true }, full.length);
    socket.write(wire + full, () => socket.destroy());
    for (let waited = 0; trio.fastPath.readingCount !== 0 && waited < 200; waited++) await sleep(5);
    assert.equal(trio.fastPath.readingCount, 0, "aborted bodies are not still being read");
    // The server still serves, and the engine holds no trace of the aborted bodies.
    const after = json({ id: "after", debitAccountId: "a", creditAccountId: "b", amount: 1 });
    const answer = await exchange(trio.fastPort, [
      head({ name: "", url: "/v1/transfers", body: after, fast: true }, after.length) + after,
    ]);
    assert.equal(answer.status, 201);
    assert.equal(trio.fast.shard.engine.transfer("gone"), undefined);
  });
});

test("while the app closes, requests go to fastify, which closes the connection", async () => {
  const harness = await openHarness();
  const port = await listen(harness);
  const fastPath = fastPathOf(harness.app);
  assert.ok(fastPath !== null);
  const socket = connect({ host: "127.0.0.1", port });
  await once(socket, "connect");
  let received = "";
  socket.on("data", (chunk: Buffer) => {
    received += chunk.toString("latin1");
  });
  const body = json({ id: "x", debitAccountId: "a", creditAccountId: "b", amount: 1 });
  const request = head({ name: "", url: "/v1/transfers", body, fast: true }, body.length) + body;
  // Half a request keeps the connection busy, so closing cannot reap it as idle.
  socket.write(request.slice(0, 40));
  await sleep(20);
  const closed = harness.app.close();
  socket.write(request.slice(40));
  await closed;
  await harness.shard.close();
  while (!received.includes("\r\n\r\n")) await sleep(5);
  socket.destroy();
  assert.match(received, /^HTTP\/1\.1 422 /);
  assert.match(received, /\r\nconnection: close\r\n/i);
  assert.equal(fastPath.takenCount, 0);
});

test("a fast-path answer leaves in one write, not a writev of head, body and an empty chunk", async () => {
  const harness = await openHarness();
  try {
    await seed(harness);
    const port = await listen(harness);
    const writes = { single: 0, vectored: 0 };
    // Count what the response hands to the server's end of the socket, at the stream level.
    harness.app.server.on("connection", (socket: Socket) => {
      const writable = socket as unknown as WritableInternals;
      const write = writable._write.bind(socket);
      const writev = writable._writev.bind(socket);
      writable._write = (chunk, encoding, callback) => {
        writes.single++;
        write(chunk, encoding, callback);
      };
      writable._writev = (chunks, callback) => {
        writes.vectored++;
        writev(chunks, callback);
      };
    });
    const client = connect({ host: "127.0.0.1", port });
    await once(client, "connect");
    let received = "";
    client.on("data", (chunk: Buffer) => {
      received += chunk.toString("latin1");
    });
    for (let n = 1; n <= 3; n++) {
      const body = json({ id: `w${n}`, debitAccountId: "a", creditAccountId: "b", amount: 1 });
      client.write(head({ name: "", url: "/v1/transfers", body, fast: true }, body.length) + body);
      while ((received.match(/HTTP\/1\.1 /g) ?? []).length < n || !received.endsWith("}")) {
        await sleep(5);
      }
    }
    client.destroy();
    assert.equal((received.match(/HTTP\/1\.1 201 /g) ?? []).length, 3, received);
    assert.deepEqual(writes, { single: 3, vectored: 0 });
  } finally {
    await harness.close();
  }
});

/** The Writable methods a net.Socket implements (stream implementers' API). */
interface WritableInternals {
  _write(chunk: unknown, encoding: string, callback: (error?: Error | null) => void): void;
  _writev(
    chunks: readonly { chunk: unknown; encoding: string }[],
    callback: (error?: Error | null) => void,
  ): void;
}
