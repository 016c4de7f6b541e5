// The client's side of one TCP connection to a txgrid server (docs/protocol.md), with
// pipelining, backpressure, reconnection and safe resending.
//
//   send(frame) ──► encode (request id from a counter that never repeats) ──► queue
//   pump ──► write while below INFLIGHT_REQUESTS_PER_CONNECTION_MAX and
//            INFLIGHT_BYTES_PER_CONNECTION_MAX and the socket takes more (else wait for
//            'drain'); writes of one tick leave in one writev (cork, uncork next tick)
//   reply ──► matched by request id; kind and operation count checked ──► frame.deliver
//
// When the connection breaks:
// - frames in flight that are safe to resend (every kind but UPDATE_ASSETS: creations are
//   deduplicated by id, lookups only read) go first in line on the next connection, with
//   the same request id and bytes; a frame whose calls all timed out is dropped instead;
// - UPDATE_ASSETS frames in flight fail with TXG_ERR_CONNECTION_LOST: the update carries no id, so
//   the client cannot know whether it applied and will not risk applying it twice;
// - frames the server refused with SHUTTING_DOWN (not executed) wait for the next connection;
// - reconnect attempts follow with exponential backoff from reconnectDelayMsMin to
//   reconnectDelayMsMax (with jitter), forever, until close(). Calls waiting meanwhile are
//   bounded by their timeouts and by the client's queue limit.
// The first connection is different: if it fails before any server ever answered (every
// address tried once), every queued frame fails (connect() rejects) instead of retrying. A
// server of another protocol version (ERROR TXG_ERR_VERSION) is fatal too.
//
// Replicas (docs/client.md, "Failover"): the transport knows several addresses (given, plus
// primaries it was told of). A replica that is not the primary answers a write with
// NOT_PRIMARY before executing anything, naming the primary ("primary at host:port"); a
// primary that lost its lease or stepped down answers UNAVAILABLE (the outcome may be
// unknown). With followPrimary, a retry-safe frame so answered is kept and the connection
// moves: to the named primary at once, else to the next address after the reconnect delay;
// at most CLIENT_PRIMARY_RETRIES_MAX times per frame (then the error reaches the call).
// Resending is safe because the server dedupes creations by id and returns the first
// outcome. A connection that cannot be opened moves on to the next address, and so does one
// that answered nothing for CLIENT_SILENCE_MS_MAX while requests were in flight (a paused
// primary: the kernel still accepts its connections); for CLIENT_SUSPECT_MS that address is
// not followed when a replica names it.
//
// Busy polling (opt-in, busyPollUs > 0; stdx/busy-poll.ts): while requests are in flight,
// the event loop keeps turning instead of sleeping, for up to busyPollUs µs without a byte
// from the server, so that the answer is read without a wake-up (backing off when the
// server seems to share this CPU: BUSY_POLL_HANDOFF_US). Timers (call timeouts,
// reconnects) run as usual: a turn is one setImmediate.
import { connect as netConnect, type Socket } from "node:net";
import {
  BUSY_POLL_BACKOFF_MS_MAX,
  BUSY_POLL_BACKOFF_MS_MIN,
  BUSY_POLL_HANDOFF_US,
  CLIENT_ADDRESSES_MAX,
  CLIENT_FAILOVER_DELAY_MS_MAX,
  CLIENT_PRIMARY_RETRIES_MAX,
  CLIENT_SILENCE_MS_MAX,
  CLIENT_SUSPECT_MS,
} from "../constants.ts";
import {
  decodeReply,
  type ErrorReply,
  encodeFrame,
  encodeTransferListFrame,
  type Frame,
  FrameDecoder,
  INFLIGHT_BYTES_PER_CONNECTION_MAX,
  INFLIGHT_REQUESTS_PER_CONNECTION_MAX,
  MessageKind,
  operationCount,
  REPLY_KINDS,
  type Reply,
} from "../protocol/index.ts";
import { assert, BusyPoll, ErrorCode, isTxgridError, must, TxgridError } from "../stdx/index.ts";
import type { Transport } from "./api.ts";
import { errorOfReply, type Outgoing } from "./outgoing.ts";

export interface TcpAddress {
  readonly host: string;
  readonly port: number;
}

