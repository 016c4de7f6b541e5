// `txgrid bench`: TiMPE's user-to-user load against txgrid, over REST, the binary protocol,
// or an engine embedded in this process (drivers.ts).
//
//   setup    create `accountCount` accounts (not timed)
//   warm-up  `warmupCount` transfers the same way, then TiMPE's phase 2 for them (not timed,
//            not counted): a fresh Node process runs its first thousands of calls before the
//            JIT compiled their paths, and a figure meant for steady state must not hold them
//   load     `transferCount` transfers in requests of `batchSize`, or until `durationMs`
//            passes, whichever is first:
//            closed loop (rate 0): `concurrency` senders, each with one request in flight
//            open loop (rate R): a request every batchSize/R seconds whether or not the
//                 earlier ones were answered, at most `concurrency` in flight; latency is
//                 measured from the time a request was due, so a stalled server shows as
//                 latency instead of hiding it (no coordinated omission)
//   finish   TiMPE phase 1 only: one POST /transactions/process, timed on its own
//   verify   totals before and after: every invariant holds and the sum of balances equals
//            the sum of initial balances; the server recorded exactly as many transfers as
//            were acknowledged.
//
// Every figure is reported with the server's durability setting (read from GET /v1/status)
// and the machine, because a number without them means nothing.
import { cpus, totalmem } from "node:os";
import { performance } from "node:perf_hooks";
import { IdTable, type TransferListEncoder } from "../client/index.ts";
import {
  type BenchApi,
  type BenchProtocol,
  type BenchTransfer,
  type Driver,
  type Durability,
  openDriver,
  type ServerTotals,
} from "./drivers.ts";
import { type LatencyBucket, LatencyRecorder, type LatencySummary } from "./latency.ts";
import { PLACEMENT_SAMPLE_INTERVAL_MS, type Placement, PlacementSampler } from "./placement.ts";
import { Workload } from "./workload.ts";

export interface BenchOptions {
  readonly protocol: BenchProtocol;
  readonly url: string;
  /** tcp: the server's binary-protocol address (txgrid://host:port). */
  readonly tcpUrl: string;
  /** embedded: the fsync policy of the engine opened in this process. */
  readonly fsync: string;
  readonly transferCount: number;
  readonly concurrency: number;
  readonly batchSize: number;
  /** Transfers per second in open-loop mode; 0 = closed loop. */
  readonly ratePerSecond: number;
  readonly immediate: boolean;
  readonly api: BenchApi;
  readonly accountCount: number;
  readonly hotPercent: number;
  readonly durationMs: number;
  readonly seed: number;
  readonly requestTimeoutMs: number;
  /** Transfers sent before the timed load and left out of every figure (default 0). */
  readonly warmupCount?: number;
  /** The target is the bare node:http reference server: no ledger, so no money checks. */
  readonly reference?: boolean;
  /** tcp: the client's busy-poll window in µs (`--busy-poll-us`; default 0: off). */
  readonly busyPollUs?: number;
  /** With --spawn: whether the server reads REST requests with its HTTP/1.1 front. */
  readonly httpFront?: boolean;
  /** The server's process id when this run started it: its CPU placement is sampled. */
  readonly serverPid?: number;
  readonly onProgress?: (doneCount: number, totalCount: number) => void;
}

export interface Machine {
  readonly cpuModel: string;
  readonly coreCount: number;
  readonly memoryGiB: number;
  readonly node: string;
  readonly platform: string;
}

export interface BenchReport {
  readonly options: Omit<BenchOptions, "onProgress">;
  readonly route: string;
  readonly durability: Durability;
  readonly machine: Machine;
  readonly startedAt: string;
  /** Transfers acknowledged as applied (or as duplicates). */
  readonly okCount: number;
  /** Transfers the ledger declined (insufficient funds): answered, nothing applied. */
  readonly refusedCount: number;
  /** Transfers without an answer: outcome unknown. */
  readonly errorCount: number;
  readonly errorSamples: readonly string[];
  readonly requestCount: number;
  readonly elapsedMs: number;
  /** Answered transfers per second. */
  readonly transfersPerSecond: number;
  /** Latency of a request (of batchSize transfers). */
  readonly latency: LatencySummary;
  readonly percentileCurve: readonly { percentile: number; latencyUs: number }[];
  /** Requests per latency bucket (logarithmic), for the report's histogram. */
  readonly latencyHistogram: readonly LatencyBucket[];
  /** Transfers answered in each second of the load phase. */
  readonly completedPerSecond: readonly number[];
  /** Whether this process and the server shared a CPU during the load (placement.ts). */
  readonly placement: Placement | null;
  readonly process: {
    readonly durationMs: number;
    /** Pending transfers the one /transactions/process finished. */
    readonly processedCount: number;
    readonly failedCount: number;
  } | null;
  readonly verify: ServerTotals;
  readonly recordedTransferCount: number;
  readonly moneyConserved: boolean;
}

