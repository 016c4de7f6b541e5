// The Coordinator contract (coordinator.ts) on a real etcd, through the etcd3 gRPC client.
// Keys, the timing argument and the outage behaviour are in docs/design/coordination.md.
//
// Guarantees, beyond the contract's:
// - Every unary call has one deadline (callTimeoutMs); then it fails with UNAVAILABLE. The
//   client's own retries and circuit breaker are off: a breaker that stays open after etcd is
//   back would turn a short outage into a long one, and retries would stretch the deadline.
// - Leases are kept alive by our own loop, not etcd3's Lease (whose `lost` event comes only
//   after etcd is reachable again, up to twice the TTL late, and twice). Each keepalive is one
//   request on its own stream, so its reply is paired with the moment it was SENT; the local
//   deadline is that moment + min(requested TTL, granted TTL). etcd refreshes a lease's expiry
//   to (its receive time + TTL) >= (our send time + TTL), and grants whole seconds >= what was
//   asked, so etcd can only expire the lease after our deadline (same clock rate assumed).
// - A session is lost, for good, when its deadline passes without a newer successful keepalive,
//   or when etcd says the lease is gone; onLost callbacks then run once, and deadlineMs() is
//   never later than that moment. A keepalive answered after the deadline does not revive it.
// - Watches re-read their keys on every (re)connection of the watch stream, after a watch error
//   (such as a compacted revision; the watch is then created again with backoff) and every
//   COORD_WATCH_RESYNC_INTERVAL_MS, so a missed event or an etcd restart heals. Role callbacks
//   see revisions that only grow; a value is delivered only when it changed.
// - close() of a session or the coordinator never fails: when etcd cannot be reached, the
//   lease ends by itself within its TTL.
import { ExponentialBackoff, type IBackoff, noop } from "cockatiel";
import {
  CompareResult,
  CompareTarget,
  Etcd3,
  EtcdLeaseInvalidError,
  type IKeyValue,
  type IResponseHeader,
  type Watcher,
} from "etcd3";
import {
  COORD_CALL_TIMEOUT_MS_DEFAULT,
  COORD_CALL_TIMEOUT_MS_MAX,
  COORD_NODE_KEYS_MAX,
  COORD_NODES_MAX,
  COORD_PREFIX_DEFAULT,
  COORD_WATCH_RESYNC_INTERVAL_MS,
  COORD_WATCH_RETRY_DELAY_MS_MAX,
  COORD_WATCH_RETRY_DELAY_MS_MIN,
  LEASE_KEEPALIVES_PER_TTL,
} from "../constants.ts";
import { assert, type Clock, ErrorCode, isTxgridError, TxgridError } from "../stdx/index.ts";
import type {
  Coordinator,
  NodeInfo,
  NodeSession,
  ShardRole,
  ShardRoleValue,
} from "./coordinator.ts";
import {
  checkLeaseTtlMs,
  checkShardId,
  decodeNodeInfo,
  decodeRole,
  encodeNodeInfo,
  encodeRoleValue,
  newestPerNode,
  nodeKey,
  nodesPrefix,
  roleKey,
} from "./records.ts";

type CallOptions = NonNullable<Parameters<Etcd3["kv"]["range"]>[1]>;

export interface EtcdCoordinatorOptions {
  /** etcd client URLs, e.g. ["http://127.0.0.1:9379"]. */
  readonly endpoints: readonly string[];
  /** Key prefix (default COORD_PREFIX_DEFAULT). */
  readonly prefix?: string;
  /** Deadline of every unary call (default COORD_CALL_TIMEOUT_MS_DEFAULT). */
  readonly callTimeoutMs?: number;
  /** The monotonic clock of lease deadlines (default: performance.now()). */
  readonly clock?: Clock;
}

/** The real clock: monotonic from performance.now(), wall from Date.now(). */
export const systemClock: Clock = {
  monotonicNowMs: () => performance.now(),
  wallNowMs: () => Date.now(),
};

export function createEtcdCoordinator(options: EtcdCoordinatorOptions): EtcdCoordinator {
  return new EtcdCoordinator(options);
}