export interface TcpTransportOptions {
  /** The replicas to try, first one first (at least one). */
  readonly addresses: readonly TcpAddress[];
  /** Follow NOT_PRIMARY / UNAVAILABLE answers to the primary (see the header). */
  readonly followPrimary: boolean;
  readonly connectTimeoutMs: number;
  readonly reconnectDelayMsMin: number;
  readonly reconnectDelayMsMax: number;
  /** Busy-poll window while requests are in flight, µs; 0: off (see the header). */
  readonly busyPollUs: number;
}

export interface TcpTransportStats {
  readonly connected: boolean;
  readonly framesSent: number;
  readonly framesReceived: number;
  /** Reconnect attempts made after a broken connection. */
  readonly reconnects: number;
  /** Frames sent again on a new connection after the one they were in flight on broke. */
  readonly framesResent: number;
  /** Frames sent again because a replica was not the primary (a failover). */
  readonly primaryRetries: number;
  /** Address of the current connection (`txgrid://host:port`). */
  readonly url: string;
  readonly inflightRequests: number;
  readonly queuedOperations: number;
  /** Turns of the busy-poll chain so far (0 when busy polling is off). */
  readonly busyPollTurns: number;
}

/** How long close() waits for the server to close its side before destroying the socket. */
const CLOSE_GRACE_MS = 1_000;

function uncork(transport: TcpTransport): void {
  transport.flush();
}

