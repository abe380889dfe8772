#!/usr/bin/env bash
# bench/webhook.sh: the admission webhook under sustained load over TLS on loopback.
#
# Its own test environment (.testenv/bench-webhook). Creates COUNT DataVolumes and COUNT
# SharedVolumes (namespace jhub) and the access-level ConfigMap, starts the webhook (its
# caches watch them), waits for /readyz, then drives RATE requests/s for SECONDS with
# bench/webhook/load.py (paced, keep-alive TLS connections, realistic KubeSpawner pod
# reviews: 50 % mutate, 45 % validate pods, 5 % validate DataVolumes) and prints p50/p99/max
# latency, the achieved rate and the webhook's peak RSS (VmHWM).
#
# The webhook runs as `stowage operator --webhook-port`, a replica that does not lead,
# from a release build
# (STOWAGE_BIN, default .build-release/release/stowage); until then it runs inside the
# WebhookTests benchmark host (`swift test --filter BenchmarkHost`), built in release into
# .build-webhook-release unless BENCH_DEBUG=1 reuses the debug build in .build-webhook.
#
#   bench/webhook.sh                                  # COUNT=1000 RATE=200 SECONDS=60
#   BENCH_RATE=500 BENCH_SECONDS=30 bench/webhook.sh
#   BENCH_NO_BUILD=1 bench/webhook.sh                 # reuse .build-webhook-release as it is
#   BENCH_PERF=1 bench/webhook.sh                     # also perf-record the webhook (work/perf.data)
#   BENCH_FLOOR=1 bench/webhook.sh                    # then the same load to /healthz: the transport's own cost
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

COUNT=${BENCH_VOLUMES:-1000}
RATE=${BENCH_RATE:-200}
SECONDS_=${BENCH_SECONDS:-60}
THREADS=${BENCH_THREADS:-8}
ENV_DIR=$ROOT/.testenv/bench-webhook
WORK=$ENV_DIR/work
STOWAGE_BIN=${STOWAGE_BIN:-$ROOT/.build-release/release/stowage}

log() { printf '[bench-webhook] %s\n' "$*" >&2; }

scripts/testenv ensure
scripts/testenv down "$ENV_DIR" >/dev/null 2>&1 || true
rm -rf "$ENV_DIR"
scripts/testenv up "$ENV_DIR"
WEBHOOK_PID=
cleanup() {
  touch "$WORK/stop" 2>/dev/null || true
  [ -n "$WEBHOOK_PID" ] && { kill -TERM "$WEBHOOK_PID" 2>/dev/null || true; wait "$WEBHOOK_PID" 2>/dev/null || true; }
  scripts/testenv down "$ENV_DIR"
}
trap cleanup EXIT
# shellcheck disable=SC1091
source "$ENV_DIR/env"
export PATH="$STOWAGE_TESTENV_BIN:$PATH"
export KUBECACHEDIR=$WORK/kubectl-cache
mkdir -p "$WORK"
cp "$KUBECONFIG" "$WORK/kubeconfig"

log "TLS: a CA and a serving certificate for 127.0.0.1"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/ca.key" -out "$WORK/ca.crt" -days 2 -subj /CN=bench-ca 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout "$WORK/tls.key" -out "$WORK/tls.csr" -subj /CN=stowage-webhook 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > "$WORK/tls.ext"
openssl x509 -req -in "$WORK/tls.csr" -CA "$WORK/ca.crt" -CAkey "$WORK/ca.key" -CAcreateserial \
  -out "$WORK/tls.crt" -days 2 -extfile "$WORK/tls.ext" 2>/dev/null

