#!/usr/bin/env bash
# bench/kubeclient.sh: Stowage's Kubernetes client against kubectl, on COUNT ConfigMaps of ~1 KiB.
#
# Its own test environment (.testenv/bench-kube). Creates the ConfigMaps concurrently through
# the client (bench/Sources/stowage-bench, a high client-side qps), then measures:
#   list:  `stowage-bench list` (listAll, limit 500, decoded into typed ConfigMaps) vs
#          `kubectl get configmaps -A -o json > /dev/null` (kubectl also pages by 500):
#          one warm-up each, then RUNS runs; the median wall time and peak RSS.
#   watch: `stowage-bench watch COUNT`: a watch of all ConfigMaps from resourceVersion 0 (the
#          apiserver replays every object as an ADDED event), timed from the request until the
#          COUNT-th event is decoded into a typed ConfigMap; events/s. The same stream read by
#          curl | head -n COUNT (no decoding) is the transport baseline.
#
#   bench/kubeclient.sh                       # COUNT=10000, RUNS=3
#   BENCH_CONFIGMAPS=2000 BENCH_RUNS=5 bench/kubeclient.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

COUNT=${BENCH_CONFIGMAPS:-10000}
RUNS=${BENCH_RUNS:-3}
ENV_DIR=$ROOT/.testenv/bench-kube
WORK=$ENV_DIR/work
BENCH=${STOWAGE_BENCH_BIN:-$ROOT/.build-release/release/stowage-bench}

log() { printf '[bench-kube] %s\n' "$*" >&2; }

scripts/testenv ensure
[ -x /usr/bin/time ] || { apt-get update -q >&2; DEBIAN_FRONTEND=noninteractive apt-get install -y -q time >&2; }
if [ -z "${STOWAGE_BENCH_BIN:-}" ]; then
  log "building stowage-bench (release, .build-release)"
  swift build -c release --scratch-path .build-release --product stowage-bench >&2
fi

scripts/testenv down "$ENV_DIR" >/dev/null 2>&1 || true
rm -rf "$ENV_DIR"
scripts/testenv up "$ENV_DIR"
trap 'scripts/testenv down "$ENV_DIR"' EXIT
# shellcheck disable=SC1091
source "$ENV_DIR/env"
export PATH="$STOWAGE_TESTENV_BIN:$PATH"
export KUBECACHEDIR=$WORK/kubectl-cache  # kubectl's discovery cache: ours, not ~/.kube
mkdir -p "$WORK/logs"

kubectl create namespace bench >/dev/null
log "creating $COUNT ConfigMaps"
"$BENCH" create bench "$COUNT" 32 | tee "$WORK/create.json" >&2
TOTAL=$("$BENCH" list | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"])')
log "$TOTAL ConfigMaps in the cluster (including the controller manager's kube-root-ca.crt ones)"

RESULTS=$WORK/results.tsv
printf 'what\ttool\trun\tseconds\tpeak_rss_kib\texit\n' > "$RESULTS"
timed() { # what, tool, run, command...
  local what=$1 tool=$2 run=$3; shift 3
  local tag=$what.$tool.$run out=$WORK/logs
  set +e
  timeout 600 /usr/bin/time -f '%e %M' -o "$out/$tag.time" "$@" >"$out/$tag.stdout" 2>"$out/$tag.stderr"
  local rc=$?
  set -e
  local secs=NaN rss=0
  [ -s "$out/$tag.time" ] && read -r secs rss < <(tail -1 "$out/$tag.time")
  [ "$rc" -eq 0 ] || { log "$what $tool run $run FAILED (exit $rc)"; tail -5 "$out/$tag.stderr" >&2; }
  [ "$run" = warmup ] || printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$what" "$tool" "$run" "$secs" "$rss" "$rc" >> "$RESULTS"
}

log "list: warm-up, then $RUNS runs each"
timed list stowage warmup "$BENCH" list
timed list kubectl warmup kubectl get configmaps -A -o json
for run in $(seq 1 "$RUNS"); do
  timed list stowage "$run" "$BENCH" list
  timed list kubectl "$run" kubectl get configmaps -A -o json
done
# kubectl printed the objects; check it saw as many as we did.
KUBECTL_ITEMS=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["items"]))' "$WORK/logs/list.kubectl.1.stdout")

