// A coordinator with etcd's semantics on the simulator's clock, for seeded tests: leases with
// a TTL, one revision counter for every write, compare-and-swap on the role key's mod
// revision, watches that deliver every change (and the current value first), node keys that
// vanish when their lease expires. Each node talks to it through its own client, which can
// be cut off (a partition between that node and etcd): calls then fail after a timeout, watch
// events wait until the link heals (etcd resumes a watch from its revision), keepalives fail.
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
import { encodeRoleValue } from "../coord/index.ts";
import { ErrorCode, TxgridError } from "../stdx/index.ts";
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
}

const rpcDelayMs = 2;
const rpcTimeoutMs = 500;

export class FakeEtcd {
  readonly #scheduler: Scheduler;
  #revision = 0;
  #leaseIdNext = 1;
  readonly #leases = new Map<number, Lease>();
  readonly #nodes = new Map<string, NodeKey>();
  readonly #roles = new Map<number, ShardRole>();
  readonly #clients = new Set<FakeCoordinatorClient>();
  /** Every role value ever written, by epoch (the checker's record of who owned an epoch). */
  readonly rolesByEpoch = new Map<number, ShardRole[]>();

  constructor(scheduler: Scheduler) {
    this.#scheduler = scheduler;
  }

  get scheduler(): Scheduler {
    return this.#scheduler;
  }

  client(nodeId: string): FakeCoordinatorClient {
    const client = new FakeCoordinatorClient(this, nodeId);
    this.#clients.add(client);
    return client;
  }

  role(shardId: number): ShardRole | null {
    return this.#roles.get(shardId) ?? null;
  }

  liveNodes(): NodeInfo[] {
    this.#expire();
    return [...this.#nodes.values()]
      .map((key) => key.info)
      .sort((a, b) => (a.nodeId < b.nodeId ? -1 : 1));
  }

  // ---- server side (called when an RPC arrives) ----

  grant(ttlMs: number): Lease {
    const lease = { id: this.#leaseIdNext++, ttlMs, expiresAtMs: 0, revoked: false };
    lease.expiresAtMs = this.#scheduler.monotonicNowMs() + ttlMs;
    this.#leases.set(lease.id, lease);
    this.#scheduler.at(ttlMs, () => this.#expire());
    return lease;
  }

  /** Extends a live lease; false if it is gone (expired or revoked). */
  keepAlive(leaseId: number): boolean {
    this.#expire();
    const lease = this.#leases.get(leaseId);
    if (lease === undefined || lease.revoked) return false;
    lease.expiresAtMs = this.#scheduler.monotonicNowMs() + lease.ttlMs;
    this.#scheduler.at(lease.ttlMs, () => this.#expire());
    return true;
  }

  revoke(leaseId: number): void {
    const lease = this.#leases.get(leaseId);
    if (lease !== undefined) lease.revoked = true;
    this.#expire();
  }

  putNode(info: NodeInfo, leaseId: number): boolean {
    this.#expire();
    if (!this.#leases.has(leaseId)) return false;
    this.#revision++;
    this.#nodes.set(info.nodeId, { info, leaseId });
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

  #expire(): void {
    const nowMs = this.#scheduler.monotonicNowMs();
    let changed = false;
    for (const lease of [...this.#leases.values()]) {
      if (!lease.revoked && lease.expiresAtMs > nowMs) continue;
      this.#leases.delete(lease.id);
      for (const [nodeId, key] of this.#nodes) {
        if (key.leaseId !== lease.id) continue;
        this.#nodes.delete(nodeId);
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
    if (healed) {
      for (const watcher of this.#roleWatchers) this.#deliverRole(watcher);
      for (const callback of this.#nodeWatchers) this.#deliverNodes(callback);
    }
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
        const result = serve();
        scheduler.at(rpcDelayMs, () => {
          if (this.#closed) return;
          if (this.#connected) resolve(result);
          else reject(new TxgridError(ErrorCode.UNAVAILABLE, "etcd answer lost"));
        });
      });
    });
  }

  async join(info: NodeInfo, leaseTtlMs: number): Promise<NodeSession> {
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
    // The same record checks as EtcdCoordinator: a value etcd's implementation would refuse
    // must fail here too, or the simulator hides it.
    try {
      encodeRoleValue(shardId, next);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#rpc(() => this.#etcd.casRole(shardId, expectedRevision, next));
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
    if (!this.#connected || this.#closed) return; // delivered again when the link heals
    this.#etcd.scheduler.at(rpcDelayMs, () => {
      if (this.#roleWatchers.has(watcher) && this.#connected) {
        watcher.callback(this.#etcd.role(watcher.shardId));
      }
    });
  }

  #deliverNodes(callback: (nodes: readonly NodeInfo[]) => void): void {
    if (!this.#connected || this.#closed) return;
    this.#etcd.scheduler.at(rpcDelayMs, () => {
      if (this.#nodeWatchers.has(callback) && this.#connected) callback(this.#etcd.liveNodes());
    });
  }

  close(): Promise<void> {
    this.shutDown();
    return Promise.resolve();
  }
}

class FakeSession implements NodeSession {
  readonly nodeId: string;
  readonly #client: FakeCoordinatorClient;
  readonly #etcd: FakeEtcd;
  readonly #leaseId: number;
  readonly #ttlMs: number;
  #deadlineMs: number;
  #lost = false;
  #closed = false;
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
  }

  deadlineMs(): number {
    return this.#deadlineMs;
  }

  #scheduleKeepAlive(): void {
    this.#etcd.scheduler.at(Math.floor(this.#ttlMs / 3), () => {
      if (this.#closed || this.#lost || this.#client.closed) return;
      const sentMs = this.#etcd.scheduler.monotonicNowMs();
      this.#client
        .rpc(() => this.#etcd.keepAlive(this.#leaseId))
        .then(
          (alive) => {
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
    this.#closed = true;
    return this.#client.rpc(() => this.#etcd.revoke(this.#leaseId));
  }
}