log "creating $COUNT DataVolumes, $COUNT SharedVolumes and the access-level ConfigMap"
kubectl apply --server-side -f crds/datavolumes.yaml -f crds/sharedvolumes.yaml >/dev/null
kubectl wait --for condition=established --timeout=60s crd/datavolumes.stowage.io crd/sharedvolumes.stowage.io >/dev/null
kubectl create namespace jhub >/dev/null
kubectl create namespace stowage-system >/dev/null
python3 bench/webhook/fixtures.py objects "$COUNT" > "$WORK/objects.json"
kubectl create -f "$WORK/objects.json" > /dev/null
python3 bench/webhook/fixtures.py bodies "$COUNT" "$WORK/bodies"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# The help is read whole first: under pipefail, `grep -q` leaving early could fail the pipe
# with SIGPIPE and send a good binary to the fallback below.
HELP=$([ -x "$STOWAGE_BIN" ] && "$STOWAGE_BIN" operator --help 2>/dev/null || true)
if grep -q -- --webhook-port <<<"$HELP"; then
  MODE="stowage operator (release), a replica that does not lead: webhook only"
  # Another replica holds the leader Lease for the whole run, so this one serves the
  # webhook and runs no controllers, as every follower replica does.
  kubectl apply -f - >/dev/null <<EOF
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: stowage-operator, namespace: stowage-system}
spec: {holderIdentity: another-replica, leaseDurationSeconds: 3600, renewTime: "$(date -u +%Y-%m-%dT%H:%M:%S.000000Z)"}
EOF
  "$STOWAGE_BIN" operator --kubeconfig "$WORK/kubeconfig" --tls-cert "$WORK/tls.crt" --tls-key "$WORK/tls.key" \
    --webhook-port "$PORT" --namespace stowage-system --health-port 0 --log-level warning > "$WORK/webhook.log" 2>&1 &
  WEBHOOK_PID=$!
else
  export STOWAGE_WEBHOOK_BENCH_DIR=$WORK STOWAGE_WEBHOOK_BENCH_PORT=$PORT STOWAGE_WEBHOOK_BENCH_CONFIG_NAMESPACE=stowage-system
  if [ "${BENCH_DEBUG:-0}" = 1 ]; then
    MODE="WebhookTests benchmark host (debug build)"
    SCRATCH=.build-webhook CONFIG=debug
  else
    MODE="WebhookTests benchmark host (release build)"
    SCRATCH=.build-webhook-release CONFIG=release
    if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
      log "building the tests in release into $SCRATCH (once)"
      swift build -c release --scratch-path "$SCRATCH" --build-tests -Xswiftc -enable-testing >&2
    fi
  fi
  swift test -c "$CONFIG" --scratch-path "$SCRATCH" --skip-build --filter BenchmarkHost > "$WORK/webhook.log" 2>&1 &
  WEBHOOK_PID=$!
fi
log "webhook: $MODE on port $PORT"

for _ in $(seq 1 300); do
  curl -sf --cacert "$WORK/ca.crt" "https://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -sf --cacert "$WORK/ca.crt" "https://127.0.0.1:$PORT/readyz" >/dev/null || { tail -20 "$WORK/webhook.log" >&2; exit 1; }
SERVER_PID=$(ss -ltnpH "sport = :$PORT" | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -1)
log "ready (server pid $SERVER_PID, RSS after sync $(awk '/VmRSS/ {print $2" "$3}' /proc/"$SERVER_PID"/status))"

log "warm-up: 5 s at $RATE/s"
python3 bench/webhook/load.py 127.0.0.1 "$PORT" "$WORK/ca.crt" "$WORK/bodies" "$RATE" 5 "$THREADS" > "$WORK/warmup.json"
log "idle probe: 20/s for 10 s over 1 connection"
python3 bench/webhook/load.py 127.0.0.1 "$PORT" "$WORK/ca.crt" "$WORK/bodies" 20 10 1 > "$WORK/probe.json"
cpu() { awk '{print $14 + $15}' /proc/"$SERVER_PID"/stat; }  # utime + stime, clock ticks
CPU0=$(cpu)
log "load: $RATE/s for $SECONDS_ s over $THREADS connections"
if [ "${BENCH_PERF:-0}" = 1 ]; then  # a CPU profile of the webhook during the load
  perf record -F 499 -g -p "$SERVER_PID" -o "$WORK/perf.data" -- sleep "$SECONDS_" >/dev/null 2>&1 &
