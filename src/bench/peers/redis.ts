// The Redis peer: a private redis-server on 127.0.0.1 (first free port from
// PEER_REDIS_PORT_FIRST) in a temporary directory, the accounts as string keys `a:<index>`
// holding integer balances, and the checked transfer as a Lua script run by EVALSHA, driven by
// redis-benchmark (C, one thread) with -c connections and -P requests pipelined on each.
//
// Durability: appendonly yes, appendfsync always or everysec (switched per run with CONFIG
// SET); RDB snapshots and automatic AOF rewrite off, so no fork competes for the CPU during a
// run. Guarantees: the server is our direct child, stopped by its pid (SIGTERM: Redis syncs the
// AOF and exits), and its directory is removed; after every run the sum of all balances is
// compared with accounts x the initial balance.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import {
  PEER_LOAD_CHUNK_ACCOUNTS,
  PEER_PROBE_REQUESTS_MAX,
  PEER_REDIS_PORT_FIRST,
  PEER_RUN_SLACK_MS,
  PEER_TOOL_TIMEOUT_MS,
} from "../../constants.ts";
import { ErrorCode, TxgridError } from "../../stdx/index.ts";
import { ACCOUNT_BALANCE_INITIAL } from "../drivers.ts";
import { HOT_ACCOUNT_COUNT, TRANSFER_AMOUNT_MAX } from "../workload.ts";
import { parseRedisBenchmark } from "./output.ts";
import { findFreePort, runTool, startDaemon, waitUntil } from "./processes.ts";
import type { PeerRun, PeerWorkload } from "./types.ts";

/** Binaries the Redis peer needs, all from the redis-server and redis-tools packages. */
export const REDIS_BINARIES = ["redis-server", "redis-cli", "redis-benchmark"] as const;

/**
 * The transfer (EVALSHA sha 0 r1 r2 r3 r4 accounts hotAccounts hotPercent). r1..r4 are
 * independent random integers from redis-benchmark's __rand_int__ (-r 10^9, so `% n` has no
 * bias for n dividing 10^9 and under 1% otherwise). Same choice as txgrid's Workload: with
 * probability hotPercent both accounts are among the first hotAccounts, else among all; the
 * credit is picked from the other range - 1 accounts so the two always differ.
 */
const TRANSFER_SCRIPT = `
local r1, r2, r3, r4 = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local n, nhot, hotpct = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local range = n
if n > nhot and r4 % 100 < hotpct then range = nhot end
local a = r1 % range
local b = r2 % (range - 1)
if b >= a then b = b + 1 end
local amount = r3 % ${TRANSFER_AMOUNT_MAX} + 1
local ka, kb = 'a:' .. a, 'a:' .. b
if tonumber(redis.call('GET', ka)) < amount then return 0 end
redis.call('DECRBY', ka, amount)
redis.call('INCRBY', kb, amount)
return 1`;

/** Sets accounts [ARGV[1], ARGV[1] + ARGV[2]) to balance ARGV[3]. */
const LOAD_SCRIPT = `
for i = tonumber(ARGV[1]), tonumber(ARGV[1]) + tonumber(ARGV[2]) - 1 do
  redis.call('SET', 'a:' .. i, ARGV[3])
end
return 1`;

/** Sum of the balances of accounts 0..ARGV[1]-1, as a decimal string (exact below 2^53). */
const SUM_SCRIPT = `
local s = 0
for i = 0, tonumber(ARGV[1]) - 1 do s = s + tonumber(redis.call('GET', 'a:' .. i)) end
return string.format('%.0f', s)`;

const RANDOM_RANGE = 1_000_000_000;

export class RedisPeer {
  readonly version: string;
  readonly #dir: string;
  readonly #port: number;
  readonly #daemon: ReturnType<typeof startDaemon>;
  readonly #transferSha: string;
  readonly #accountCount: number;

  private constructor(
    version: string,
    dir: string,
    port: number,
    daemon: ReturnType<typeof startDaemon>,
    transferSha: string,
    accountCount: number,
  ) {
    this.version = version;
    this.#dir = dir;
    this.#port = port;
    this.#daemon = daemon;
    this.#transferSha = transferSha;
    this.#accountCount = accountCount;
  }

