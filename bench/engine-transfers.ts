// In-process benchmark of the engine's hottest command: Engine.applyBatch over transfer.create
// commands, with no log, network or executor around it (issue 3: the engine's share of the
// server's budget is about 1 µs per transfer).
//
// Method: create the accounts, apply `--held` transfers so that the tables hold as many as a
// long-running server would, then time `--runs` runs of `--measure` transfers each and print
// every run and the median in µs per transfer, with the garbage collector's time during the
// runs. Commands are encoded and decoded with the log's codec before timing, so their ids are
// fresh strings as in a server (never the stored key strings themselves), and the cost of
// building them is not counted; by default each batch is decoded right before it is applied,
// as in a server (the engine's allocations then meet the decoder's garbage in the young
// generation), and with `--predecoded` a whole run is decoded and collected first, which
// measures the engine alone. `--no-apply` decodes the timed commands without applying them:
// under `valgrind --tool=cachegrind`, the difference of two instruction counts is then the
// engine's instructions per transfer. `--memory` measures instead the bytes per account (1,000,000
// accounts) and per stored transfer, after full garbage collections.
//
//   node dist/bench/engine-transfers.js [--accounts 100000] [--held 1000000]
//        [--measure 200000] [--runs 5] [--batch 8190] [--hot 0|90] [--predecoded] [--no-apply]
//        [--lists] [--memory]
//
// `--lists` hands the engine transfer.list commands of 1,000 transfers (what a TCP server logs
// for a CREATE_TRANSFERS frame) instead of one transfer.create per transfer.
//
// Guarantees: the workload is seeded (same commands on every run of the script); every timed
// transfer must succeed (the accounts are funded so that none is refused), which the script
// checks, so a broken engine cannot look fast.
import { PerformanceObserver } from "node:perf_hooks";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { Workload } from "../src/bench/index.ts";
import { BATCH_COMMANDS_MAX } from "../src/constants.ts";
import {
  type Command,
  decodeCommand,
  Engine,
  encodeCommand,
  type LogCommand,
  transferListOf,
} from "../src/engine/index.ts";
import { assert, BytesReader, BytesWriter } from "../src/stdx/index.ts";

setFlagsFromString("--expose-gc");
const collectGarbage = runInNewContext("gc") as () => void;

interface Options {
  accountCount: number;
  heldCount: number;
  measureCount: number;
  runCount: number;
  batchCount: number;
  hotPercent: number;
  memory: boolean;
  predecoded: boolean;
  /** Calibration: decode the timed commands but do not apply them. */
  noApply: boolean;
  /** Transfers as transfer.list commands of up to 1,000 (as a TCP server logs them). */
  lists: boolean;
}

const balanceInitial = 1_000_000_000n;

function parseOptions(argv: readonly string[]): Options {
  const options: Options = {
    accountCount: 100_000,
    heldCount: 1_000_000,
    measureCount: 200_000,
    runCount: 5,
    batchCount: BATCH_COMMANDS_MAX,
    hotPercent: 0,
    memory: false,
    predecoded: false,
    noApply: false,
    lists: false,
  };
  const numeric: Record<string, keyof Options> = {
    "--accounts": "accountCount",
    "--held": "heldCount",
    "--measure": "measureCount",
    "--runs": "runCount",
    "--batch": "batchCount",
    "--hot": "hotPercent",
  };
  for (let index = 0; index < argv.length; index++) {
    const flag = argv[index] as string;
    const flags = {
      "--memory": "memory",
      "--predecoded": "predecoded",
      "--no-apply": "noApply",
      "--lists": "lists",
    };
    if (flag in flags) {
      options[flags[flag as keyof typeof flags] as "memory"] = true;
      continue;
    }
    const field = numeric[flag];
    const value = Number(argv[++index]);
    if (field === undefined || !Number.isInteger(value) || value < 0) {
      throw new Error(`usage: engine-transfers ${Object.keys(numeric).join(" N ")} N --memory`);
    }
    (options as unknown as Record<string, number>)[field] = value;
  }
  assert(options.batchCount > 0 && options.batchCount <= BATCH_COMMANDS_MAX, "batch size");
  return options;
}

