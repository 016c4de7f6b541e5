// One simulated run: a replica group of real Shards and Replicas on MemoryStorage, a seeded
// network, the fake etcd, clients submitting transfers, and a fault schedule; the checker runs
// after every event. runSeed(seed) is a pure function of its options: the same seed replays
// the same run, event for event.
//
// Injected: message loss, delay and reordering (random delays), duplication; partitions
// between two nodes and between a node and etcd (so its lease expires while it still runs);
// etcd paused for everyone for longer than a lease (requests sent meanwhile served late);
// crashes (MemoryStorage's crash model: "random" under replication=durable, "keep" - a
// process crash, the OS keeps its writes - under received) and restarts.
// Checked after every event (docs/architecture.md's invariants):
//   1  every acknowledged transfer is in the state of every writable primary;
//   3  exactly once: balances are what the transfer rows say (no transfer applied twice),
//      and a retried id gets one outcome;
//   4  at most one node got a write acknowledged per epoch, and it is the epoch's primary;
//   5  replicas whose logs end at the same (epoch, lsn) have the same digest;
//   and money conservation and every engine invariant (Engine.checkInvariants).
// At the end (faults healed, every node up, quiet time): a writable primary exists and every
// replica has its log (liveness), and the checks above hold once more.
import type { Command, CommandResult } from "../engine/index.ts";
import { ResultCode } from "../engine/index.ts";
import { MemoryStorage } from "../io/index.ts";
import {
  decodeReplicationFrame,
  encodeReplicationFrame,
  Replica,
  type ReplicaEvent,
  type ReplicaLog,
  type ReplicationMessage,
  type ReplicationMode,
  readEpochMarks,
  ShardLog,
} from "../replication/index.ts";
import { Shard } from "../shard/index.ts";
import { Prng } from "../stdx/index.ts";
import { FakeEtcd } from "./fake-coordinator.ts";
import { Scheduler } from "./scheduler.ts";

export interface SimOptions {
  readonly seed: number;
  readonly replicaCount?: number;
  readonly mode?: ReplicationMode;
  readonly durationMs?: number;
  readonly faults?: boolean;
  /**
   * Replays the models of the seeds kept before 2026-11-23 (false by default): no whole-etcd
   * outages, leases expire the instant their TTL ends, requests are served in arrival order,
   * and a node sends to any peer. Without it: etcd outages are injected, etcd's lessor and its
   * unordered service after a pause are modelled (fake-coordinator.ts), and a node sends only
   * to peers in its own view of the live nodes, as TcpReplicaNetwork resolves addresses.
   */
  readonly legacy?: boolean;
  /** Receives one line per replica event, fault and acknowledgement (replaying a seed). */
  readonly trace?: (line: string) => void;
}

export interface SimReport {
  readonly seed: number;
  readonly ok: boolean;
  readonly violation: string | null;
  readonly acknowledged: number;
  readonly attempts: number;
  readonly crashes: number;
  readonly epochs: number;
  readonly events: number;
}

const shardId = 0;
const dataDir = "/data";
const accountCount = 6;
const initialBalance = 1000n;
const leaseTtlMs = 1000;
const clientTimeoutMs = 3000;
const eventCountMax = 400_000;

interface SimNode {
  readonly id: string;
  readonly storage: MemoryStorage;
  life: number;
  up: boolean;
  replica: Replica | null;
  shard: Shard | null;
  checkedLsn: number;
  /** The live nodes as this node's own watch shows them (it can address only these). */
  knownIds: ReadonlySet<string>;
}

interface Ack {
  readonly id: string;
  readonly code: number;
  readonly nodeId: string;
  readonly epoch: number;
}

class Violation extends Error {}

export async function runSeed(options: SimOptions): Promise<SimReport> {
  const sim = new Simulation(options);
  return sim.run();
}

class Simulation {
  readonly #options: Required<SimOptions>;
  readonly #prng: Prng;
  readonly #scheduler = new Scheduler();
  readonly #etcd: FakeEtcd;
  readonly #nodes: SimNode[] = [];
  readonly #clients = new Map<string, ReturnType<FakeEtcd["client"]>>();
  readonly #partitions = new Set<string>();
  #lossRate = 0;
  #dupRate = 0;
  readonly #acks = new Map<string, Ack>();
  readonly #ackEpochOwner = new Map<number, string>();
  readonly #digests = new Map<string, string>();
  #attempts = 0;
  #crashes = 0;
  #transferNext = 0;
  #violation: string | null = null;
  #startFailure: string | null = null;
  readonly #trace: ((line: string) => void) | null;