export class EtcdCoordinator implements Coordinator {
  readonly #client: Etcd3;
  readonly #prefix: string;
  readonly #callTimeoutMs: number;
  readonly #clock: Clock;
  readonly #sessions = new Set<EtcdNodeSession>();
  readonly #watches = new Set<() => void>();
  #closed = false;

  constructor(options: EtcdCoordinatorOptions) {
    if (options.endpoints.length === 0) {
      throw new TxgridError(ErrorCode.BAD_REQUEST, "no etcd endpoint given");
    }
    const callTimeoutMs = options.callTimeoutMs ?? COORD_CALL_TIMEOUT_MS_DEFAULT;
    if (!(callTimeoutMs > 0 && callTimeoutMs <= COORD_CALL_TIMEOUT_MS_MAX)) {
      throw new TxgridError(
        ErrorCode.LIMIT_EXCEEDED,
        `callTimeoutMs must be in (0, ${COORD_CALL_TIMEOUT_MS_MAX}]`,
      );
    }
    this.#prefix = (options.prefix ?? COORD_PREFIX_DEFAULT).replace(/\/+$/, "");
    this.#callTimeoutMs = callTimeoutMs;
    this.#clock = options.clock ?? systemClock;
    this.#client = new Etcd3({
      hosts: [...options.endpoints],
      dialTimeout: callTimeoutMs,
      faultHandling: {
        host: () => noop,
        global: noop,
        // etcd3 declares an IBackoff here but calls it as a factory (next() first), which is
        // what ExponentialBackoff is.
        watchBackoff: new ExponentialBackoff({
          initialDelay: COORD_WATCH_RETRY_DELAY_MS_MIN,
          maxDelay: COORD_WATCH_RETRY_DELAY_MS_MAX,
        }) as unknown as IBackoff<unknown>,
      },
      grpcOptions: {
        // gRPC's default reconnect backoff grows to 120 s: after an etcd outage every call
        // would time out long after etcd is back.
        "grpc.initial_reconnect_backoff_ms": COORD_WATCH_RETRY_DELAY_MS_MIN,
        "grpc.max_reconnect_backoff_ms": COORD_WATCH_RETRY_DELAY_MS_MAX,
      },
    });
  }

  get clock(): Clock {
    return this.#clock;
  }

  async join(info: NodeInfo, leaseTtlMs: number): Promise<EtcdNodeSession> {
    this.#checkOpen();
    const value = encodeNodeInfo(info);
    checkLeaseTtlMs(leaseTtlMs);
    const sentMs = this.#clock.monotonicNowMs();
    const grant = await this.call("lease grant", (options) =>
      this.#client.leaseClient.leaseGrant({ TTL: Math.ceil(leaseTtlMs / 1000) }, options),
    );
    const leaseId = grant.ID;
    const grantedMs = Number(grant.TTL) * 1000;
    if ((grant.error ?? "") !== "" || !(grantedMs > 0)) {
      throw new TxgridError(ErrorCode.UNAVAILABLE, `etcd refused a lease: ${grant.error}`);
    }
    const session = new EtcdNodeSession(this, info.nodeId, leaseId, {
      ttlMs: Math.min(leaseTtlMs, grantedMs),
      deadlineMs: sentMs + Math.min(leaseTtlMs, grantedMs),
      key: nodeKey(this.#prefix, info.nodeId, leaseId),
      onClose: () => this.#sessions.delete(session),
    });
    try {
      await this.call("put node", (options) =>
        this.#client.kv.put(
          { key: Buffer.from(session.key), value: Buffer.from(value), lease: leaseId },
          options,
        ),
      );
    } catch (error) {
      await session.close();
      throw error;
    }
    this.#sessions.add(session);
    session.start();
    return session;
  }

  async listNodes(): Promise<NodeInfo[]> {
    return (await this.#readNodes()).nodes;
  }

  async readRole(shardId: number): Promise<ShardRole | null> {
    return (await this.#readRole(shardId)).role;
  }

  async compareAndSetRole(
    shardId: number,
    expectedRevision: number,
    next: ShardRoleValue,
  ): Promise<ShardRole | null> {
    const value = encodeRoleValue(shardId, next);
    if (!Number.isSafeInteger(expectedRevision) || expectedRevision < 0) {
      throw new TxgridError(ErrorCode.BAD_REQUEST, `bad revision ${String(expectedRevision)}`);
    }
    // Epochs only grow: the value at `expectedRevision` is read first (if it is not the
    // current one, the compare-and-swap below would fail anyway).
    const current = (await this.#readRole(shardId)).role;
    if ((current?.revision ?? 0) !== expectedRevision) return null;
    if (current !== null && next.epoch < current.epoch) {
      throw new TxgridError(
        ErrorCode.BAD_REQUEST,
        `epoch ${next.epoch} of shard ${shardId} would go back from ${current.epoch}`,
      );
    }
    const key = Buffer.from(roleKey(this.#prefix, shardId));
    const result = await this.call("compare-and-swap role", (options) =>
      this.#client.kv.txn(
        {
          // A missing key has mod_revision 0 in etcd's compares: 0 means "create only".
          compare: [
            {
              key,
              target: CompareTarget.Mod,
              result: CompareResult.Equal,
              mod_revision: expectedRevision,
            },
          ],
          success: [{ request_put: { key, value: Buffer.from(value) } }],
          failure: [],
        },
        options,
      ),
    );
    if (!result.succeeded) return null;
    // The transaction made exactly one revision: the put's.
    return decodeRole(value, revisionOf(result.header));
  }

  watchRole(shardId: number, callback: (role: ShardRole | null) => void): () => void {
    checkShardId(shardId);
    const key = roleKey(this.#prefix, shardId);
    let delivered = false;
    let deliveredRevision = 0;
    let deliveredJson = "";
    // `observedRevision` is the store revision at which `role` was true; older observations
    // (a read that raced with an event) are dropped, so revisions seen by the callback grow.
    const offer = (role: ShardRole | null, observedRevision: number) => {
      if (delivered && observedRevision < deliveredRevision) return;
      const json = JSON.stringify(role);
      deliveredRevision = observedRevision;
      if (delivered && json === deliveredJson) return;
      delivered = true;
      deliveredJson = json;
      callback(role);
    };
    return this.#watch(key, false, {
      resync: async () => {
        const { role, revision } = await this.#readRole(shardId);
        offer(role, revision);
      },
      event: (type, kv) => {
        const revision = Number(kv.mod_revision);
        offer(type === "put" ? decodeRole(kv.value.toString("utf8"), revision) : null, revision);
      },
    });
  }

  watchNodes(callback: (nodes: readonly NodeInfo[]) => void): () => void {
    let delivered = false;
    let deliveredRevision = 0;
    let deliveredJson = "";
    return this.#watch(nodesPrefix(this.#prefix), true, {
      resync: async () => {
        const { nodes, revision } = await this.#readNodes();
        if (delivered && revision < deliveredRevision) return;
        deliveredRevision = revision;
        const json = JSON.stringify(nodes);
        if (delivered && json === deliveredJson) return;
        delivered = true;
        deliveredJson = json;
        callback(nodes);
      },
      // The set is re-read as a whole: a list is one consistent snapshot at one revision.
      event: (_type, _kv, resync) => resync(),
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    for (const unwatch of [...this.#watches]) unwatch();
    await Promise.all([...this.#sessions].map((session) => session.close()));
    this.#closed = true;
    this.#client.close();
  }

  /**
   * Runs one etcd call with a deadline. Transport failures and timeouts become UNAVAILABLE;
   * etcd's "lease not found" stays an EtcdLeaseInvalidError for the caller to handle.
   * @internal used by sessions
   */
  async call<T>(what: string, run: (options: CallOptions) => Promise<T>): Promise<T> {
    this.#checkOpen();
    const timeoutMs = this.#callTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new TxgridError(ErrorCode.UNAVAILABLE, `etcd ${what}: no answer in ${timeoutMs} ms`),
          ),
        timeoutMs + 100,
      );
    });
    try {
      return await Promise.race([run({ deadline: Date.now() + timeoutMs }), timeout]);
    } catch (error) {
      if (isTxgridError(error) || error instanceof EtcdLeaseInvalidError) throw error;
      throw new TxgridError(
        ErrorCode.UNAVAILABLE,
        `etcd ${what} failed: ${(error as Error).message}`,
        { cause: error },
      );
    } finally {
      clearTimeout(timer);
    }
  }

  /** @internal the etcd3 client, for sessions */
  get client(): Etcd3 {
    return this.#client;
  }

  #watch(
    key: string,
    isPrefix: boolean,
    handlers: {
      resync: () => Promise<void>;
      event: (type: "put" | "delete", kv: IKeyValue, resync: () => void) => void;
    },
  ): () => void {
    this.#checkOpen();
    let stopped = false;
    let watcher: Watcher | null = null;
    let retryDelayMs = COORD_WATCH_RETRY_DELAY_MS_MIN;
    let retryTimer: NodeJS.Timeout | undefined;
    let running = false;
    let again = false;
    // At most one re-read in flight; requests during it cause exactly one more.
    const resync = () => {
      if (stopped) return;
      if (running) {
        again = true;
        return;
      }
      running = true;
      handlers
        .resync()
        .catch(() => undefined) // etcd unreachable: the next event or interval tries again
        .finally(() => {
          running = false;
          if (again) {
            again = false;
            resync();
          }
        });
    };
    const create = () => {
      if (stopped) return;
      const builder = this.#client.watch();
      const created = (isPrefix ? builder.prefix(key) : builder.key(key)).watcher();
      watcher = created;
      created.on("connected", () => {
        retryDelayMs = COORD_WATCH_RETRY_DELAY_MS_MIN;
        resync();
      });
      created.on("put", (kv) => {
        if (!stopped) guard(() => handlers.event("put", kv, resync), resync);
      });
      created.on("delete", (kv) => {
        if (!stopped) guard(() => handlers.event("delete", kv, resync), resync);
      });
      // A cancelled watch (compacted revision, etcd restart edge cases) is not resumed by the
      // client: drop it and create a new one after a delay; the new one re-reads on connect.
      created.on("error", () => {
        if (watcher !== created) return;
        watcher = null;
        created.cancel().catch(() => undefined);
        retryTimer = setTimeout(create, retryDelayMs);
        retryDelayMs = Math.min(retryDelayMs * 2, COORD_WATCH_RETRY_DELAY_MS_MAX);
      });
    };
    create();
    resync();
    const interval = setInterval(resync, COORD_WATCH_RESYNC_INTERVAL_MS);
    const unwatch = () => {
      if (stopped) return;
      stopped = true;
      clearInterval(interval);
      clearTimeout(retryTimer);
      watcher?.cancel().catch(() => undefined);
      watcher = null;
      this.#watches.delete(unwatch);
    };
    this.#watches.add(unwatch);
    return unwatch;
  }

  async #readNodes(): Promise<{ nodes: NodeInfo[]; revision: number }> {
    const prefix = nodesPrefix(this.#prefix);
    const response = await this.call("list nodes", (options) =>
      this.#client.kv.range(
        {
          key: Buffer.from(prefix),
          range_end: prefixEnd(Buffer.from(prefix)),
          // A node may briefly hold a key of an older session too (records.ts, nodeKey).
          limit: COORD_NODE_KEYS_MAX + 1,
        },
        options,
      ),
    );
    const nodes = newestPerNode(
      response.kvs.map((kv) => ({
        info: decodeNodeInfo(kv.value.toString("utf8")),
        revision: Number(kv.mod_revision),
      })),
    );
    if (response.kvs.length > COORD_NODE_KEYS_MAX || nodes.length > COORD_NODES_MAX) {
      throw new TxgridError(ErrorCode.LIMIT_EXCEEDED, `more than ${COORD_NODES_MAX} live nodes`);
    }
    return { nodes, revision: revisionOf(response.header) };
  }

  async #readRole(shardId: number): Promise<{ role: ShardRole | null; revision: number }> {
    checkShardId(shardId);
    const response = await this.call("read role", (options) =>
      this.#client.kv.range({ key: Buffer.from(roleKey(this.#prefix, shardId)) }, options),
    );
    const kv = response.kvs[0];
    const role =
      kv === undefined ? null : decodeRole(kv.value.toString("utf8"), Number(kv.mod_revision));
    return { role, revision: revisionOf(response.header) };
  }

  #checkOpen(): void {
    if (this.#closed) throw new TxgridError(ErrorCode.SHUTTING_DOWN, "coordinator is closed");
  }
}