/** Commands as the log's decoder returns them: fresh strings and bigints. */
function throughCodec(commands: readonly LogCommand[]): LogCommand[] {
  const writer = new BytesWriter(1 << 20, 1 << 30);
  for (const command of commands) encodeCommand(writer, command);
  const reader = new BytesReader(writer.copy());
  return commands.map(() => decodeCommand(reader));
}

function accountId(index: number): string {
  return `acct-${index}`;
}

let accountsIssued = 0;

/** The next `count` accounts, through the codec. */
function accountCommands(count: number): LogCommand[] {
  const first = accountsIssued;
  accountsIssued += count;
  const commands: Command[] = Array.from({ length: count }, (_, index) => ({
    kind: "account.create",
    id: accountId(first + index),
    balance: balanceInitial,
    floor: 0n,
    nickname: null,
  }));
  return throughCodec(commands);
}

class TransferSource {
  readonly #workload: Workload;
  #issuedCount = 0;

  readonly #lists: boolean;

  constructor(accountCount: number, hotPercent: number, lists: boolean) {
    this.#workload = new Workload(42, accountCount, hotPercent);
    this.#lists = lists;
  }

  /** The next `count` transfers, through the codec (as lists of up to 1,000 with --lists). */
  batch(count: number): LogCommand[] {
    const commands: Extract<Command, { kind: "transfer.create" }>[] = [];
    for (let index = 0; index < count; index++) {
      const choice = this.#workload.next();
      commands.push({
        kind: "transfer.create",
        id: `tr-${this.#issuedCount++}`,
        debitId: accountId(choice.debitIndex),
        creditId: accountId(choice.creditIndex),
        amount: BigInt(choice.amount),
        pending: false,
        timeoutMs: 0,
        origin: "api",
      });
    }
    if (!this.#lists) return throughCodec(commands);
    const lists: LogCommand[] = [];
    for (let at = 0; at < commands.length; at += listTransfers) {
      lists.push(transferListOf(commands.slice(at, at + listTransfers)));
    }
    return throughCodec(lists);
  }
}

const listTransfers = 1000;

interface Timing {
  seconds: number;
  cpuSeconds: number;
  gcMs: number;
}

class Applier {
  readonly engine = new Engine();
  #timestampMs = 1_700_000_000_000;

