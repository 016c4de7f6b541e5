// One replica of a shard: the replication state machine. Pure: the log and engine (ReplicaLog),
// the network (ReplicaNetwork), time (Clock, Timers) and the coordinator (coord's contract)
// all come in through interfaces, so the simulator runs it unchanged (src/sim).
//
// Roles. A replica is a follower until a compare-and-swap on the shard's role record names it
// primary of an epoch (roles.ts decides who tries). Then it saves an epoch mark for the
// entries it will write, and only then accepts writes. It steps down when the role record
// names anyone else or a newer epoch, when a message of a newer epoch arrives, or when its
// lease is lost; it stops acknowledging at its LOCAL lease deadline without waiting for any
// event (NodeSession.deadlineMs).
//
// Primary. Every batch the shard appends is kept in memory (the retained tail) and shipped,
// tagged (epoch, lsn), to every standby that completed a handshake. A batch is answered
// (whenReplicated calls back) only when every replica of the epoch has acknowledged it,
// received or durable per the mode, and while the lease is valid. Membership changes are CAS writes
// of the same epoch: a replica that is gone or silent is removed (a subset keeps every
// acknowledged entry), a standby that holds every acknowledged entry is added (it counts for
// acknowledgements from the moment the write is sent, so later entries are on it too).
//
// Standby. It says hello (its log end and the epoch of its last entry) to the primary; the
// primary streams from there if the standby's log is a prefix of its own (same epoch at the
// same lsn, epochs.ts), or sends a snapshot when it is not or when the retained tail does not
// reach back far enough; a replica of the epoch is removed from it before it is reset, so a
// replica never loses an acknowledged entry. Entries are appended only in order and only
// after the standby checked it holds the entry before them (the epochPrev check), so a
// standby's log is always a prefix of its primary's. Received entries are acknowledged at
// once and again when durable. While a snapshot reset is being written the standby reports
// nothing (no hello, no ack): until it completes, the log's durable position is the old log's.
//
// Fencing. Every message carries the sender's epoch; a replica refuses messages of an epoch
// older than the newest it knows (and says so), and a primary that hears of a newer epoch
// steps down. At most one replica wins the CAS for an epoch, and it stops acknowledging at its
// lease deadline, before etcd can expire the lease and let a successor win the next epoch.
// docs/design/replication.md has the whole argument.

import {
  REPLICATION_ACK_TIMEOUT_MS,
  REPLICATION_ENTRIES_BYTES_MAX,
  REPLICATION_ENTRIES_MAX,
  REPLICATION_INFLIGHT_BYTES_MAX,
  REPLICATION_RETAINED_BYTES_MAX,
  REPLICATION_RETRANSMIT_MS,
  REPLICATION_SILENCE_HELLO_MS,
  REPLICATION_TICK_MS,
} from "../constants.ts";
import {
  type Coordinator,
  type NodeInfo,
  type NodeSession,
  type ShardRole,
  VACANT_PRIMARY_ID,
} from "../coord/index.ts";
import type { ShardReplication } from "../shard/index.ts";
import { assert, type Clock, ErrorCode, type Timers, TxgridError } from "../stdx/index.ts";
import { EpochHistory, type EpochMark } from "./epochs.ts";
import type { Entry, ReplicationMessage } from "./messages.ts";
import { decideRole } from "./roles.ts";

/** received: a standby has the entry in memory; durable: it has fdatasync'ed it. */
export type ReplicationMode = "received" | "durable";

/** The shard as replication sees it. */
export interface ReplicaLog {
  lsnLogged(): number;
  lsnDurable(): number;
  /** Logs and applies the primary's entry `lsn` (the next one); settles when done. */
  append(lsn: number, payload: Uint8Array): Promise<void>;
  /** Replaces the whole state by a primary's snapshot. */
  reset(lsn: number, body: Uint8Array): Promise<void>;
  /** The applied state, for a standby that needs a snapshot. */
  snapshot(): { readonly lsn: number; readonly body: Uint8Array };
  /** Lsn of the newest snapshot written: the log may no longer hold the entries up to it. */
  lsnSnapshot(): number;
  /** Makes the epoch marks durable (before any entry they cover is). */
  saveMarks(marks: readonly EpochMark[]): Promise<void>;
  /** This replica became primary: it logs timeouts (ticks) again. */
  promoted(): void;
}

export interface ReplicaNetwork {
  /** Best effort: a message may be lost, late, repeated; the protocol copes. */
  send(to: string, message: ReplicationMessage): void;
}

export type ReplicaEvent =
  | { readonly kind: "role"; readonly role: ShardRole | null }
  | { readonly kind: "promoted"; readonly epoch: number; readonly lsn: number }
  | { readonly kind: "stepped-down"; readonly epoch: number; readonly reason: string }
  | { readonly kind: "reset"; readonly lsn: number }
  | { readonly kind: "members"; readonly epoch: number; readonly replicaIds: readonly string[] }
  | { readonly kind: "error"; readonly context: string; readonly error: unknown };

export interface ReplicaOptions {
  readonly nodeId: string;
  readonly shardId: number;
  readonly replicaCount: number;
  readonly mode: ReplicationMode;
  readonly preferredPrimaryId: string | null;
  readonly force: boolean;
  readonly leaseTtlMs: number;
  readonly tcpAddress: string;
  readonly httpAddress: string;
  readonly clock: Clock;
  readonly timers: Timers;
  readonly coordinator: Coordinator;
  readonly network: ReplicaNetwork;
  /** The epoch marks saved in the data directory (empty for a new replica). */
  readonly marks: readonly EpochMark[];
  readonly onEvent?: (event: ReplicaEvent) => void;
}

interface RetainedEntry extends Entry {
  /** Bytes of retained payloads up to and including this one (since the replica started). */
  readonly bytesEnd: number;
}

type PeerState = "stream" | "needs-snapshot" | "snapshot-sent";

