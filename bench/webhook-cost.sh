#!/usr/bin/env bash
# bench/webhook-cost.sh: the CPU of one admission decision, without TLS, sockets or a cluster.
#
# bench/webhook.sh's objects and review bodies (bench/webhook/fixtures.py) are loaded into
# the webhook's real caches inside `stowage-bench webhook-cost`, which hands every body to
# the admission handler ROUNDS times and prints thread-CPU microseconds per review by path.
# Quick to repeat while profiling; bench/webhook.sh is the measurement that counts.
#
# BENCH_TLS=1 serves the same handler and caches behind the real WebhookServer (TLS, HTTP/1.1,
# keep-alive) instead, drives it with bench/webhook.sh's load client (RATE/s for SECONDS, the
# same mix) and prints the server process's CPU per request: the whole request path, still
# without a cluster (so none of the operator's watches or leader election either).
#
#   bench/webhook-cost.sh                       # COUNT=1000 ROUNDS=20
#   BENCH_PERF=1 bench/webhook-cost.sh          # also perf-record it (work/perf.data)
#   BENCH_TLS=1 bench/webhook-cost.sh           # over TLS: RATE=200 SECONDS=30 THREADS=8
#   BENCH_CALLGRIND=1 bench/webhook-cost.sh     # instructions per review (valgrind), ROUNDS=3
#
# BENCH_CALLGRIND=1 counts the instructions executed inside AdmissionHandler.handle, kind by
# kind (each in its own run over only that kind's bodies), with valgrind's callgrind:
# unlike CPU time, the count is the same however loaded the machine is, so it is the
# steady before/after measure on a shared machine. Per review = the count over
# (ROUNDS + 1) x bodies (the warm-up pass is counted too). It says nothing of cache misses.
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
if [ "${BENCH_CALLGRIND:-0}" = 1 ]; then
  ROUNDS=${BENCH_ROUNDS:-3}
  # Valgrind 3.19 cannot read the DWARF 5 that Swift writes, and gives up: a copy without
  # the debug information (the symbol table, which callgrind names functions by, stays).
  objcopy --strip-debug "$BIN" "$WORK/stowage-bench.nodebug"
  BIN=$WORK/stowage-bench.nodebug
  # The public handle(method:uri:body:), not the internal one it calls (a nested toggle
  # would switch collection off again).
  SYMBOL=$(nm "$BIN" | awk '{print $NF}' | grep -E 'AdmissionHandlerV6handle6method3uri4body.*DataVtF$' | grep -v reading | head -1)
  [ -n "$SYMBOL" ] || { echo "webhook-cost.sh: AdmissionHandler.handle not found in $BIN" >&2; exit 1; }
  RESULTS=()
  for KIND in mutate validate volume plain; do
    DIR=$WORK/callgrind-$KIND
    rm -rf "$DIR" && mkdir -p "$DIR/bodies"
    cp "$WORK/objects.json" "$DIR/"
    cp "$WORK/bodies/$KIND"-* "$DIR/bodies/"
    N=$(ls "$DIR/bodies" | wc -l)
    valgrind --tool=callgrind --toggle-collect="$SYMBOL" --callgrind-out-file="$DIR/callgrind.out" \
      "$BIN" webhook-cost "$DIR" "$ROUNDS" > "$DIR/cost.json" 2> "$DIR/valgrind.log"
    IR=$(awk '/^totals:/ {print $2}' "$DIR/callgrind.out")
    RESULTS+=("$KIND=$((IR / ((ROUNDS + 1) * N)))")
  done
  python3 - "${RESULTS[@]}" <<'PY'
import json, sys
ir = dict(a.split("=") for a in sys.argv[1:]); ir = {k: int(v) for k, v in ir.items()}
names = {"mutate": "/mutate-pods", "validate": "/validate-pods", "volume": "/validate-volumes", "plain": "/validate-pods, no claim"}
mix = 0.50 * ir["mutate"] + 0.45 * ir["validate"] + 0.05 * ir["volume"]
print(json.dumps({"command": "webhook-cost-callgrind", "instructions_per_review": {names[k]: v for k, v in ir.items()},
                  "instructions_mix": round(mix)}))
PY
  exit 0
fi
if [ "${BENCH_TLS:-0}" != 1 ]; then
  if [ "${BENCH_PERF:-0}" = 1 ]; then
    perf record -F 999 -g -o "$WORK/perf.data" -- "$BIN" webhook-cost "$WORK" "$ROUNDS"
  else
    "$BIN" webhook-cost "$WORK" "$ROUNDS"
  fi
  exit 0
fi

RATE=${BENCH_RATE:-200}
SECONDS_=${BENCH_SECONDS:-30}
THREADS=${BENCH_THREADS:-8}
if [ ! -f "$WORK/tls.crt" ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/ca.key" -out "$WORK/ca.crt" -days 30 -subj /CN=bench-ca 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -keyout "$WORK/tls.key" -out "$WORK/tls.csr" -subj /CN=stowage-webhook 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > "$WORK/tls.ext"
  openssl x509 -req -in "$WORK/tls.csr" -CA "$WORK/ca.crt" -CAkey "$WORK/ca.key" -CAcreateserial \
    -out "$WORK/tls.crt" -days 30 -extfile "$WORK/tls.ext" 2>/dev/null
fi
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
rm -f "$WORK/stop"
"$BIN" webhook-serve "$WORK" "$PORT" &
SERVER_PID=$!
trap 'touch "$WORK/stop"; wait "$SERVER_PID" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -sf --cacert "$WORK/ca.crt" "https://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
python3 bench/webhook/load.py 127.0.0.1 "$PORT" "$WORK/ca.crt" "$WORK/bodies" "$RATE" 5 "$THREADS" > "$WORK/warmup.json"
cpu() { awk '{print $14 + $15}' /proc/"$SERVER_PID"/stat; }  # utime + stime, clock ticks
CPU0=$(cpu)
PERF_PID=
if [ "${BENCH_PERF:-0}" = 1 ]; then
  perf record -F 999 -g -p "$SERVER_PID" -o "$WORK/perf.data" -- sleep "$SECONDS_" >/dev/null 2>&1 &
  PERF_PID=$!
fi
python3 bench/webhook/load.py 127.0.0.1 "$PORT" "$WORK/ca.crt" "$WORK/bodies" "$RATE" "$SECONDS_" "$THREADS" > "$WORK/result.json"
CPU1=$(cpu)
[ -z "$PERF_PID" ] || wait "$PERF_PID"
python3 - "$WORK/result.json" "$((CPU1 - CPU0))" "$(getconf CLK_TCK)" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); cpu_s = int(sys.argv[2]) / int(sys.argv[3]); s = r["service_ms"]
print(json.dumps({"command": "webhook-cost-tls", "requests": r["requests"], "rate": round(r["achieved_rate"], 1),
                  "non_200": r["non_200"], "errors": len(r["errors"]),
                  "cpu_us_per_request": round(cpu_s * 1e6 / max(r["requests"], 1), 1),
                  "p50_ms": round(s["p50"], 2), "p99_ms": round(s["p99"], 2)}))
PY
