// The floor for binary-protocol figures: a bare node:net server that speaks txgrid frames and
// does nothing else. Every frame is cut and checksummed (FrameDecoder) and answered with the
// reply a real server would send when everything succeeds (RESULTS with one OK per operation,
// PONG to PING), encoded by the same codec; there is no engine, no log and no fsync. `txgrid
// bench --reference --protocol tcp` runs the same load with the same client against it, so
// txgrid's TCP figures can be given as a ratio to what Node's sockets alone reach on the same
// machine in the same minutes.
//
// What it guarantees: replies leave in the order their requests arrived, all the replies to
// one chunk of input in one writev (what txgrid's server does per event-loop turn); a stream
// that is not txgrid frames is closed. Its HTTP side answers the bench's two reads
// (/v1/status, /v1/verify) with an empty ledger, so the driver runs unchanged.
//
// Run as a child process: `node tcp-reference.js` prints its URLs and serves until killed.
import { createServer as createHttpServer } from "node:http";
import { createServer as createTcpServer, type Socket } from "node:net";
import {
  BATCH_OPERATIONS_MAX,
  encodeFrame,
  type Frame,
  FrameDecoder,
  type Message,
  MessageKind,
  type OperationResult,
  REPLY_KINDS,
} from "../protocol/index.ts";
import { ErrorCode } from "../stdx/index.ts";

/** Shown as the durability of a reference run (there is no log to be durable in). */
export const TCP_REFERENCE_FSYNC = "none (bare TCP floor)";

const okResult: OperationResult = { code: 0, duplicate: false, value: null };

/** One OK per operation, shared by every reply of that size. */
const okLists: OperationResult[][] = [];

function okList(count: number): OperationResult[] {
  let list = okLists[count];
  if (list === undefined) {
    list = new Array<OperationResult>(count).fill(okResult);
    okLists[count] = list;
  }
  return list;
}

/** The reply to `frame` when everything it asks for succeeds, without looking at the items. */
export function referenceReply(frame: Frame): Message {
  if (frame.kind === MessageKind.PING) return { kind: MessageKind.PONG };
  const replyKind = (REPLY_KINDS as Partial<Record<number, number>>)[frame.kind];
  if (replyKind !== MessageKind.RESULTS || frame.body.length < 4) {
    const message = "the TCP reference answers PING and writes (RESULTS) only";
    return { kind: MessageKind.ERROR, code: ErrorCode.BAD_REQUEST, message };
  }
  // Every write body is a list whose header starts with its item count (u32, little endian).
  const body = frame.body;
  const count =
    (body[0] as number) +
    (body[1] as number) * 2 ** 8 +
    (body[2] as number) * 2 ** 16 +
    (body[3] as number) * 2 ** 24;
  if (count > BATCH_OPERATIONS_MAX) {
    const message = `${count} operations exceed BATCH_OPERATIONS_MAX (${BATCH_OPERATIONS_MAX})`;
    return { kind: MessageKind.ERROR, code: ErrorCode.LIMIT_EXCEEDED, message };
  }
  return { kind: MessageKind.RESULTS, results: okList(count) };
}

function serveConnection(socket: Socket): void {
  socket.setNoDelay(true);
  const decoder = new FrameDecoder();
  socket.on("error", () => {
    // 'close' follows; the bench closing its connection is not an error here.
  });
  socket.on("data", (chunk: Buffer) => {
    decoder.push(chunk);
    socket.cork();
    try {
      for (let frame = decoder.pull(); frame !== null; frame = decoder.pull()) {
        socket.write(encodeFrame(frame.requestId, referenceReply(frame)));
      }
    } catch {
      socket.destroy();
      return;
    } finally {
      socket.uncork();
    }
  });
}

const ledgerBody = JSON.stringify({
  status: "success",
  data: {
    ok: true,
    problems: [],
    fsyncPolicy: TCP_REFERENCE_FSYNC,
    replication: "none",
    balanceSum: "0",
    initialSum: "0",
    transferCount: 0,
    accountCount: 0,
  },
});

export interface TcpReference {
  readonly url: string;
  readonly tcpUrl: string;
  close(): Promise<void>;
}

/** Listens on 127.0.0.1 (ephemeral ports): the frame server and its HTTP side. */
export async function listenTcpReference(): Promise<TcpReference> {
  const sockets = new Set<Socket>();
  const tcp = createTcpServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    serveConnection(socket);
  });
  const http = createHttpServer((request, response) => {
    request.resume();
    response.writeHead(200, { "content-type": "application/json; charset=utf-8" });
    response.end(ledgerBody);
  });
  await new Promise<void>((resolve) => tcp.listen(0, "127.0.0.1", resolve));
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const tcpPort = (tcp.address() as { port: number }).port;
  const httpPort = (http.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${httpPort}`,
    tcpUrl: `txgrid://127.0.0.1:${tcpPort}`,
    close: async () => {
      http.closeAllConnections();
      for (const socket of sockets) socket.destroy();
      await Promise.all([
        new Promise((resolve) => tcp.close(resolve)),
        new Promise((resolve) => http.close(resolve)),
      ]);
    },
  };
}

if (process.argv[1]?.endsWith("tcp-reference.js") === true) {
  const { url, tcpUrl } = await listenTcpReference();
  process.stdout.write(`${JSON.stringify({ url, tcpUrl })}\n`);
}