function urlOf({ host, port }: TcpAddress): string {
  return `txgrid://${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/** The primary's address in a NOT_PRIMARY message ("... primary at host:port ..."), or null. */
export function primaryAddressOf(message: string): TcpAddress | null {
  const match = /primary at (\[[^\]]+\]|[^\s,;:]+):(\d{1,5})\b/.exec(message);
  if (match === null) return null;
  const port = Number(match[2]);
  if (port <= 0 || port > 65_535) return null;
  return { host: (match[1] as string).replace(/^\[(.*)\]$/, "$1"), port };
}

export class TcpTransport implements Transport {
  readonly #options: TcpTransportOptions;
  readonly #addresses: TcpAddress[];
  #current = 0;
  /** Connections that failed before any server answered (the first round over addresses). */
  #initialFailures = 0;
  #primaryRetries = 0;
  /** Dial the current address without waiting (it was just named as the primary). */
  #dialNow = false;
  #socket: Socket | null = null;
  #decoder = new FrameDecoder();
  #open = false;
  /** The server answered at least once: from now on a broken connection is reconnected. */
  #established = false;
  #closed = false;
  #fatal: TxgridError | null = null;
  /** The last reason a connection failed, for messages. */
  #lastFailure: unknown = null;
  #nextRequestId = 1;
  readonly #inflight = new Map<number, Outgoing>();
  #inflightBytes = 0;
  /** To send before #queue: frames resent after a reconnect. */
  #retry: Outgoing[] = [];
  /** Refused with SHUTTING_DOWN: sent again on the next connection. */
  #parked: Outgoing[] = [];
  #queue: (Outgoing | undefined)[] = [];
  #queueHead = 0;
  #queuedOperations = 0;
  #corked = false;
  #writeBlocked = false;
  #reconnectAttempts = 0;
  #reconnectTimer: NodeJS.Timeout | null = null;
  #onSocketGone: (() => void) | null = null;
  /** The connection is being dropped to follow the primary: #onClose must not rotate. */
  #moving = false;
  /** When the current connection last received bytes (or last had nothing in flight). */
  #heardMs = 0;
  #silenceTimer: NodeJS.Timeout | null = null;
  /** Until when an address (by index) is suspected of being paused, not followed. */
  readonly #suspectUntilMs = new Map<number, number>();
  #framesSent = 0;
  #framesReceived = 0;
  #reconnects = 0;
  #framesResent = 0;
  readonly #busyPoll: BusyPoll | null;

  constructor(options: TcpTransportOptions) {
    assert(options.addresses.length > 0, "a transport has an address");
    assert(options.addresses.length <= CLIENT_ADDRESSES_MAX, "CLIENT_ADDRESSES_MAX");
    this.#options = options;
    this.#addresses = [...options.addresses];
    this.#busyPoll =
      options.busyPollUs === 0
        ? null
        : new BusyPoll({
            windowUs: options.busyPollUs,
            clock: { monotonicNowMs: () => performance.now() },
            timers: { defer: (callback) => setImmediate(callback) },
            wanted: () => this.#inflight.size > 0,
            handoffUs: BUSY_POLL_HANDOFF_US,
            backoffMsMin: BUSY_POLL_BACKOFF_MS_MIN,
            backoffMsMax: BUSY_POLL_BACKOFF_MS_MAX,
          });
    this.#dial();
    if (this.#addresses.length > 1) {
      this.#silenceTimer = setInterval(() => this.#checkSilence(), CLIENT_SILENCE_MS_MAX / 4);
      this.#silenceTimer.unref();
    }
  }

  #checkSilence(): void {
    const socket = this.#socket;
    const nowMs = performance.now();
    if (socket === null || !this.#open || this.#inflight.size === 0 || this.#moving) {
      this.#heardMs = nowMs;
      return;
    }
    if (nowMs - this.#heardMs < CLIENT_SILENCE_MS_MAX) return;
    this.#suspectUntilMs.set(this.#current, nowMs + CLIENT_SUSPECT_MS);
    this.#lastFailure = new TxgridError(
      ErrorCode.TIMEOUT,
      `${this.url} answered nothing for ${CLIENT_SILENCE_MS_MAX} ms`,
    );
    socket.destroy(); // #onClose resends the retry-safe frames to the next address
  }

  get url(): string {
    return urlOf(this.#addresses[this.#current] as TcpAddress);
  }

  get queuedOperations(): number {
    return this.#queuedOperations;
  }

  stats(): TcpTransportStats {
    return {
      connected: this.#open,
      framesSent: this.#framesSent,
      framesReceived: this.#framesReceived,
      reconnects: this.#reconnects,
      framesResent: this.#framesResent,
      primaryRetries: this.#primaryRetries,
      url: this.url,
      inflightRequests: this.#inflight.size,
      queuedOperations: this.#queuedOperations,
      busyPollTurns: this.#busyPoll?.turns ?? 0,
    };
  }

  send(outgoing: Outgoing): void {
    if (this.#fatal !== null) {
      outgoing.fail(this.#fatal);
      return;
    }
    const requestId = this.#nextRequestId++;
    try {
      outgoing.bytes =
        outgoing.request !== null
          ? encodeFrame(requestId, outgoing.request)
          : encodeTransferListFrame(requestId, must(outgoing.transferList, "a list"));
    } catch (error) {
      if (!isTxgridError(error)) throw error;
      outgoing.fail(error);
      return;
    }
    outgoing.requestId = requestId;
    this.#queue.push(outgoing);
    this.#queuedOperations += outgoing.operationCount;
    this.#pump();
  }

  prune(): void {
    const live = (outgoing: Outgoing | undefined): outgoing is Outgoing => outgoing?.live === true;
    this.#retry = this.#retry.filter(live);
    this.#parked = this.#parked.filter(live);
    this.#queue = this.#queue.slice(this.#queueHead).filter(live);
    this.#queueHead = 0;
    let operations = 0;
    for (const list of [this.#retry, this.#parked, this.#queue as Outgoing[]]) {
      for (const outgoing of list) operations += outgoing.operationCount;
    }
    this.#queuedOperations = operations;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#busyPoll?.stop();
    if (this.#silenceTimer !== null) clearInterval(this.#silenceTimer);
    if (this.#reconnectTimer !== null) clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = null;
    const socket = this.#socket;
    if (socket === null) {
      this.#failQueued(new TxgridError(ErrorCode.SHUTTING_DOWN, "the client is closed"));
      return;
    }
    await new Promise<void>((resolve) => {
      this.#onSocketGone = resolve;
      this.flush();
      socket.end();
      setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
    });
  }

  /** Sends every frame written since the last flush (one writev). */
  flush(): void {
    if (!this.#corked) return;
    this.#corked = false;
    this.#socket?.uncork();
  }

  #dial(): void {
    const { host, port } = this.#addresses[this.#current] as TcpAddress;
    const socket = netConnect({ host, port, noDelay: true });
    this.#socket = socket;
    this.#decoder = new FrameDecoder();
    const timeoutMs = this.#options.connectTimeoutMs;
    const timer = setTimeout(() => {
      const message = `no connection to ${this.url} within ${timeoutMs} ms`;
      socket.destroy(new TxgridError(ErrorCode.TIMEOUT, message));
    }, timeoutMs);
    socket.on("connect", () => {
      clearTimeout(timer);
      this.#open = true;
      this.#heardMs = performance.now();
      this.#pump();
    });
    socket.on("data", (chunk: Buffer) => this.#onData(socket, chunk));
    socket.on("drain", () => {
      this.#writeBlocked = false;
      this.#pump();
    });
    socket.on("error", (error) => {
      this.#lastFailure = error;
    });
    socket.on("close", () => {
      clearTimeout(timer);
      this.#onClose(socket);
    });
  }

  #pump(): void {
    if (!this.#open || this.#writeBlocked) return;
    while (this.#inflight.size < INFLIGHT_REQUESTS_PER_CONNECTION_MAX) {
      const next = this.#retry[0] ?? this.#queue[this.#queueHead];
      if (next === undefined) break;
      const bytes = must(next.bytes, "a queued frame is encoded");
      const full = this.#inflightBytes + bytes.length > INFLIGHT_BYTES_PER_CONNECTION_MAX;
      if (next.live && full && this.#inflight.size > 0) break;
      this.#shift();
      if (!next.live) continue;
      this.#write(bytes);
      this.#inflight.set(next.requestId, next);
      this.#inflightBytes += bytes.length;
      this.#busyPoll?.touch();
      if (this.#writeBlocked) break;
    }
  }

  #shift(): void {
    let outgoing: Outgoing | undefined;
    if (this.#retry.length > 0) {
      outgoing = this.#retry.shift();
    } else {
      outgoing = this.#queue[this.#queueHead];
      this.#queue[this.#queueHead] = undefined;
      this.#queueHead++;
      if (this.#queueHead === this.#queue.length) {
        this.#queue = [];
        this.#queueHead = 0;
      } else if (this.#queueHead >= 1024 && this.#queueHead * 2 >= this.#queue.length) {
        this.#queue = this.#queue.slice(this.#queueHead);
        this.#queueHead = 0;
      }
    }
    this.#queuedOperations -= must(outgoing, "shift from a non-empty queue").operationCount;
  }

  #write(bytes: Uint8Array): void {
    const socket = must(this.#socket, "writes go to an open socket");
    if (!this.#corked) {
      this.#corked = true;
      socket.cork();
      process.nextTick(uncork, this);
    }
    if (!socket.write(bytes)) this.#writeBlocked = true;
    this.#framesSent++;
  }

  #onData(socket: Socket, chunk: Buffer): void {
    if (socket !== this.#socket) return;
    this.#heardMs = performance.now();
    this.#busyPoll?.touch();
    this.#decoder.push(chunk);
    for (;;) {
      let frame: Frame | null;
      try {
        frame = this.#decoder.pull();
      } catch (error) {
        this.#breakConnection(error);
        return;
      }
      if (frame === null) break;
      if (!this.#onFrame(frame)) return;
    }
    this.#pump();
  }

  /** Handles one reply; false when the server broke the protocol (the socket is dropped). */
  #onFrame(frame: Frame): boolean {
    let reply: Reply;
    try {
      reply = decodeReply(frame);
    } catch (error) {
      this.#breakConnection(error);
      return false;
    }
    this.#framesReceived++;
    if (frame.requestId === 0) return this.#onStreamError(reply);
    const outgoing = this.#inflight.get(frame.requestId);
    const mismatch =
      outgoing === undefined
        ? `a reply to request ${frame.requestId}, which is not in flight`
        : replyMismatch(outgoing, reply);
    if (mismatch !== null) {
      this.#breakConnection(new TxgridError(ErrorCode.DECODE, `the server sent ${mismatch}`));
      return false;
    }
    const answered = must(outgoing, "a matched reply has its request");
    this.#inflight.delete(frame.requestId);
    this.#inflightBytes -= must(answered.bytes, "a sent frame is encoded").length;
    this.#established = true;
    // A replica that sends us elsewhere is no sign of health: the backoff goes on growing, so
    // a frame bouncing between standbys during a failover does not use up its retries.
    if (reply.kind === MessageKind.ERROR && this.#followsPrimary(answered, reply)) return true;
    this.#reconnectAttempts = 0;
    if (reply.kind === MessageKind.ERROR && reply.code === ErrorCode.SHUTTING_DOWN) {
      // Not executed: worth sending again once connected to a server that is not closing.
      this.#parked.push(answered);
      this.#queuedOperations += answered.operationCount;
      return true;
    }
    answered.deliver(reply);
    return true;
  }

  /**
   * NOT_PRIMARY or UNAVAILABLE on a retry-safe frame, with retries left: keep the frame for
   * the next connection and move the connection (to the named primary, else the next address).
   */
  #followsPrimary(answered: Outgoing, reply: ErrorReply): boolean {
    if (!this.#options.followPrimary || !answered.retrySafe) return false;
    if (reply.code !== ErrorCode.NOT_PRIMARY && reply.code !== ErrorCode.UNAVAILABLE) return false;
    if (answered.primaryRetries >= CLIENT_PRIMARY_RETRIES_MAX) return false;
    answered.primaryRetries++;
    this.#primaryRetries++;
    this.#parked.push(answered);
    this.#queuedOperations += answered.operationCount;
    const socket = this.#socket;
    if (socket === null || this.#moving) return true;
    this.#moving = true;
    const named = reply.code === ErrorCode.NOT_PRIMARY ? primaryAddressOf(reply.message) : null;
    const here = this.#addresses[this.#current] as TcpAddress;
    const namedIndex =
      named === null || (named.host === here.host && named.port === here.port)
        ? -1
        : this.#learn(named);
    const suspect = (this.#suspectUntilMs.get(namedIndex) ?? 0) > performance.now();
    if (namedIndex >= 0 && !suspect) {
      this.#current = namedIndex;
      this.#dialNow = true;
    } else {
      this.#current = this.#nextAddress();
    }
    // Replies to the other frames in flight come first; the socket goes at the next turn.
    setImmediate(() => {
      if (this.#socket === socket) socket.destroy();
    });
    return true;
  }

  /** The next address after the current one that is not suspected of being paused. */
  #nextAddress(): number {
    const count = this.#addresses.length;
    const nowMs = performance.now();
    for (let step = 1; step <= count; step++) {
      const index = (this.#current + step) % count;
      if ((this.#suspectUntilMs.get(index) ?? 0) <= nowMs) return index;
    }
    return (this.#current + 1) % count;
  }

  /** Index of `address` in the known addresses, adding it when new (bounded). */
  #learn(address: TcpAddress): number {
    const index = this.#addresses.findIndex(
      (known) => known.host === address.host && known.port === address.port,
    );
    if (index >= 0) return index;
    if (this.#addresses.length >= CLIENT_ADDRESSES_MAX) {
      this.#addresses[this.#addresses.length - 1] = address;
      return this.#addresses.length - 1;
    }
    this.#addresses.push(address);
    return this.#addresses.length - 1;
  }

  /** An ERROR with request id 0: the server ends the connection (it will close it). */
  #onStreamError(reply: Reply): boolean {
    if (reply.kind !== MessageKind.ERROR) {
      this.#breakConnection(new TxgridError(ErrorCode.DECODE, "a reply with request id 0"));
      return false;
    }
    const error = errorOfReply(reply satisfies ErrorReply);
    this.#lastFailure = error;
    if (error.code === ErrorCode.VERSION) this.#fatal = error;
    return true;
  }

  #breakConnection(error: unknown): void {
    if (!isTxgridError(error)) throw error;
    this.#lastFailure = error;
    this.#socket?.destroy();
  }

  #onClose(socket: Socket): void {
    if (socket !== this.#socket) return;
    const moved = this.#moving;
    const wasOpen = this.#open;
    this.#moving = false;
    this.#socket = null;
    this.#open = false;
    this.#writeBlocked = false;
    this.#corked = false;
    this.#requeueInflight();
    if (this.#closed) {
      this.#failQueued(new TxgridError(ErrorCode.SHUTTING_DOWN, "the client is closed"));
      this.#onSocketGone?.();
      return;
    }
    if (!moved && this.#addresses.length > 1) {
      // This replica cannot be reached (or went away): the next one may be the primary.
      if (!this.#established) this.#initialFailures++;
      // A replica that refuses connections (killed) is not followed for a while either: the
      // others keep naming it until their leases tell them it is gone.
      if (!wasOpen) this.#suspectUntilMs.set(this.#current, performance.now() + CLIENT_SUSPECT_MS);
      this.#current = this.#nextAddress();
    } else if (!this.#established) {
      this.#initialFailures++;
    }
    const triedAll = this.#initialFailures >= this.#addresses.length;
    if (this.#fatal === null && !this.#established && triedAll) {
      this.#fatal = this.#connectError();
    }
    if (this.#fatal !== null) {
      this.#failQueued(this.#fatal);
      return;
    }
    this.#scheduleReconnect();
  }

  /** In-flight frames of a broken connection: resent if safe, failed if not. */
  #requeueInflight(): void {
    const resend: Outgoing[] = [];
    for (const outgoing of this.#inflight.values()) {
      if (!outgoing.live) continue;
      if (outgoing.retrySafe) {
        resend.push(outgoing);
        this.#queuedOperations += outgoing.operationCount;
        continue;
      }
      const message =
        `the connection to ${this.url} broke while ${outgoing.operationCount} asset ` +
        "update(s) were in flight; they may or may not have been applied, and are not sent " +
        "again because an update carries no id (lookupAssets shows the current values)";
      outgoing.fail(
        new TxgridError(ErrorCode.CONNECTION_LOST, message, { cause: this.#lastFailure }),
      );
    }
    this.#framesResent += resend.length;
    this.#inflight.clear();
    this.#inflightBytes = 0;
    this.#retry = [...this.#parked, ...resend, ...this.#retry];
    this.#parked = [];
  }

  #connectError(): TxgridError {
    const failure = this.#lastFailure;
    if (isTxgridError(failure)) return failure;
    const reason = failure instanceof Error ? failure.message : "the connection closed";
    const message = `cannot connect to ${this.url}: ${reason}`;
    return new TxgridError(ErrorCode.UNAVAILABLE, message, { cause: failure });
  }

  #failQueued(error: TxgridError): void {
    const lists = [this.#retry, this.#parked, this.#queue.slice(this.#queueHead)];
    this.#retry = [];
    this.#parked = [];
    this.#queue = [];
    this.#queueHead = 0;
    this.#queuedOperations = 0;
    for (const list of lists) for (const outgoing of list) outgoing?.fail(error);
  }

  #scheduleReconnect(): void {
    if (this.#dialNow || (!this.#established && this.#initialFailures < this.#addresses.length)) {
      this.#dialNow = false;
      this.#reconnects++;
      this.#dial();
      return;
    }
    const { reconnectDelayMsMin, reconnectDelayMsMax } = this.#options;
    const exponent = Math.min(this.#reconnectAttempts, 30);
    // While replicas of a group are being tried (a failover), the wait stays short: a new
    // primary is expected within about one lease TTL, and it should be found at once.
    const delayMsMax =
      this.#addresses.length > 1
        ? Math.min(reconnectDelayMsMax, CLIENT_FAILOVER_DELAY_MS_MAX)
        : reconnectDelayMsMax;
    const delayMs = Math.min(delayMsMax, reconnectDelayMsMin * 2 ** exponent);
    this.#reconnectAttempts++;
    this.#reconnects++;
    // Jitter: clients that lost the same server do not all come back at the same instant.
    this.#reconnectTimer = setTimeout(
      () => {
        this.#reconnectTimer = null;
        if (!this.#closed) this.#dial();
      },
      delayMs * (0.5 + Math.random() / 2),
    );
    this.#reconnectTimer.unref();
  }
}

/** Why `reply` cannot answer `outgoing`, or null when it can. */
function replyMismatch(outgoing: Outgoing, reply: Reply): string | null {
  if (reply.kind === MessageKind.ERROR) return null;
  const expected = REPLY_KINDS[outgoing.kind];
  if (reply.kind !== expected) return `kind ${reply.kind} to a request of kind ${outgoing.kind}`;
  const count = operationCount(reply);
  if (count !== outgoing.operationCount) {
    return `${count} entries for ${outgoing.operationCount} operations`;
  }
  return null;
}
