// The PostgreSQL peer: a private cluster (initdb) in a temporary directory, served by a
// `postgres` child on 127.0.0.1 (first free port from PEER_POSTGRES_PORT_FIRST) and driven by
// pgbench -M prepared with -c connections. Run as the `postgres` user when we are root
// (PostgreSQL refuses root).
//
// Per request: unbatched, one call of the PL/pgSQL function transfer(a, b, amount), the
// accounts picked by pgbench (1 round trip, one transaction, one commit). With a batch size k,
// one call of transfer_batch(k, ...), which picks k transfers server-side with the same rule,
// locks all their rows in id order (no deadlocks between concurrent batches) and applies each
// transfer or refuses it on its own: one transaction and one commit for k transfers, like one
// txgrid request of k transfers under one fdatasync.
//
// Durability: fsync=on, full_page_writes=on, default wal_sync_method, synchronous_commit on or
// off (switched per run with ALTER SYSTEM). No checkpoint during a run (max_wal_size 8GB,
// checkpoint_timeout 30min); every run starts after VACUUM and CHECKPOINT. Latencies come from
// pgbench's per-transaction log. Guarantees: the server is our direct child, stopped by its pid
// (SIGINT: fast shutdown), and its directory is removed; after every run the sum of all
// balances is compared with accounts x the initial balance.
import {
  appendFileSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import {
  PEER_POSTGRES_PORT_FIRST,
  PEER_RUN_SLACK_MS,
  PEER_TOOL_TIMEOUT_MS,
} from "../../constants.ts";
import { ErrorCode, TxgridError } from "../../stdx/index.ts";
import { ACCOUNT_BALANCE_INITIAL } from "../drivers.ts";
import { LatencyRecorder } from "../latency.ts";
import { HOT_ACCOUNT_COUNT, TRANSFER_AMOUNT_MAX } from "../workload.ts";
import { addPgbenchLogLatencies, parsePgbenchSummary, peerLatencyOf } from "./output.ts";
import {
  type Daemon,
  findFreePort,
  findPostgresBinDir,
  lookUpUser,
  type RunAs,
  runTool,
  startDaemon,
  waitUntil,
} from "./processes.ts";
import type { PeerRun, PeerWorkload } from "./types.ts";

/** Connections beyond the benchmark's: psql during runs, autovacuum workers. */
const SPARE_CONNECTIONS = 10;

function schemaSql(accountCount: number): string {
  return `
SET client_min_messages = warning;
CREATE TABLE acct (id int PRIMARY KEY, balance bigint NOT NULL) WITH (fillfactor = 80);
INSERT INTO acct SELECT g, ${ACCOUNT_BALANCE_INITIAL} FROM generate_series(1, ${accountCount}) g;

-- One checked transfer; both rows locked in id order first, so transfers cannot deadlock.
CREATE FUNCTION transfer(src int, dst int, amount bigint) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1 FROM acct WHERE id IN (src, dst) ORDER BY id FOR UPDATE;
  UPDATE acct SET balance = balance - amount WHERE id = src AND balance >= amount;
  IF NOT FOUND THEN RETURN false; END IF;
  UPDATE acct SET balance = balance + amount WHERE id = dst;
  RETURN true;
END $$;

-- k checked transfers in one transaction, picked like txgrid's Workload: with probability
-- hotpct % both accounts among the first nhot, else among all n; credit != debit. All rows
-- are locked in id order first; each transfer is applied or refused on its own.
CREATE FUNCTION transfer_batch(k int, n int, nhot int, hotpct int) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
  src int[]; dst int[]; amount bigint[]; range int; a int; b int; applied int := 0;
BEGIN
  FOR i IN 1..k LOOP
    range := CASE WHEN n > nhot AND random() * 100 < hotpct THEN nhot ELSE n END;
    a := floor(random() * range)::int + 1;
    b := floor(random() * (range - 1))::int + 1;
    IF b >= a THEN b := b + 1; END IF;
    src[i] := a; dst[i] := b; amount[i] := floor(random() * ${TRANSFER_AMOUNT_MAX})::int + 1;
  END LOOP;
  PERFORM 1 FROM acct WHERE id = ANY (src || dst) ORDER BY id FOR UPDATE;
  FOR i IN 1..k LOOP
    UPDATE acct SET balance = balance - amount[i] WHERE id = src[i] AND balance >= amount[i];
    IF FOUND THEN
      UPDATE acct SET balance = balance + amount[i] WHERE id = dst[i];
      applied := applied + 1;
    END IF;
  END LOOP;
  RETURN applied;
END $$;
VACUUM ANALYZE acct;
`;
}

/** pgbench script of one transfer, accounts chosen by pgbench with txgrid's rule (1-based). */
const TRANSFER_SCRIPT = `\\set range CASE WHEN :naccts > :nhot AND random(0, 99) < :hotpct THEN :nhot ELSE :naccts END
\\set a random(1, :range)
\\set b random(1, :range - 1)
\\set b CASE WHEN :b >= :a THEN :b + 1 ELSE :b END
\\set amount random(1, ${TRANSFER_AMOUNT_MAX})
SELECT transfer(:a, :b, :amount);
`;

const BATCH_SCRIPT = "SELECT transfer_batch(:k, :naccts, :nhot, :hotpct);\n";

export class PostgresPeer {
  readonly version: string;
  readonly #binDir: string;
  readonly #dir: string;
  readonly #port: number;
  readonly #daemon: Daemon;
  readonly #accountCount: number;
  #runNumber = 0;

  private constructor(
    version: string,
    binDir: string,
    dir: string,
    port: number,
    daemon: Daemon,
    accountCount: number,
  ) {
    this.version = version;
    this.#binDir = binDir;
    this.#dir = dir;
    this.#port = port;
    this.#daemon = daemon;
    this.#accountCount = accountCount;
  }

  /** Creates and starts the cluster, loads `accountCount` accounts and the functions. */
  static async start(accountCount: number, concurrency: number): Promise<PostgresPeer> {
    const binDir = findPostgresBinDir();
    if (binDir === null) {
      throw new TxgridError(ErrorCode.UNAVAILABLE, "PostgreSQL binaries not found");
    }
    let runAs: RunAs | undefined;
    if (process.getuid?.() === 0) {
      const user = lookUpUser("postgres");
      if (user === null) {
        throw new TxgridError(
          ErrorCode.UNAVAILABLE,
          "running as root and there is no postgres user to run PostgreSQL as",
        );
      }
      runAs = user;
    }
    const versionText = (
      await runTool(join(binDir, "postgres"), ["--version"], { timeoutMs: 10_000 })
    ).stdout;
    const version = /\(PostgreSQL\) ([\d.]+)/.exec(versionText)?.[1] ?? "unknown";
    const dir = mkdtempSync(join(tmpdir(), "txgrid-peer-postgres-"));
    if (runAs !== undefined) chownSync(dir, runAs.uid, runAs.gid);
    const dataDir = join(dir, "data");
    let daemon: Daemon | null = null;
    try {
      await runTool(
        join(binDir, "initdb"),
        ["-D", dataDir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C"],
        { timeoutMs: PEER_TOOL_TIMEOUT_MS, runAs, cwd: dir },
      );
      const port = await findFreePort(PEER_POSTGRES_PORT_FIRST);
      appendFileSync(
        join(dataDir, "postgresql.conf"),
        [
          "",
          "listen_addresses = '127.0.0.1'",
          `port = ${port}`,
          `unix_socket_directories = '${dir}'`,
          `max_connections = ${concurrency + SPARE_CONNECTIONS}`,
          "shared_buffers = 1GB",
          "fsync = on",
          "full_page_writes = on",
          "synchronous_commit = on",
          "max_wal_size = 8GB",
          "checkpoint_timeout = 30min",
          "",
        ].join("\n"),
      );
      daemon = startDaemon(join(binDir, "postgres"), ["-D", dataDir], runAs, dir);
      const started = daemon;
      await waitUntil("postgres", started, async () => {
        const result = await runTool(
          join(binDir, "psql"),
          ["-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-qAt", "-c", "SELECT 1"],
          { timeoutMs: 10_000, allowFailure: true },
        );
        return result.code === 0;
      });
      const peer = new PostgresPeer(version, binDir, dir, port, started, accountCount);
      writeFileSync(join(dir, "schema.sql"), schemaSql(accountCount));
      writeFileSync(join(dir, "transfer.sql"), TRANSFER_SCRIPT);
      writeFileSync(join(dir, "transfer-batch.sql"), BATCH_SCRIPT);
      await peer.#psql(["-v", "ON_ERROR_STOP=1", "-f", join(dir, "schema.sql")]);
      return peer;
    } catch (error) {
      await daemon?.stop("SIGINT");
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  perRequest(workload: PeerWorkload): string {
    return workload.batchSize > 1
      ? `one transaction of ${workload.batchSize} transfers (transfer_batch, rows locked in id order)`
      : "one transaction per transfer (PL/pgSQL transfer(), 1 round trip)";
  }

  async #psql(args: readonly string[]): Promise<string> {
    const connection = ["-h", "127.0.0.1", "-p", String(this.#port), "-U", "postgres", "-qAt"];
    const result = await runTool(join(this.#binDir, "psql"), [...connection, ...args], {
      timeoutMs: PEER_TOOL_TIMEOUT_MS,
    });
    return result.stdout;
  }

  async run(setting: string, workload: PeerWorkload): Promise<PeerRun> {
    await this.#psql([
      "-c",
      `ALTER SYSTEM SET synchronous_commit = ${setting === "off" ? "off" : "on"}`,
      "-c",
      "SELECT pg_reload_conf()",
    ]);
    // Same starting state for every run: dead rows of earlier runs vacuumed, nothing to flush.
    await this.#psql(["-c", "VACUUM acct", "-c", "CHECKPOINT"]);
    const loadAverageAtStart = loadavg()[0] ?? 0;
    const logDir = join(this.#dir, `log-${++this.#runNumber}`);
    mkdirSync(logDir);
    const batched = workload.batchSize > 1;
    const seconds = Math.max(1, Math.round(workload.durationMs / 1000));
    const args = [
      "-h",
      "127.0.0.1",
      "-p",
      String(this.#port),
      "-U",
      "postgres",
      "-n",
      "-M",
      "prepared",
      "-c",
      String(workload.concurrency),
      "-j",
      String(Math.max(1, Math.min(workload.concurrency, cpus().length))),
      "-T",
      String(seconds),
      "--max-tries=10",
      "-D",
      `naccts=${this.#accountCount}`,
      "-D",
      `nhot=${HOT_ACCOUNT_COUNT}`,
      "-D",
      `hotpct=${workload.hotPercent}`,
      ...(batched ? ["-D", `k=${workload.batchSize}`] : []),
      "-f",
      join(this.#dir, batched ? "transfer-batch.sql" : "transfer.sql"),
      "-l",
      `--log-prefix=${join(logDir, "tx")}`,
      "postgres",
    ];
    const result = await runTool(join(this.#binDir, "pgbench"), args, {
      timeoutMs: seconds * 1000 + PEER_RUN_SLACK_MS,
    });
    const figures = parsePgbenchSummary(`${result.stdout}${result.stderr}`);
    const recorder = new LatencyRecorder();
    for (const name of readdirSync(logDir)) {
      addPgbenchLogLatencies(readFileSync(join(logDir, name), "utf8"), recorder);
    }
    rmSync(logDir, { recursive: true, force: true });
    const balanceSum = (await this.#psql(["-c", "SELECT sum(balance) FROM acct"])).trim();
    const expectedSum = String(BigInt(this.#accountCount) * ACCOUNT_BALANCE_INITIAL);
    return {
      transfersPerSecond: figures.transactionsPerSecond * workload.batchSize,
      transferCount: figures.transactionCount * workload.batchSize,
      requestCount: figures.transactionCount,
      loadAverageAtStart,
      errorCount: figures.failedCount,
      latency: peerLatencyOf(recorder),
      balanceSum,
      expectedSum,
      moneyConserved: balanceSum === expectedSum,
      command: `pgbench ${args.join(" ")}`,
    };
  }

  /** Stops the server by its pid (fast shutdown) and removes the cluster. */
  async stop(): Promise<void> {
    await this.#daemon.stop("SIGINT");
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
