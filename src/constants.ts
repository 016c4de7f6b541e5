// Every limit in txgrid, in one place. A limit that is reached gives an explicit error or
// backpressure, never unbounded growth. Relationships between limits are asserted when this
// module loads, so an inconsistent edit crashes at start instead of misbehaving later.
import { assert } from "./stdx/assert.ts";

/** Largest amount, balance or asset value: balances are signed 64-bit integers. */
export const AMOUNT_MAX = 2n ** 63n - 1n;
/** Smallest balance or asset value. */
export const BALANCE_MIN = -(2n ** 63n);

/** Longest id of an account, transfer, asset or row key, in UTF-8 bytes. */
export const ID_BYTES_MAX = 128;
/** Longest nickname or other free text column, in UTF-8 bytes. */
export const TEXT_BYTES_MAX = 1024;
/** Longest account nickname, in UTF-16 code units (what JSON schemas count). */
export const NICKNAME_LENGTH_MAX = 256;
/** Most operations in one generic transaction. */
export const TXN_OPERATIONS_MAX = 64;
/** Most columns in one row. */
export const ROW_COLUMNS_MAX = 64;

/** Most commands the executor puts into one logged batch. */
export const BATCH_COMMANDS_MAX = 8190;
/** Most commands waiting for the executor; beyond it, submissions fail with OVERLOADED. */
export const QUEUE_COMMANDS_MAX = 65_536;
/** Most transfers in one /v1 batch request. */
export const REQUEST_TRANSFERS_MAX = 8190;

/** Largest log record (one batch), in bytes. */
export const WAL_RECORD_BYTES_MAX = 64 * 1024 * 1024;
/** A log segment is closed and a new one started once it reaches this size. */
export const WAL_SEGMENT_BYTES_MAX = 64 * 1024 * 1024;
/**
 * Zero-filled space the log keeps written ahead of its end: records then overwrite space
 * the file already has, so their fdatasync need not commit a new file size (measured
 * cheaper; docs/design/wal.md). One write of this many zeros, synced with the records, every
 * this many bytes of log.
 */
export const WAL_PREALLOCATE_BYTES = 1024 * 1024;
/** Take a snapshot after this many log bytes since the last one. */
export const SNAPSHOT_INTERVAL_BYTES = 256 * 1024 * 1024;
/**
 * Rows a shard encodes into a snapshot before it lets the event loop run again (timers, the
 * network, reads; batches wait for the whole snapshot): about 10-20 ms of encoding here, so a
 * snapshot of millions of rows never holds a lease keepalive back for seconds.
 */
export const SNAPSHOT_ROWS_PER_STEP = 32_768;
/** Smallest snapshot interval a node accepts (`--snapshot-interval-bytes`, tests and demos). */
export const SNAPSHOT_INTERVAL_BYTES_MIN = 64 * 1024;

/** Most pending (two-phase) transfers open at once; beyond it, new ones are refused. */
export const PENDING_TRANSFERS_MAX = 1_000_000;
/** Longest timeout of a pending transfer. */
export const PENDING_TIMEOUT_MS_MAX = 30 * 24 * 3600 * 1000;

/** Largest HTTP request body, in bytes. */
export const HTTP_BODY_BYTES_MAX = 4 * 1024 * 1024;
/**
 * Largest request head the HTTP front (api/http/http1-front.ts) reads; a longer one goes to
 * node:http, whose own limit (maxHeaderSize, 16 KiB by default) then answers it.
 */
export const HTTP_HEAD_BYTES_MAX = 16 * 1024;
/** Most unanswered requests the front takes on one connection before it stops reading it. */
export const HTTP_PIPELINE_DEPTH_MAX = 64;
/** The front checks its connections' timeouts this often (one timer for all of them). */
export const HTTP_FRONT_SWEEP_MS = 500;
/**
 * A request still not whole after about this long goes to node:http, whose header and
 * request timeouts then apply (slow clients are its business, not the front's).
 */
