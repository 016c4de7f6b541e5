// Real-process fault harness for a replicated shard: a local cluster (real etcd, N `txgrid
// node` processes started by clusterUp), a bounded transfer load through the TypeScript client
// given every replica's address, faults by pid (SIGKILL, SIGSTOP/SIGCONT, restart), and the
// final checks: every acknowledged transfer id exists on every live replica (0 lost), money is
// conserved on every replica, and replicas at one lsn have one digest.
// Used by failover.process.test.ts (a few faults, CI) and failover-run.ts (`npm run failover`,
// many SIGKILL cycles). Everything is stopped by pid; nothing is left running.
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { type Client, connect } from "../../src/client/index.ts";
import {
  type ChildRecord,
  type ClusterState,
  clusterDown,
  clusterUp,
  pausePid,
  resumePid,
  startDetached,
  stopChildren,
  waitReady,
} from "../../src/cluster/index.ts";
import {
  createEtcdCoordinator,
  type EtcdCoordinator,
  type ShardRole,
} from "../../src/coord/index.ts";

export interface HarnessOptions {
  readonly dir: string;
  readonly nodes: number;
  readonly etcdPort: number;
  readonly httpPortBase: number;
  readonly tcpPortBase: number;
  readonly fsync?: string;
  readonly replication?: string;
  /** Passed to every node (--snapshot-interval-bytes): small, for snapshot catch-up. */
  readonly snapshotIntervalBytes?: number;
}

const accountCount = 100;
const balanceInitial = 1_000_000_000n;
const workers = 8;
const callTimeoutMs = 15_000;
const transfersMax = 1_000_000;
/** Transfers per second over all workers: enough to catch a loss, light enough for 2 cores
 * shared with 3 nodes and etcd (reliability.md 3.8 suggests a few hundred per second). */
const loadRatePerSecond = 1_500;

export interface Ack {
  readonly id: string;
  readonly startMs: number;
  readonly endMs: number;
}

export class FailoverCluster {
  readonly options: HarnessOptions;
  readonly coordinator: EtcdCoordinator;
  readonly client: Client;
  state: ClusterState;
  /** The current process of each node id (restarts replace the record). */
  readonly records = new Map<string, ChildRecord>();
  readonly acks: Ack[] = [];
  /** Calls that failed: their outcome is unknown (they may or may not have applied). */
  unknown = 0;
  /** Why calls failed: error code -> count (for the report). */
  readonly unknownReasons = new Map<string, number>();
  refused = 0;
  #loading = false;
  #workers: Promise<void>[] = [];
  #sequence = 0;

  private constructor(
    options: HarnessOptions,
    state: ClusterState,
    coordinator: EtcdCoordinator,
    client: Client,
  ) {
    this.options = options;
    this.state = state;
    this.coordinator = coordinator;
    this.client = client;
    for (const node of state.nodes) this.records.set(node.id, node);
  }

  static async start(options: HarnessOptions): Promise<FailoverCluster> {
    const state = await clusterUp({
      dir: options.dir,
      nodes: options.nodes,
      replicas: options.nodes,
      etcdClientPort: options.etcdPort,
      etcdPeerPort: options.etcdPort + 1,
      httpPortBase: options.httpPortBase,
      tcpPortBase: options.tcpPortBase,
      fsync: options.fsync ?? "lazy",
      replication: options.replication ?? "received",
      ...(options.snapshotIntervalBytes === undefined
        ? {}
        : { snapshotIntervalBytes: options.snapshotIntervalBytes }),
    });
    const coordinator = createEtcdCoordinator({ endpoints: [state.etcd.clientUrl] });
    const addresses = state.nodes.map((node) => `txgrid://127.0.0.1:${node.tcpPort}`).join(",");
    const client = await connect(addresses, { timeoutMs: callTimeoutMs });
    const cluster = new FailoverCluster(options, state, coordinator, client);
    await cluster.waitFullEpoch(30_000);
    const accounts = Array.from({ length: accountCount }, (_, i) => ({
      id: `acc${i}`,
      balance: balanceInitial,
    }));
    const outcomes = await client.createAccounts(accounts);
    if (!outcomes.every((outcome) => outcome.code === 0)) throw new Error("accounts not created");
    return cluster;
  }

  async role(): Promise<ShardRole> {
    const role = await this.coordinator.readRole(0);
    if (role === null) throw new Error("no role record");
    return role;
  }

