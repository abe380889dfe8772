#!/usr/bin/env bash
# bench/operator.sh: the operator's cold start against the floor of a bare client.
#
# Its own test environment (.testenv/bench-operator). COUNT DataVolumes without a source are
# created at once; then `stowage operator` starts and converges them (finalizer, claim, an
# Event, status Pending then Ready: 5 writes each), timed until every one is Ready, with the
# operator's peak RSS (VmHWM). The floor, in the same run on the same apiserver: a bare
# client (`stowage-bench dv-floor`) issuing the same 5 writes per DataVolume on COUNT other
# DataVolumes, with the same QPS, burst and concurrency (the operator's --workers). Both are
# timed the same way: from their start until a watch (`stowage-bench dv-wait`) has seen
# every DataVolume Ready. The apiserver's request counters give each phase's requests.
#
# BENCH_PODS other pods (never scheduled: a scheduler name no scheduler has, so nothing
# changes them) exist in the watched namespace before the operator starts: what its pod
# cache holds. The apiserver's WATCH counters give the watches each phase opened, by
# resource (one per kind with shared caches).
#
#   bench/operator.sh                      # COUNT=1000, PODS=0, QPS=200, BURST=400, WORKERS=4
#   BENCH_DATAVOLUMES=10000 BENCH_WORKERS=16 bench/operator.sh
#   BENCH_DATAVOLUMES=10000 BENCH_PODS=10000 BENCH_FLOOR=0 bench/operator.sh   # no floor phase
#   STOWAGE_RELEASE_DIR=DIR ...            # stowage and stowage-bench prebuilt in DIR
#   OPERATOR_ENV="VAR=1 perf record -o op.perf" ...   # wraps the operator (env's syntax)
#   OPERATOR_LOG_LEVEL=info ...            # the operator logs each phase change (work/operator.log)
#   BENCH_UNTIL=Pending,Ready ...          # timed until every DataVolume has a phase, not Ready
#   BENCH_WEBHOOK=1 BENCH_FLOOR=0 ...      # the webhook on and all namespaces watched (one watch per kind)
#
# Ready needs the claim Bound, and binding is the test environment's provisioner's pace
# (scripts/local-path-provisioner and the PV controller bind about 5 claims a second here):
# at 10,000 DataVolumes that, not the operator, sets the time to all Ready. BENCH_UNTIL=
# Pending,Ready stops once the operator has done its part for every DataVolume (finalizer,
# claim, Event, status), the point to compare memory at.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

COUNT=${BENCH_DATAVOLUMES:-1000}
PODS=${BENCH_PODS:-0}
FLOOR=${BENCH_FLOOR:-1}
QPS=${BENCH_QPS:-200}
BURST=${BENCH_BURST:-400}
WORKERS=${BENCH_WORKERS:-4}
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

# The apiserver's request counters, to count what each phase asked of it.
requests() { kubectl get --raw /metrics | grep '^apiserver_request_total{' > "$WORK/$1.metrics"; }
# The watches open now, by resource (kube-apiserver's long-running request gauge).
watches() { kubectl get --raw /metrics | grep '^apiserver_longrunning_gauge{' > "$WORK/$1.watches" || true; }

if [ "$FLOOR" = 1 ]; then
  log "floor: $COUNT DataVolumes, 5 writes each, qps $QPS burst $BURST"
  "$BIN/stowage-bench" dv-create floor "$COUNT" >&2
  requests floor-before
  # Timed like the operator: from the start until the same observer (a watch) sees all Ready.
  "$BIN/stowage-bench" dv-wait floor "$COUNT" > "$WORK/floor-wait.json" &
  wait_pid=$!
  sleep 1
  start=$(date +%s.%N)
  /usr/bin/time -f '%e %U %S %M' -o "$WORK/floor.time" "$BIN/stowage-bench" dv-floor floor "$QPS" "$BURST" "$WORKERS" | tee "$WORK/floor.json" >&2
  wait "$wait_pid"
  floor_end=$(date +%s.%N)
  floor_s=$(python3 -c "print($floor_end - $start)")
  requests floor-after
else
  floor_s=0
fi

if [ "$PODS" -gt 0 ]; then
  log "pods: $PODS unscheduled pods in the watched namespace"
  python3 - operator "$PODS" <<'PY' >&2
import concurrent.futures, json, os, ssl, sys, time, urllib.request
namespace, count = sys.argv[1], int(sys.argv[2])
server, token = os.environ["STOWAGE_TEST_APISERVER"], os.environ["STOWAGE_TEST_TOKEN"]
context = ssl.create_default_context(cafile=os.environ["STOWAGE_TEST_CA"])
def pod(i):
    # About the size of a notebook pod as the apiserver returns it (~2 KiB of JSON).
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"bench-{i}", "labels": {"app": "bench", "component": "singleuser-server", "index": str(i)},
                         "annotations": {"bench.stowage.io/note": "never scheduled: no scheduler has this name"}},
            "spec": {"schedulerName": "stowage-bench-none", "automountServiceAccountToken": False,
                     "containers": [{"name": "notebook", "image": "stowage.test/notebook:1",
                                     "args": ["start-notebook.sh", "--ip=0.0.0.0", "--port=8888"],
                                     "env": [{"name": f"VAR_{k}", "value": f"value-{k}-{i}"} for k in range(8)],
                                     "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
                                     "volumeMounts": [{"name": "scratch", "mountPath": "/home/jovyan/scratch"}]}],
                     "volumes": [{"name": "scratch", "emptyDir": {}}]}}
