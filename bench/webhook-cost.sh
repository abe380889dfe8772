#!/usr/bin/env bash
# bench/webhook-cost.sh: the CPU of one admission decision, without TLS, sockets or a cluster.
#
# bench/webhook.sh's objects and review bodies (bench/webhook/fixtures.py) are loaded into
# the webhook's real caches inside `stowage-bench webhook-cost`, which hands every body to
# the admission handler ROUNDS times and prints thread-CPU microseconds per review by path.
# Quick to repeat while profiling; bench/webhook.sh is the measurement that counts.
#
#   bench/webhook-cost.sh                       # COUNT=1000 ROUNDS=20
#   BENCH_PERF=1 bench/webhook-cost.sh          # also perf-record it (work/perf.data)
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${BENCH_VOLUMES:-1000}
ROUNDS=${BENCH_ROUNDS:-20}
WORK=${BENCH_WORK:-.scratch/webhook-cost}
BIN=${STOWAGE_BENCH_BIN:-.build-release/release/stowage-bench}
[ -x "$BIN" ] && [ "${BENCH_NO_BUILD:-0}" = 1 ] || swift build -c release --scratch-path .build-release --product stowage-bench >&2
mkdir -p "$WORK"
python3 bench/webhook/fixtures.py objects "$COUNT" > "$WORK/objects.json"
rm -rf "$WORK/bodies"
python3 bench/webhook/fixtures.py bodies "$COUNT" "$WORK/bodies"
if [ "${BENCH_PERF:-0}" = 1 ]; then
  perf record -F 999 -g -o "$WORK/perf.data" -- "$BIN" webhook-cost "$WORK" "$ROUNDS"
else
  "$BIN" webhook-cost "$WORK" "$ROUNDS"
fi