  /** Waits until a primary leads an epoch holding every node (all caught up). */
  async waitFullEpoch(timeoutMs: number): Promise<ShardRole> {
    const start = performance.now();
    for (;;) {
      const role = await this.coordinator.readRole(0).catch(() => null);
      const live = await this.coordinator.listNodes().catch(() => []);
      if (
        role !== null &&
        role.replicaIds.length === this.options.nodes &&
        live.some((node) => node.nodeId === role.primaryId)
      ) {
        return role;
      }
      if (performance.now() - start > timeoutMs) {
        throw new Error(`no full epoch within ${timeoutMs} ms: ${JSON.stringify(role)}`);
      }
      await sleep(50);
    }
  }

  startLoad(): void {
    this.#loading = true;
    for (let worker = 0; worker < workers; worker++) this.#workers.push(this.#work(worker));
  }

  async stopLoad(): Promise<void> {
    this.#loading = false;
    await Promise.all(this.#workers);
    this.#workers = [];
  }

  async #work(worker: number): Promise<void> {
    let n = 0;
    const intervalMs = (1000 * workers) / loadRatePerSecond;
    let dueMs = performance.now();
    while (this.#loading && this.#sequence < transfersMax) {
      dueMs += intervalMs;
      const aheadMs = dueMs - performance.now();
      if (aheadMs > 0) await sleep(aheadMs);
      else if (aheadMs < -1_000) dueMs = performance.now(); // no catching up after a stall
      this.#sequence++;
      n++;
      const id = `w${worker}-${n}-${this.#sequence}`;
      const debit = (this.#sequence * 7 + worker) % accountCount;
      const credit = (debit + 1 + (n % (accountCount - 1))) % accountCount;
      const startMs = performance.now();
      try {
        const outcome = await this.client.createTransfer({
          id,
          debitId: `acc${debit}`,
          creditId: `acc${credit}`,
          amount: BigInt(1 + (n % 10)),
        });
        if (outcome.code === 0) this.acks.push({ id, startMs, endMs: performance.now() });
        else this.refused++;
      } catch (error) {
        this.unknown++;
        const code = (error as { code?: string }).code ?? "other";
        this.unknownReasons.set(code, (this.unknownReasons.get(code) ?? 0) + 1);
        await sleep(10);
      }
    }
  }

  pid(nodeId: string): number {
    const record = this.records.get(nodeId);
    if (record === undefined) throw new Error(`no node ${nodeId}`);
    return record.pid;
  }

  kill(nodeId: string): void {
    process.kill(this.pid(nodeId), "SIGKILL");
  }

  pause(nodeId: string): void {
    pausePid(this.pid(nodeId));
  }

  resume(nodeId: string): void {
    resumePid(this.pid(nodeId));
  }

  /** Starts the node again with its original flags and data; resolves once it is in etcd. */
  async restart(nodeId: string): Promise<void> {
    const old = this.records.get(nodeId);
    if (old === undefined) throw new Error(`no node ${nodeId}`);
    const record = startDetached({
      name: old.name,
      command: old.command,
      args: old.args,
      logPath: old.logPath,
    });
    this.records.set(nodeId, record);
    await waitReady(
      record,
      async () =>
        (await this.coordinator.listNodes().catch(() => [])).some((n) => n.nodeId === nodeId),
      20_000,
    );
  }

  /**
   * Failover time after a fault at `faultMs`: until the first acknowledgement of a transfer
   * that was sent after the fault (so it was answered by the new primary).
   */
  async waitWritesResume(faultMs: number, timeoutMs: number): Promise<number> {
    const start = performance.now();
    for (;;) {
      const ack = this.acks.find((candidate) => candidate.startMs > faultMs);
      if (ack !== undefined) return ack.endMs - faultMs;
      if (performance.now() - start > timeoutMs) {
        const stopped = this.#sequence >= transfersMax ? " (the load reached transfersMax)" : "";
        throw new Error(`writes did not resume within ${timeoutMs} ms${stopped}`);
      }
      await sleep(10);
    }
  }

  /** The final checks on every live node; throws on any violation. */
  async check(liveIds: readonly string[]): Promise<CheckReport> {
    const nodes = this.state.nodes.filter((node) => liveIds.includes(node.id));
    // Wait until every live replica applied the same lsn (bounded).
    let views: VerifyView[] = [];
    const start = performance.now();
    for (;;) {
      views = await Promise.all(nodes.map((node) => verifyNode(node.httpPort)));
      if (views.every((view) => view.lsn === views[0]?.lsn)) break;
      if (performance.now() - start > 20_000) {
        throw new Error(`replicas did not converge: ${JSON.stringify(views.map((v) => v.lsn))}`);
      }
      await sleep(100);
    }
    const total = balanceInitial * BigInt(accountCount);
    for (const view of views) {
      if (!view.ok) throw new Error(`invariants broken: ${view.problems.join("; ")}`);
      if (BigInt(view.balanceSum) !== total) throw new Error(`money: ${view.balanceSum}`);
    }
    const digests = new Set(views.map((view) => view.digest));
    if (digests.size !== 1) throw new Error(`digests differ at one lsn: ${[...digests].join(" ")}`);
    let lost = 0;
    const ids = this.acks.map((ack) => ack.id);
    for (const node of nodes) {
      const direct = await connect(`txgrid://127.0.0.1:${node.tcpPort}`, {
        followPrimary: false,
        timeoutMs: 60_000,
      });
      try {
        for (let at = 0; at < ids.length; at += 5_000) {
          const found = await direct.lookupTransfers(ids.slice(at, at + 5_000));
          lost += found.filter((record) => record === null).length;
        }
      } finally {
        await direct.close();
      }
    }
    return {
      acknowledged: this.acks.length,
      lost,
      unknown: this.unknown,
      unknownReasons: Object.fromEntries(this.unknownReasons),
      refused: this.refused,
      lsn: views[0]?.lsn ?? 0,
      digest: views[0]?.digest ?? "",
      transferCount: views[0]?.transferCount ?? 0,
    };
  }

  /** A node's log position from its /metrics (applied, durable or snapshot). */
  async logPosition(nodeId: string, position: "applied" | "snapshot"): Promise<number> {
    const node = this.state.nodes.find((candidate) => candidate.id === nodeId);
    if (node === undefined) throw new Error(`no node ${nodeId}`);
    const response = await fetch(`http://127.0.0.1:${node.httpPort}/metrics`, {
      signal: AbortSignal.timeout(10_000),
    });
    const text = await response.text();
    const line = text
      .split("\n")
      .find((candidate) => candidate.startsWith(`txgrid_log_position_lsn{position="${position}"}`));
    if (line === undefined) throw new Error(`no ${position} position on ${nodeId}`);
    return Number(line.split(" ").at(-1));
  }

  /** The node's log file (its current process's), for what it reported. */
  logText(nodeId: string): string {
    const record = this.records.get(nodeId);
    if (record === undefined) throw new Error(`no node ${nodeId}`);
    return readFileSync(record.logPath, "utf8");
  }

  async close(): Promise<void> {
    await this.stopLoad();
    await this.client.close();
    await this.coordinator.close();
    for (const [id, record] of this.records) {
      const original = this.state.nodes.find((node) => node.id === id);
      if (original !== undefined && original.pid !== record.pid) await stopChildren([record]);
      else resumeQuietly(record.pid);
    }
    // TXGRID_FAILOVER_KEEP=1 keeps the cluster directory (node logs, data) for a post-mortem.
    await clusterDown(this.options.dir, { purge: process.env.TXGRID_FAILOVER_KEEP !== "1" });
  }
}

function resumeQuietly(pid: number): void {
  try {
    resumePid(pid);
  } catch {
    // gone already
  }
}

export interface CheckReport {
  readonly acknowledged: number;
  readonly lost: number;
  readonly unknown: number;
  readonly unknownReasons: Readonly<Record<string, number>>;
  readonly refused: number;
  readonly lsn: number;
  readonly digest: string;
  readonly transferCount: number;
}

interface VerifyView {
  readonly ok: boolean;
  readonly problems: string[];
  readonly balanceSum: string;
  readonly lsn: number;
  readonly digest: string;
  readonly transferCount: number;
}

async function verifyNode(httpPort: number): Promise<VerifyView> {
  const response = await fetch(`http://127.0.0.1:${httpPort}/v1/verify`, {
    signal: AbortSignal.timeout(10_000),
  });
  return ((await response.json()) as { data: VerifyView }).data;
}