interface Peer {
  readonly id: string;
  readonly incarnation: number;
  state: PeerState;
  lsnReceived: number;
  lsnDurable: number;
  lsnSent: number;
  progressMs: number;
  /** Lsn of the snapshot sent to this handshake (-1: none). */
  snapshotLsn: number;
}

interface Waiter {
  readonly lsn: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

interface SyncTarget {
  readonly primaryId: string;
  readonly epoch: number;
  readonly incarnation: number;
  answered: boolean;
  helloMs: number;
  /** When the last message of this handshake came from the primary. */
  heardMs: number;
}

/**
 * Least time between two publications of this node's lsn. Every put wakes every node's node
 * watch (a range read each) and etcd, three processes on the cores that carry the writes;
 * at 200 ms that was ten etcd round trips a second per node under load. The published lsn
 * ranks failover candidates, and a dead primary's lease (at least one second) outlasts this,
 * so the final positions are published before a successor is chosen.
 */
const publishIntervalMs = 500;
/** Size of the slabs a primary packs small retained batches into (#copyPayload). */
const retainSlabBytes = 256 * 1024;

export class Replica implements ShardReplication {
  readonly #options: ReplicaOptions;
  readonly #clock: Clock;
  readonly #marks: EpochHistory;
  #log: ReplicaLog | null = null;
  #session: NodeSession | null = null;
  #joining = false;
  #stopped = false;
  #cancelTick: (() => void) | null = null;
  #unwatch: (() => void)[] = [];
  #role: ShardRole | null = null;
  #nodes: readonly NodeInfo[] = [];
  /** The newest epoch this replica has heard of: messages of older ones are refused. */
  #epochKnown = 0;
  #casInFlight = false;
  // As primary:
  #primaryEpoch = 0;
  #acting = false;
  #writable = false;
  #actingSinceMs = 0;
  readonly #peers = new Map<string, Peer>();
  #joiningIds: readonly string[] = [];
  /**
   * Adds whose compare-and-swap failed with an unknown outcome (a timeout: etcd may still
   * apply it late, e.g. after an outage). Such a joiner keeps counting for acknowledgements
   * until a role of this epoch newer than the CAS's expected revision shows the outcome;
   * otherwise entries acknowledged meanwhile could be missing on a replica that the late
   * write made a member, and that could take over (simulator seed 267, durable; 78, received).
   */
  #uncertainJoins: { readonly id: string; readonly expectedRevision: number }[] = [];
  #waiters: Waiter[] = [];
  /**
   * No entry after this one has been acknowledged to a client (by this primary, or, for the
   * entries its log held when it took over, by an earlier one). A standby that holds this
   * much as a member must (received or durable, per the mode) can join the epoch: entries
   * after it are answered only once it has them too. Waiting for it to reach the log end
   * instead took seconds under load (the end moves on while the standby catches up), and with
   * fsync=lazy on the standby its durable position is never the log end under load.
   */
  #lsnAcknowledged = 0;
  // The log as replication sees it (both roles):
  #lsnLast = 0;
  #retained: RetainedEntry[] = [];
  #retainedHead = 0;
  #retainedBytes = 0;
  #retainedBytesEnd = 0;
  #slab = new Uint8Array(0);
  #slabOffset = 0;
  // As standby:
  #incarnation = 0;
  #sync: SyncTarget | null = null;
  /** Every accepted entry is in the log (and every reset and marks save done) once it settles. */
  #chain: Promise<void> = Promise.resolve();
  /** The last marks save or reset: appends are handed to the log only after it. */
  #appendsAfter: Promise<void> = Promise.resolve();
  /** #appendsAfter has fulfilled: appends go to the log at once, without a hop through it. */
  #appendsReady = true;
  #ackMs = 0;
  #ackedDurable = -1;
  /**
   * Snapshot resets taken but not yet durably complete (log and marks). Meanwhile the log's
   * durable position is still the old log's, which says nothing about the snapshot's state:
   * the standby says neither hello nor ack, else the primary could count it durable (and add
   * it to the epoch) for entries a crash would lose. A failed reset leaves it silent: the
   * shard refuses everything after a storage failure until a restart.
   */
  #resetsPending = 0;
  #publishedLsn = -1;
  #publishMs = Number.NEGATIVE_INFINITY;

  constructor(options: ReplicaOptions) {
    assert(options.replicaCount >= 1, "a shard has at least one replica");
    this.#options = options;
    this.#clock = options.clock;
    this.#marks = new EpochHistory(options.marks);
  }