def create(i):
    body = json.dumps(pod(i)).encode()
    request = urllib.request.Request(f"{server}/api/v1/namespaces/{namespace}/pods", data=body, method="POST",
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    for attempt in range(5):
        try:
            urllib.request.urlopen(request, context=context).read()
            return
        except urllib.error.HTTPError as e:
            if e.code == 409: return
            time.sleep(0.5 * (attempt + 1))
    raise RuntimeError(f"pod {i} not created")
start = time.time()
with concurrent.futures.ThreadPoolExecutor(16) as pool:
    list(pool.map(create, range(count)))
print(json.dumps({"command": "pods-create", "count": count, "seconds": round(time.time() - start, 1)}))
PY
fi

log "operator: $COUNT DataVolumes, $PODS pods, then a cold start"
"$BIN/stowage-bench" dv-create operator "$COUNT" >&2
requests operator-before
start=$(date +%s.%N)
# BENCH_WEBHOOK=1: the webhook on too (a self-signed certificate; nothing sends it reviews)
# and every namespace watched, as `deploy/` runs it: the controllers and the webhook then
# share one cache, and one watch, per kind.
scope=(--watch-namespace operator)
if [ "${BENCH_WEBHOOK:-0}" = 1 ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/tls.key" -out "$WORK/tls.crt" -days 1 -subj /CN=bench 2>/dev/null
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  scope=(--webhook-port "$port" --tls-cert "$WORK/tls.crt" --tls-key "$WORK/tls.key")
fi
env ${OPERATOR_ENV:-} "$BIN/stowage" operator --kubeconfig "$KUBECONFIG" --namespace stowage-system "${scope[@]}" \
  --no-leader-elect --health-port 0 --kube-qps "$QPS" --kube-burst "$BURST" --workers "$WORKERS" --log-level "${OPERATOR_LOG_LEVEL:-warning}" \
  2> "$WORK/operator.log" &
op_pid=$!
"$BIN/stowage-bench" dv-wait operator "$COUNT" "${BENCH_UNTIL:-Ready}" > "$WORK/wait.json"
end=$(date +%s.%N)
peak_kib=$(awk '/VmHWM/ {print $2}' "/proc/$op_pid/status")
cpu_ticks=$(awk '{print $14 + $15}' "/proc/$op_pid/stat")
cpu_s=$(python3 -c "import os; print($cpu_ticks / os.sysconf('SC_CLK_TCK'))")
requests operator-after
watches operator-running
kill -TERM "$op_pid"; wait "$op_pid" || true; op_pid=
# Again once it has stopped: the watches that closed with it are the operator's (the
# controller manager's garbage collector opens watches on the CRDs too, at its own time).
sleep 2
watches operator-stopped

python3 - "$WORK" "$COUNT" "$start" "$end" "$peak_kib" "$QPS" "$WORKERS" "$cpu_s" "$floor_s" "$PODS" "${BENCH_UNTIL:-Ready}" <<'PY' | tee "$WORK/results.md"
import json, sys
work, count, start, end, peak, qps, workers, op_cpu, floor, pods, until = sys.argv[1:]
floor = float(floor)
op = float(end) - float(start)
print(f"{int(count):,} DataVolumes without source, {int(pods):,} other pods, client rate limit {qps} QPS, {workers} workers; cold start.\n")
print("| what | seconds | writes/s | CPU s | peak RSS MiB |")
print("|---|---:|---:|---:|---:|")
if floor > 0:
    _, user, sys_, floor_rss = open(f"{work}/floor.time").read().split()[-4:]
    print(f"| floor: bare client, same 5 writes per DataVolume | {floor:.1f} | {5 * int(count) / floor:.0f} | {float(user) + float(sys_):.1f} | {int(floor_rss) / 1024:.1f} |")
# Ready is the fifth write (status Ready); Pending the fourth.
writes = 5 if until == "Ready" else 4
print(f"| stowage operator: start to all {until.replace(',', ' or ')} | {op:.1f} | {writes * int(count) / op:.0f} | {float(op_cpu):.1f} | {int(peak) / 1024:.1f} |")
if floor > 0:
    print(f"\noperator / floor: {op / floor:.2f}x time")

# Requests the apiserver served in each phase (everything but watches and the bench's own
# polling lists), by verb, resource, subresource and response code.
import re
def counts(name):
    out = {}
    for line in open(f"{work}/{name}.metrics"):
        labels = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
        if labels.get("verb") in ("WATCH", "LIST") or labels.get("resource") in ("leases", "endpoints", "namespaces", ""):
            continue
        key = (labels["verb"], labels["resource"] + ("/" + labels["subresource"] if labels.get("subresource") else ""), labels["code"])
        out[key] = out.get(key, 0) + float(line.split()[-1])
    return out
phases = ("floor", "operator") if floor > 0 else ("operator",)
print("\n| phase | verb | resource | code | requests |")
print("|---|---|---|---|---:|")
for phase in phases:
    before, after = counts(f"{phase}-before"), counts(f"{phase}-after")
    for key in sorted(after):
        n = after[key] - before.get(key, 0)
        if n > 0:
            print(f"| {phase} | {key[0]} | {key[1]} | {key[2]} | {n:.0f} |")
# The watches open while the operator ran, less those still open once it stopped: the operator's.
def watches(name):
    out = {}
    for line in open(f"{work}/{name}.watches"):
        labels = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
        if labels.get("verb") == "WATCH":
            key = labels.get("resource", "") + ("/" + labels["subresource"] if labels.get("subresource") else "")
            out[key] = out.get(key, 0) + float(line.split()[-1])
    return out
before, running = watches("operator-stopped"), watches("operator-running")
print("\n| the operator's open watches | resource | count |")
print("|---|---|---:|")
for key in sorted(running):
    n = running[key] - before.get(key, 0)
    if n > 0:
        print(f"| WATCH | {key} | {n:.0f} |")
PY
log "results: $WORK/results.md"
