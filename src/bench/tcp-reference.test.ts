// Goal: the TCP floor (`txgrid bench --reference --protocol tcp`) answers the real client the
// way a server that accepts everything would, so a bench run against it completes with every
// transfer acknowledged and nothing else; it refuses what it cannot answer and closes a
// stream that is not txgrid frames. Method: the floor in this process and as the child
// process the bench starts, loaded with the real TCP client and with raw bytes.
import assert from "node:assert/strict";
import { connect as netConnect } from "node:net";
import { test } from "node:test";
import { connect } from "../client/index.ts";
import { encodeFrame, FrameDecoder, MessageKind } from "../protocol/index.ts";
import { ErrorCode, isTxgridError } from "../stdx/index.ts";
import { runBench } from "./bench.ts";
import { startTcpReferenceProcess } from "./server-process.ts";
import { listenTcpReference, referenceReply, TCP_REFERENCE_FSYNC } from "./tcp-reference.ts";

test("tcp floor: the client's calls get one OK per operation, PING a PONG", async () => {
  const floor = await listenTcpReference();
  const client = await connect(floor.tcpUrl);
  try {
    const single = await Promise.all(
      Array.from({ length: 50 }, (_, index) =>
        client.createTransfer({ id: `t${index}`, debitId: "a", creditId: "b", amount: 1n }),
      ),
    );
    assert.equal(single.length, 50);
    for (const outcome of single) assert.equal(outcome.name, "OK");
    const many = await client.createAccounts(
      Array.from({ length: 700 }, (_, index) => ({ id: `a${index}`, balance: 5n })),
    );
    assert.equal(many.length, 700);
    assert.ok(many.every((outcome) => outcome.code === 0 && !outcome.duplicate));
    assert.ok((await client.ping()) >= 0);
    await assert.rejects(
      client.lookupAccount("a1"),
      (error) => isTxgridError(error) && error.code === ErrorCode.BAD_REQUEST,
    );
  } finally {
    await client.close();
    await floor.close();
  }
});

test("tcp floor: a count beyond the batch limit is refused, not allocated", () => {
  const body = new Uint8Array(8);
  new DataView(body.buffer).setUint32(0, 0xffff_fff0, true);
  const reply = referenceReply({ kind: MessageKind.CREATE_TRANSFERS, requestId: 1, body });
  assert.equal(reply.kind, MessageKind.ERROR);
  assert.equal(reply.kind === MessageKind.ERROR && reply.code, ErrorCode.LIMIT_EXCEEDED);
});

test("tcp floor: replies keep request order; garbage closes the connection", async () => {
  const floor = await listenTcpReference();
  const port = Number(new URL(floor.tcpUrl.replace("txgrid:", "http:")).port);
  try {
    const socket = netConnect({ host: "127.0.0.1", port });
    const decoder = new FrameDecoder();
    const ids: number[] = [];
    const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
    socket.on("data", (chunk: Buffer) => {
      decoder.push(chunk);
      for (let frame = decoder.pull(); frame !== null; frame = decoder.pull()) {
        assert.equal(frame.kind, MessageKind.PONG);
        ids.push(frame.requestId);
      }
    });
    const frames = [7, 3, 9].map((id) => encodeFrame(id, { kind: MessageKind.PING }));
    socket.write(Buffer.concat(frames));
    while (ids.length < 3) await new Promise((resolve) => setTimeout(resolve, 5));
    assert.deepEqual(ids, [7, 3, 9]);
    socket.write(Buffer.alloc(64, 0x41));
    await closed;
  } finally {
    await floor.close();
  }
});

test("tcp floor: a bench run against the spawned floor acknowledges every transfer", async () => {
  const floor = await startTcpReferenceProcess();
  try {
    for (const batchSize of [1, 10]) {
      const report = await runBench({
        protocol: "tcp",
        url: floor.url,
        tcpUrl: floor.tcpUrl ?? "",
        fsync: "batch",
        transferCount: 2_000,
        concurrency: 8,
        batchSize,
        ratePerSecond: 0,
        immediate: false,
        api: "timpe",
        accountCount: 100,
        hotPercent: 0,
        durationMs: 60_000,
        seed: 1,
        requestTimeoutMs: 10_000,
        reference: true,
      });
      assert.equal(report.okCount, 2_000);
      assert.equal(report.errorCount + report.refusedCount, 0);
      assert.equal(report.durability.fsync, TCP_REFERENCE_FSYNC);
      assert.equal(report.moneyConserved, false, "no ledger: nothing to call conserved");
    }
  } finally {
    await floor.kill("SIGTERM");
  }
});
