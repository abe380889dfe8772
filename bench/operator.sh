#!/usr/bin/env bash
# bench/operator.sh: the operator's cold start against the floor of a bare client.
#
# Its own test environment (.testenv/bench-operator). COUNT DataVolumes without a source are
# created at once; then `stowage operator` starts and converges them (finalizer, claim, an
# Event, status Pending then Ready: 5 writes each), timed until every one is Ready, with the
# operator's peak RSS (VmHWM). The floor, in the same run on the same apiserver: a bare
# client (`stowage-bench dv-floor`) issuing the same 5 writes per DataVolume on COUNT other
# DataVolumes, with the same QPS, burst and 4 concurrent workers.
#
#   bench/operator.sh                      # COUNT=1000, QPS=200, BURST=400
#   BENCH_DATAVOLUMES=10000 bench/operator.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

COUNT=${BENCH_DATAVOLUMES:-1000}
QPS=${BENCH_QPS:-200}
BURST=${BENCH_BURST:-400}
ENV_DIR=$ROOT/.testenv/bench-operator
WORK=$ENV_DIR/work
BIN=${STOWAGE_RELEASE_DIR:-$ROOT/.build-release/release}

log() { printf '[bench-operator] %s\n' "$*" >&2; }

scripts/testenv ensure
[ -x /usr/bin/time ] || { apt-get update -q >&2; DEBIAN_FRONTEND=noninteractive apt-get install -y -q time >&2; }
if [ -z "${STOWAGE_RELEASE_DIR:-}" ]; then
  log "building stowage and stowage-bench (release, .build-release)"
  swift build -c release --scratch-path .build-release --product stowage >&2
  swift build -c release --scratch-path .build-release --product stowage-bench >&2
fi

scripts/testenv down "$ENV_DIR" >/dev/null 2>&1 || true
rm -rf "$ENV_DIR"
scripts/testenv up "$ENV_DIR"
op_pid=
trap '[ -n "$op_pid" ] && kill -KILL "$op_pid" 2>/dev/null; scripts/testenv down "$ENV_DIR"' EXIT
# shellcheck disable=SC1091
source "$ENV_DIR/env"
mkdir -p "$WORK"
kubectl apply --server-side -k crds >&2
kubectl wait --for condition=established crd/datavolumes.stowage.io crd/sharedvolumes.stowage.io >&2
kubectl create namespace floor >&2
kubectl create namespace operator >&2
kubectl create namespace stowage-system >&2

log "floor: $COUNT DataVolumes, 5 writes each, qps $QPS burst $BURST"
"$BIN/stowage-bench" dv-create floor "$COUNT" >&2
/usr/bin/time -f '%e %M' -o "$WORK/floor.time" "$BIN/stowage-bench" dv-floor floor "$QPS" "$BURST" | tee "$WORK/floor.json" >&2

log "operator: $COUNT DataVolumes, then a cold start"
"$BIN/stowage-bench" dv-create operator "$COUNT" >&2
start=$(date +%s.%N)
"$BIN/stowage" operator --kubeconfig "$KUBECONFIG" --namespace stowage-system --watch-namespace operator \
  --no-leader-elect --health-port 0 --kube-qps "$QPS" --kube-burst "$BURST" --log-level warning \
  2> "$WORK/operator.log" &
op_pid=$!
"$BIN/stowage-bench" dv-wait operator "$COUNT" > "$WORK/wait.json"
end=$(date +%s.%N)
peak_kib=$(awk '/VmHWM/ {print $2}' "/proc/$op_pid/status")
kill -TERM "$op_pid"; wait "$op_pid" || true; op_pid=

python3 - "$WORK" "$COUNT" "$start" "$end" "$peak_kib" "$QPS" <<'PY' | tee "$WORK/results.md"
import json, sys
work, count, start, end, peak, qps = sys.argv[1:]
floor = json.load(open(f"{work}/floor.json"))["seconds"]
floor_rss = int(open(f"{work}/floor.time").read().split()[-1])
op = float(end) - float(start)
print(f"{int(count):,} DataVolumes without source, client rate limit {qps} QPS; cold start.\n")
print("| what | seconds | writes/s | peak RSS MiB |")
print("|---|---:|---:|---:|")
print(f"| floor: bare client, same 5 writes per DataVolume | {floor:.1f} | {5 * int(count) / floor:.0f} | {floor_rss / 1024:.1f} |")
print(f"| stowage operator: start to all Ready | {op:.1f} | {5 * int(count) / op:.0f} | {int(peak) / 1024:.1f} |")
print(f"\noperator / floor: {op / floor:.2f}x time")
PY
log "results: $WORK/results.md"