/** A node's lease, kept alive by one keepalive request per interval. */
export class EtcdNodeSession implements NodeSession {
  readonly nodeId: string;
  /** The node's key in etcd. */
  readonly key: string;
  readonly #coordinator: EtcdCoordinator;
  readonly #leaseId: string;
  readonly #ttlMs: number;
  readonly #intervalMs: number;
  readonly #onClose: () => void;
  readonly #lostCallbacks: (() => void)[] = [];
  #deadlineMs: number;
  #lost = false;
  #closed = false;
  #keepalivesSuspended = false;
  #inFlight = false;
  #tickTimer: NodeJS.Timeout | undefined;
  #deadlineTimer: NodeJS.Timeout | undefined;

  constructor(
    coordinator: EtcdCoordinator,
    nodeId: string,
    leaseId: string,
    options: { ttlMs: number; deadlineMs: number; key: string; onClose: () => void },
  ) {
    this.#coordinator = coordinator;
    this.nodeId = nodeId;
    this.#leaseId = leaseId;
    this.#ttlMs = options.ttlMs;
    this.#intervalMs = Math.floor(options.ttlMs / LEASE_KEEPALIVES_PER_TTL);
    assert(this.#intervalMs > 0, "the keepalive interval is positive");
    this.#deadlineMs = options.deadlineMs;
    this.key = options.key;
    this.#onClose = options.onClose;
  }

  /** etcd's lease id (decimal), for etcdctl and logs. */
  get leaseId(): string {
    return this.#leaseId;
  }

  /** The TTL the deadline is computed with: min(requested, granted). */
  get ttlMs(): number {
    return this.#ttlMs;
  }

  get lost(): boolean {
    return this.#lost;
  }

  /** @internal starts keepalives and the deadline timer (join() calls it) */
  start(): void {
    this.#armDeadline();
    this.#tickTimer = setInterval(() => this.#keepalive(), this.#intervalMs);
  }

  deadlineMs(): number {
    return this.#deadlineMs;
  }

  async publish(info: NodeInfo): Promise<void> {
    if (info.nodeId !== this.nodeId) {
      throw new TxgridError(ErrorCode.BAD_REQUEST, `session of ${this.nodeId} got ${info.nodeId}`);
    }
    const value = encodeNodeInfo(info);
    this.#checkUsable();
    try {
      await this.#coordinator.call("publish node", (options) =>
        this.#coordinator.client.kv.put(
          { key: Buffer.from(this.key), value: Buffer.from(value), lease: this.#leaseId },
          options,
        ),
      );
    } catch (error) {
      if (error instanceof EtcdLeaseInvalidError) {
        this.#markLost();
        throw new TxgridError(ErrorCode.UNAVAILABLE, `lease of ${this.nodeId} is gone`, {
          cause: error,
        });
      }
      throw error;
    }
  }

