// One client connection of the binary protocol (docs/protocol.md, "Requests, replies and
// connections"): frames in, requests executed through the gateway, replies out by request id
// in whatever order they finish.
//
//   'data' ──► FrameDecoder ──► pump: pull frames while below the in-flight limits
//                                  ├─ read (PING, LOOKUP_*) ──► answered at once
//                                  └─ write ──► one shard submission (CREATE_TRANSFERS: its
//                                               callbacks, others: submitMany) ──► later
//   replies ──► cork on the first write of a tick, uncork on the next tick: every reply of
//               one tick leaves in one writev
//
// Rules, and what this class does for each:
// - In-flight limits (INFLIGHT_REQUESTS_PER_CONNECTION_MAX, INFLIGHT_BYTES_PER_CONNECTION_MAX)
//   and a full socket buffer (write() returned false): stop pulling frames and pause the
//   socket; resume as replies go out and on 'drain'. Memory per connection is bounded by the
//   limits, one chunk, and one tick of replies.
// - A broken stream (FrameDecoder.pull throws: bad magic, version, length, checksum) or a
//   frame whose body does not decode: ERROR with the code (request id 0, or the frame's id),
//   stop reading, close once the replies of accepted requests are written.
// - A refusal by the shard (OVERLOADED, SHUTTING_DOWN, STORAGE): ERROR with the request id;
//   the connection stays.
// - The peer ends the stream inside a frame: ERROR DECODE (request id 0), then close.
// - shutdown(): stop reading, answer decoded but unexecuted frames with SHUTTING_DOWN,
//   answer the in-flight ones, close. A closing socket that does not take its last bytes
//   within TCP_CLOSE_TIMEOUT_MS is destroyed.
// - busyPoll (opt-in, shared by the server's connections): each chunk read and each reply
//   written restarts its idle window (tcp-server.ts).
// Nothing here logs per request; counters are plain fields.
import type { Socket } from "node:net";
import { TCP_CLOSE_TIMEOUT_MS } from "../constants.ts";
import type { LogCommand } from "../engine/index.ts";
import {
  answerRead,
  isWriteRequest,
  submitTransferCommandsWith,
  submitWrite,
  transferListCommands,
  type WriteRequest,
} from "../gateway/index.ts";
import {
  decodeRequest,
  encodeFrame,
  type Frame,
  FrameDecoder,
  HEADER_BYTES,
  INFLIGHT_BYTES_PER_CONNECTION_MAX,
  INFLIGHT_REQUESTS_PER_CONNECTION_MAX,
  type Message,
  MessageKind,
  type Request,
} from "../protocol/index.ts";
import type { Shard } from "../shard/index.ts";
import { type BusyPoll, ErrorCode, isTxgridError, TxgridError } from "../stdx/index.ts";

/** Server-wide counters, updated by every connection (for status and for tests). */
export interface TcpCounters {
  framesReceived: number;
  framesSent: number;
  protocolErrors: number;
  /** How many times a connection was paused (limits or a full socket buffer). */
  pauses: number;
  inflightRequestsPeak: number;
  inflightBytesPeak: number;
  /** The most bytes one socket held in its write buffer after a write. */
  writableBytesPeak: number;
}

function uncork(connection: TcpConnection): void {
  connection.flush();
}

export class TcpConnection {
  readonly #socket: Socket;
  readonly #shard: Shard;
  readonly #counters: TcpCounters;
  readonly #onClosed: (connection: TcpConnection) => void;
  readonly #busyPoll: BusyPoll | null;
  readonly #decoder = new FrameDecoder();
  #inflightRequests = 0;
  #inflightBytes = 0;
  #corked = false;
  #writeBlocked = false;
  #reading = true;
  /** A protocol error ended the stream: no later frame is executed. */
  #broken = false;
  /** The server is closing: frames are answered SHUTTING_DOWN, reading stops. */
  #shuttingDown = false;
  #peerEnded = false;
  /** The decoder holds no complete frame (known after a pull returned null). */
  #decoderDrained = true;
  /** end() was called: nothing more is written. */
  #finished = false;
  #lingerTimer: NodeJS.Timeout | null = null;

