// The `txgrid` command: serve, bench, verify. main() returns the exit code: 0 success,
// 1 failure (a broken invariant, a failed run, a server that could not start), 2 bad usage.
// Errors are printed as one readable line with their stable code, never as a stack trace,
// unless they are bugs (AssertionFailure), which crash loudly.
import { readFileSync } from "node:fs";
import {
  BUSY_POLL_US_MAX,
  COORD_PREFIX_DEFAULT,
  LEASE_TTL_MS_DEFAULT,
  LEASE_TTL_MS_MAX,
  LEASE_TTL_MS_MIN,
  REPLICAS_MAX,
  SNAPSHOT_INTERVAL_BYTES,
  SNAPSHOT_INTERVAL_BYTES_MIN,
  TCP_PORT_DEFAULT,
} from "../constants.ts";
import {
  LOG_LEVELS,
  parseLogLevel,
  runServer,
  startEtcdRestGateway,
  verifyDataDir,
} from "../server/index.ts";
import { ErrorCode, isTxgridError, TxgridError } from "../stdx/index.ts";
import { choiceFlag, integerFlag, parseFlags, stringFlag } from "./args.ts";
import { benchCommand, benchUsage } from "./bench-command.ts";
import { clusterCommand, clusterUsage, etcdCommand, etcdUsage } from "./cluster-command.ts";

const usage = `usage: txgrid <command> [options]

commands:
  serve     run a single node (data under ./data; HTTP on 127.0.0.1:9100, binary on 9101)
  node      run one replica of a replicated shard, coordinated through etcd
  gateway   a stateless REST entry point that forwards to the shard's current primary
  bench     load a server with TiMPE's user-to-user transfers and report latency
  verify    check the invariants of a running server (--url) or a data directory (--data-dir)
  cluster   up | status | down: a local cluster (etcd + node processes) on 127.0.0.1
  etcd      start | stop | status: a local etcd for txgrid
  help      show this text, or \`txgrid help <command>\`

Run \`txgrid <command> --help\` for a command's options.
`;

const serveUsage = `usage: txgrid serve [options]

  --host HOST        address to listen on (default 127.0.0.1)
  --port PORT        port (default 9100; 0 picks a free one)
  --tcp-port PORT    port of the binary protocol, for connect() clients (default 9101;
                     0 picks a free one; with --port 0 the default is 0 too)
  --data-dir DIR     data directory: log, snapshots (default ./data)
  --fsync POLICY     always | batch | lazy (default batch)
                     always, batch: answer only after fdatasync (batch groups more eagerly)
                     lazy: answer once written to the OS; fdatasync within 100 ms
  --log-level LEVEL  ${LOG_LEVELS.join(" | ")} (default info, or $TXGRID_LOG_LEVEL);
                     info: state changes and one activity line per 10 s; debug: a line
                     per batch; never a line per request
  --busy-poll-us N   after binary-protocol I/O, keep polling instead of sleeping for up to
                     N µs of idleness (0 to ${BUSY_POLL_US_MAX}; default 0: off); trades CPU for
                     latency at low load (docs/cli.md)
  --http-front on|off  on (default): transfer requests are read by txgrid's own HTTP/1.1
                     front, every other connection by node:http; off: node:http for all

The web console is at http://HOST:PORT/console/, Prometheus metrics at /metrics.
`;

const nodeUsage = `usage: txgrid node --id ID --data-dir DIR --port PORT --tcp-port PORT --etcd URL[,URL]
                   --replicas N [options]

One replica of shard 0, coordinated through etcd (docs/design/replication.md). The primary
takes writes and answers them once every replica of its epoch has them; a standby refuses
writes with TXG_ERR_NOT_PRIMARY naming the primary (REST: 503 with primaryUrl) and serves
reads from its own applied state (it may lag by the batches still on their way).
  --id ID              node id, unique in the cluster ([A-Za-z0-9_.-])
  --data-dir DIR       data directory (log, snapshots, replication-epochs.json)
  --host HOST          address of both faces and of replication (default 127.0.0.1)
  --port PORT          HTTP port (fixed: it is published in etcd)
  --tcp-port PORT      binary protocol and replication port (fixed)
  --etcd URLS          etcd client URLs, comma-separated
  --replicas N         replicas of the shard, this one included (1..${REPLICAS_MAX})
  --preferred ID       preferred primary at cold start (ties of log position; default none)
  --replication MODE   received | durable (default received): what a standby must have
                       done with a batch before the primary answers it
  --fsync POLICY       always | batch | lazy (default batch), as for serve
  --lease-ttl-ms MS    etcd lease TTL (default ${LEASE_TTL_MS_DEFAULT}; ${LEASE_TTL_MS_MIN}..${LEASE_TTL_MS_MAX}); a
                       primary stops answering at its local lease deadline
  --snapshot-interval-bytes N
                       log bytes between snapshots (default ${SNAPSHOT_INTERVAL_BYTES}, at least
                       ${SNAPSHOT_INTERVAL_BYTES_MIN}); a standby behind the primary's newest
                       snapshot catches up from a snapshot plus the log after it
  --force              cold start without waiting for N live replicas (operator decision)
  --log-level LEVEL    as for serve
  --busy-poll-us N     as for serve; replication traffic restarts the window too (default 0:
                       off)
  --http-front on|off  as for serve (default on)
`;

