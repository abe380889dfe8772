#!/usr/bin/env bash
# bench/json.sh: KubeModel's JSON parser, typed decoding and writer on a list of COUNT pods
# (~2.4 KiB each), no cluster: bench/json/main.swift and the KubeModel sources of SOURCES
# (default: this tree's) compiled into one optimized binary (kept at BENCH_OUT if set).
# Median CPU time of RUNS runs.
#
#   bench/json.sh                                     # COUNT=10000 RUNS=15
#   git worktree add /tmp/before main && bench/json.sh /tmp/before/Sources/KubeModel
set -euo pipefail
cd "$(dirname "$0")/.."
SOURCES=${1:-Sources/KubeModel}
COUNT=${BENCH_PODS:-10000}
RUNS=${BENCH_RUNS:-15}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
BIN=${BENCH_OUT:-$OUT/json-bench}
swiftc -O -wmo -module-name KubeModelBench "$SOURCES"/*.swift bench/json/main.swift -o "$BIN" 2>&1 | grep -v warning || true
"$BIN" "$COUNT" "$RUNS"
