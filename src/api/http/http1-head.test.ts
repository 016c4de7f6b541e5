// Goal: readHotHead (http1-head.ts) takes only heads that node:http reads the same way. A head
// it accepts, and that the fast path would then take, must reach a node:http server as the
// same method, target, single Host, Content-Type and Content-Length, with or without the same
// Transfer-Encoding, Content-Encoding and Accept-Version headers; heads with anything unusual
// (other methods or versions, bare LF, obs-fold, spaces before a colon, control or non-ASCII
// bytes, repeated or malformed lengths, Expect, Upgrade, Connection other than keep-alive)
// must be refused, so that the front hands them to node:http. Method: examples, then
// property-based heads built from tricky pieces, each sent to a real node:http server that
// reports what it parsed.
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import { connect } from "node:net";
import { test } from "node:test";
import fc from "fast-check";
import { HTTP_BODY_BYTES_MAX } from "../../constants.ts";
import { readHotHead } from "./http1-head.ts";

function headOf(text: string) {
  const buffer = Buffer.from(text, "latin1");
  const end = buffer.indexOf("\r\n\r\n");
  assert.ok(end >= 0, "a test head ends with CRLFCRLF");
  return readHotHead(buffer, 0, end);
}

test("a plain POST head is read: target, Content-Type, Content-Length, flags", () => {
  const head = headOf(
    "POST /v1/transfers HTTP/1.1\r\nHost: 127.0.0.1:9100\r\n" +
      "Content-Type: application/json\r\nCONTENT-LENGTH:\t42 \r\nX-Other: a b\tc\r\n\r\n",
  );
  assert.deepEqual(head, {
    method: "POST",
    url: "/v1/transfers",
    contentType: "application/json",
    contentLength: 42,
    hasTransferEncoding: false,
    hasContentEncoding: false,
    hasAcceptVersion: false,
  });
  const flagged = headOf(
    "POST /x HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\ncontent-encoding: gzip\r\n" +
      "accept-version: 1\r\nconnection: Keep-Alive\r\n\r\n",
  );
  assert.equal(flagged?.hasTransferEncoding, true);
  assert.equal(flagged?.hasContentEncoding, true);
  assert.equal(flagged?.hasAcceptVersion, true);
  assert.ok(Number.isNaN(flagged?.contentLength));
});

test("anything unusual in a head is refused (left to node:http)", () => {
  const good = "Host: a\r\nContent-Length: 2";
  const refused = [
    `GET /x HTTP/1.1\r\n${good}\r\n\r\n`,
    `post /x HTTP/1.1\r\n${good}\r\n\r\n`,
    `POST /x HTTP/1.0\r\n${good}\r\n\r\n`,
    `POST  /x HTTP/1.1\r\n${good}\r\n\r\n`,
    `POST /x  HTTP/1.1\r\n${good}\r\n\r\n`,
    `POST /x HTTP/1.1 \r\n${good}\r\n\r\n`,
    `POST /caf\xe9 HTTP/1.1\r\n${good}\r\n\r\n`,
    "POST /x HTTP/1.1\r\n\r\n",
    "POST /x HTTP/1.1\r\nContent-Length: 2\r\n\r\n",
    `POST /x HTTP/1.1\r\n${good}\r\nHost: b\r\n\r\n`,
    `POST /x HTTP/1.1\r\n${good}\r\nContent-Length: 2\r\n\r\n`,
    "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 2\r\n\r\n",
    "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: +2\r\n\r\n",
    "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 12345678901\r\n\r\n",
    "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n",
    `POST /x HTTP/1.1\r\n${good}\r\nContent-Type: a\r\nContent-Type: b\r\n\r\n`,
    `POST /x HTTP/1.1\r\nHost : a\r\nContent-Length: 2\r\n\r\n`,
    `POST /x HTTP/1.1\r\n${good}\r\n folded\r\n\r\n`,
    `POST /x HTTP/1.1\r\n${good}\nX: y\r\n\r\n`,
    `POST /x HTTP/1.1\r\n${good}\r\nX: a\rb\r\n\r\n`,
    `POST /x HTTP/1.1\r\n${good}\r\nX: \x01\r\n\r\n`,
    `POST /x HTTP/1.1\r\n${good}\r\nX: caf\xe9\r\n\r\n`,
    `POST /x HTTP/1.1\r\n${good}\r\n: empty name\r\n\r\n`,
    `POST /x HTTP/1.1\r\n${good}\r\nno colon\r\n\r\n`,
    `POST /x HTTP/1.1\r\n${good}\r\nConnection: close\r\n\r\n`,
    `POST /x HTTP/1.1\r\n${good}\r\nConnection: keep-alive, Upgrade\r\n\r\n`,
    `POST /x HTTP/1.1\r\n${good}\r\nExpect: 100-continue\r\n\r\n`,
    `POST /x HTTP/1.1\r\n${good}\r\nUpgrade: websocket\r\n\r\n`,
  ];
  for (const text of refused) assert.equal(headOf(text), null, JSON.stringify(text));
});

interface Parsed {
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly rawHeaders: string[];
}