const gatewayUsage = `usage: txgrid gateway --etcd URLS [options]

A stateless REST entry point for a replicated shard: learns the primary from etcd and
forwards every HTTP request to its REST face (docs/cli.md, "txgrid gateway"). Run as many
as you like behind a load balancer. Never retries: a request whose primary fails gets 502.
  --etcd URLS          etcd client URLs, comma-separated
  --host HOST          listen address (default 127.0.0.1)
  --port PORT          HTTP port (default 9100)
  --prefix PREFIX      etcd key prefix of the cluster (default /txgrid)
`;

const verifyUsage = `usage: txgrid verify (--url URL | --data-dir DIR)

Checks every invariant: the sum of balances equals the sum of initial balances, reserved
amounts equal open pending transfers, no available balance is below its floor.
  --url URL          a running server (GET /v1/verify)
  --data-dir DIR     a data directory of a stopped server (replays its log offline)
`;

const usages: Record<string, string> = {
  serve: serveUsage,
  node: nodeUsage,
  bench: benchUsage,
  verify: verifyUsage,
  cluster: clusterUsage,
  etcd: etcdUsage,
  gateway: gatewayUsage,
};

export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "help" || command === "--help" || command === "-h") {
    process.stdout.write(usages[rest[0] ?? ""] ?? usage);
    return command === undefined ? 2 : 0;
  }
  if (command === "--version" || command === "version") {
    process.stdout.write(`txgrid ${packageVersion()}\n`);
    return 0;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    process.stdout.write(usages[command] ?? usage);
    return 0;
  }
  try {
    switch (command) {
      case "serve":
        return await serveCommand(rest);
      case "node":
        return await nodeCommand(rest);
      case "bench":
        return await benchCommand(rest);
      case "verify":
        return await verifyCommand(rest);
      case "cluster":
        return await clusterCommand(rest);
      case "etcd":
        return await etcdCommand(rest);
      case "gateway":
        return await gatewayCommand(rest);
      default:
        process.stderr.write(`txgrid: unknown command "${command}"\n\n${usage}`);
        return 2;
    }
  } catch (error) {
    if (!isTxgridError(error)) throw error;
    process.stderr.write(`txgrid ${command}: ${error.message} [${error.code}]\n`);
    return error.code === ErrorCode.BAD_REQUEST ? 2 : 1;
  }
}

function packageVersion(): string {
  const packageUrl = new URL("../../../package.json", import.meta.url);
  return (JSON.parse(readFileSync(packageUrl, "utf8")) as { version: string }).version;
}

async function serveCommand(argv: readonly string[]): Promise<number> {
  const values = parseFlags(argv, {
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string", default: "9100" },
    "tcp-port": { type: "string" },
    "data-dir": { type: "string", default: "./data" },
    fsync: { type: "string", default: "batch" },
    "log-level": { type: "string" },
    "busy-poll-us": { type: "string", default: "0" },
    "http-front": { type: "string", default: "on" },
  });
  const logLevelText = stringFlag(values, "log-level");
  const logLevel =
    logLevelText !== undefined
      ? parseLogLevel(logLevelText, "--log-level")
      : parseLogLevel(process.env.TXGRID_LOG_LEVEL ?? "info", "TXGRID_LOG_LEVEL");
  const port = integerFlag(values, "port", 0, 65_535);
  // A server on a free HTTP port (tests, `bench --spawn`) takes a free TCP port as well, so
  // that several can run side by side without naming both ports.
  const tcpPortDefault = port === 0 ? 0 : TCP_PORT_DEFAULT;
  await runServer({
    host: stringFlag(values, "host") ?? "127.0.0.1",
    port,
    tcpPort:
      values["tcp-port"] === undefined
        ? tcpPortDefault
        : integerFlag(values, "tcp-port", 0, 65_535),
    dataDir: stringFlag(values, "data-dir") ?? "./data",
    fsyncPolicy: choiceFlag(values, "fsync", ["always", "batch", "lazy"] as const),
    handleSignals: true,
    logLevel,
    version: packageVersion(),
    busyPollUs: integerFlag(values, "busy-poll-us", 0, BUSY_POLL_US_MAX),
    httpFront: choiceFlag(values, "http-front", ["on", "off"] as const) === "on",
  });
  // The server keeps the process alive until SIGINT/SIGTERM closes it.
  return 0;
}