  /**
   * Applies `count` commands from `next`, decoding each batch just before applying it as a
   * server does (so the engine's allocations meet the young generation as they would there).
   * Times only applyBatch: wall clock, and CPU (this process's user + system time: on a shared
   * machine the part of the wall time it actually ran, garbage collector threads included);
   * gcMs is every collection pause of the whole run, decoding included. Every command must
   * succeed.
   */
  async run(
    count: number,
    batchCount: number,
    next: (count: number) => LogCommand[],
    predecoded = false,
  ): Promise<Timing> {
    if (predecoded) {
      // The engine alone: every batch decoded first, then one full collection, so that the
      // run meets no garbage but its own.
      const batches: LogCommand[][] = [];
      for (let done = 0; done < count; done += batchCount) {
        batches.push(next(Math.min(batchCount, count - done)));
      }
      collectGarbage();
      return this.run(count, batchCount, () => batches.shift() ?? [], false);
    }
    const timing: Timing = { seconds: 0, cpuSeconds: 0, gcMs: 0 };
    const observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) timing.gcMs += entry.duration;
    });
    observer.observe({ entryTypes: ["gc"] });
    let refusedCount = 0;
    for (let done = 0; done < count; done += batchCount) {
      const commands = next(Math.min(batchCount, count - done));
      const cpuStart = process.cpuUsage();
      const startNs = process.hrtime.bigint();
      const results = this.engine.applyBatch(this.engine.lsn + 1, this.#timestampMs++, commands);
      timing.seconds += Number(process.hrtime.bigint() - startNs) / 1e9;
      const cpu = process.cpuUsage(cpuStart);
      timing.cpuSeconds += (cpu.user + cpu.system) / 1e6;
      for (const result of results) {
        if (result.code !== 0) refusedCount++;
        for (const code of result.transferCodes ?? []) if (code !== 0) refusedCount++;
      }
    }
    // GC entries arrive asynchronously: let them in before reading the sum.
    await new Promise((resolve) => setTimeout(resolve, 50));
    observer.disconnect();
    assert(refusedCount === 0, `${refusedCount} commands were refused`);
    return timing;
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

/** Heap plus typed-array bytes after full collections (with turns for finalizers between). */
async function memoryBytes(): Promise<{ heapBytes: number; bufferBytes: number }> {
  for (let round = 0; round < 4; round++) {
    collectGarbage();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const usage = process.memoryUsage();
  return { heapBytes: usage.heapUsed, bufferBytes: usage.arrayBuffers };
}

function fixed(value: number, digits = 2): string {
  return value.toFixed(digits);
}

async function runSpeed(options: Options): Promise<void> {
  const applier = new Applier();
  await applier.run(options.accountCount, BATCH_COMMANDS_MAX, accountCommands);
  const source = new TransferSource(options.accountCount, options.hotPercent, options.lists);
  const nextTransfers = (count: number) => source.batch(count);
  const held = await applier.run(options.heldCount, options.batchCount, nextTransfers);
  const runsUs: number[] = [];
  const runsCpuUs: number[] = [];
  const runsGcNs: number[] = [];
  for (let run = 0; run < options.runCount; run++) {
    const timing = await applier.run(
      options.measureCount,
      options.batchCount,
      options.noApply ? (count) => nextTransfers(count).slice(0, 0) : nextTransfers,
      options.predecoded,
    );
    runsUs.push((timing.seconds * 1e6) / options.measureCount);
    runsCpuUs.push((timing.cpuSeconds * 1e6) / options.measureCount);
    runsGcNs.push((timing.gcMs * 1e6) / options.measureCount);
  }
  const stats = applier.engine.stats();
  const perHeld = (held.seconds * 1e6) / Math.max(1, options.heldCount);
  console.log(
    `engine-transfers: accounts ${options.accountCount}, hot ${options.hotPercent}%, ` +
      `batch ${options.batchCount}, held ${options.heldCount} (applied at ${fixed(perHeld)} µs each)` +
      (options.predecoded ? ", commands decoded before each run" : "") +
      (options.lists ? ", as transfer lists of 1,000" : ""),
  );
  console.log(`  runs of ${options.measureCount}: ${runsUs.map((us) => fixed(us)).join(" ")} µs`);
  console.log(`  CPU per transfer: ${runsCpuUs.map((us) => fixed(us)).join(" ")} µs`);
  console.log(
    `  median ${fixed(median(runsUs))} µs/transfer (CPU ${fixed(median(runsCpuUs))}), ` +
      `GC pauses ${fixed(median(runsGcNs), 0)} ns/transfer, ` +
      `transfers stored ${stats.transferCount}`,
  );
}

async function runMemory(options: Options): Promise<void> {
  const base = await memoryBytes();
  const applier = new Applier();
  const accountCount = 1_000_000;
  await applier.run(accountCount, BATCH_COMMANDS_MAX, accountCommands);
  const withAccounts = await memoryBytes();
  const source = new TransferSource(options.accountCount, options.hotPercent, options.lists);
  const transferCount = 1_000_000;
  await applier.run(transferCount, options.batchCount, (count) => source.batch(count));
  const withTransfers = await memoryBytes();
  const per = (after: number, before: number, count: number) => fixed((after - before) / count, 1);
  console.log(
    `engine memory: 1,000,000 accounts: heap ${per(withAccounts.heapBytes, base.heapBytes, accountCount)} ` +
      `+ buffers ${per(withAccounts.bufferBytes, base.bufferBytes, accountCount)} B/account; ` +
      `heap used ${fixed(withAccounts.heapBytes / 2 ** 20, 1)} MiB`,
  );
  console.log(
    `  1,000,000 transfers: heap ${per(withTransfers.heapBytes, withAccounts.heapBytes, transferCount)} ` +
      `+ buffers ${per(withTransfers.bufferBytes, withAccounts.bufferBytes, transferCount)} B/transfer; ` +
      `heap used ${fixed(withTransfers.heapBytes / 2 ** 20, 1)} MiB, ` +
      `buffers ${fixed(withTransfers.bufferBytes / 2 ** 20, 1)} MiB`,
  );
  assert(applier.engine.stats().transferCount === transferCount, "every transfer stored");
}
const options = parseOptions(process.argv.slice(2));
if (options.memory) await runMemory(options);
else await runSpeed(options);
