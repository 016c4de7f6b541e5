#!/usr/bin/env bash
# Takes the replication figures of docs/benchmarks.md ("Replication") in one go: a single node
# against a primary with one standby (replication=received), both fsync=lazy, for batched TCP
# throughput and for one call at a time. The two setups alternate round by round, each round on
# a fresh server (`--spawn`) and a fresh 2-node cluster, so a shared box's drift falls on both
# alike; at the end it prints the median of each figure and the replicated/single ratio.
# Raw output and one JSON file per run go under OUT (default ./bench-results/repl-<timestamp>).
# Usage: scripts/bench-replication.sh   (env: ROUNDS=3, OUT=dir, FSYNC=lazy, BUSY_POLL_US=0:
# idle busy polling of the cluster's nodes, 0 = off; CLIENT_BUSY_POLL_US: the bench client's,
# default BUSY_POLL_US, which `--spawn` also gives the single node's server)
# Ports: etcd 9779/9780, nodes HTTP 9760.. and TCP 9770.. (no gateway).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
FSYNC=${FSYNC:-lazy}
BUSY_POLL_US=${BUSY_POLL_US:-0}
CLIENT_BUSY_POLL_US=${CLIENT_BUSY_POLL_US:-$BUSY_POLL_US}
OUT=${OUT:-bench-results/repl-$(date -u +%Y%m%dT%H%M%SZ)}
CLUSTER_DIR=$(mktemp -d /tmp/txgrid-bench-repl-XXXXXX)
mkdir -p "$OUT"
npm run build --silent
txgrid() { node bin/txgrid.js "$@"; }
cleanup() { txgrid cluster down --dir "$CLUSTER_DIR" --purge >/dev/null 2>&1 || true; }
trap cleanup EXIT
CLUSTER_URLS=(--url http://127.0.0.1:9760,http://127.0.0.1:9761
  --tcp-url txgrid://127.0.0.1:9770,txgrid://127.0.0.1:9771)
BATCHED=(--protocol tcp -b 1000 -c 64 -t 300000 --busy-poll-us "$CLIENT_BUSY_POLL_US")
ONE=(--protocol tcp -c 1 -t 5000 --warmup 3000 --accounts 1000 --busy-poll-us "$CLIENT_BUSY_POLL_US")
run() {
  local name=$1; shift
  echo "--- $name (load: $(cut -d' ' -f1-3 /proc/loadavg))"
  txgrid bench "$@" --json "$OUT/$name.json" >"$OUT/$name.txt" 2>&1 || { echo "    FAILED"; tail -5 "$OUT/$name.txt"; }
  grep -E "tx/s|median" "$OUT/$name.txt" | sed 's/^/    /'
}
for round in $(seq 1 "$ROUNDS"); do
  run "single-c1-$round" --spawn --fsync "$FSYNC" "${ONE[@]}" --seed "$round"
  run "single-batched-$round" --spawn --fsync "$FSYNC" "${BATCHED[@]}" --seed "$round"
  txgrid cluster up --dir "$CLUSTER_DIR" --nodes 2 --fsync "$FSYNC" --no-gateway \
    --busy-poll-us "$BUSY_POLL_US" \
    --etcd-port 9779 --etcd-peer-port 9780 --port-base 9760 --tcp-port-base 9770 >/dev/null
  run "replicated-c1-$round" "${CLUSTER_URLS[@]}" "${ONE[@]}" --seed "$round"
  run "replicated-batched-$round" "${CLUSTER_URLS[@]}" "${BATCHED[@]}" --seed "$round"
  txgrid cluster status --dir "$CLUSTER_DIR" | sed -n '/shards/,$p' | sed 's/^/    /'
  cleanup
done
BUSY_POLL_US="$BUSY_POLL_US" CLIENT_BUSY_POLL_US="$CLIENT_BUSY_POLL_US" node --input-type=module - "$OUT" "$ROUNDS" "$FSYNC" <<'EOF'
import { readFileSync } from "node:fs";
const [dir, rounds, fsync] = process.argv.slice(2);
const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[(sorted.length - 1) >> 1];
};
const read = (name, pick) =>
  Array.from({ length: Number(rounds) }, (_, i) => {
    try {
      return pick(JSON.parse(readFileSync(`${dir}/${name}-${i + 1}.json`, "utf8")));
    } catch {
      return Number.NaN;
    }
  });
const txs = (name) => read(name, (r) => Math.round(r.transfersPerSecond));
const p50 = (name) => read(name, (r) => r.latency.p50Us);
const line = (label, values, unit) =>
  console.log(`${label.padEnd(34)} ${String(median(values)).padStart(8)} ${unit}  (${values.join(" / ")})`);
console.log(`medians of ${rounds} alternated rounds (fsync=${fsync}, replication=received, busy polling: nodes ${process.env.BUSY_POLL_US} µs, client and single node ${process.env.CLIENT_BUSY_POLL_US} µs)`);
line("single node, batched", txs("single-batched"), "tx/s");
line("one standby (received), batched", txs("replicated-batched"), "tx/s");
line("single node, c=1 p50", p50("single-c1"), "us");
line("one standby (received), c=1 p50", p50("replicated-c1"), "us");
const ratio = median(txs("replicated-batched")) / median(txs("single-batched"));
console.log(`replicated / single, batched: ${(100 * ratio).toFixed(0)}%`);
EOF
echo "results in $OUT"
