// A coordinator with etcd's semantics on the simulator's clock, for seeded tests: leases with
// a TTL, one revision counter for every write, compare-and-swap on the role key's mod
// revision, watches that deliver every change (and the current value first), node keys that
// vanish when their lease expires. Each node talks to it through its own client, which can
// be cut off (a partition between that node and etcd): calls then fail after a timeout, watch
// events wait until the link heals (etcd resumes a watch from its revision), keepalives fail.
//
// etcd itself can be paused (an outage for every node, as a SIGSTOPped etcd): requests that
// arrive meanwhile wait, their callers time out, and at resume etcd still serves them (late: a
// timed-out put or compare-and-swap may be applied after all); watches deliver again at resume.
//
// With `lessor: "etcd"` leases end as in etcd's lessor: a lease past its TTL is revoked (its
// keys deleted) only by a check every LESSOR_CHECK_MS; until then a put may still attach a key
// to it, and a keepalive for it fails. Requests that waited through a pause are served in a
// seeded order, not their arrival order (etcd serves concurrent gRPC calls in any order). The
// default ("instant") expires a lease the moment its TTL ends and keeps arrival order: the
// model the regression seeds found before these were added replay with.
//
// The session's deadline follows the contract (coord/coordinator.ts): the time the last
// successful keepalive was SENT plus the TTL. The server extends a lease when the keepalive
// ARRIVES, so it always expires later than the node's own deadline.
import type {
  Coordinator,
  NodeInfo,
  NodeSession,
  ShardRole,
  ShardRoleValue,
} from "../coord/index.ts";
import { checkLeaseTtlMs, encodeNodeInfo, encodeRoleValue, newestPerNode } from "../coord/index.ts";
import { ErrorCode, type Prng, TxgridError } from "../stdx/index.ts";
import type { Scheduler } from "./scheduler.ts";

interface Lease {
  readonly id: number;
  readonly ttlMs: number;
  expiresAtMs: number;
  revoked: boolean;
}

interface NodeKey {
  info: NodeInfo;
  readonly leaseId: number;
  /** Revision of the last put (the newest key of a node wins, as in the etcd listing). */
  revision: number;
}

const rpcDelayMs = 2;
const rpcTimeoutMs = 500;
/** How often etcd's lessor looks for leases past their TTL (etcd: every 500 ms). */
const LESSOR_CHECK_MS = 500;

export interface FakeEtcdOptions {
  /** "etcd": revocation by a periodic check, pauses end in a seeded order (needs prng). */
  readonly lessor?: "instant" | "etcd";
  readonly prng?: Prng;
}

export class FakeEtcd {
  readonly #scheduler: Scheduler;
  #revision = 0;
  #leaseIdNext = 1;
  readonly #leases = new Map<number, Lease>();
  /** Node keys by "nodeId/leaseId": one per session, as coord/records.ts's nodeKey. */
  readonly #nodes = new Map<string, NodeKey>();
  readonly #roles = new Map<number, ShardRole>();
  readonly #clients = new Set<FakeCoordinatorClient>();
  /** Requests that arrived while etcd was paused, served in order at resume. */
  #queued: (() => void)[] | null = null;
  /** Every role value ever written, by epoch (the checker's record of who owned an epoch). */
  readonly rolesByEpoch = new Map<number, ShardRole[]>();

  readonly #lessorLikeEtcd: boolean;
  readonly #prng: Prng | null;