export const HTTP_FRONT_SLOW_REQUEST_MS = 1000;
/** Requests `txgrid gateway` forwards at once; one more is refused with TXG_ERR_OVERLOADED. */
export const GATEWAY_INFLIGHT_MAX = 4096;
/** A forwarded request whose primary stays silent this long fails with 502. */
export const GATEWAY_UPSTREAM_TIMEOUT_MS = 30_000;
/** Most rows a list endpoint returns in one page. */
export const LIST_PAGE_ROWS_MAX = 10_000;

/** With fsync=lazy, the longest time written records stay without fdatasync. */
export const LAZY_FSYNC_INTERVAL_MS = 100;

// ---- the binary protocol (docs/protocol.md) ----

/** Largest frame, header included. Bounds the memory one connection can make us allocate. */
export const FRAME_BYTES_MAX = 8 * 1024 * 1024;
/** Most operations (accounts, transfers, ids, assets, results) in one protocol message. */
export const BATCH_OPERATIONS_MAX = 8190;
/** Most requests a client may have sent and not yet seen answered on one connection. */
export const INFLIGHT_REQUESTS_PER_CONNECTION_MAX = 1024;
/**
 * Most bytes of request frames received and not yet answered on one connection. Without it,
 * INFLIGHT_REQUESTS_PER_CONNECTION_MAX frames of FRAME_BYTES_MAX would be 8 GiB; at either
 * limit the server stops reading the connection until replies go out (backpressure).
 */
export const INFLIGHT_BYTES_PER_CONNECTION_MAX = 64 * 1024 * 1024;
/** Longest message of an ERROR frame, in UTF-8 bytes; longer messages are cut. */
export const ERROR_MESSAGE_BYTES_MAX = 1024;

// ---- the TCP server ----

/** Most client connections open at once; one more is answered with ERROR and closed. */
export const TCP_CONNECTIONS_MAX = 256;
/**
 * Longest wait for a connection that is being closed (protocol error, refused connection,
 * server shutdown) to take its last replies; then it is destroyed. A peer that stops reading
 * cannot keep a closing connection, or a closing server, open.
 */
export const TCP_CLOSE_TIMEOUT_MS = 5_000;
/** The default port of the binary protocol (`txgrid serve --tcp-port`, `txgrid://host`). */
export const TCP_PORT_DEFAULT = 9101;
/**
 * Longest idle busy-poll window (`txgrid serve --busy-poll-us`, `connect(url, { busyPollUs })`):
 * how long a process keeps its event loop turning after I/O instead of sleeping. Off (0) by
 * default; the bound keeps an idle process from burning a CPU for more than 10 ms after its
 * last message.
 */
export const BUSY_POLL_US_MAX = 10_000;
/**
 * A busy-poll chain that ended by its window and was followed by I/O within this many µs
 * was most likely keeping the peer off a shared CPU (the peer ran only once we slept), so the
 * poller backs off. Above a peer's work for one small request (10–30 µs here), below the gap
 * of a genuinely idle connection.
 */
export const BUSY_POLL_HANDOFF_US = 100;
/** How long a poller that saw a handoff starts no chain (then it tries again); it doubles per
 * handoff in a row up to BUSY_POLL_BACKOFF_MS_MAX, so that a process left on its peer's CPU
 * pays for a try about once a second, and one moved away is soon polling again. */
export const BUSY_POLL_BACKOFF_MS_MIN = 10;
export const BUSY_POLL_BACKOFF_MS_MAX = 1_000;

// ---- the client ----

/** How long a call waits for its answer unless the client or the call says otherwise. */
export const CALL_TIMEOUT_MS_DEFAULT = 10_000;
/** Longest timeout a call may ask for (what setTimeout can hold). */
export const CALL_TIMEOUT_MS_MAX = 2 ** 31 - 1;
/**
 * Most operations a client holds that are not on the wire yet: gathered for the next frame,
 * waiting for room among the in-flight requests, or waiting for a reconnect. A call that
 * would go beyond it is refused with TXG_ERR_OVERLOADED (one larger than the limit by itself
 * with TXG_ERR_LIMIT_EXCEEDED) instead of growing the queue.
 */