  constructor(options: SimOptions) {
    this.#options = {
      seed: options.seed,
      replicaCount: options.replicaCount ?? 3,
      mode: options.mode ?? "durable",
      durationMs: options.durationMs ?? 20_000,
      faults: options.faults ?? true,
      legacy: options.legacy ?? false,
      trace: options.trace ?? (() => undefined),
    };
    this.#prng = new Prng(options.seed);
    const trace = options.trace;
    this.#trace =
      trace === undefined ? null : (line) => trace(`${this.#scheduler.monotonicNowMs()} ${line}`);
    this.#etcd = new FakeEtcd(
      this.#scheduler,
      this.#options.legacy ? {} : { lessor: "etcd", prng: new Prng(options.seed * 7919 + 1) },
    );
    for (let index = 1; index <= this.#options.replicaCount; index++) {
      this.#nodes.push({
        id: `n${index}`,
        storage: new MemoryStorage({ seed: options.seed * 31 + index }),
        life: 0,
        up: false,
        replica: null,
        shard: null,
        checkedLsn: -1,
        knownIds: new Set(),
      });
    }
  }

  async run(): Promise<SimReport> {
    try {
      for (const node of this.#nodes) await this.#start(node);
      this.#scheduler.at(500, () => this.#setupAccounts());
      for (let client = 0; client < 3; client++) {
        this.#scheduler.at(1000 + client * 7, () => this.#clientLoop());
      }
      if (this.#options.faults) this.#scheduler.at(1500, () => this.#nemesis());
      const check = () => this.#check(false);
      const faultEndMs = this.#options.durationMs;
      if (!(await this.#scheduler.run(faultEndMs, eventCountMax, check))) {
        throw new Violation("event budget exhausted (a livelock?)");
      }
      this.#healAll();
      for (const node of this.#nodes) if (!node.up) await this.#start(node);
      if (!(await this.#scheduler.run(faultEndMs + 8000, eventCountMax * 2, check))) {
        throw new Violation("event budget exhausted after healing");
      }
      this.#check(true);
    } catch (error) {
      if (!(error instanceof Violation)) throw error;
      this.#violation = error.message;
    }
    return {
      seed: this.#options.seed,
      ok: this.#violation === null,
      violation: this.#violation,
      acknowledged: this.#acks.size,
      attempts: this.#attempts,
      crashes: this.#crashes,
      epochs: this.#etcd.rolesByEpoch.size,
      events: this.#scheduler.eventCount,
    };
  }

  // ---- nodes ----

  async #start(node: SimNode): Promise<void> {
    node.life++;
    const life = node.life;
    const alive = () => node.life === life && node.up;
    node.up = true;
    const timers = this.#scheduler.timers(alive);
    const client = this.#etcd.client(node.id);
    this.#clients.set(node.id, client);
    if (this.#partitions.has(`${node.id}|etcd`)) client.setConnected(false);
    node.knownIds = new Set();
    if (!this.#options.legacy) {
      client.watchNodes((nodes) => {
        if (node.life === life) node.knownIds = new Set(nodes.map((info) => info.nodeId));
      });
    }
    const replica = new Replica({
      nodeId: node.id,
      shardId,
      replicaCount: this.#options.replicaCount,
      mode: this.#options.mode,
      preferredPrimaryId: "n1",
      force: false,
      leaseTtlMs,
      tcpAddress: `${node.id}:1`,
      httpAddress: "",
      clock: this.#scheduler,
      timers,
      coordinator: client,
      network: { send: (to, message) => this.#send(node.id, life, to, message) },
      marks: readEpochMarks(node.storage, dataDir),
      ...(this.#trace === null
        ? {}
        : {
            onEvent: (event: ReplicaEvent) =>
              this.#trace?.(`${node.id} ${event.kind} ${traceOf(event)}`),
          }),
    });
    const shard = await Shard.open({
      dir: dataDir,
      fsyncPolicy: "always",
      storage: node.storage,
      clock: this.#scheduler,
      timers,
      replication: replica,
      walSegmentBytesMax: 16 * 1024,
      snapshotIntervalBytes: 32 * 1024,
    });
    const log = new ShardLog(shard, node.storage, dataDir);
    // The legacy model streamed from the retained tail whatever the snapshots.
    replica.attach(this.#options.legacy ? legacyLog(log) : log);
    node.replica = replica;
    node.shard = shard;
    node.checkedLsn = -1;
    replica.start();
  }

  #crash(node: SimNode): void {
    if (!node.up) return;
    this.#crashes++;
    this.#trace?.(`${node.id} CRASH`);
    node.up = false;
    node.replica?.abandon();
    this.#clients.get(node.id)?.shutDown();
    node.replica = null;
    node.shard = null;
    node.storage.crash(this.#options.mode === "durable" ? "random" : "keep");
  }

  // ---- network ----

  #send(from: string, life: number, to: string, message: ReplicationMessage): void {
    const sender = this.#nodes.find((node) => node.id === from);
    if (sender === undefined || sender.life !== life || !sender.up) return;
    // A real node resolves a peer's address from its own view of the live nodes.
    if (!this.#options.legacy && !sender.knownIds.has(to)) return;
    if (this.#partitions.has(linkKey(from, to))) return;
    if (this.#prng.chance(this.#lossRate)) return;
    const frame = encodeReplicationFrame(message);
    const copies = this.#prng.chance(this.#dupRate) ? 2 : 1;
    for (let copy = 0; copy < copies; copy++) {
      const delayMs = 1 + this.#prng.nextInt(this.#prng.chance(0.1) ? 60 : 6);
      this.#scheduler.at(delayMs, () => {
        const target = this.#nodes.find((node) => node.id === to);
        if (target?.up !== true || target.replica === null) return;
        if (this.#partitions.has(linkKey(from, to))) return;
        target.replica.receive(decodeReplicationFrame(frame));
      });
    }
  }

  // ---- faults ----

  #nemesis(): void {
    if (this.#scheduler.monotonicNowMs() >= this.#options.durationMs) return;
    const prng = this.#prng;
    const node = this.#nodes[prng.nextInt(this.#nodes.length)] as SimNode;
    const choice = prng.nextInt(10);
    if (choice < 3) {
      if (node.up && this.#nodes.filter((n) => n.up).length > 1) {
        this.#crash(node);
        this.#scheduler.at(300 + prng.nextInt(3000), () => {
          if (!node.up && this.#scheduler.monotonicNowMs() < this.#options.durationMs) {
            this.#start(node).catch((error: unknown) => {
              this.#startFailure ??= `${node.id} could not restart: ${String(error)}`;
            });
          }
        });
      }
    } else if (choice < 5) {
      const other = this.#nodes[prng.nextInt(this.#nodes.length)] as SimNode;
      if (other !== node) {
        const key = linkKey(node.id, other.id);
        this.#trace?.(`partition ${key}`);
        this.#partitions.add(key);
        this.#scheduler.at(200 + prng.nextInt(2500), () => this.#partitions.delete(key));
      }
    } else if (choice < 7) {
      const key = `${node.id}|etcd`;
      this.#trace?.(`partition ${key}`);
      this.#partitions.add(key);
      this.#clients.get(node.id)?.setConnected(false);
      this.#scheduler.at(200 + prng.nextInt(3000), () => {
        this.#partitions.delete(key);
        this.#clients.get(node.id)?.setConnected(true);
      });
    } else if (choice < 9) {
      this.#lossRate = prng.chance(0.5) ? 0 : prng.nextInt(30) / 100;
      this.#dupRate = prng.chance(0.5) ? 0 : prng.nextInt(20) / 100;
    } else if (!this.#options.legacy && !this.#etcd.paused) {
      // etcd stops for everyone for longer than a lease (a SIGSTOPped etcd): every lease
      // runs out, requests sent meanwhile are served late, then all nodes join again.
      const outageMs = Math.floor(leaseTtlMs * 1.2) + prng.nextInt(2 * leaseTtlMs);
      this.#trace?.(`etcd paused for ${outageMs} ms`);
      this.#etcd.pause();
      this.#scheduler.at(outageMs, () => {
        this.#trace?.("etcd resumed");
        this.#etcd.resume();
      });
    }
    this.#scheduler.at(200 + prng.nextInt(800), () => this.#nemesis());
  }

  #healAll(): void {
    this.#partitions.clear();
    this.#lossRate = 0;
    this.#dupRate = 0;
    this.#etcd.resume();
    for (const client of this.#clients.values()) client.setConnected(true);
  }

  // ---- clients ----

  #primary(): SimNode | null {
    const role = this.#etcd.role(shardId);
    const node = this.#nodes.find((candidate) => candidate.id === role?.primaryId);
    return node?.up === true && node.shard !== null ? node : null;
  }

  /** Submits with a client timeout; null when the outcome is unknown (error or timeout). */
  #submit(command: Command): Promise<{ result: CommandResult; node: SimNode } | null> {
    const node =
      this.#primary() ?? (this.#nodes[this.#prng.nextInt(this.#nodes.length)] as SimNode);
    const shard = node.shard;
    const replica = node.replica;
    if (shard === null || replica === null || !node.up) return Promise.resolve(null);
    this.#attempts++;
    return new Promise((resolve) => {
      let done = false;
      this.#scheduler.at(clientTimeoutMs, () => {
        if (!done) resolve(null);
        done = true;
      });
      shard.submit(command).then(
        (result) => {
          if (done) return;
          done = true;
          this.#recordAck(node, replica, command, result);
          resolve({ result, node });
        },
        () => {
          if (!done) resolve(null);
          done = true;
        },
      );
    });
  }

  #setupAccounts(): void {
    void (async () => {
      for (let index = 0; index < accountCount; index++) {
        const command: Command = {
          kind: "account.create",
          id: `a${index}`,
          balance: initialBalance,
          floor: 0n,
          nickname: null,
        };
        for (let attempt = 0; attempt < 50; attempt++) {
          const outcome = await this.#submit(command);
          if (outcome !== null) break;
          await this.#sleep(100);
        }
      }
    })();
  }

  #clientLoop(): void {
    void (async () => {
      while (this.#scheduler.monotonicNowMs() < this.#options.durationMs) {
        const id = `t${this.#transferNext++}`;
        const debit = this.#prng.nextInt(accountCount);
        const credit = (debit + 1 + this.#prng.nextInt(accountCount - 1)) % accountCount;
        const command: Command = {
          kind: "transfer.create",
          id,
          debitId: `a${debit}`,
          creditId: `a${credit}`,
          amount: BigInt(1 + this.#prng.nextInt(300)),
          pending: false,
          timeoutMs: 0,
          origin: "api",
        };
        // Retries reuse the id (exactly once); some go to another node than the first.
        for (let attempt = 0; attempt < 4; attempt++) {
          const outcome = await this.#submit(command);
          if (outcome !== null) break;
          await this.#sleep(50 + this.#prng.nextInt(400));
        }
        await this.#sleep(this.#prng.nextInt(60));
      }
    })();
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.#scheduler.at(ms, resolve));
  }

  #recordAck(node: SimNode, replica: Replica, command: Command, result: CommandResult): void {
    if (command.kind !== "transfer.create" && command.kind !== "account.create") return;
    const epoch = replica.primaryEpoch;
    if (epoch === 0) this.#fail(`${node.id} acknowledged while not a writable primary`);
    const owner = this.#ackEpochOwner.get(epoch);
    if (owner !== undefined && owner !== node.id) {
      this.#fail(`split brain: ${owner} and ${node.id} both acknowledged in epoch ${epoch}`);
    }
    this.#ackEpochOwner.set(epoch, node.id);
    const roles = this.#etcd.rolesByEpoch.get(epoch) ?? [];
    if (!roles.some((role) => role.primaryId === node.id)) {
      this.#fail(`${node.id} acknowledged in epoch ${epoch}, which it never owned`);
    }
    const code = result.code;
    const key = `${command.kind}:${command.id}`;
    const previous = this.#acks.get(key);
    if (previous !== undefined && previous.code !== code) {
      this.#fail(`${key} answered ${previous.code} then ${code} (not exactly once)`);
    }
    this.#trace?.(
      `${node.id} ack ${key} code ${code} epoch ${epoch} lsn ${node.shard?.engine.lsn}`,
    );
    if (previous === undefined)
      this.#acks.set(key, { id: command.id, code, nodeId: node.id, epoch });
  }

  // ---- the checker ----

  #fail(message: string): never {
    throw new Violation(`${message} (at ${this.#scheduler.monotonicNowMs()} ms)`);
  }

  #check(final: boolean): void {
    if (this.#startFailure !== null) this.#fail(this.#startFailure);
    for (const node of this.#nodes) {
      const shard = node.shard;
      const replica = node.replica;
      if (!node.up || shard === null || replica === null) continue;
      const engine = shard.engine;
      const quiet = engine.lsn === replica.lsnLast && shard.lsnLogged === engine.lsn;
      if (quiet && node.checkedLsn !== engine.lsn) {
        node.checkedLsn = engine.lsn;
        const key = `${replica.epochLast}:${engine.lsn}`;
        const digest = engine.digest();
        const seen = this.#digests.get(key);
        if (seen === undefined) this.#digests.set(key, digest);
        else if (seen !== digest) this.#fail(`${node.id}: different state at ${key}`);
        const problems = engine.checkInvariants();
        if (problems.length > 0) this.#fail(`${node.id}: ${problems.join("; ")}`);
        this.#checkBalances(node);
      }
      if (replica.primaryEpoch > 0 && quiet) this.#checkAcks(node);
    }
    if (!final) return;
    const primary = this.#nodes.find((node) => (node.replica?.primaryEpoch ?? 0) > 0);
    if (primary === undefined) this.#fail("no writable primary after healing (liveness)");
    const lsn = primary.shard?.engine.lsn ?? 0;
    for (const node of this.#nodes) {
      if ((node.shard?.engine.lsn ?? -1) !== lsn) {
        const live = this.#etcd
          .liveNodes()
          .map((info) => info.nodeId)
          .join(",");
        this.#fail(
          `${node.id} did not catch up: lsn ${node.shard?.engine.lsn} of ${lsn} (live in etcd: ` +
            `${live}; ${primary.id} can address: ${[...primary.knownIds].join(",")})`,
        );
      }
      this.#checkAcks(node);
    }
  }

  /** Invariant 1 (and 3's outcome part) on one replica's state. */
  #checkAcks(node: SimNode): void {
    const engine = (node.shard as Shard).engine;
    for (const [key, ack] of this.#acks) {
      if (key.startsWith("account.create:")) {
        if (ack.code === ResultCode.OK && engine.account(ack.id) === undefined) {
          this.#fail(
            `acknowledged ${key} (epoch ${ack.epoch} by ${ack.nodeId}) lost on ${node.id}`,
          );
        }
        continue;
      }
      // A transfer's outcome, refusals included, is stored with it and returned to retries.
      const row = engine.transfer(ack.id);
      if (row === undefined) {
        this.#fail(`acknowledged ${key} (epoch ${ack.epoch} by ${ack.nodeId}) lost on ${node.id}`);
      }
      const stored = typeof row.code === "bigint" ? Number(row.code) : ResultCode.OK;
      if (stored !== ack.code) {
        this.#fail(`${key} was answered ${ack.code} but ${node.id} holds outcome ${stored}`);
      }
    }
  }

  /** Exactly once: every balance is its initial amount plus what its transfer rows say. */
  #checkBalances(node: SimNode): void {
    const engine = (node.shard as Shard).engine;
    const expected = new Map<string, bigint>();
    for (const row of engine.accounts(0, 10_000)) {
      expected.set(String(row.id), row.initial as bigint);
    }
    for (const row of engine.transfers(0, 10_000)) {
      if (row.state !== "posted") continue;
      const amount = row.amount as bigint;
      const debit = String(row.debit);
      const credit = String(row.credit);
      expected.set(debit, (expected.get(debit) ?? 0n) - amount);
      expected.set(credit, (expected.get(credit) ?? 0n) + amount);
    }
    for (const row of engine.accounts(0, 10_000)) {
      if (expected.get(String(row.id)) !== row.balance) {
        this.#fail(`${node.id}: balance of ${String(row.id)} disagrees with its transfers`);
      }
    }
  }
}

/** A log that reports no snapshot, so catch-up ignores snapshots as it once did. */
function legacyLog(log: ReplicaLog): ReplicaLog {
  return {
    lsnLogged: () => log.lsnLogged(),
    lsnDurable: () => log.lsnDurable(),
    append: (lsn, payload) => log.append(lsn, payload),
    reset: (lsn, body) => log.reset(lsn, body),
    snapshot: () => log.snapshot(),
    lsnSnapshot: () => 0,
    saveMarks: (marks) => log.saveMarks(marks),
    promoted: () => log.promoted(),
  };
}

function linkKey(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}

function traceOf(event: ReplicaEvent): string {
  switch (event.kind) {
    case "role":
      return event.role === null
        ? "none"
        : `epoch ${event.role.epoch} primary ${event.role.primaryId} replicas ${event.role.replicaIds.join(",")}`;
    case "error":
      return `${event.context}: ${String(event.error)}`;
    default:
      return JSON.stringify(event);
  }
}