export function describeMachine(): Machine {
  const cores = cpus();
  return {
    cpuModel: cores[0]?.model.trim() ?? "unknown",
    coreCount: cores.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
}

export async function runBench(options: BenchOptions): Promise<BenchReport> {
  const runTag = `${Date.now().toString(36)}${options.seed.toString(36)}`;
  const accountIds = Array.from({ length: options.accountCount }, (_, i) => `ba-${runTag}-${i}`);
  const driver = await openDriver(
    {
      protocol: options.protocol,
      api: options.api,
      immediate: options.immediate,
      url: options.url,
      tcpUrl: options.tcpUrl,
      fsync: options.fsync,
      slotCount: options.concurrency,
      batchSize: options.batchSize,
      requestTimeoutMs: options.requestTimeoutMs,
      reference: options.reference === true,
      busyPollUs: options.busyPollUs ?? 0,
    },
    accountIds,
  );
  try {
    const warmupCount = options.warmupCount ?? 0;
    if (warmupCount > 0) {
      // Its own id prefix and no placement sampling; the totals below are read after it, so
      // the checks count the timed transfers alone (money is conserved by both).
      const { serverPid: _sampled, onProgress: _shown, ...warmup } = options;
      await runLoad({ ...warmup, transferCount: warmupCount }, driver, accountIds, `${runTag}w`);
      await driver.finish();
    }
    const before = await driver.totals();
    const load = await runLoad(options, driver, accountIds, runTag);
    const process = await driver.finish();
    const after = await driver.totals();
    return {
      options: { ...options, onProgress: undefined } as Omit<BenchOptions, "onProgress">,
      route: driver.route,
      durability: driver.durability,
      machine: describeMachine(),
      startedAt: new Date(Date.now() - load.elapsedMs).toISOString(),
      ...load,
      process,
      verify: after,
      recordedTransferCount: after.transferCount - before.transferCount,
      moneyConserved:
        options.reference !== true &&
        after.ok &&
        after.balanceSum === after.initialSum &&
        before.balanceSum === before.initialSum,
    };
  } finally {
    await driver.close();
  }
}

/** The transfers of the next request; shared by all senders, so ids never repeat. */
class TransferSource {
  readonly #workload: Workload;
  readonly #accountIds: readonly string[];
  readonly #runTag: string;
  readonly #total: number;
  readonly #choice = { debitIndex: 0, creditIndex: 0, amount: 0 };
  /** The run's ids as bytes (writeInto), built on first use. */
  #tables: { prefixes: IdTable; accounts: IdTable } | null = null;
  issuedCount = 0;

  constructor(options: BenchOptions, accountIds: readonly string[], runTag: string) {
    this.#workload = new Workload(options.seed, accountIds.length, options.hotPercent);
    this.#accountIds = accountIds;
    this.#runTag = runTag;
    this.#total = options.transferCount;
  }

  get exhausted(): boolean {
    return this.issuedCount >= this.#total;
  }

  /** TransferWriter: the next transfers, as take() would give them, written as bytes. */
  writeInto(list: TransferListEncoder, countMax: number): number {
    this.#tables ??= {
      prefixes: new IdTable([`bt-${this.#runTag}-`]),
      accounts: new IdTable(this.#accountIds),
    };
    const { prefixes, accounts } = this.#tables;
    const choice = this.#choice;
    const count = Math.min(countMax, this.#total - this.issuedCount);
    for (let index = 0; index < count; index++) {
      this.#workload.nextInto(choice);
      const serial = this.issuedCount++;
      list.addSerial(
        prefixes,
        0,
        serial,
        accounts,
        choice.debitIndex,
        choice.creditIndex,
        choice.amount,
      );
    }
    return count;
  }

  take(countMax: number): BenchTransfer[] {
    const count = Math.min(countMax, this.#total - this.issuedCount);
    const transfers: BenchTransfer[] = new Array(count);
    for (let index = 0; index < count; index++) {
      const choice = this.#workload.next();
      transfers[index] = {
        id: `bt-${this.#runTag}-${this.issuedCount++}`,
        debitId: this.#accountIds[choice.debitIndex] as string,
        creditId: this.#accountIds[choice.creditIndex] as string,
        amount: choice.amount,
      };
    }
    return transfers;
  }
}

interface LoadTally {
  okCount: number;
  refusedCount: number;
  errorCount: number;
  requestCount: number;
  readonly errorSamples: string[];
  readonly completedPerSecond: number[];
}

async function runLoad(
  options: BenchOptions,
  driver: Driver,
  accountIds: readonly string[],
  runTag: string,
) {
  const source = new TransferSource(options, accountIds, runTag);
  const latency = new LatencyRecorder();
  const tally: LoadTally = {
    okCount: 0,
    refusedCount: 0,
    errorCount: 0,
    requestCount: 0,
    errorSamples: [],
    completedPerSecond: [],
  };
  const startedMs = performance.now();
  const deadlineMs = startedMs + options.durationMs;
  const done = () => tally.okCount + tally.refusedCount + tally.errorCount;
  const progressTimer = setInterval(() => options.onProgress?.(done(), options.transferCount), 250);
  const sampler = options.serverPid === undefined ? null : new PlacementSampler(options.serverPid);
  const placementTimer =
    sampler === null ? null : setInterval(() => sampler.sample(), PLACEMENT_SAMPLE_INTERVAL_MS);
  // Requests of more than one transfer are written as bytes when the driver can take them.
  const written = options.batchSize > 1 && driver.sendWritten !== undefined;
  const sendOne = async (slot: number, countMax: number, dueMs: number) => {
    const result = written
      ? await (driver.sendWritten as NonNullable<Driver["sendWritten"]>)(slot, source, countMax)
      : await driver.send(slot, source.take(countMax));
    const answeredMs = performance.now();
    latency.record((answeredMs - dueMs) * 1000);
    tally.requestCount++;
    tally.okCount += result.okCount;
    tally.refusedCount += result.refusedCount;
    tally.errorCount += result.errorCount;
    if (result.errorSample !== null && tally.errorSamples.length < 5) {
      tally.errorSamples.push(result.errorSample);
    }
    const second = Math.floor((answeredMs - startedMs) / 1000);
    tally.completedPerSecond[second] =
      (tally.completedPerSecond[second] ?? 0) + result.okCount + result.refusedCount;
  };
  try {
    if (options.ratePerSecond > 0) await openLoop(options, source, sendOne, deadlineMs);
    else await closedLoop(options, source, sendOne, deadlineMs);
  } finally {
    clearInterval(progressTimer);
    if (placementTimer !== null) clearInterval(placementTimer);
  }
  const elapsedMs = performance.now() - startedMs;
  options.onProgress?.(done(), options.transferCount);
  return {
    okCount: tally.okCount,
    refusedCount: tally.refusedCount,
    errorCount: tally.errorCount,
    errorSamples: tally.errorSamples,
    requestCount: tally.requestCount,
    elapsedMs,
    transfersPerSecond: ((tally.okCount + tally.refusedCount) / elapsedMs) * 1000,
    latency: latency.summary(),
    percentileCurve: latency.percentileCurve(),
    latencyHistogram: latency.distribution(),
    completedPerSecond: Array.from(tally.completedPerSecond, (count) => count ?? 0),
    placement: sampler?.summary() ?? null,
  };
}

type SendOne = (slot: number, countMax: number, dueMs: number) => Promise<void>;

/** `concurrency` senders, each sending its next request when the previous one is answered. */
async function closedLoop(
  options: BenchOptions,
  source: TransferSource,
  sendOne: SendOne,
  deadlineMs: number,
) {
  const sender = async (slot: number) => {
    while (!source.exhausted && performance.now() < deadlineMs) {
      await sendOne(slot, options.batchSize, performance.now());
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, (_, slot) => sender(slot)));
}

/**
 * Requests due at a fixed pace; a request waits for a free slot (at most `concurrency` in
 * flight), and its latency counts from when it was due.
 */
async function openLoop(
  options: BenchOptions,
  source: TransferSource,
  sendOne: SendOne,
  deadlineMs: number,
) {
  const intervalMs = (options.batchSize / options.ratePerSecond) * 1000;
  const freeSlots = Array.from({ length: options.concurrency }, (_, slot) => slot);
  const inFlight = new Set<Promise<void>>();
  let dueMs = performance.now();
  while (!source.exhausted && performance.now() < deadlineMs) {
    const waitMs = dueMs - performance.now();
    if (waitMs >= 1) await new Promise((resolve) => setTimeout(resolve, waitMs));
    if (freeSlots.length === 0) await Promise.race(inFlight);
    const slot = freeSlots.pop() as number;
    const request: Promise<void> = sendOne(slot, options.batchSize, dueMs).finally(() => {
      inFlight.delete(request);
      freeSlots.push(slot);
    });
    inFlight.add(request);
    dueMs += intervalMs;
  }
  await Promise.all(inFlight);
}