  onLost(callback: () => void): void {
    if (this.#lost) {
      queueMicrotask(callback);
      return;
    }
    this.#lostCallbacks.push(callback);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopTimers();
    this.#deadlineMs = Math.min(this.#deadlineMs, this.#coordinator.clock.monotonicNowMs());
    this.#onClose();
    try {
      await this.#coordinator.call("revoke lease", (options) =>
        this.#coordinator.client.leaseClient.leaseRevoke({ ID: this.#leaseId }, options),
      );
    } catch {
      // Unreachable etcd, or the lease already ended: it expires by itself within its TTL.
    }
  }

  /**
   * Stops sending keepalives while keeping the deadline and the lease: what a frozen or cut
   * off process looks like to etcd. For fault tests (the lease then expires in etcd).
   */
  suspendKeepalives(): void {
    this.#keepalivesSuspended = true;
  }

  #keepalive(): void {
    if (this.#lost || this.#closed || this.#keepalivesSuspended || this.#inFlight) return;
    this.#inFlight = true;
    const sentMs = this.#coordinator.clock.monotonicNowMs();
    this.#keepaliveOnce()
      .then((grantedTtlMs) => {
        if (this.#lost || this.#closed) return;
        if (grantedTtlMs <= 0) {
          this.#markLost();
          return;
        }
        this.#deadlineMs = Math.max(this.#deadlineMs, sentMs + Math.min(this.#ttlMs, grantedTtlMs));
        this.#armDeadline();
      })
      .catch(() => undefined) // a failed keepalive: the deadline timer decides
      .finally(() => {
        this.#inFlight = false;
      });
  }

  /** One keepalive on its own stream; resolves with etcd's TTL in ms (0: lease gone). */
  async #keepaliveOnce(): Promise<number> {
    const client = this.#coordinator.client.leaseClient;
    // A late answer still counts (the deadline is taken from the send time, so it is safe):
    // on a busy machine the event loop may see etcd's answer after the interval, and a timer
    // that fires first would throw away a good keepalive. Wait until the TTL minus one
    // interval; no keepalive is sent meanwhile (the deadline timer decides about the lease).
    const timeoutMs = this.#ttlMs - this.#intervalMs;
    const stream = await this.#coordinator.call("keepalive", (options) =>
      client.leaseKeepAlive({ ...options, deadline: Date.now() + timeoutMs }),
    );
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        stream.cancel();
        reject(new TxgridError(ErrorCode.UNAVAILABLE, "keepalive: no answer"));
      }, timeoutMs);
      stream.on("data", (response) => {
        clearTimeout(timer);
        stream.end();
        resolve(Number(response.TTL) * 1000);
      });
      stream.on("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
      stream.write({ ID: this.#leaseId });
    });
  }

  #armDeadline(): void {
    clearTimeout(this.#deadlineTimer);
    const delayMs = this.#deadlineMs - this.#coordinator.clock.monotonicNowMs();
    this.#deadlineTimer = setTimeout(
      () => {
        if (this.#coordinator.clock.monotonicNowMs() >= this.#deadlineMs) this.#markLost();
        else this.#armDeadline();
      },
      Math.max(0, delayMs),
    );
  }

  #markLost(): void {
    if (this.#lost || this.#closed) return;
    this.#lost = true;
    this.#deadlineMs = Math.min(this.#deadlineMs, this.#coordinator.clock.monotonicNowMs());
    this.#stopTimers();
    for (const callback of this.#lostCallbacks.splice(0)) callback();
  }

  #stopTimers(): void {
    clearInterval(this.#tickTimer);
    clearTimeout(this.#deadlineTimer);
  }

  #checkUsable(): void {
    if (this.#closed) throw new TxgridError(ErrorCode.SHUTTING_DOWN, "session is closed");
    if (this.#lost) throw new TxgridError(ErrorCode.UNAVAILABLE, `lease of ${this.nodeId} is gone`);
  }
}

function revisionOf(header: IResponseHeader): number {
  return Number(header.revision);
}

/** The end of etcd's range for all keys starting with `prefix`. */
function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if ((end[i] as number) < 0xff) {
      end[i] = (end[i] as number) + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

/** Runs an event handler; a malformed record in an event falls back to a full re-read. */
function guard(run: () => void, fallback: () => void): void {
  try {
    run();
  } catch (error) {
    if (!isTxgridError(error, ErrorCode.CORRUPT)) throw error;
    fallback();
  }
}