  constructor(
    socket: Socket,
    shard: Shard,
    counters: TcpCounters,
    onClosed: (connection: TcpConnection) => void,
    busyPoll: BusyPoll | null = null,
  ) {
    this.#socket = socket;
    this.#shard = shard;
    this.#counters = counters;
    this.#onClosed = onClosed;
    this.#busyPoll = busyPoll;
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    socket.on("end", () => this.#onEnd());
    socket.on("drain", () => this.#onDrain());
    socket.on("error", () => {
      // 'close' follows; a reset by the peer is not the server's problem.
    });
    socket.on("close", () => this.#onClose());
  }

  get inflightRequests(): number {
    return this.#inflightRequests;
  }

  get inflightBytes(): number {
    return this.#inflightBytes;
  }

  /** Bytes received and not yet part of a complete frame, plus bytes waiting to be sent. */
  get bufferedBytes(): number {
    return this.#decoder.bufferedBytes + this.#socket.writableLength;
  }

  /** Stops reading; answers what was accepted, refuses what was not, then closes. */
  shutdown(): void {
    this.#shuttingDown = true;
    this.#pump();
  }

  destroy(): void {
    this.#socket.destroy();
  }

  /** Sends every reply written since the last flush (one writev). */
  flush(): void {
    if (!this.#corked) return;
    this.#corked = false;
    this.#socket.uncork();
  }

  #onData(chunk: Buffer): void {
    if (this.#broken || this.#finished) return;
    this.#busyPoll?.touch();
    this.#decoder.push(chunk);
    this.#decoderDrained = false;
    this.#pump();
  }

  #onEnd(): void {
    this.#peerEnded = true;
    this.#pump();
  }

  #onDrain(): void {
    this.#writeBlocked = false;
    this.#pump();
  }

  #onClose(): void {
    if (this.#lingerTimer !== null) clearTimeout(this.#lingerTimer);
    this.#lingerTimer = null;
    this.#finished = true;
    this.#onClosed(this);
  }

  #atLimit(): boolean {
    return (
      this.#writeBlocked ||
      this.#inflightRequests >= INFLIGHT_REQUESTS_PER_CONNECTION_MAX ||
      this.#inflightBytes >= INFLIGHT_BYTES_PER_CONNECTION_MAX
    );
  }

  /** Executes decoded frames while below the limits; then pauses or resumes reading. */
  #pump(): void {
    while (!this.#broken && !this.#finished && !this.#atLimit()) {
      let frame: Frame | null;
      try {
        frame = this.#decoder.pull();
      } catch (error) {
        this.#breakStream(0, error);
        break;
      }
      if (frame === null) {
        this.#decoderDrained = true;
        break;
      }
      this.#onFrame(frame);
    }
    this.#updateReading();
    this.#maybeFinish();
  }