  /** Connects the shard's log (the shard is opened with this replica as its hook first). */
  attach(log: ReplicaLog): void {
    assert(this.#log === null, "attached once");
    this.#log = log;
    this.#lsnLast = log.lsnLogged();
    // Marks of entries that never reached the log (a primary that wrote nothing, a crash
    // before the entry) describe nothing.
    this.#marks.truncateAfter(this.#lsnLast);
  }

  /** Joins the coordinator and starts watching roles and nodes. */
  start(): void {
    assert(this.#log !== null, "attach before start");
    this.#unwatch.push(
      this.#options.coordinator.watchRole(this.#options.shardId, (role) => this.#onRole(role)),
    );
    this.#unwatch.push(this.#options.coordinator.watchNodes((nodes) => this.#onNodes(nodes)));
    this.#scheduleTick();
    this.#join();
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#cancelTick?.();
    for (const unwatch of this.#unwatch) unwatch();
    this.#stepDown("stopping", ErrorCode.SHUTTING_DOWN);
    const session = this.#session;
    this.#session = null;
    await session?.close().catch(() => undefined);
  }

  /** Drops every timer, watch and session without a word: the process died (simulator). */
  abandon(): void {
    this.#stopped = true;
    this.#cancelTick?.();
    for (const unwatch of this.#unwatch) unwatch();
    this.#session = null;
  }

  // ---- what the simulator, the node and status pages read ----

  get nodeId(): string {
    return this.#options.nodeId;
  }

  /** The epoch this replica is the writable primary of under a valid lease, or 0. */
  get primaryEpoch(): number {
    return this.#writable && this.#leaseValid() ? this.#primaryEpoch : 0;
  }

  get role(): ShardRole | null {
    return this.#role;
  }

  get marks(): readonly EpochMark[] {
    return this.#marks.marks;
  }

  /** The epoch of the entry at the end of this replica's log (0: empty or unknown). */
  get epochLast(): number {
    return this.#marks.epochAt(this.#lsnLast, this.#lsnLast) ?? 0;
  }

  get lsnLast(): number {
    return this.#lsnLast;
  }

  /** Address of the primary's binary face as published, or null when unknown. */
  primaryAddress(): { readonly tcpAddress: string; readonly httpAddress: string } | null {
    const primaryId = this.#role?.primaryId;
    const node = this.#nodes.find((candidate) => candidate.nodeId === primaryId);
    return node === undefined ? null : node;
  }

  /** Positions of the standbys as this primary knows them (for status pages). */
  peerPositions(): { id: string; lsnReceived: number; lsnDurable: number }[] {
    return [...this.#peers.values()].map((peer) => ({
      id: peer.id,
      lsnReceived: peer.lsnReceived,
      lsnDurable: peer.lsnDurable,
    }));
  }

  // ---- ShardReplication: the shard's hooks ----

  writeRefusal(): TxgridError | null {
    if (!this.#writable) {
      const primary = this.primaryAddress();
      // "primary at host:port, http://host:port": clients parse it (docs/design/replication.md).
      const http =
        primary === null || primary.httpAddress === "" ? "" : `, http://${primary.httpAddress}`;
      const where = primary === null ? "unknown" : `at ${primary.tcpAddress}${http}`;
      return new TxgridError(
        ErrorCode.NOT_PRIMARY,
        `node ${this.#options.nodeId} is not the primary of shard ${this.#options.shardId}; ` +
          `primary ${where}`,
      );
    }
    if (!this.#leaseValid()) {
      return new TxgridError(ErrorCode.UNAVAILABLE, "the primary's lease expired; retry later");
    }
    return null;
  }

  appended(lsn: number, payload: Uint8Array): void {
    assert(this.#writable, "only a writable primary appends");
    assert(lsn === this.#lsnLast + 1, "appends follow the log");
    this.#lsnLast = lsn;
    this.#retain({ lsn, epoch: this.#primaryEpoch, payload: this.#copyPayload(payload) });
    for (const peer of this.#peers.values()) this.#pump(peer);
  }

  whenReplicated(lsn: number, resolve: () => void, reject: (error: unknown) => void): void {
    if (!this.#acting) {
      const error = this.#unknownOutcome("the primary stepped down");
      queueMicrotask(() => reject(error));
      return;
    }
    assert(this.#waiters.length === 0 || (this.#waiters.at(-1) as Waiter).lsn < lsn, "order");
    this.#waiters.push({ lsn, resolve, reject });
    // Never answered during the call (the contract): an entry already on every replica, as
    // with no standby in the epoch, is answered a microtask later.
    if (this.#everyReplicaHas(lsn)) queueMicrotask(() => this.#advance());
  }

  /** whenReplicated as a promise (tests, tools). */
  replicated(lsn: number): Promise<void> {
    return new Promise((resolve, reject) => this.whenReplicated(lsn, resolve, reject));
  }

  // ---- the network ----

  receive(message: ReplicationMessage): void {
    if (this.#stopped || this.#log === null) return;
    if (message.epoch < this.#epochKnown) {
      // Fencing: a deposed primary (or a standby of its epoch) learns it is behind.
      if (message.kind === "entries" || message.kind === "snapshot" || message.kind === "hello") {
        this.#send(message.from, {
          kind: "refuse",
          from: this.#options.nodeId,
          epoch: this.#epochKnown,
          incarnation: 0,
        });
      }
      return;
    }
    if (message.epoch > this.#epochKnown) this.#learnEpoch(message.epoch);
    switch (message.kind) {
      case "hello":
        this.#onHello(message);
        return;
      case "ack":
        this.#onAck(message);
        return;
      case "entries":
        this.#onEntries(message);
        return;
      case "snapshot":
        this.#onSnapshot(message);
        return;
      case "refuse":
        return;
    }
  }

  // ---- coordinator ----

  #join(): void {
    if (this.#stopped || this.#joining || this.#session !== null) return;
    this.#joining = true;
    this.#options.coordinator
      .join(this.#nodeInfo(), this.#options.leaseTtlMs)
      .then(
        (session) => {
          if (this.#stopped) {
            void session.close().catch(() => undefined);
            return;
          }
          this.#session = session;
          this.#publishedLsn = this.#lsnLast;
          this.#publishMs = this.#clock.monotonicNowMs();
          session.onLost(() => {
            if (this.#session !== session) return;
            this.#session = null;
            this.#stepDown("the lease was lost", ErrorCode.UNAVAILABLE);
          });
          this.#evaluate();
        },
        (error: unknown) => this.#event({ kind: "error", context: "join", error }),
      )
      .finally(() => {
        this.#joining = false;
      });
  }

  #nodeInfo(): NodeInfo {
    return {
      nodeId: this.#options.nodeId,
      tcpAddress: this.#options.tcpAddress,
      httpAddress: this.#options.httpAddress,
      shardLsns: { [String(this.#options.shardId)]: this.#lsnLast },
    };
  }

  #leaseValid(): boolean {
    const session = this.#session;
    return session !== null && this.#clock.monotonicNowMs() < session.deadlineMs();
  }

  #onRole(role: ShardRole | null): void {
    if (this.#stopped) return;
    if (role === null) {
      if (this.#role !== null) return; // a role record is never deleted; ignore a stale view
    } else {
      if (this.#role !== null && role.revision <= this.#role.revision) return;
      if (role.epoch > this.#epochKnown) this.#learnEpoch(role.epoch);
    }
    this.#role = role;
    this.#event({ kind: "role", role });
    if (role !== null && this.#acting) {
      if (role.primaryId !== this.#options.nodeId || role.epoch !== this.#primaryEpoch) {
        this.#stepDown(`epoch ${role.epoch} belongs to ${role.primaryId}`, ErrorCode.NOT_PRIMARY);
      } else {
        this.#joiningIds = this.#joiningIds.filter((id) => !role.replicaIds.includes(id));
        this.#uncertainJoins = this.#uncertainJoins.filter(
          (join) => !role.replicaIds.includes(join.id) && role.revision <= join.expectedRevision,
        );
        this.#advance();
      }
    }
    this.#followRole();
    this.#evaluate();
  }

  #onNodes(nodes: readonly NodeInfo[]): void {
    if (this.#stopped) return;
    this.#nodes = nodes;
    this.#evaluate();
  }

  #learnEpoch(epoch: number): void {
    this.#epochKnown = epoch;
    if (this.#acting && epoch > this.#primaryEpoch) {
      this.#stepDown(`epoch ${epoch} exists`, ErrorCode.NOT_PRIMARY);
    }
  }

  /** Runs the role decision (cold start, failover) and the primary's membership changes. */
  #evaluate(): void {
    if (this.#stopped || this.#casInFlight || this.#session === null || this.#log === null) return;
    if (!this.#leaseValid()) return;
    if (this.#writable) {
      this.#manageMembers();
      return;
    }
    if (this.#acting) return; // promotion under way
    const decision = decideRole({
      shardId: this.#options.shardId,
      selfId: this.#options.nodeId,
      replicaCount: this.#options.replicaCount,
      preferredPrimaryId: this.#options.preferredPrimaryId,
      force: this.#options.force,
      role: this.#role,
      nodes: this.#nodes,
      selfLsn: this.#lsnLast,
      selfActing: false,
    });
    if (decision.kind === "wait") return;
    this.#casInFlight = true;
    const coordinator = this.#options.coordinator;
    coordinator
      .compareAndSetRole(this.#options.shardId, decision.expectedRevision, decision.next)
      .then(
        (role) => {
          this.#casInFlight = false;
          if (role === null) return this.#refreshRole();
          if (role.primaryId === this.#options.nodeId) this.#promote(role);
          this.#onRole(role);
        },
        (error: unknown) => {
          this.#casInFlight = false;
          this.#event({ kind: "error", context: "claim", error });
        },
      );
  }

  #refreshRole(): void {
    this.#options.coordinator.readRole(this.#options.shardId).then(
      (role) => this.#onRole(role),
      (error: unknown) => this.#event({ kind: "error", context: "read role", error }),
    );
  }

  // ---- primary ----

  #promote(role: ShardRole): void {
    if (this.#stopped || !this.#leaseValid()) return;
    const log = this.#log as ReplicaLog;
    this.#acting = true;
    this.#writable = false;
    this.#primaryEpoch = role.epoch;
    this.#actingSinceMs = this.#clock.monotonicNowMs();
    this.#peers.clear();
    this.#joiningIds = [];
    this.#uncertainJoins = [];
    this.#sync = null;
    this.#lsnAcknowledged = this.#lsnLast;
    const epoch = role.epoch;
    // Entries still on their way into the local log are part of it; the new epoch starts
    // after them, and its mark is durable before any of its entries can be.
    this.#chain = this.#chain
      .then(async () => {
        if (!this.#acting || this.#primaryEpoch !== epoch) return;
        assert(log.lsnLogged() === this.#lsnLast, "the log holds every accepted entry");
        if (this.#marks.begin(epoch, this.#lsnLast + 1)) await log.saveMarks(this.#marks.marks);
        if (!this.#acting || this.#primaryEpoch !== epoch || this.#stopped) return;
        this.#writable = true;
        this.#event({ kind: "promoted", epoch, lsn: this.#lsnLast });
        log.promoted();
      })
      .catch((error: unknown) => {
        this.#event({ kind: "error", context: "promote", error });
        this.#stepDown("the epoch mark could not be saved", ErrorCode.STORAGE);
      });
    this.#holdAppends(this.#chain);
  }

  #stepDown(reason: string, code: ErrorCode): void {
    if (!this.#acting) return;
    const epoch = this.#primaryEpoch;
    this.#acting = false;
    this.#writable = false;
    this.#peers.clear();
    this.#joiningIds = [];
    this.#uncertainJoins = [];
    const error = this.#unknownOutcome(`the primary stepped down: ${reason}`, code);
    for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
    this.#event({ kind: "stepped-down", epoch, reason });
    this.#followRole();
  }

  #unknownOutcome(reason: string, code: ErrorCode = ErrorCode.UNAVAILABLE): TxgridError {
    return new TxgridError(
      code === ErrorCode.NOT_PRIMARY ? ErrorCode.UNAVAILABLE : code,
      `${reason}; the write may or may not be applied: retry it with the same id`,
    );
  }

  #onHello(hello: Extract<ReplicationMessage, { kind: "hello" }>): void {
    if (!this.#writable || hello.epoch !== this.#primaryEpoch) return;
    const existing = this.#peers.get(hello.from);
    if (existing !== undefined && existing.incarnation === hello.incarnation) {
      if (existing.state === "stream") {
        existing.lsnSent = Math.min(existing.lsnSent, existing.lsnReceived);
        this.#pump(existing, true);
        return;
      }
      // A repeated hello after a snapshot: it was lost (resend after a while) or is on its way.
      const sinceMs = this.#clock.monotonicNowMs() - existing.progressMs;
      if (existing.state === "snapshot-sent" && sinceMs < REPLICATION_RETRANSMIT_MS) return;
    }
    const log = this.#log as ReplicaLog;
    const peer: Peer = {
      id: hello.from,
      incarnation: hello.incarnation,
      state: "stream",
      lsnReceived: hello.lsnLast,
      lsnDurable: Math.min(hello.lsnDurable, hello.lsnLast),
      lsnSent: hello.lsnLast,
      progressMs: this.#clock.monotonicNowMs(),
      snapshotLsn: -1,
    };
    this.#peers.set(hello.from, peer);
    const mine = this.#marks.epochAt(hello.lsnLast, this.#lsnLast);
    const prefix = mine !== null && mine === hello.epochLast;
    // Streaming serves what the log still holds: entries after the newest snapshot (and in
    // the retained tail). A standby further behind gets a snapshot plus the log after it.
    // A standby that was just reset to our snapshot streams on even if a newer snapshot was
    // written meanwhile (else a short snapshot interval could reset it again and again).
    const resetToOurs = existing !== undefined && existing.snapshotLsn === hello.lsnLast;
    const reachable =
      hello.lsnLast === this.#lsnLast ||
      (this.#retainedIndex(hello.lsnLast + 1) >= 0 &&
        (hello.lsnLast >= log.lsnSnapshot() || resetToOurs));
    if (prefix && reachable) {
      this.#pump(peer, true);
      return;
    }
    if (this.#role?.replicaIds.includes(hello.from) === true) {
      // A replica of the epoch must never lose an acknowledged entry: it leaves the epoch
      // before it is reset (#manageMembers), and says hello again.
      peer.state = "needs-snapshot";
      this.#evaluate();
      return;
    }
    const snapshot = log.snapshot();
    peer.state = "snapshot-sent";
    peer.snapshotLsn = snapshot.lsn;
    this.#send(peer.id, {
      kind: "snapshot",
      from: this.#options.nodeId,
      epoch: this.#primaryEpoch,
      incarnation: peer.incarnation,
      lsn: snapshot.lsn,
      marks: this.#marks.through(snapshot.lsn),
      body: snapshot.body,
    });
  }

  #onAck(ack: Extract<ReplicationMessage, { kind: "ack" }>): void {
    if (!this.#acting || ack.epoch !== this.#primaryEpoch) return;
    const peer = this.#peers.get(ack.from);
    if (peer === undefined || peer.incarnation !== ack.incarnation || peer.state !== "stream") {
      return;
    }
    if (ack.lsnReceived > this.#lsnLast || ack.lsnDurable > ack.lsnReceived) return;
    // Acks may arrive out of order; within one incarnation a standby's log only grows.
    if (ack.lsnReceived > peer.lsnReceived || ack.lsnDurable > peer.lsnDurable) {
      peer.progressMs = this.#clock.monotonicNowMs();
    }
    peer.lsnReceived = Math.max(peer.lsnReceived, ack.lsnReceived);
    peer.lsnDurable = Math.max(peer.lsnDurable, ack.lsnDurable);
    peer.lsnSent = Math.max(peer.lsnSent, peer.lsnReceived);
    this.#advance();
    this.#pump(peer);
    // A standby outside the epoch may now be ready to join; removals of silent members and
    // anything else wait for the tick (their timeouts are far longer than it).
    if (this.#role?.replicaIds.includes(peer.id) !== true) this.#manageMembers();
  }

  #peerLsn(peer: Peer): number {
    return this.#options.mode === "durable" ? peer.lsnDurable : peer.lsnReceived;
  }

  /** Whether every replica of the epoch (and every one being added) has the entry. */
  #everyReplicaHas(lsn: number): boolean {
    const role = this.#role;
    if (role === null) return false;
    // Runs on every ack: no arrays built here.
    for (const id of role.replicaIds) if (!this.#replicaHas(id, lsn)) return false;
    for (const id of this.#joiningIds) if (!this.#replicaHas(id, lsn)) return false;
    for (const join of this.#uncertainJoins) if (!this.#replicaHas(join.id, lsn)) return false;
    return true;
  }

  #replicaHas(id: string, lsn: number): boolean {
    if (id === this.#options.nodeId) return true;
    const peer = this.#peers.get(id);
    return peer !== undefined && peer.state === "stream" && this.#peerLsn(peer) >= lsn;
  }

  /** Answers the waiting batches that every replica has, in order, under a valid lease. */
  #advance(): void {
    if (!this.#acting || !this.#leaseValid()) return;
    while (this.#waiters.length > 0) {
      const waiter = this.#waiters[0] as Waiter;
      if (!this.#everyReplicaHas(waiter.lsn)) return;
      this.#waiters.shift();
      this.#lsnAcknowledged = waiter.lsn;
      waiter.resolve();
    }
  }

  #retain(entry: Entry): void {
    this.#retainedBytesEnd += entry.payload.length;
    // A literal of one shape: an object spread here cost microseconds per batch.
    this.#retained.push({
      lsn: entry.lsn,
      epoch: entry.epoch,
      payload: entry.payload,
      bytesEnd: this.#retainedBytesEnd,
    });
    this.#retainedBytes += entry.payload.length;
    while (this.#retainedBytes > REPLICATION_RETAINED_BYTES_MAX && this.#retainedLength() > 1) {
      const oldest = this.#retained[this.#retainedHead] as RetainedEntry;
      this.#retainedBytes -= oldest.payload.length;
      this.#retainedHead++;
    }
    if (this.#retainedHead >= 1024 && this.#retainedHead * 2 >= this.#retained.length) {
      this.#retained = this.#retained.slice(this.#retainedHead);
      this.#retainedHead = 0;
    }
  }

  /**
   * A copy of a batch's bytes that outlives the shard's encoder buffer. Small batches are
   * packed into shared slabs: one ArrayBuffer per batch (slice()) cost more than the copy.
   * A slab stays alive while any retained batch in it does.
   */
  #copyPayload(payload: Uint8Array): Uint8Array {
    if (payload.length > retainSlabBytes / 4) return payload.slice();
    if (this.#slabOffset + payload.length > this.#slab.length) {
      this.#slab = new Uint8Array(retainSlabBytes);
      this.#slabOffset = 0;
    }
    const start = this.#slabOffset;
    this.#slab.set(payload, start);
    this.#slabOffset = start + payload.length;
    return this.#slab.subarray(start, this.#slabOffset);
  }

  #retainedLength(): number {
    return this.#retained.length - this.#retainedHead;
  }

  #clearRetained(): void {
    this.#retained = [];
    this.#retainedHead = 0;
    this.#retainedBytes = 0;
  }

  /** Index in #retained of the entry at `lsn`, or -1 when it is not retained. */
  #retainedIndex(lsn: number): number {
    const first = this.#retained[this.#retainedHead];
    if (first === undefined) return -1;
    const index = this.#retainedHead + (lsn - first.lsn);
    return index >= this.#retainedHead && index < this.#retained.length ? index : -1;
  }

  #bytesEndAt(lsn: number): number {
    const index = this.#retainedIndex(lsn);
    if (index >= 0) return (this.#retained[index] as RetainedEntry).bytesEnd;
    return 0;
  }

  /** Sends the peer what it lacks, within the in-flight limit; `answer` sends even nothing. */
  #pump(peer: Peer, answer = false): void {
    if (!this.#writable || peer.state !== "stream") return;
    let sent = false;
    while (peer.lsnSent < this.#lsnLast) {
      const inflightBytes = this.#bytesEndAt(peer.lsnSent) - this.#bytesEndAt(peer.lsnReceived);
      if (peer.lsnSent > peer.lsnReceived && inflightBytes >= REPLICATION_INFLIGHT_BYTES_MAX) break;
      let index = this.#retainedIndex(peer.lsnSent + 1);
      if (index < 0) {
        peer.state = "needs-snapshot";
        if (this.#role?.replicaIds.includes(peer.id) !== true) this.#peers.delete(peer.id);
        return;
      }
      const entries: Entry[] = [];
      let bytes = 0;
      while (index < this.#retained.length && entries.length < REPLICATION_ENTRIES_MAX) {
        const entry = this.#retained[index] as RetainedEntry;
        if (entries.length > 0 && bytes + entry.payload.length > REPLICATION_ENTRIES_BYTES_MAX) {
          break;
        }
        entries.push({ lsn: entry.lsn, epoch: entry.epoch, payload: entry.payload });
        bytes += entry.payload.length;
        index++;
      }
      this.#sendEntries(peer, entries);
      peer.lsnSent = (entries.at(-1) as Entry).lsn;
      sent = true;
    }
    if (answer && !sent) this.#sendEntries(peer, []);
  }

  #sendEntries(peer: Peer, entries: readonly Entry[]): void {
    const lsnFirst = peer.lsnSent + 1;
    this.#send(peer.id, {
      kind: "entries",
      from: this.#options.nodeId,
      epoch: this.#primaryEpoch,
      incarnation: peer.incarnation,
      epochPrev: this.#marks.epochAt(lsnFirst - 1, this.#lsnLast) ?? 0,
      lsnFirst,
      entries,
    });
  }

  /** One membership change at a time: drop replicas that are gone, add caught-up ones. */
  #manageMembers(): void {
    const role = this.#role;
    if (!this.#writable || this.#casInFlight || role === null || !this.#leaseValid()) return;
    const selfId = this.#options.nodeId;
    const nowMs = this.#clock.monotonicNowMs();
    const live = new Set(this.#nodes.map((node) => node.nodeId));
    const gone = role.replicaIds.filter((id) => {
      if (id === selfId) return false;
      if (!live.has(id)) return true;
      const peer = this.#peers.get(id);
      if (peer?.state === "needs-snapshot") return true;
      const sinceMs = peer?.progressMs ?? this.#actingSinceMs;
      const behind = peer === undefined || this.#peerLsn(peer) < this.#lsnLast;
      return behind && nowMs - sinceMs > REPLICATION_ACK_TIMEOUT_MS;
    });
    let next: string[] | null = null;
    let joining: string[] = [];
    if (this.#uncertainJoins.length > 0) {
      // Settle the unknown outcome first: the same add again (or, once the joiner is gone,
      // the same members again) moves the revision, so the late write can no longer land.
      const id = (this.#uncertainJoins[0] as { id: string }).id;
      next = live.has(id) ? [...new Set([...role.replicaIds, id])].sort() : [...role.replicaIds];
      joining = live.has(id) ? [id] : [];
    } else if (gone.length > 0) {
      next = role.replicaIds.filter((id) => !gone.includes(id));
    } else if (role.replicaIds.length < this.#options.replicaCount) {
      const ready = [...this.#peers.values()].find(
        (peer) =>
          peer.state === "stream" &&
          !role.replicaIds.includes(peer.id) &&
          live.has(peer.id) &&
          this.#peerLsn(peer) >= this.#lsnAcknowledged,
      );
      if (ready !== undefined) {
        next = [...role.replicaIds, ready.id].sort();
        joining = [ready.id];
      }
    }
    if (next === null) return;
    this.#casInFlight = true;
    this.#joiningIds = joining;
    const epoch = this.#primaryEpoch;
    this.#options.coordinator
      .compareAndSetRole(this.#options.shardId, role.revision, {
        shardId: role.shardId,
        epoch,
        primaryId: selfId,
        replicaIds: next,
      })
      .then(
        (written) => {
          this.#casInFlight = false;
          this.#joiningIds = [];
          if (written === null) return this.#refreshRole();
          this.#event({ kind: "members", epoch, replicaIds: written.replicaIds });
          this.#onRole(written);
        },
        (error: unknown) => {
          this.#casInFlight = false;
          for (const id of this.#joiningIds) {
            this.#uncertainJoins.push({ id, expectedRevision: role.revision });
          }
          this.#joiningIds = [];
          this.#event({ kind: "error", context: "membership", error });
        },
      );
  }

  // ---- standby ----

  /** Starts (or restarts) the handshake with the role's primary when it changed. */
  #followRole(): void {
    const role = this.#role;
    if (this.#acting || role === null) return;
    if (role.primaryId === VACANT_PRIMARY_ID || role.primaryId === this.#options.nodeId) return;
    const sync = this.#sync;
    if (sync !== null && sync.primaryId === role.primaryId && sync.epoch >= role.epoch) return;
    this.#syncWith(role.primaryId, role.epoch);
  }

  #syncWith(primaryId: string, epoch: number): void {
    this.#incarnation++;
    this.#sync = {
      primaryId,
      epoch,
      incarnation: this.#incarnation,
      answered: false,
      helloMs: 0,
      heardMs: 0,
    };
    this.#sendHello();
  }

  #sendHello(): void {
    const sync = this.#sync;
    if (sync === null || this.#resetsPending > 0) return;
    sync.helloMs = this.#clock.monotonicNowMs();
    this.#send(sync.primaryId, {
      kind: "hello",
      from: this.#options.nodeId,
      epoch: sync.epoch,
      incarnation: sync.incarnation,
      lsnLast: this.#lsnLast,
      lsnDurable: Math.min((this.#log as ReplicaLog).lsnDurable(), this.#lsnLast),
      epochLast: this.epochLast,
    });
  }

  /** Whether a message of the primary is for the current handshake. */
  #current(message: { from: string; epoch: number; incarnation: number }): SyncTarget | null {
    if (this.#acting) return null;
    let sync = this.#sync;
    if (sync === null || sync.epoch < message.epoch) {
      // A newer primary than the watch has shown yet: a CAS made it so; follow it.
      this.#syncWith(message.from, message.epoch);
      return null;
    }
    sync = this.#sync as SyncTarget;
    if (sync.primaryId !== message.from || sync.incarnation !== message.incarnation) return null;
    if (sync.epoch !== message.epoch) return null;
    sync.answered = true;
    sync.heardMs = this.#clock.monotonicNowMs();
    return sync;
  }

  #onEntries(message: Extract<ReplicationMessage, { kind: "entries" }>): void {
    if (this.#current(message) === null) return;
    let epochPrev = message.epochPrev;
    let lsnPrev = message.lsnFirst - 1;
    const group: Entry[] = [];
    for (const entry of message.entries) {
      if (!this.#takeEntry(entry, lsnPrev, epochPrev, group)) break;
      epochPrev = entry.epoch;
      lsnPrev = entry.lsn;
    }
    // The ack goes before the log work: under `received` it is all the primary waits for.
    this.#sendAck();
    this.#appendGroup(group);
  }

  /** Takes one entry of a consecutive run; false stops the run (a gap or a mismatch). */
  #takeEntry(entry: Entry, lsnPrev: number, epochPrev: number, group: Entry[]): boolean {
    if (entry.lsn !== lsnPrev + 1) {
      this.#resync(); // malformed: not consecutive
      return false;
    }
    if (entry.lsn <= this.#lsnLast) {
      // A repeat: fine if it is the very entry this log holds there.
      if (this.#marks.epochAt(entry.lsn, this.#lsnLast) === entry.epoch) return true;
      this.#resync();
      return false;
    }
    if (entry.lsn > this.#lsnLast + 1) return false; // a gap: retransmits fill it
    if (this.#marks.epochAt(this.#lsnLast, this.#lsnLast) !== epochPrev) {
      this.#resync(); // this log is not a prefix of the primary's: handshake again
      return false;
    }
    this.#accept(entry, group);
    return true;
  }

  /** Takes the entry into memory and into `group`, the run that is appended to the log next. */
  #accept(entry: Entry, group: Entry[]): void {
    const log = this.#log as ReplicaLog;
    this.#lsnLast = entry.lsn;
    this.#retain(entry);
    if (this.#marks.begin(entry.epoch, entry.lsn)) {
      // The entries before the new epoch go first; the mark is durable before any entry of
      // its epoch is handed to the log.
      this.#appendGroup(group.splice(0));
      const marks = [...this.#marks.marks];
      // Not saved: no entry of the epoch is appended (each reports the failure).
      const saved = this.#chain.then(() => log.saveMarks(marks));
      this.#holdAppends(saved);
      this.#chain = saved.catch((error: unknown) =>
        this.#event({ kind: "error", context: "epoch marks", error }),
      );
    }
    group.push(entry);
  }

  /**
   * Hands a run of entries to the log in one step, so that the shard logs them with one write
   * (and one flush), and acks once they made the durable position move. Appends do not wait
   * for earlier appends (the shard takes them in call order and groups whatever is queued),
   * only for the last marks save or reset (#appendsAfter); #chain still settles after all.
   */
  #appendGroup(group: readonly Entry[]): void {
    if (group.length === 0) return;
    const log = this.#log as ReplicaLog;
    const handOver = (): Promise<unknown> =>
      group.length === 1
        ? log.append((group[0] as Entry).lsn, (group[0] as Entry).payload)
        : Promise.all(group.map((entry) => log.append(entry.lsn, entry.payload)));
    // With no marks save or reset pending (nearly always), the entries go to the log in this
    // very call: the shard logs them right after it (a microtask), in the ack's turn.
    const appended = (this.#appendsReady ? handOver() : this.#appendsAfter.then(handOver)).then(
      () => this.#ackDurable(),
      (error: unknown) => this.#event({ kind: "error", context: "append", error }),
    );
    // Neither ever rejects, so this settles once both did, as a Promise.all of them would.
    this.#chain = this.#chain.then(() => appended);
  }

  /** Later appends wait for `after` (a marks save or a reset), and are skipped if it fails. */
  #holdAppends(after: Promise<void>): void {
    this.#appendsAfter = after;
    this.#appendsReady = false;
    after.then(
      () => {
        if (this.#appendsAfter === after) this.#appendsReady = true;
      },
      () => undefined,
    );
  }

  /**
   * An ack after log work only when it reports something new: the durable position moved.
   * With fsync=lazy on the standby it does not (the flush comes later and the tick reports
   * it), and a second ack per batch, identical to the first, cost both nodes a system call.
   */
  #ackDurable(): void {
    const lsnDurable = Math.min((this.#log as ReplicaLog).lsnDurable(), this.#lsnLast);
    if (lsnDurable > this.#ackedDurable) this.#sendAck();
  }

  #onSnapshot(message: Extract<ReplicationMessage, { kind: "snapshot" }>): void {
    if (this.#current(message) === null) return;
    const log = this.#log as ReplicaLog;
    const sync = this.#sync as SyncTarget;
    // Everything sent for the old handshake is void from here on.
    this.#incarnation++;
    this.#sync = { ...sync, incarnation: this.#incarnation, answered: false, helloMs: 0 };
    this.#lsnLast = message.lsn;
    this.#marks.replace(message.marks);
    this.#clearRetained();
    const marks = [...message.marks];
    // Silent until the new snapshot and its marks are durable (#resetsPending).
    this.#resetsPending++;
    this.#chain = this.#chain
      .then(() => log.reset(message.lsn, message.body))
      .then(() => log.saveMarks(marks))
      .then(
        () => {
          this.#resetsPending--;
          this.#event({ kind: "reset", lsn: message.lsn });
          this.#sendHello();
        },
        (error: unknown) => this.#event({ kind: "error", context: "reset", error }),
      );
    this.#holdAppends(this.#chain);
  }

  #resync(): void {
    const sync = this.#sync;
    if (sync === null) return;
    this.#syncWith(sync.primaryId, sync.epoch);
  }

  #sendAck(): void {
    const sync = this.#sync;
    if (sync === null || this.#acting || !sync.answered || this.#resetsPending > 0) return;
    const lsnDurable = Math.min((this.#log as ReplicaLog).lsnDurable(), this.#lsnLast);
    this.#ackMs = this.#clock.monotonicNowMs();
    this.#ackedDurable = lsnDurable;
    this.#send(sync.primaryId, {
      kind: "ack",
      from: this.#options.nodeId,
      epoch: sync.epoch,
      incarnation: sync.incarnation,
      lsnReceived: this.#lsnLast,
      lsnDurable,
    });
  }

  // ---- time ----

  #scheduleTick(): void {
    this.#cancelTick = this.#options.timers.after(REPLICATION_TICK_MS, () => {
      this.#cancelTick = null;
      if (this.#stopped) return;
      this.#tick();
      this.#scheduleTick();
    });
  }

  #tick(): void {
    const nowMs = this.#clock.monotonicNowMs();
    if (this.#session === null) this.#join();
    if (this.#acting && !this.#leaseValid() && this.#waiters.length > 0) {
      // The local deadline passed: nothing more is acknowledged under this lease.
      const error = this.#unknownOutcome("the primary's lease deadline passed");
      for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
    }
    if (this.#writable) {
      for (const peer of this.#peers.values()) {
        const stalled = nowMs - peer.progressMs >= REPLICATION_RETRANSMIT_MS;
        if (peer.state === "stream" && peer.lsnSent > peer.lsnReceived && stalled) {
          peer.lsnSent = peer.lsnReceived; // go back: something was lost on the way
          peer.progressMs = nowMs;
          this.#pump(peer);
        }
      }
    }
    const sync = this.#sync;
    if (sync !== null && !this.#acting) {
      if (!sync.answered && nowMs - sync.helloMs >= REPLICATION_RETRANSMIT_MS) this.#sendHello();
      // A stale hello of an older handshake (late, or duplicated) makes the primary start over
      // with it: it then ignores this handshake's acks and sends nothing this standby takes,
      // until the standby says hello again (simulator seed 10). An idle primary answers the
      // hello with an empty entries message, so this costs one exchange per interval at most.
      const silentMs = nowMs - Math.max(sync.heardMs, sync.helloMs);
      if (sync.answered && silentMs >= REPLICATION_SILENCE_HELLO_MS) this.#sendHello();
      const durable = Math.min((this.#log as ReplicaLog).lsnDurable(), this.#lsnLast);
      if (durable !== this.#ackedDurable || nowMs - this.#ackMs >= REPLICATION_RETRANSMIT_MS) {
        this.#sendAck();
      }
    }
    this.#publish(nowMs);
    this.#evaluate();
  }

  /**
   * Publishes this node's NodeInfo when its lsn changed, and also whenever the live set does
   * not show it although its lease is valid. That happens: a put under an older lease of this
   * node (a join or publish it gave up on, served late by a slow or paused etcd) can land after
   * the current session's put, and the older lease's expiry then deletes the key. Peers cannot
   * address a node missing from the live set and a primary drops it from the epoch, so such a
   * standby would receive nothing, its lsn would never change and it would stay invisible
   * and stale for good (simulator seed 3 with etcd outages; the fault test's etcd pause).
   */
  #publish(nowMs: number): void {
    const session = this.#session;
    if (session === null) return;
    const visible = this.#nodes.some((node) => node.nodeId === this.#options.nodeId);
    if (this.#publishedLsn === this.#lsnLast && visible) return;
    if (nowMs - this.#publishMs < publishIntervalMs) return;
    this.#publishedLsn = this.#lsnLast;
    this.#publishMs = nowMs;
    session.publish(this.#nodeInfo()).catch((error: unknown) => {
      this.#publishedLsn = -1;
      this.#event({ kind: "error", context: "publish", error });
    });
  }

  #send(to: string, message: ReplicationMessage): void {
    if (to === this.#options.nodeId) return;
    this.#options.network.send(to, message);
  }

  #event(event: ReplicaEvent): void {
    this.#options.onEvent?.(event);
  }
}