  /** Starts the server and loads `accountCount` accounts of the bench's initial balance. */
  static async start(accountCount: number): Promise<RedisPeer> {
    const versionText = (await runTool("redis-server", ["--version"], { timeoutMs: 10_000 }))
      .stdout;
    const version = /v=([\d.]+)/.exec(versionText)?.[1] ?? "unknown";
    const dir = mkdtempSync(join(tmpdir(), "txgrid-peer-redis-"));
    const port = await findFreePort(PEER_REDIS_PORT_FIRST);
    writeFileSync(
      join(dir, "redis.conf"),
      [
        "bind 127.0.0.1",
        `port ${port}`,
        `dir ${dir}`,
        "daemonize no",
        "appendonly yes",
        "appendfsync always",
        'save ""',
        "auto-aof-rewrite-percentage 0",
        "",
      ].join("\n"),
    );
    const daemon = startDaemon("redis-server", [join(dir, "redis.conf")], undefined, dir);
    try {
      const cli = (args: readonly string[]) => redisCli(port, args);
      await waitUntil("redis-server", daemon, async () => {
        const result = await redisCli(port, ["PING"], true);
        return result.trim() === "PONG";
      });
      for (let first = 0; first < accountCount; first += PEER_LOAD_CHUNK_ACCOUNTS) {
        const count = Math.min(PEER_LOAD_CHUNK_ACCOUNTS, accountCount - first);
        await cli([
          "EVAL",
          LOAD_SCRIPT,
          "0",
          String(first),
          String(count),
          String(ACCOUNT_BALANCE_INITIAL),
        ]);
      }
      const sha = (await cli(["SCRIPT", "LOAD", TRANSFER_SCRIPT])).trim();
      return new RedisPeer(version, dir, port, daemon, sha, accountCount);
    } catch (error) {
      await daemon.stop("SIGTERM");
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  perRequest(workload: PeerWorkload): string {
    return workload.batchSize > 1
      ? `one EVALSHA per transfer, ${workload.batchSize} pipelined per connection (-P)`
      : "one EVALSHA per transfer";
  }

  async run(setting: string, workload: PeerWorkload): Promise<PeerRun> {
    await redisCli(this.#port, ["CONFIG", "SET", "appendfsync", setting]);
    const loadAverageAtStart = loadavg()[0] ?? 0;
    const base = [
      "-h",
      "127.0.0.1",
      "-p",
      String(this.#port),
      "-c",
      String(workload.concurrency),
      "-P",
      String(workload.batchSize),
      "-r",
      String(RANDOM_RANGE),
      "--precision",
      "3",
    ];
    const script = [
      "EVALSHA",
      this.#transferSha,
      "0",
      "__rand_int__",
      "__rand_int__",
      "__rand_int__",
      "__rand_int__",
      String(this.#accountCount),
      String(HOT_ACCOUNT_COUNT),
      String(workload.hotPercent),
    ];
    // redis-benchmark counts requests, not seconds: a short probe (also a warm-up) gives the
    // rate, and the measured run is sized to last about durationMs.
    const inFlight = workload.concurrency * workload.batchSize;
    const probeCount = Math.min(PEER_PROBE_REQUESTS_MAX, Math.max(2 * inFlight, 2_000));
    const probe = parseRedisBenchmark(
      (
        await runTool("redis-benchmark", [...base, "-n", String(probeCount), ...script], {
          timeoutMs: PEER_TOOL_TIMEOUT_MS,
        })
      ).stdout,
    );
    const requestCount = Math.max(
      inFlight,
      Math.round((probe.requestsPerSecond * workload.durationMs) / 1000),
    );
    const args = [...base, "-n", String(requestCount), ...script];
    const result = await runTool("redis-benchmark", args, {
      timeoutMs: workload.durationMs + PEER_RUN_SLACK_MS,
    });
    const figures = parseRedisBenchmark(result.stdout);
    const balanceSum = (
      await redisCli(this.#port, ["EVAL", SUM_SCRIPT, "0", String(this.#accountCount)])
    ).trim();
    const expectedSum = String(BigInt(this.#accountCount) * ACCOUNT_BALANCE_INITIAL);
    return {
      transfersPerSecond: figures.requestsPerSecond,
      transferCount: figures.requestCount,
      requestCount: figures.requestCount,
      loadAverageAtStart,
      errorCount: figures.errorLineCount + probe.errorLineCount,
      latency: figures.latency,
      balanceSum,
      expectedSum,
      moneyConserved: balanceSum === expectedSum,
      command: `redis-benchmark ${args.join(" ")}`,
    };
  }

  /** Stops the server by its pid and removes its directory. */
  async stop(): Promise<void> {
    await this.#daemon.stop("SIGTERM");
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

async function redisCli(port: number, args: readonly string[], allowFailure = false) {
  const result = await runTool("redis-cli", ["-h", "127.0.0.1", "-p", String(port), ...args], {
    timeoutMs: PEER_TOOL_TIMEOUT_MS,
    allowFailure,
  });
  // redis-cli exits 0 on a server error reply; an error is a bug in our scripts or setup.
  if (!allowFailure && /^(ERR|NOSCRIPT|WRONGTYPE)/.test(result.stdout)) {
    throw new TxgridError(ErrorCode.UNAVAILABLE, `redis-cli ${args[0]}: ${result.stdout.trim()}`);
  }
  return result.stdout;
}