fi
python3 bench/webhook/load.py 127.0.0.1 "$PORT" "$WORK/ca.crt" "$WORK/bodies" "$RATE" "$SECONDS_" "$THREADS" > "$WORK/result.json"
CPU1=$(cpu)
HWM=$(awk '/VmHWM/ {print $2}' /proc/"$SERVER_PID"/status)
RSS=$(awk '/VmRSS/ {print $2}' /proc/"$SERVER_PID"/status)

python3 - "$WORK/result.json" "$HWM" "$RSS" "$MODE" "$COUNT" "$((CPU1 - CPU0))" "$(getconf CLK_TCK)" "$WORK/probe.json" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); hwm, rss, mode, count = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
cpu_s = int(sys.argv[6]) / int(sys.argv[7]); probe = json.load(open(sys.argv[8])); load = sys.argv[9]
s, d = r["service_ms"], r["from_due_ms"]
print(f"webhook: {mode}; {count} DataVolumes + {count} SharedVolumes cached")
print(f"requests {r['requests']} in {r['seconds']:.1f} s: achieved {r['achieved_rate']:.1f}/s (target {r['target_rate']:.0f}/s), "
      f"{r['threads']} TLS keep-alive connections, non-200 {r['non_200']}, errors {len(r['errors'])}")
print()
print("| latency (ms) | p50 | p90 | p99 | p99.9 | max |")
print("|---|---|---|---|---|---|")
print(f"| service time | {s['p50']:.2f} | {s['p90']:.2f} | {s['p99']:.2f} | {s['p999']:.2f} | {s['max']:.2f} |")
print(f"| from due time | {d['p50']:.2f} | | {d['p99']:.2f} | | {d['max']:.2f} |")
for path, v in r["by_path"].items():
    print(f"| {path} ({v['count']}) | {v['p50_ms']:.2f} | | {v['p99_ms']:.2f} | | {v['max_ms']:.2f} |")
print()
p = probe["service_ms"]
print(f"| idle probe, 20/s, 1 connection | {p['p50']:.2f} | {p['p90']:.2f} | {p['p99']:.2f} | | {p['max']:.2f} |")
print()
print(f"webhook CPU during the load: {cpu_s:.1f} s ({cpu_s * 1000 / max(r['requests'], 1):.2f} ms per request); load average at the end {load}")
print(f"webhook peak RSS (VmHWM): {hwm/1024:.1f} MiB; RSS at end {rss/1024:.1f} MiB")
if r["errors"]:
    print("first errors:", json.dumps(r["errors"], indent=1))
PY

if [ "${BENCH_FLOOR:-0}" = 1 ]; then
  # The same bodies over the same TLS keep-alive connections, posted to /healthz, which
  # answers without reading them: what the transport (TLS, HTTP, the copy of the body, the
  # kernel) costs with no admission decision at all.
  C0=$(cpu)
  BENCH_FLOOR_PATH=/healthz python3 bench/webhook/load.py 127.0.0.1 "$PORT" "$WORK/ca.crt" "$WORK/bodies" "$RATE" "$SECONDS_" "$THREADS" > "$WORK/floor.json"
  C1=$(cpu)
  python3 - "$WORK/floor.json" "$((C1 - C0))" "$(getconf CLK_TCK)" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); cpu_s = int(sys.argv[2]) / int(sys.argv[3]); s = r["service_ms"]
print()
print(f"transport floor (the same bodies to /healthz, no decision): {r['requests']} requests, non-200 {r['non_200']}, "
      f"p50 {s['p50']:.2f} ms, p99 {s['p99']:.2f} ms; webhook CPU {cpu_s:.1f} s ({cpu_s * 1000 / max(r['requests'], 1):.2f} ms per request)")
PY
fi
