// Test support for the TCP server tests: a shard whose executor can be held (its deferred
// batches wait until released, so requests stay in flight as long as a test needs), a server
// on an ephemeral 127.0.0.1 port, and a raw peer that writes arbitrary bytes and collects the
// reply frames, the connection's end and its close.
import { connect, type Socket } from "node:net";
import {
  decodeReply,
  encodeFrame,
  type Frame,
  FrameDecoder,
  type Reply,
  type Request,
} from "../protocol/index.ts";
import { Shard, type ShardOptions } from "../shard/index.ts";
import type { Timers } from "../stdx/index.ts";
import { TcpServer } from "./tcp-server.ts";

/** Timers whose `defer` callbacks wait while held: the shard executes no batch meanwhile. */
export class HeldTimers implements Timers {
  #held = false;
  #waiting: (() => void)[] = [];

  hold(): void {
    this.#held = true;
  }

  release(): void {
    this.#held = false;
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const callback of waiting) setImmediate(callback);
  }

  defer(callback: () => void): void {
    if (this.#held) this.#waiting.push(callback);
    else setImmediate(callback);
  }

  after(delayMs: number, callback: () => void): () => void {
    const handle = setTimeout(callback, delayMs);
    handle.unref();
    return () => clearTimeout(handle);
  }
}

export interface Harness {
  readonly shard: Shard;
  readonly server: TcpServer;
  readonly timers: HeldTimers;
  close(): Promise<void>;
}

export async function startHarness(
  shardOptions: Partial<ShardOptions> = {},
  connectionsMax?: number,
): Promise<Harness> {
  const timers = new HeldTimers();
  const shard = await Shard.open({ dir: null, fsyncPolicy: "batch", timers, ...shardOptions });
  const server = await TcpServer.listen({
    shard,
    host: "127.0.0.1",
    port: 0,
    ...(connectionsMax === undefined ? {} : { connectionsMax }),
  });
  return {
    shard,
    server,
    timers,
    close: async () => {
      timers.release();
      await server.close();
      await shard.close();
    },
  };
}

/** A raw connection: bytes out, decoded reply frames in. */
export class RawPeer {
  readonly socket: Socket;
  readonly replies: { readonly requestId: number; readonly reply: Reply }[] = [];
  readonly ended: Promise<void>;
  readonly closed: Promise<void>;
  readonly #decoder = new FrameDecoder();
  #waiters: (() => void)[] = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on("error", () => {
      // Resets are expected in tests that break the protocol.
    });
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    this.ended = new Promise((resolve) => socket.once("end", () => resolve()));
    this.closed = new Promise((resolve) => socket.once("close", () => resolve()));
  }

  static async open(port: number): Promise<RawPeer> {
    const socket = connect({ host: "127.0.0.1", port, noDelay: true });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    return new RawPeer(socket);
  }

  send(requestId: number, request: Request): void {
    this.socket.write(encodeFrame(requestId, request));
  }

  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** Resolves once at least `count` reply frames arrived. */
  async waitForReplies(count: number): Promise<void> {
    while (this.replies.length < count) {
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  /** The reply to `requestId`, waiting for it if needed. */
  async reply(requestId: number): Promise<Reply> {
    for (;;) {
      const found = this.replies.find((entry) => entry.requestId === requestId);
      if (found !== undefined) return found.reply;
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  destroy(): void {
    this.socket.destroy();
  }

  #onData(chunk: Buffer): void {
    this.#decoder.push(chunk);
    for (let frame: Frame | null = this.#decoder.pull(); frame !== null; ) {
      this.replies.push({ requestId: frame.requestId, reply: decodeReply(frame) });
      frame = this.#decoder.pull();
    }
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter();
  }
}
