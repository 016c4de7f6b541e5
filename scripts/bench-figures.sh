#!/usr/bin/env bash
# Takes every figure of docs/benchmarks.md in one go, on this machine, in this order, and keeps
# the raw output and one JSON file per row under OUT (default ./bench-results/<timestamp>).
# Usage: scripts/bench-figures.sh [rest|tcp|all]   (env: RUNS=3, OUT=dir, PEERS=redis,postgres)
# Run it on a quiet box: it prints the load average before every row, and every row is the
# median of RUNS runs against a fresh server (--spawn). Takes about 20 minutes with RUNS=3.
set -euo pipefail
cd "$(dirname "$0")/.."
WHAT=${1:-all}
RUNS=${RUNS:-3}
PEERS=${PEERS:-redis,postgres}
OUT=${OUT:-bench-results/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"
npm run build --silent
row() {
  local name=$1; shift
  echo "=== $name  (load: $(cut -d' ' -f1-3 /proc/loadavg))" | tee -a "$OUT/figures.log"
  echo "    txgrid bench $*" | tee -a "$OUT/figures.log"
  node bin/txgrid.js bench "$@" --runs "$RUNS" --json "$OUT/$name.json" >"$OUT/$name.txt" 2>&1 || echo "    FAILED" | tee -a "$OUT/figures.log"
  grep -A3 -E "^median of" "$OUT/$name.txt" | tee -a "$OUT/figures.log" || true
  grep -E "^  placement" "$OUT/$name.txt" | sed 's/^/   /' | tee -a "$OUT/figures.log" || true
  sed -n '/side by side/,$p' "$OUT/$name.txt" | tee -a "$OUT/figures.log" || true
}
if [ "$WHAT" = rest ] || [ "$WHAT" = all ]; then
  row rest-reference-c64 --reference -i -c 64 -t 100000 --accounts 1000
  row rest-immediately-c64 --spawn --fsync batch -i -c 64 -t 100000
  row rest-v1-c64 --spawn --fsync batch --api v1 -c 64 -t 100000
  row rest-reference-c1 --reference -i -c 1 -t 5000 --accounts 1000
  row rest-immediately-c1 --spawn --fsync batch -i -c 1 -t 5000
fi
if [ "$WHAT" = tcp ] || [ "$WHAT" = all ]; then
  row tcp-batched --spawn --fsync batch --protocol tcp -b 1000 -c 64 -t 2000000 --peers "$PEERS" --peer-duration 10
  row tcp-batched-hot --spawn --fsync batch --protocol tcp -b 1000 -c 64 -t 2000000 --hot 90
  row tcp-unbatched-c64 --spawn --fsync batch --protocol tcp -c 64 -t 300000 --peers "$PEERS" --peer-duration 10
  row tcp-unbatched-c64-hot --spawn --fsync batch --protocol tcp -c 64 -t 300000 --hot 90
  row tcp-reference-c64 --reference --protocol tcp -c 64 -t 300000
  row tcp-reference-c1 --reference --protocol tcp -c 1 -t 20000
  row tcp-c1-batch --spawn --fsync batch --protocol tcp -c 1 -t 5000
  row tcp-c1-lazy --spawn --fsync lazy --protocol tcp -c 1 -t 20000
  row tcp-c1-lazy-busy-poll --spawn --fsync lazy --protocol tcp -c 1 -t 20000 --busy-poll-us 200
  row embedded-batched --protocol embedded --fsync batch -b 1000 -c 64 -t 2000000
fi
echo "results in $OUT"