export const CLIENT_QUEUED_OPERATIONS_MAX = 262_144;
/** How long connect() and each reconnect attempt wait for the server. */
export const CONNECT_TIMEOUT_MS_DEFAULT = 5_000;
/** First delay before reconnecting after a broken connection; it doubles per failure. */
export const RECONNECT_DELAY_MS_MIN = 50;
/** Longest delay between two reconnect attempts. */
export const RECONNECT_DELAY_MS_MAX = 2_000;
/** Times one request is sent again after a replica answered NOT_PRIMARY or UNAVAILABLE (a
 * failover under way); after that the call fails with that error. Only retry-safe requests
 * (creations carry ids, lookups read) are resent. */
export const CLIENT_PRIMARY_RETRIES_MAX = 64;
/** Longest wait between two connection attempts of a client given several replicas: with
 * CLIENT_PRIMARY_RETRIES_MAX it covers several lease TTLs of failover. */
export const CLIENT_FAILOVER_DELAY_MS_MAX = 200;
/** Most addresses one client is given or learns (the replicas of a shard). */
export const CLIENT_ADDRESSES_MAX = 16;
/** A client given several replicas drops a connection that answered nothing for this long
 * while requests were in flight (a paused or cut-off primary: the kernel still accepts), and
 * resends its retry-safe requests to the next replica. */
export const CLIENT_SILENCE_MS_MAX = 3_000;
/** For this long after such a drop (or a refused connection), a NOT_PRIMARY naming that
 * replica is not followed. */
export const CLIENT_SUSPECT_MS = 2_000;

// ---- `txgrid bench` ----

/** Most transfers of `txgrid bench --warmup` (sent before the timed load, never counted). */
export const BENCH_WARMUP_TRANSFERS_MAX = 10_000_000;

// ---- `txgrid bench --peers`: PostgreSQL and Redis side by side (src/bench/peers) ----

/** First port tried for the private Redis; the first free one of PEER_PORT_SCAN_COUNT is used. */
export const PEER_REDIS_PORT_FIRST = 56_300;
/** First port tried for the private PostgreSQL cluster. */
export const PEER_POSTGRES_PORT_FIRST = 55_400;
/** Ports tried from each first port before giving up. */
export const PEER_PORT_SCAN_COUNT = 100;
/** Most concurrent clients of a peer (redis-benchmark -c, pgbench -c, PostgreSQL connections). */
export const PEER_CLIENTS_MAX = 512;
/** Longest wait for a peer to start answering, and for it to exit when stopped. */
export const PEER_START_TIMEOUT_MS = 60_000;
/** Longest run of one helper command (psql, redis-cli, loading the accounts). */
export const PEER_TOOL_TIMEOUT_MS = 300_000;
/** Longest run of scripts/setup-peers.sh (apt-get update and install). */
export const PEER_INSTALL_TIMEOUT_MS = 900_000;
/** A load run is killed when it lasts this much longer than asked. */
export const PEER_RUN_SLACK_MS = 120_000;
/** Most requests of redis-benchmark's sizing probe (it runs before each measured run). */
export const PEER_PROBE_REQUESTS_MAX = 200_000;
/** Most output bytes kept from one peer tool (redis-benchmark, pgbench, psql). */
export const PEER_OUTPUT_BYTES_MAX = 64 * 1024 * 1024;
/** Accounts written by one Lua call when loading Redis (bounds one blocking script). */
export const PEER_LOAD_CHUNK_ACCOUNTS = 100_000;
// ---- metrics, logs and the console ----

/** Most label combinations of one metric; one more is refused (TXG_ERR_LIMIT_EXCEEDED). */
export const METRICS_SERIES_PER_FAMILY_MAX = 1024;
/** Seconds of live history (one point per second) the console's charts can show. */
export const LIVE_SERIES_POINTS_MAX = 300;
/** How often the server logs one summary line of its activity (when there was any). */
export const LOG_SUMMARY_INTERVAL_MS = 10_000;
/** A batch whose log flush takes longer than this is logged as a warning. */
export const LOG_SLOW_FLUSH_MS = 500;
/** Most accounts the console's search reads for substring matches (the newest ones). */
export const CONSOLE_SEARCH_SCAN_ROWS_MAX = 50_000;
/** Most accounts one console search answers. */
export const CONSOLE_SEARCH_RESULTS_MAX = 100;
// ---- replication (docs/design/replication.md) ----