log "watch: $RUNS runs"
WATCH_URL="$STOWAGE_TEST_APISERVER/api/v1/configmaps?watch=1&resourceVersion=0&timeoutSeconds=300"
for run in $(seq 1 "$RUNS"); do
  mkfifo "$WORK/watch.fifo.$run"
  timed watch stowage "$run" "$BENCH" watch "$TOTAL"
  # The watch stays open after the replay: stop curl as soon as head has its lines.
  start=$(date +%s.%N)
  curl -sN --cacert "$STOWAGE_TEST_CA" -H "Authorization: Bearer $STOWAGE_TEST_TOKEN" "$WATCH_URL" > "$WORK/watch.fifo.$run" &
  curl_pid=$!
  head -n "$TOTAL" "$WORK/watch.fifo.$run" | wc -c > "$WORK/logs/watch.curl.$run.bytes"
  end=$(date +%s.%N)
  kill "$curl_pid" 2>/dev/null || true
  wait "$curl_pid" 2>/dev/null || true
  rm -f "$WORK/watch.fifo.$run"
  printf 'watch\tcurl\t%s\t%s\t0\t0\n' "$run" "$(python3 -c "print(round($end - $start, 3))")" >> "$RESULTS"
done

python3 - "$RESULTS" "$WORK" "$TOTAL" "$KUBECTL_ITEMS" "$RUNS" <<'PY' | tee "$WORK/results.md"
import csv, json, os, statistics, sys
path, work, total, kubectl_items, runs = sys.argv[1:]
rows = list(csv.DictReader(open(path), delimiter="\t"))
def pick(what, tool): return [r for r in rows if r["what"] == what and r["tool"] == tool]
def med(rs, key): return statistics.median(float(r[key]) for r in rs)
fails = [r for r in rows if r["exit"] != "0"]
print(f"{int(total):,} ConfigMaps (~1 KiB each); kubectl saw {int(kubectl_items):,}. Median of {runs} runs after one warm-up; {os.cpu_count()} cores.\n")
print("| list and decode all | median wall s | runs (s) | median peak RSS MiB |")
print("|---|---:|---|---:|")
for tool, label in (("stowage", "stowage `listAll(limit: 500)`"), ("kubectl", "`kubectl get configmaps -A -o json`")):
    rs = pick("list", tool)
    print(f"| {label} | {med(rs, 'seconds'):.2f} | {', '.join(r['seconds'] for r in rs)} | {med(rs, 'peak_rss_kib') / 1024:.1f} |")
s, k = pick("list", "stowage"), pick("list", "kubectl")
print(f"\nkubectl / stowage: time {med(k, 'seconds') / med(s, 'seconds'):.2f}x, peak RSS {med(k, 'peak_rss_kib') / med(s, 'peak_rss_kib'):.2f}x\n")
w = pick("watch", "stowage")
inner = [json.load(open(f"{work}/logs/watch.stowage.{r['run']}.stdout")) for r in w if r["exit"] == "0"]
c = pick("watch", "curl")
print("| watch from resourceVersion 0 | median s | events/s (median) | median peak RSS MiB |")
print("|---|---:|---:|---:|")
if inner:
    secs = statistics.median(x["seconds"] for x in inner)
    print(f"| stowage: request to {int(total):,}th typed ConfigMap decoded | {secs:.2f} | {int(total) / secs:,.0f} | {med(w, 'peak_rss_kib') / 1024:.1f} |")
cs = med(c, "seconds")
print(f"| curl \\| head -n {int(total):,} (bytes only, no decoding) | {cs:.2f} | {int(total) / cs:,.0f} | - |")
for r in fails:
    print(f"\n**{r['what']} {r['tool']} run {r['run']} failed (exit {r['exit']}).**")
PY
log "results: $WORK/results.md"
