// Goal: the TCP replication network delivers frames in order over real loopback sockets,
// reconnects to a peer that restarted on another port, drops (never buffers without bound)
// when a link is full, ends a connection that sends a bad frame without harming the process,
// and reports its I/O to the node's busy polling. Method: two TcpReplicaNetworks, each behind a node:net listener that hands every
// socket to accept(); messages are ack frames numbered by lsnReceived.
import assert from "node:assert/strict";
import { createServer, connect as netConnect, type Server, type Socket } from "node:net";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { REPLICATION_LINK_BUFFERED_BYTES_MAX } from "../constants.ts";
import { encodeReplicationFrame, type ReplicationMessage } from "./messages.ts";
import { isReplicationStream, TcpReplicaNetwork } from "./tcp-network.ts";

function ack(from: string, lsn: number): ReplicationMessage {
  return { kind: "ack", from, epoch: 1, incarnation: 1, lsnReceived: lsn, lsnDurable: lsn };
}

async function listen(network: TcpReplicaNetwork): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => {
    socket.once("data", (head) => {
      assert.ok(isReplicationStream(head) || head.length < 4);
      network.accept(socket, head);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  assert.ok(typeof address === "object" && address !== null);
  return { server, port: address.port };
}

async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const start = performance.now();
  while (!condition()) {
    if (performance.now() - start > timeoutMs) throw new Error("condition not met in time");
    await sleep(5);
  }
}

test("frames arrive in order, and a restarted peer is reached at its new address", async () => {
  const received: number[] = [];
  const addresses = new Map<string, string>();
  const b = new TcpReplicaNetwork({
    resolve: () => null,
    onMessage: (message) => {
      if (message.kind === "ack") received.push(message.lsnReceived);
    },
  });
  const a = new TcpReplicaNetwork({
    resolve: (id) => addresses.get(id) ?? null,
    onMessage: () => undefined,
  });
  let listener = await listen(b);
  addresses.set("b", `127.0.0.1:${listener.port}`);
  for (let lsn = 1; lsn <= 500; lsn++) a.send("b", ack("a", lsn));
  await until(() => received.length === 500);
  assert.deepEqual(
    received,
    Array.from({ length: 500 }, (_, index) => index + 1),
  );
  // b's process "restarts": its listener and connections go, it comes back on another port.
  b.close();
  listener.server.close();
  const b2Received: number[] = [];
  const b2 = new TcpReplicaNetwork({
    resolve: () => null,
    onMessage: (message) => {
      if (message.kind === "ack") b2Received.push(message.lsnReceived);
    },
  });
  listener = await listen(b2);
  addresses.set("b", `127.0.0.1:${listener.port}`);
  // Sends are best effort: keep sending (as the replica's retransmits do) until one arrives.
  let lsn = 1000;
  await until(() => {
    a.send("b", ack("a", lsn++));
    return b2Received.length > 0;
  });
  const first = b2Received[0] as number;
  for (let next = lsn; next < lsn + 100; next++) a.send("b", ack("a", next));
  await until(() => b2Received.at(-1) === lsn + 99);
  for (let index = 1; index < b2Received.length; index++) {
    assert.equal(b2Received[index], (b2Received[index - 1] as number) + 1, "in order");
  }
  assert.ok(first >= 1000);
  assert.ok(a.stats().dials >= 2);
  a.close();
  b2.close();
  listener.server.close();
});

test("a link to a peer that does not read drops messages beyond its limit", async () => {
  // A listener that accepts and never reads: the sender's socket buffer fills.
  const accepted: Socket[] = [];
  const server = createServer((socket) => {
    socket.pause();
    accepted.push(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  assert.ok(typeof address === "object" && address !== null);
  const a = new TcpReplicaNetwork({
    resolve: () => `127.0.0.1:${address.port}`,
    onMessage: () => undefined,
  });
  const payload = new Uint8Array(1024 * 1024);
  const big: ReplicationMessage = {
    kind: "entries",
    from: "a",
    epoch: 1,
    incarnation: 1,
    epochPrev: 0,
    lsnFirst: 1,
    entries: [{ lsn: 1, epoch: 1, payload }],
  };
  a.send("b", big);
  await sleep(100); // connected
  const sends = (2 * REPLICATION_LINK_BUFFERED_BYTES_MAX) / payload.length;
  for (let index = 0; index < sends; index++) a.send("b", big);
  const stats = a.stats();
  assert.ok(stats.messagesDropped > 0, `some messages were dropped: ${JSON.stringify(stats)}`);
  // What was written is the limit plus what the kernel's socket buffers took, not all of it.
  assert.ok(stats.bytesSent < (sends * payload.length) / 1.5, `${stats.bytesSent} bytes written`);
  a.close();
  for (const socket of accepted) socket.destroy();
  server.close();
});

test("a bad frame ends its connection only", async () => {
  const received: number[] = [];
  const b = new TcpReplicaNetwork({
    resolve: () => null,
    onMessage: (message) => {
      if (message.kind === "ack") received.push(message.lsnReceived);
    },
  });
  const listener = await listen(b);
  const frame = encodeReplicationFrame(ack("x", 7));
  const damaged = frame.slice();
  damaged[damaged.length - 1] = (damaged[damaged.length - 1] as number) ^ 0xff;
  const socket = netConnect({ host: "127.0.0.1", port: listener.port });
  socket.write(frame);
  socket.write(damaged);
  const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
  socket.on("error", () => undefined);
  await closed;
  assert.deepEqual(received, [7]);
  assert.equal(b.stats().badStreams, 1);
  // The network still takes other connections.
  const a = new TcpReplicaNetwork({
    resolve: () => `127.0.0.1:${listener.port}`,
    onMessage: () => undefined,
  });
  a.send("b", ack("a", 8));
  await until(() => received.length === 2);
  a.close();
  b.close();
  listener.server.close();
});

test("every frame written and every chunk read is reported as activity (busy polling)", async () => {
  // The node's idle busy polling (txgrid node --busy-poll-us) keeps turning after replication
  // I/O too; without these reports a standby, which has no client I/O, slept between batches.
  let sentActivity = 0;
  let readActivity = 0;
  const received: number[] = [];
  const b = new TcpReplicaNetwork({
    resolve: () => null,
    onMessage: (message) => {
      if (message.kind === "ack") received.push(message.lsnReceived);
    },
    onActivity: () => readActivity++,
  });
  const listener = await listen(b);
  const a = new TcpReplicaNetwork({
    resolve: () => `127.0.0.1:${listener.port}`,
    onMessage: () => undefined,
    onActivity: () => sentActivity++,
  });
  for (let lsn = 1; lsn <= 20; lsn++) a.send("b", ack("a", lsn));
  await until(() => received.length === 20);
  assert.equal(sentActivity, 20, "one report per frame written");
  assert.ok(readActivity >= 1 && readActivity <= 20, `${readActivity} reads reported`);
  a.close();
  b.close();
  listener.server.close();
});