async function nodeCommand(argv: readonly string[]): Promise<number> {
  const values = parseFlags(argv, {
    id: { type: "string" },
    "data-dir": { type: "string" },
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string" },
    "tcp-port": { type: "string" },
    etcd: { type: "string" },
    replicas: { type: "string" },
    preferred: { type: "string" },
    replication: { type: "string", default: "received" },
    fsync: { type: "string", default: "batch" },
    "lease-ttl-ms": { type: "string", default: String(LEASE_TTL_MS_DEFAULT) },
    "snapshot-interval-bytes": { type: "string", default: String(SNAPSHOT_INTERVAL_BYTES) },
    force: { type: "boolean", default: false },
    "log-level": { type: "string" },
    "busy-poll-us": { type: "string", default: "0" },
    "http-front": { type: "string", default: "on" },
  });
  for (const name of ["id", "data-dir", "port", "tcp-port", "etcd", "replicas"]) {
    if (values[name] === undefined) {
      throw new TxgridError(ErrorCode.BAD_REQUEST, `--${name} is required`);
    }
  }
  const nodeId = stringFlag(values, "id") as string;
  const preferred = stringFlag(values, "preferred");
  const logLevelText = stringFlag(values, "log-level");
  await runServer({
    host: stringFlag(values, "host") ?? "127.0.0.1",
    port: integerFlag(values, "port", 1, 65_535),
    tcpPort: integerFlag(values, "tcp-port", 1, 65_535),
    dataDir: stringFlag(values, "data-dir") as string,
    fsyncPolicy: choiceFlag(values, "fsync", ["always", "batch", "lazy"] as const),
    handleSignals: true,
    logLevel: parseLogLevel(
      logLevelText ?? process.env.TXGRID_LOG_LEVEL ?? "info",
      logLevelText === undefined ? "TXGRID_LOG_LEVEL" : "--log-level",
    ),
    version: packageVersion(),
    snapshotIntervalBytes: integerFlag(
      values,
      "snapshot-interval-bytes",
      SNAPSHOT_INTERVAL_BYTES_MIN,
      Number.MAX_SAFE_INTEGER,
    ),
    busyPollUs: integerFlag(values, "busy-poll-us", 0, BUSY_POLL_US_MAX),
    httpFront: choiceFlag(values, "http-front", ["on", "off"] as const) === "on",
    cluster: {
      nodeId,
      etcdEndpoints: (stringFlag(values, "etcd") as string).split(",").filter((u) => u !== ""),
      replicas: integerFlag(values, "replicas", 1, REPLICAS_MAX),
      preferredPrimaryId: preferred === undefined || preferred === "" ? null : preferred,
      mode: choiceFlag(values, "replication", ["received", "durable"] as const),
      leaseTtlMs: integerFlag(values, "lease-ttl-ms", LEASE_TTL_MS_MIN, LEASE_TTL_MS_MAX),
      force: values.force === true,
    },
  });
  // The node keeps the process alive until SIGINT/SIGTERM closes it.
  return 0;
}

async function gatewayCommand(argv: readonly string[]): Promise<number> {
  const values = parseFlags(argv, {
    etcd: { type: "string" },
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string", default: "9100" },
    prefix: { type: "string", default: COORD_PREFIX_DEFAULT },
  });
  const endpoints = (stringFlag(values, "etcd") ?? "").split(",").filter((url) => url !== "");
  if (endpoints.length === 0) {
    throw new TxgridError(ErrorCode.BAD_REQUEST, "--etcd URLS is required");
  }
  const gateway = await startEtcdRestGateway({
    endpoints,
    prefix: stringFlag(values, "prefix") ?? COORD_PREFIX_DEFAULT,
    host: stringFlag(values, "host") ?? "127.0.0.1",
    port: integerFlag(values, "port", 0, 65_535),
    shardId: 0,
  });
  process.stdout.write(`txgrid gateway on ${gateway.url} (etcd ${endpoints.join(",")})\n`);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => void gateway.close());
  }
  return 0;
}

async function verifyCommand(argv: readonly string[]): Promise<number> {
  const values = parseFlags(argv, { url: { type: "string" }, "data-dir": { type: "string" } });
  const url = stringFlag(values, "url");
  const dataDir = stringFlag(values, "data-dir");
  if ((url === undefined) === (dataDir === undefined)) {
    process.stderr.write(verifyUsage);
    return 2;
  }
  const report =
    url !== undefined
      ? await verifyUrl(url)
      : stringifyBigints(await verifyDataDir(dataDir as string));
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(report.ok ? "every invariant holds\n" : "INVARIANTS BROKEN\n");
  return report.ok ? 0 : 1;
}

async function verifyUrl(url: string): Promise<Record<string, unknown> & { ok: boolean }> {
  const response = await fetch(`${url.replace(/\/+$/, "")}/v1/verify`, {
    signal: AbortSignal.timeout(60_000),
  });
  const json = (await response.json()) as { data?: Record<string, unknown> };
  const data = json.data ?? {};
  return { ...data, ok: data.ok === true };
}

function stringifyBigints<T extends object>(report: T): Record<string, unknown> & T {
  return Object.fromEntries(
    Object.entries(report).map(([key, value]) => [
      key,
      typeof value === "bigint" ? String(value) : value,
    ]),
  ) as Record<string, unknown> & T;
}