  #onFrame(frame: Frame): void {
    this.#counters.framesReceived++;
    const requestId = frame.requestId;
    // The hot request: its body becomes one engine transfer.list over its own bytes.
    const transfers = frame.kind === MessageKind.CREATE_TRANSFERS;
    let request: Request | null = null;
    let commands: LogCommand[] | null = null;
    try {
      if (transfers) commands = transferListCommands(frame.body);
      else request = decodeRequest(frame);
    } catch (error) {
      this.#breakStream(requestId, error);
      return;
    }
    if (this.#shuttingDown) {
      this.#sendError(requestId, ErrorCode.SHUTTING_DOWN, "the server is closing");
      return;
    }
    if (request !== null && !isWriteRequest(request)) {
      this.#send(requestId, answerRead(this.#shard.engine, request));
      return;
    }
    const bytes = HEADER_BYTES + frame.body.length;
    this.#inflightRequests++;
    this.#inflightBytes += bytes;
    const counters = this.#counters;
    counters.inflightRequestsPeak = Math.max(counters.inflightRequestsPeak, this.#inflightRequests);
    counters.inflightBytesPeak = Math.max(counters.inflightBytesPeak, this.#inflightBytes);
    const onReply = (reply: Message) => this.#answered(requestId, bytes, reply);
    const onRefusal = (error: unknown) => this.#answered(requestId, bytes, refusal(error));
    // The hot request takes the shard's callbacks: no promise hop between the batch's answer
    // and this reply (docs/benchmarks.md, "Replicated c=1 on one CPU").
    if (commands !== null) submitTransferCommandsWith(this.#shard, commands, onReply, onRefusal);
    else submitWrite(this.#shard, request as WriteRequest).then(onReply, onRefusal);
  }

  #answered(requestId: number, bytes: number, reply: Message): void {
    this.#inflightRequests--;
    this.#inflightBytes -= bytes;
    this.#send(requestId, reply);
    this.#pump();
  }

  /** Ends the stream after a protocol error: ERROR now, close once accepted work is answered. */
  #breakStream(requestId: number, error: unknown): void {
    if (!isTxgridError(error)) throw error;
    if (this.#broken) return;
    this.#broken = true;
    this.#counters.protocolErrors++;
    this.#sendError(requestId, error.code, error.message);
  }

  #maybeFinish(): void {
    if (this.#finished || this.#inflightRequests > 0) return;
    const inputDone = this.#decoderDrained && (this.#peerEnded || this.#shuttingDown);
    if (!this.#broken && !inputDone) return;
    if (!this.#broken && !this.#shuttingDown && this.#decoder.bufferedBytes > 0) {
      const message = `the stream ended inside a frame (${this.#decoder.bufferedBytes} bytes)`;
      this.#breakStream(0, new TxgridError(ErrorCode.DECODE, message));
    }
    this.#finished = true;
    this.flush();
    this.#socket.end();
    // Read on (and drop what comes) so that the peer's end of the stream is seen and the
    // socket closes by itself; the timer covers a peer that never closes.
    this.#socket.resume();
    this.#lingerTimer = setTimeout(() => this.#socket.destroy(), TCP_CLOSE_TIMEOUT_MS);
    this.#lingerTimer.unref();
  }

  #updateReading(): void {
    const shouldRead = !this.#broken && !this.#shuttingDown && !this.#atLimit();
    if (shouldRead === this.#reading || this.#finished) return;
    this.#reading = shouldRead;
    if (shouldRead) {
      this.#socket.resume();
    } else {
      this.#socket.pause();
      this.#counters.pauses++;
    }
  }

  #send(requestId: number, message: Message): void {
    let bytes: Uint8Array;
    try {
      bytes = encodeFrame(requestId, message);
    } catch (error) {
      if (!isTxgridError(error)) throw error;
      // A stored value the wire cannot carry (say, a nickname with a lone surrogate written
      // through /v1): this request fails, the connection goes on.
      const text = `the reply could not be encoded: ${error.message}`;
      bytes = encodeFrame(requestId, { kind: MessageKind.ERROR, code: error.code, message: text });
    }
    this.#write(bytes);
  }

  #sendError(requestId: number, code: string, message: string): void {
    this.#write(encodeFrame(requestId, { kind: MessageKind.ERROR, code, message }));
  }

  #write(bytes: Uint8Array): void {
    const socket = this.#socket;
    if (this.#finished || socket.destroyed) return;
    if (!this.#corked) {
      this.#corked = true;
      socket.cork();
      process.nextTick(uncork, this);
    }
    if (!socket.write(bytes)) this.#writeBlocked = true;
    this.#busyPoll?.touch();
    const counters = this.#counters;
    counters.framesSent++;
    counters.writableBytesPeak = Math.max(counters.writableBytesPeak, socket.writableLength);
  }
}

/** The ERROR reply of a request the shard refused; anything but a TxgridError is a bug. */
function refusal(error: unknown): Message {
  if (!isTxgridError(error)) throw error;
  return { kind: MessageKind.ERROR, code: error.code, message: error.message };
}