/** A node:http server that answers each request with what it parsed of it. */
async function startParserServer(): Promise<{ server: Server; port: number }> {
  const server = createServer((request, response) => {
    request.resume();
    request.on("end", () => {
      const parsed: Parsed = {
        method: request.method ?? "",
        url: request.url ?? "",
        headers: request.headers,
        rawHeaders: request.rawHeaders,
      };
      response.setHeader("connection", "close");
      response.end(JSON.stringify(parsed));
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  assert.ok(typeof address === "object" && address !== null);
  return { server, port: address.port };
}

/** Sends `wire` on a fresh connection; the status and body of the answer (status 0: none). */
async function send(port: number, wire: Buffer): Promise<{ status: number; body: string }> {
  const socket = connect({ host: "127.0.0.1", port });
  await once(socket, "connect");
  const chunks: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => chunks.push(chunk));
  socket.on("error", () => {});
  socket.end(wire);
  // node:http closes after its answer; a server still waiting for bytes is a failure, not a hang.
  const timedOut = Symbol("timed out");
  let timer: NodeJS.Timeout | undefined;
  const closed = await Promise.race([
    once(socket, "close"),
    new Promise((resolve) => {
      timer = setTimeout(resolve, 5000, timedOut);
    }),
  ]);
  clearTimeout(timer);
  socket.destroy();
  assert.notEqual(closed, timedOut, `no answer to ${JSON.stringify(wire.toString("latin1"))}`);
  const text = Buffer.concat(chunks).toString("latin1");
  const match = /^HTTP\/1\.1 (\d{3}) /.exec(text);
  const bodyAt = text.indexOf("\r\n\r\n");
  return {
    status: match === null ? 0 : Number(match[1]),
    body: bodyAt < 0 ? "" : text.slice(bodyAt + 4),
  };
}

const requestLines = [
  "POST /v1/transfers HTTP/1.1",
  "POST /transactions/immediately HTTP/1.1",
  "POST /v1/transfers HTTP/1.0",
  "post /v1/transfers HTTP/1.1",
  "POST  /v1/transfers HTTP/1.1",
  "POST /v1/transfers?x=1 HTTP/1.1",
  "POST /v1/transfers HTTP/1.1 ",
  "PUT /v1/transfers HTTP/1.1",
];
const headerLines = [
  "Host: localhost",
  "host:localhost",
  "HOST: a",
  "Host : a",
  " Host: a",
  "Host:\ta\t",
  "Content-Length: 5",
  "content-length:5",
  "Content-Length: 05",
  "Content-Length: 5 ",
  "Content-Length: +5",
  "Content-Length: 5, 5",
  "Content-Length: 0",
  "Content-Length: 12",
  "Content-Type: application/json",
  "content-type: application/json; charset=utf-8",
  "Content-Type:application/json   ",
  "Content-Type: text/plain",
  "Transfer-Encoding: chunked",
  "Content-Encoding: gzip",
  "Accept-Version: 1",
  "Connection: keep-alive",
  "Connection: Keep-Alive",
  "Connection: close",
  "Expect: 100-continue",
  "Upgrade: websocket",
  "X-Any: \x01",
  "X-Any: caf\xe9",
  "X-Any: a\rb",
  "X-Empty:",
  "X-Tab:\t",
  ": novalue",
  "NoColon",
  "X(bad): 1",
  "\tfolded",
];

test("every head it takes reads the same in node:http (property, real parser)", async () => {
  const { server, port } = await startParserServer();
  let compared = 0;
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          { weight: 4, arbitrary: fc.constantFrom(...requestLines.slice(0, 2)) },
          { weight: 1, arbitrary: fc.constantFrom(...requestLines) },
        ),
        fc.constantFrom(
          "Host: localhost",
          "Host: localhost",
          "Host: localhost",
          "host:a",
          "HOST:\ta ",
          "Host : a",
          " Host: a",
        ),
        fc.constantFrom(
          "Content-Length: 5",
          "content-length:12",
          "Content-Length: 05 ",
          "Content-Length: +5",
          "Content-Length: 0",
        ),
        fc.array(fc.tuple(fc.constantFrom(...headerLines), fc.nat({ max: 9 })), { maxLength: 3 }),
        fc.nat(),
        fc.nat(),
        async (requestLine, hostLine, lengthLine, extras, hostAt, lengthAt) => {
          const lines = [...extras];
          lines.splice(hostAt % (lines.length + 1), 0, [hostLine, 1]);
          lines.splice(lengthAt % (lines.length + 1), 0, [lengthLine, 1]);
          // CRLF line ends, and a bare LF before one extra line in ten.
          let text = requestLine;
          for (const [line, roll] of lines) text += `${roll === 0 ? "\n" : "\r\n"}${line}`;
          text += "\r\n\r\n";
          const wireHead = Buffer.from(text, "latin1");
          const end = wireHead.indexOf("\r\n\r\n");
          const head = readHotHead(wireHead, 0, end);
          if (head === null) return;
          const taken =
            !head.hasTransferEncoding &&
            head.contentLength >= 1 &&
            head.contentLength <= HTTP_BODY_BYTES_MAX;
          if (!taken) return;
          compared++;
          const wire = Buffer.concat([
            wireHead.subarray(0, end + 4),
            Buffer.alloc(head.contentLength, "x"),
          ]);
          const answer = await send(port, wire);
          assert.equal(answer.status, 200, `node:http refused a head the front takes: ${text}`);
          const parsed = JSON.parse(answer.body) as Parsed;
          assert.equal(parsed.method, head.method);
          assert.equal(parsed.url, head.url);
          assert.equal(parsed.headers["content-type"], head.contentType);
          assert.equal(Number(parsed.headers["content-length"]), head.contentLength);
          const hosts = parsed.rawHeaders.filter((_, index) => index % 2 === 0);
          assert.equal(hosts.filter((name) => name.toLowerCase() === "host").length, 1);
          assert.equal(parsed.headers["content-encoding"] !== undefined, head.hasContentEncoding);
          assert.equal(parsed.headers["accept-version"] !== undefined, head.hasAcceptVersion);
        },
      ),
      { numRuns: 400, seed: 20261207 },
    );
  } finally {
    server.close();
  }
  // The generator must reach the interesting case often enough to mean something.
  assert.ok(compared >= 20, `only ${compared} heads were taken and compared`);
});