/** Most replicas of one shard (the primary included). */
export const REPLICAS_MAX = 7;
/** Largest replication frame, header included; a snapshot for catch-up travels in one. */
export const REPLICATION_FRAME_BYTES_MAX = 512 * 1024 * 1024;
/** Most payload bytes of log entries in one replication message (one entry may be larger). */
export const REPLICATION_ENTRIES_BYTES_MAX = 4 * 1024 * 1024;
/** Most log entries in one replication message. */
export const REPLICATION_ENTRIES_MAX = 1024;
/** Bytes of the newest log entries a replica keeps in memory to catch standbys up from;
 * a standby further behind gets a snapshot and the log after it. */
export const REPLICATION_RETAINED_BYTES_MAX = 64 * 1024 * 1024;
/** Bytes of entries sent to one standby and not yet acknowledged; beyond, sending waits. */
export const REPLICATION_INFLIGHT_BYTES_MAX = 16 * 1024 * 1024;
/** How often a replica checks its timers (retransmits, lease deadline, roles, publishing). */
export const REPLICATION_TICK_MS = 50;
/** Unacknowledged entries are sent again after this long without progress. */
export const REPLICATION_RETRANSMIT_MS = 200;
/** A standby of the epoch that has not acknowledged anything for this long while behind is
 * removed from the epoch's replicas, so the others can go on acknowledging. */
export const REPLICATION_ACK_TIMEOUT_MS = 1_500;
/** A standby that heard nothing from its primary for this long says hello again: the primary
 * may have taken a stale hello of an older handshake for current and stopped sending. */
export const REPLICATION_SILENCE_HELLO_MS = 1_000;
/** Bytes waiting in one outgoing replication link (queued while connecting, or in the
 * socket's buffer); a message beyond it is dropped (the protocol retransmits), except that a
 * link with nothing buffered always takes one message, however large (a snapshot). */
export const REPLICATION_LINK_BUFFERED_BYTES_MAX = 32 * 1024 * 1024;
/** First delay before an outgoing replication link dials again after a failure; doubles. */
export const REPLICATION_RECONNECT_DELAY_MS_MIN = 25;
/** Longest delay between two dials of one replication link. */
export const REPLICATION_RECONNECT_DELAY_MS_MAX = 500;
/** How long a replication link may take to connect before the attempt is abandoned. */
export const REPLICATION_CONNECT_TIMEOUT_MS = 1_000;
/** Most incoming replication connections one node holds (each peer opens one). */
export const REPLICATION_INCOMING_CONNECTIONS_MAX = 64;
/** Most epoch marks a replica keeps (one per change of primary that wrote entries). */
export const EPOCH_MARKS_MAX = 4096;
// ---- coordination through etcd (docs/design/coordination.md) ----

/** Key prefix of everything txgrid keeps in etcd. */
export const COORD_PREFIX_DEFAULT = "/txgrid";
/**
 * Default lease TTL of a node. A dead primary is replaced about this long after its last
 * keepalive, so it bounds failover time; it must stay well above etcd's election timeout
 * (1 s by default), or an etcd leader change alone would end leases.
 */
export const LEASE_TTL_MS_DEFAULT = 2_000;
/** Shortest lease TTL; etcd grants whole seconds and at least 1.5 election timeouts. */
export const LEASE_TTL_MS_MIN = 1_000;
/** Longest lease TTL. */
export const LEASE_TTL_MS_MAX = 60_000;
/**
 * Keepalives sent per TTL: the keepalive interval is ttl / this. With 4, three keepalives in a
 * row may fail (or time out) before the local deadline passes.
 */
