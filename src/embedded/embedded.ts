// Embedded mode: txgrid's engine in this process, behind the same TxgridApi as the TCP
// client. open({ dir }) opens a shard (its log and snapshots under `dir`, or nothing on disk
// with dir null) and answers calls through the same gateway as the TCP server, so results,
// refusals and durability are those of a server with the same fsync policy, minus the
// network hop: no encoding, no sockets.
//
// Guarantees: calls are batched per tick, time out and are bounded exactly as the client's
// (ApiCore); a write call resolves only after its batch is durable under the fsync policy.
// close() waits for the outstanding calls, then closes the shard (syncing the log). One
// process at a time may open a directory: the same lock file as `txgrid serve`.
import { resolve } from "node:path";
import {
  ApiCore,
  type ApiOptions,
  type Outgoing,
  type Transport,
  type TxgridApi,
} from "../client/index.ts";
import { answerRead, isWriteRequest, submitTransferList, submitWrite } from "../gateway/index.ts";
import type { FsyncPolicy } from "../server/index.ts";
import { Shard } from "../shard/index.ts";
import { ErrorCode, isTxgridError, must, TxgridError } from "../stdx/index.ts";

export interface OpenOptions extends ApiOptions {
  /** Data directory (log, snapshots); null keeps everything in memory. */
  readonly dir: string | null;
  /** always | batch | lazy, as `txgrid serve --fsync` (default batch). */
  readonly fsync?: FsyncPolicy;
  /** Most commands waiting for the executor (QUEUE_COMMANDS_MAX). */
  readonly queueCommandsMax?: number;
}

/** A TxgridApi on an engine in this process. */
export interface Embedded extends TxgridApi {
  /** The shard behind it: its engine answers queries such as checkInvariants(). */
  readonly shard: Shard;
}

function asTxgridError(error: unknown): TxgridError {
  if (isTxgridError(error)) return error;
  throw error;
}

class ShardTransport implements Transport {
  readonly #shard: Shard;
  readonly #release: () => void;

  constructor(shard: Shard, release: () => void) {
    this.#shard = shard;
    this.#release = release;
  }

  get queuedOperations(): number {
    return 0;
  }

  send(outgoing: Outgoing): void {
    const request = outgoing.request;
    if (request === null) {
      this.#sendTransferList(outgoing, must(outgoing.transferList, "a request or a list"));
      return;
    }
    if (!isWriteRequest(request)) {
      outgoing.deliver(answerRead(this.#shard.engine, request));
      return;
    }
    submitWrite(this.#shard, request).then(
      (reply) => outgoing.deliver(reply),
      (error: unknown) => outgoing.fail(asTxgridError(error)),
    );
  }

  /** An encoded transfer list goes the TCP server's way: commands straight from the bytes. */
  #sendTransferList(outgoing: Outgoing, body: Uint8Array): void {
    submitTransferList(this.#shard, body).then(
      (reply) => outgoing.deliver(reply),
      (error: unknown) => outgoing.fail(asTxgridError(error)),
    );
  }

  prune(): void {
    // Nothing is queued here: the shard's own queue refuses with OVERLOADED when full.
  }

  async close(): Promise<void> {
    try {
      await this.#shard.close();
    } finally {
      this.#release();
    }
  }
}

class EmbeddedApi extends ApiCore implements Embedded {
  readonly shard: Shard;

  constructor(shard: Shard, transport: ShardTransport, options: ApiOptions) {
    super(transport, options);
    this.shard = shard;
  }
}

/**
 * Directories open in this process. The lock file keeps other processes out, but it lets
 * its own pid in again (a restarted process reuses no pid, a crashed one leaves its lock), so
 * a second open() of the same directory here is refused by this set instead.
 */
const openDirs = new Set<string>();

/** Opens txgrid in this process: `await open({ dir: "./data" })` or `open({ dir: null })`. */
export async function open(options: OpenOptions): Promise<Embedded> {
  if (options === null || typeof options !== "object" || options.dir === undefined) {
    throw new TxgridError(ErrorCode.BAD_REQUEST, "open() needs { dir } (a path, or null)");
  }
  const dir = options.dir === null ? null : resolve(options.dir);
  if (dir !== null && openDirs.has(dir)) {
    throw new TxgridError(ErrorCode.LOCKED, `data directory ${dir} is open in this process`);
  }
  if (dir !== null) openDirs.add(dir);
  let lock: { release(): void } | null = null;
  const release = () => {
    lock?.release();
    if (dir !== null) openDirs.delete(dir);
  };
  let shard: Shard;
  try {
    // Loaded only for a directory: the server module brings the HTTP stack, which a program
    // that only connects, or embeds in memory, should not pay for at import.
    if (dir !== null) lock = (await import("../server/index.ts")).lockDataDir(dir);
    shard = await Shard.open({
      dir,
      fsyncPolicy: options.fsync ?? "batch",
      ...(options.queueCommandsMax === undefined
        ? {}
        : { queueCommandsMax: options.queueCommandsMax }),
    });
  } catch (error) {
    release();
    throw error;
  }
  return new EmbeddedApi(shard, new ShardTransport(shard, release), options);
}
