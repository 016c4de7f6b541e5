#!/usr/bin/env bash
# Takes issue 2's REST figures (one transfer per request, c=64) against bare node:http, and
# splits txgrid's share of it into what the disk's flush costs and what the rest of the path
# costs. Each round runs, in this order and each on a fresh server (`--spawn`):
#   bare       bare node:http with the same client (`--reference`)
#   batch      TiMPE's /transactions/immediately, fsync=batch, log on the disk of TMPDIR
#   v1         /v1/transfers, fsync=batch, same disk
#   tmpfs      TiMPE's route, fsync=batch, log on /dev/shm: the same code and the same group
#              commit with a flush that costs about nothing (fdatasync on tmpfs returns at once)
#   lazy       TiMPE's route, fsync=lazy, on the disk: answered once written to the OS
# The rows alternate round by round so a shared box's drift falls on all of them alike; at the
# end it prints each row's median and its ratio to bare. Every run sends a warm-up first
# (`--warmup`, not counted). Raw output and one JSON file per run go under OUT.
# Usage: scripts/bench-rest-flush.sh   (env: ROUNDS=5, OUT=dir, TRANSFERS=200000, WARMUP=50000,
# ACCOUNTS=100000: the accounts every row picks from uniformly (txgrid creates them; bare node:http
# answers without reading any, so the client sends the same requests to both)
# Takes about a minute per round.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5}
TRANSFERS=${TRANSFERS:-200000}
WARMUP=${WARMUP:-50000}
ACCOUNTS=${ACCOUNTS:-100000}
OUT=${OUT:-bench-results/rest-flush-$(date -u +%Y%m%dT%H%M%SZ)}
SHM=/dev/shm
mkdir -p "$OUT"
npm run build --silent
LOAD=(-c 64 -t "$TRANSFERS" --warmup "$WARMUP")
TXGRID=(--accounts "$ACCOUNTS")
run() {
  local name=$1; shift
  echo "--- $name (load: $(cut -d' ' -f1-3 /proc/loadavg))"
  node bin/txgrid.js bench "$@" --json "$OUT/$name.json" >"$OUT/$name.txt" 2>&1 ||
    { echo "    FAILED"; tail -5 "$OUT/$name.txt"; }
  grep -E "^  (tx/s|median)" "$OUT/$name.txt" | sed 's/^/    /'
}
for round in $(seq 1 "$ROUNDS"); do
  run "bare-$round" --reference -i "${LOAD[@]}" "${TXGRID[@]}" --seed "$round"
  run "batch-$round" --spawn --fsync batch -i "${LOAD[@]}" "${TXGRID[@]}" --seed "$round"
  run "v1-$round" --spawn --fsync batch --api v1 "${LOAD[@]}" "${TXGRID[@]}" --seed "$round"
  TMPDIR=$SHM run "tmpfs-$round" --spawn --fsync batch -i "${LOAD[@]}" "${TXGRID[@]}" --seed "$round"
  run "lazy-$round" --spawn --fsync lazy -i "${LOAD[@]}" "${TXGRID[@]}" --seed "$round"
done
node --input-type=module - "$OUT" "$ROUNDS" "$ACCOUNTS" <<'EOF'
import { readFileSync } from "node:fs";
const [dir, rounds, accounts] = process.argv.slice(2);
const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[(sorted.length - 1) >> 1];
};
const txs = (name) =>
  Array.from({ length: Number(rounds) }, (_, i) => {
    try {
      const report = JSON.parse(readFileSync(`${dir}/${name}-${i + 1}.json`, "utf8"));
      return Math.round(report.transfersPerSecond);
    } catch {
      return Number.NaN;
    }
  });
const bare = median(txs("bare"));
console.log(`medians of ${rounds} alternated rounds, c=64, one transfer per request, ${accounts} accounts`);
for (const [name, label] of [
  ["bare", "bare node:http"],
  ["batch", "TiMPE route, fsync=batch, disk"],
  ["v1", "/v1/transfers, fsync=batch, disk"],
  ["tmpfs", "TiMPE route, fsync=batch, tmpfs"],
  ["lazy", "TiMPE route, fsync=lazy, disk"],
]) {
  const values = txs(name);
  const share = name === "bare" ? "" : `  ${((100 * median(values)) / bare).toFixed(1)}% of bare`;
  console.log(`${label.padEnd(34)} ${String(median(values)).padStart(8)} tx/s${share}  (${values.join(" / ")})`);
}
EOF
echo "results in $OUT"