export const LEASE_KEEPALIVES_PER_TTL = 4;
/** How long one etcd call (read, compare-and-swap, grant, revoke) waits before UNAVAILABLE. */
export const COORD_CALL_TIMEOUT_MS_DEFAULT = 2_000;
/** Longest timeout a coordinator call may be configured with. */
export const COORD_CALL_TIMEOUT_MS_MAX = 60_000;
/** First delay before a broken watch is created again; it doubles per failure. */
export const COORD_WATCH_RETRY_DELAY_MS_MIN = 50;
/** Longest delay between two attempts to create a watch again. */
export const COORD_WATCH_RETRY_DELAY_MS_MAX = 1_000;
/** A watcher re-reads its keys this often even without events (a missed event heals). */
export const COORD_WATCH_RESYNC_INTERVAL_MS = 5_000;
/** Most live nodes a coordinator lists; more is an explicit error. */
export const COORD_NODES_MAX = 1_024;
/** Most node keys a listing reads: a node can hold keys of older sessions for up to a TTL. */
export const COORD_NODE_KEYS_MAX = 4 * COORD_NODES_MAX;
/** Largest JSON value of a node or role record, in bytes. */
export const COORD_VALUE_BYTES_MAX = 64 * 1024;
/** Most replicas (primary included) in one shard's role record. */
export const COORD_REPLICAS_MAX = 16;
/** Largest shard id. */
export const COORD_SHARD_ID_MAX = 65_535;
/** Longest node id, in characters ([A-Za-z0-9_.-]). */
export const COORD_NODE_ID_LENGTH_MAX = 64;

// ---- local etcd and cluster processes (txgrid cluster, txgrid etcd) ----

/** Client port of the etcd that `txgrid cluster up` and `txgrid etcd start` run. */
export const ETCD_CLIENT_PORT_DEFAULT = 9379;
/** Peer port of that etcd (never used by another member; etcd needs one anyway). */
export const ETCD_PEER_PORT_DEFAULT = 9380;
/** Longest wait for a started etcd to report healthy. */
export const ETCD_START_TIMEOUT_MS = 20_000;
/** Longest wait for a process to exit after SIGTERM before it gets SIGKILL. */
export const PROCESS_STOP_TIMEOUT_MS = 10_000;
/** Most node processes in one local cluster. */
export const CLUSTER_NODES_MAX = 16;
/** HTTP port of node n1 of a local cluster; node i gets base + i - 1. */
export const CLUSTER_HTTP_PORT_BASE_DEFAULT = 9200;
/** Binary protocol port of node n1 of a local cluster; node i gets base + i - 1. */
export const CLUSTER_TCP_PORT_BASE_DEFAULT = 9300;
/** Longest wait for a supervised node process to stay up after it was started. */
export const CLUSTER_NODE_START_TIMEOUT_MS = 20_000;
/** HTTP port of a local cluster's REST gateway (`txgrid cluster up --gateway-port`). */
export const CLUSTER_GATEWAY_PORT_DEFAULT = 9190;
/** Longest wait for a local cluster's gateway to print that it listens. */
export const CLUSTER_GATEWAY_START_TIMEOUT_MS = 20_000;