  constructor(scheduler: Scheduler, options: FakeEtcdOptions = {}) {
    this.#scheduler = scheduler;
    this.#lessorLikeEtcd = options.lessor === "etcd";
    this.#prng = options.prng ?? null;
    if (this.#lessorLikeEtcd) {
      if (this.#prng === null) throw new TypeError("the etcd lessor model needs a prng");
      this.#scheduleLessorCheck();
    }
  }

  #scheduleLessorCheck(): void {
    this.#scheduler.at(LESSOR_CHECK_MS, () => {
      if (this.#queued === null) this.#revokeExpired();
      this.#scheduleLessorCheck();
    });
  }

  get scheduler(): Scheduler {
    return this.#scheduler;
  }

  client(nodeId: string): FakeCoordinatorClient {
    const client = new FakeCoordinatorClient(this, nodeId);
    this.#clients.add(client);
    return client;
  }

  get paused(): boolean {
    return this.#queued !== null;
  }

  /** etcd stops answering anyone (SIGSTOP): requests queue, watches deliver nothing. */
  pause(): void {
    this.#queued ??= [];
  }

  /** etcd runs again: expired leases go first, then queued requests, then watch deliveries. */
  resume(): void {
    const queued = this.#queued;
    if (queued === null) return;
    this.#queued = null;
    if (this.#prng !== null && this.#lessorLikeEtcd) {
      // Requests that waited are served in any order (Fisher-Yates with the run's prng).
      for (let index = queued.length - 1; index > 0; index--) {
        const other = this.#prng.nextInt(index + 1);
        [queued[index], queued[other]] = [queued[other] as () => void, queued[index] as () => void];
      }
    } else {
      this.#expire();
    }
    for (const serve of queued) serve();
    for (const client of this.#clients) client.resumed();
  }

  /** Runs `serve` now, or at resume while paused. */
  arrive(serve: () => void): void {
    if (this.#queued === null) serve();
    else this.#queued.push(serve);
  }

  role(shardId: number): ShardRole | null {
    return this.#roles.get(shardId) ?? null;
  }

  liveNodes(): NodeInfo[] {
    this.#expire();
    return newestPerNode([...this.#nodes.values()]);
  }

  // ---- server side (called when an RPC arrives) ----

  grant(ttlMs: number): Lease {
    const lease = { id: this.#leaseIdNext++, ttlMs, expiresAtMs: 0, revoked: false };
    lease.expiresAtMs = this.#scheduler.monotonicNowMs() + ttlMs;
    this.#leases.set(lease.id, lease);
    if (!this.#lessorLikeEtcd) this.#scheduler.at(ttlMs, () => this.#expire());
    return lease;
  }

  /** Extends a live lease; false if it is gone (expired or revoked). */
  keepAlive(leaseId: number): boolean {
    this.#expire();
    const lease = this.#leases.get(leaseId);
    if (lease === undefined || lease.revoked) return false;
    // etcd does not renew a lease past its TTL (it waits for the revocation, then fails).
    if (lease.expiresAtMs <= this.#scheduler.monotonicNowMs()) return false;
    lease.expiresAtMs = this.#scheduler.monotonicNowMs() + lease.ttlMs;
    if (!this.#lessorLikeEtcd) this.#scheduler.at(lease.ttlMs, () => this.#expire());
    return true;
  }

  revoke(leaseId: number): void {
    const lease = this.#leases.get(leaseId);
    if (lease !== undefined) lease.revoked = true;
    this.#revokeExpired(!this.#lessorLikeEtcd);
  }

  putNode(info: NodeInfo, leaseId: number): boolean {
    this.#expire();
    if (!this.#leases.has(leaseId)) return false;
    this.#revision++;
    this.#nodes.set(`${info.nodeId}/${leaseId}`, { info, leaseId, revision: this.#revision });
    this.#notifyNodes();
    return true;
  }

  casRole(shardId: number, expectedRevision: number, next: ShardRoleValue): ShardRole | null {
    const current = this.#roles.get(shardId);
    if ((current?.revision ?? 0) !== expectedRevision) return null;
    this.#revision++;
    const role: ShardRole = { ...next, replicaIds: [...next.replicaIds], revision: this.#revision };
    this.#roles.set(shardId, role);
    const list = this.rolesByEpoch.get(role.epoch) ?? [];
    list.push(role);
    this.rolesByEpoch.set(role.epoch, list);
    for (const client of this.#clients) client.roleChanged(shardId);
    return role;
  }

  /** Ends leases past their TTL now (instant model); the etcd model waits for its check. */
  #expire(): void {
    if (!this.#lessorLikeEtcd) this.#revokeExpired();
  }

  /** Deletes revoked leases (and, with `expired`, those past their TTL) with their keys. */
  #revokeExpired(expired = true): void {
    const nowMs = this.#scheduler.monotonicNowMs();
    let changed = false;
    for (const lease of [...this.#leases.values()]) {
      if (!lease.revoked && (!expired || lease.expiresAtMs > nowMs)) continue;
      this.#leases.delete(lease.id);
      for (const [name, key] of this.#nodes) {
        if (key.leaseId !== lease.id) continue;
        this.#nodes.delete(name);
        this.#revision++;
        changed = true;
      }
    }
    if (changed) this.#notifyNodes();
  }

  #notifyNodes(): void {
    for (const client of this.#clients) client.nodesChanged();
  }

  hasLease(leaseId: number): boolean {
    this.#expire();
    return this.#leases.has(leaseId);
  }
}

/** One node's view of the fake etcd: its RPCs travel a link that can be cut. */
export class FakeCoordinatorClient implements Coordinator {
  readonly #etcd: FakeEtcd;
  readonly nodeId: string;
  #connected = true;
  #closed = false;
  readonly #roleWatchers = new Set<{
    shardId: number;
    callback: (role: ShardRole | null) => void;
  }>();
  readonly #nodeWatchers = new Set<(nodes: readonly NodeInfo[]) => void>();

  constructor(etcd: FakeEtcd, nodeId: string) {
    this.#etcd = etcd;
    this.nodeId = nodeId;
  }

  /** Cuts or heals the link between this node and etcd. */
  setConnected(connected: boolean): void {
    const healed = connected && !this.#connected;
    this.#connected = connected;
    if (healed) this.resumed();
  }

  /** Watches deliver the current values again (the link healed, or etcd resumed). */
  resumed(): void {
    for (const watcher of this.#roleWatchers) this.#deliverRole(watcher);
    for (const callback of this.#nodeWatchers) this.#deliverNodes(callback);
  }

  /** The node died: nothing it asked for comes back, and it gets no more events. */
  shutDown(): void {
    this.#closed = true;
    this.#roleWatchers.clear();
    this.#nodeWatchers.clear();
  }

  #rpc<T>(serve: () => T): Promise<T> {
    const scheduler = this.#etcd.scheduler;
    return new Promise((resolve, reject) => {
      if (!this.#connected) {
        scheduler.at(rpcTimeoutMs, () =>
          reject(new TxgridError(ErrorCode.UNAVAILABLE, "etcd unreachable")),
        );
        return;
      }
      scheduler.at(rpcDelayMs, () => {
        if (this.#closed) return;
        if (!this.#connected) {
          scheduler.at(rpcTimeoutMs, () =>
            reject(new TxgridError(ErrorCode.UNAVAILABLE, "etcd unreachable")),
          );
          return;
        }
        let answered = false;
        if (this.#etcd.paused) {
          // The caller gives up after its timeout; etcd serves the request at resume anyway.
          scheduler.at(rpcTimeoutMs, () => {
            if (answered) return;
            answered = true;
            reject(new TxgridError(ErrorCode.UNAVAILABLE, "etcd did not answer in time"));
          });
        }
        this.#etcd.arrive(() => {
          const result = serve();
          scheduler.at(rpcDelayMs, () => {
            if (this.#closed || answered) return;
            answered = true;
            if (this.#connected) resolve(result);
            else reject(new TxgridError(ErrorCode.UNAVAILABLE, "etcd answer lost"));
          });
        });
      });
    });
  }

  async join(info: NodeInfo, leaseTtlMs: number): Promise<NodeSession> {
    // The same record checks as the etcd implementation, before anything is sent.
    checkLeaseTtlMs(leaseTtlMs);
    encodeNodeInfo(info);
    const sentMs = this.#etcd.scheduler.monotonicNowMs();
    const leaseId = await this.#rpc(() => {
      const lease = this.#etcd.grant(leaseTtlMs);
      this.#etcd.putNode(info, lease.id);
      return lease.id;
    });
    return new FakeSession(this, this.#etcd, info.nodeId, leaseId, leaseTtlMs, sentMs);
  }

  rpc<T>(serve: () => T): Promise<T> {
    return this.#rpc(serve);
  }

  get closed(): boolean {
    return this.#closed;
  }

  listNodes(): Promise<NodeInfo[]> {
    return this.#rpc(() => this.#etcd.liveNodes());
  }

  readRole(shardId: number): Promise<ShardRole | null> {
    return this.#rpc(() => this.#etcd.role(shardId));
  }

  compareAndSetRole(
    shardId: number,
    expectedRevision: number,
    next: ShardRoleValue,
  ): Promise<ShardRole | null> {
    try {
      encodeRoleValue(shardId, next);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#rpc(() => {
      const current = this.#etcd.role(shardId);
      if (current !== null && next.epoch < current.epoch) return current.epoch;
      return this.#etcd.casRole(shardId, expectedRevision, next);
    }).then((outcome) => {
      if (typeof outcome !== "number") return outcome;
      throw new TxgridError(
        ErrorCode.BAD_REQUEST,
        `epoch ${next.epoch} of shard ${shardId} would go back from ${outcome}`,
      );
    });
  }

  watchRole(shardId: number, callback: (role: ShardRole | null) => void): () => void {
    const watcher = { shardId, callback };
    this.#roleWatchers.add(watcher);
    this.#deliverRole(watcher);
    return () => this.#roleWatchers.delete(watcher);
  }

  watchNodes(callback: (nodes: readonly NodeInfo[]) => void): () => void {
    this.#nodeWatchers.add(callback);
    this.#deliverNodes(callback);
    return () => this.#nodeWatchers.delete(callback);
  }

  roleChanged(shardId: number): void {
    for (const watcher of this.#roleWatchers) {
      if (watcher.shardId === shardId) this.#deliverRole(watcher);
    }
  }

  nodesChanged(): void {
    for (const callback of this.#nodeWatchers) this.#deliverNodes(callback);
  }

  #deliverRole(watcher: { shardId: number; callback: (role: ShardRole | null) => void }): void {
    // Delivered again when the link heals or etcd resumes.
    if (!this.#connected || this.#closed || this.#etcd.paused) return;
    this.#etcd.scheduler.at(rpcDelayMs, () => {
      if (this.#roleWatchers.has(watcher) && this.#connected && !this.#etcd.paused) {
        watcher.callback(this.#etcd.role(watcher.shardId));
      }
    });
  }

  #deliverNodes(callback: (nodes: readonly NodeInfo[]) => void): void {
    if (!this.#connected || this.#closed || this.#etcd.paused) return;
    this.#etcd.scheduler.at(rpcDelayMs, () => {
      if (this.#nodeWatchers.has(callback) && this.#connected && !this.#etcd.paused) {
        callback(this.#etcd.liveNodes());
      }
    });
  }

  close(): Promise<void> {
    this.shutDown();
    return Promise.resolve();
  }
}

export class FakeSession implements NodeSession {
  readonly nodeId: string;
  readonly #client: FakeCoordinatorClient;
  readonly #etcd: FakeEtcd;
  readonly #leaseId: number;
  readonly #ttlMs: number;
  #deadlineMs: number;
  #lost = false;
  #closed = false;
  #suspended = false;
  #onLost: (() => void)[] = [];

  constructor(
    client: FakeCoordinatorClient,
    etcd: FakeEtcd,
    nodeId: string,
    leaseId: number,
    ttlMs: number,
    sentMs: number,
  ) {
    this.#client = client;
    this.#etcd = etcd;
    this.nodeId = nodeId;
    this.#leaseId = leaseId;
    this.#ttlMs = ttlMs;
    this.#deadlineMs = sentMs + ttlMs;
    this.#scheduleKeepAlive();
    this.#scheduleDeadlineCheck();
  }

  /** Like etcd's session: once the local deadline passes unrenewed, the session is lost. */
  #scheduleDeadlineCheck(): void {
    const scheduler = this.#etcd.scheduler;
    scheduler.at(Math.max(0, this.#deadlineMs - scheduler.monotonicNowMs()), () => {
      if (this.#closed || this.#lost) return;
      if (scheduler.monotonicNowMs() >= this.#deadlineMs) this.#lose();
      else this.#scheduleDeadlineCheck();
    });
  }

  deadlineMs(): number {
    return this.#deadlineMs;
  }

  /** Stops this session's keepalives, as if its process froze (fault tests only). */
  suspendKeepalives(): void {
    this.#suspended = true;
  }

  #scheduleKeepAlive(): void {
    this.#etcd.scheduler.at(Math.floor(this.#ttlMs / 3), () => {
      if (this.#closed || this.#lost || this.#client.closed || this.#suspended) return;
      const sentMs = this.#etcd.scheduler.monotonicNowMs();
      this.#client
        .rpc(() => this.#etcd.keepAlive(this.#leaseId))
        .then(
          (alive) => {
            // A keepalive answered after the session was lost does not revive it.
            if (this.#lost || this.#closed) return;
            if (alive) this.#deadlineMs = Math.max(this.#deadlineMs, sentMs + this.#ttlMs);
            else this.#lose();
          },
          () => undefined, // unreachable: the deadline stays where it is
        );
      this.#scheduleKeepAlive();
    });
  }

  #lose(): void {
    if (this.#lost || this.#closed) return;
    this.#lost = true;
    for (const callback of this.#onLost) callback();
  }

  publish(info: NodeInfo): Promise<void> {
    if (this.#lost || this.#closed) {
      return Promise.reject(new TxgridError(ErrorCode.UNAVAILABLE, "the session is lost"));
    }
    return this.#client
      .rpc(() => this.#etcd.putNode(info, this.#leaseId))
      .then((ok) => {
        if (!ok) throw new TxgridError(ErrorCode.UNAVAILABLE, "lease gone");
      });
  }

  onLost(callback: () => void): void {
    this.#onLost.push(callback);
  }

  close(): Promise<void> {
    // As the etcd session: no time is left at once, and closing is not a loss (no onLost).
    this.#closed = true;
    this.#deadlineMs = Math.min(this.#deadlineMs, this.#etcd.scheduler.monotonicNowMs());
    return this.#client.rpc(() => this.#etcd.revoke(this.#leaseId));
  }
}