assert(BATCH_COMMANDS_MAX <= QUEUE_COMMANDS_MAX, "a batch must fit in the queue");
assert(REQUEST_TRANSFERS_MAX <= BATCH_COMMANDS_MAX, "a request batch must fit in one log batch");
assert(WAL_RECORD_BYTES_MAX <= WAL_SEGMENT_BYTES_MAX, "a record must fit in a segment");
assert(
  BATCH_COMMANDS_MAX * (4 * ID_BYTES_MAX + 64) <= WAL_RECORD_BYTES_MAX,
  "a full batch of transfers must fit in one log record",
);
assert(BATCH_OPERATIONS_MAX === REQUEST_TRANSFERS_MAX, "a protocol batch is a request batch");
assert(INFLIGHT_BYTES_PER_CONNECTION_MAX >= FRAME_BYTES_MAX, "one full frame can be in flight");
assert(TCP_CONNECTIONS_MAX > 0, "the server takes at least one connection");
assert(TCP_CLOSE_TIMEOUT_MS > 0, "closing connections get time to take their replies");
assert(BUSY_POLL_HANDOFF_US > 0, "a handoff is a short gap");
assert(BUSY_POLL_BACKOFF_MS_MIN * 1000 >= BUSY_POLL_US_MAX, "a back-off outlasts any window");
assert(BUSY_POLL_BACKOFF_MS_MIN <= BUSY_POLL_BACKOFF_MS_MAX, "back-off bounds are ordered");
assert(CALL_TIMEOUT_MS_DEFAULT <= CALL_TIMEOUT_MS_MAX, "the default timeout is allowed");
assert(CLIENT_QUEUED_OPERATIONS_MAX >= BATCH_OPERATIONS_MAX, "a full batch can be queued");
assert(RECONNECT_DELAY_MS_MIN <= RECONNECT_DELAY_MS_MAX, "reconnect delays are ordered");
assert(PEER_PORT_SCAN_COUNT > 0, "at least one port is tried per peer");
assert(PEER_TOOL_TIMEOUT_MS <= PEER_INSTALL_TIMEOUT_MS, "installing may take longest");
assert(LIVE_SERIES_POINTS_MAX >= 60, "the console shows at least a minute of history");
assert(CONSOLE_SEARCH_RESULTS_MAX <= LIST_PAGE_ROWS_MAX, "a search answers at most one page");
assert(REPLICAS_MAX >= 1, "a shard has at least its primary");
assert(REPLICATION_ENTRIES_BYTES_MAX <= REPLICATION_FRAME_BYTES_MAX, "entries fit in a frame");
assert(WAL_RECORD_BYTES_MAX < REPLICATION_FRAME_BYTES_MAX, "one largest entry fits in a frame");
assert(REPLICATION_INFLIGHT_BYTES_MAX <= REPLICATION_RETAINED_BYTES_MAX, "in flight is retained");
assert(REPLICATION_RETRANSMIT_MS < REPLICATION_ACK_TIMEOUT_MS, "retransmits before giving up");
assert(REPLICATION_RETRANSMIT_MS < REPLICATION_SILENCE_HELLO_MS, "a lost hello is resent first");
assert(
  REPLICATION_INFLIGHT_BYTES_MAX <= REPLICATION_LINK_BUFFERED_BYTES_MAX,
  "a link holds what one standby may have in flight",
);
assert(
  REPLICATION_RECONNECT_DELAY_MS_MIN <= REPLICATION_RECONNECT_DELAY_MS_MAX,
  "replication reconnect delays are ordered",
);
// A healthy primary goes quiet while it drops a dead standby from the epoch (no progress for
// REPLICATION_ACK_TIMEOUT_MS, then a compare-and-swap): clients must not take that for a pause.
assert(
  CLIENT_PRIMARY_RETRIES_MAX * CLIENT_FAILOVER_DELAY_MS_MAX * 0.5 > 2 * LEASE_TTL_MS_DEFAULT,
  "a request outlives a failover's retries",
);
assert(CLIENT_SILENCE_MS_MAX > REPLICATION_ACK_TIMEOUT_MS, "a quiet primary is not a paused one");
assert(LEASE_TTL_MS_MIN <= LEASE_TTL_MS_DEFAULT, "the default lease TTL is allowed");
assert(LEASE_TTL_MS_DEFAULT <= LEASE_TTL_MS_MAX, "the default lease TTL is allowed");
assert(LEASE_KEEPALIVES_PER_TTL >= 2, "a keepalive may fail once before the deadline");
assert(COORD_CALL_TIMEOUT_MS_DEFAULT <= COORD_CALL_TIMEOUT_MS_MAX, "the default is allowed");
assert(
  COORD_WATCH_RETRY_DELAY_MS_MIN <= COORD_WATCH_RETRY_DELAY_MS_MAX,
  "watch retry delays are ordered",
);
assert(COORD_WATCH_RETRY_DELAY_MS_MAX < COORD_WATCH_RESYNC_INTERVAL_MS, "retries come first");
assert(
  CLUSTER_HTTP_PORT_BASE_DEFAULT + CLUSTER_NODES_MAX <= CLUSTER_TCP_PORT_BASE_DEFAULT,
  "default HTTP and TCP ports of a local cluster never overlap",
);
assert(
  CLUSTER_GATEWAY_PORT_DEFAULT < CLUSTER_HTTP_PORT_BASE_DEFAULT,
  "a local cluster's gateway port is below its nodes' HTTP ports",
);
