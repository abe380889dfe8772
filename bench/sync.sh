#!/usr/bin/env bash
# bench/sync.sh: `stowage sync` against rclone, s5cmd and `aws s3 sync` (issue 5's benchmark).
#
# One run, one SeaweedFS (its own test environment in .testenv/bench-sync), the same data for
# every tool, a fresh bucket per tool and case, the same concurrency N for every tool:
#   (a) SMALL_FILES files of 16 KiB: push, then pull into an empty directory
#   (b) LARGE_FILES files of LARGE_MIB MiB: push, then pull into an empty directory
#   (c) a no-change re-sync of (a): push the same tree again
# Reports wall time, the ratio to stowage (tool time / stowage time: above 1 means stowage was
# faster), peak RSS (/usr/bin/time) and the S3 requests each command made (SeaweedFS's own
# per-bucket counters, read from its metrics before and after; every tool has its own
# bucket), and the CPU the S3 server spent on each command. Every pull is checked
# byte-identical with `diff -r`. Each command starts BENCH_SETTLE seconds (15) after the
# last one ended (see "Fresh memory" in bench/README.md).
# "Durable" adds the `sync` run right after the tool: stowage fsyncs what it pulls before
# it reports success (a crash never leaves a half-written file under a final name), the
# other tools leave their writes in the page cache, so a pull's durable time is the fair one.
#
#   bench/sync.sh                      # issue 5 sizes: N=16, 10,000 x 16 KiB, 2 x 1 GiB
#   BENCH_CONCURRENCY=32 BENCH_SMALL_FILES=1000 BENCH_LARGE_MIB=64 BENCH_TOOLS="stowage s5cmd" bench/sync.sh
#   STOWAGE_BIN=/path/to/stowage bench/sync.sh   # skip the release build
#   STOWAGE_BEFORE_BIN=/path/to/old/stowage BENCH_TOOLS="stowage-before stowage s5cmd" bench/sync.sh
#                                      # an older build as one more tool: before/after in one run
#   BENCH_S3=moto bench/sync.sh        # against moto_server instead of SeaweedFS (no request counts)
#   BENCH_CASES=large bench/sync.sh    # only (b); BENCH_CASES=small: (a) and (c)
#
# Output: a markdown table on stdout and in .testenv/bench-sync/work/results.md, raw rows in
# results.tsv, each command's stdout/stderr in logs/.
set -euo pipefail
set -f  # no pathname expansion anywhere: s5cmd's s3://.../* must reach it unexpanded
cd "$(dirname "$0")/.."
ROOT=$(pwd)

N=${BENCH_CONCURRENCY:-16}
SMALL_FILES=${BENCH_SMALL_FILES:-10000}
LARGE_FILES=${BENCH_LARGE_FILES:-2}
LARGE_MIB=${BENCH_LARGE_MIB:-1024}
TOOLS=${BENCH_TOOLS:-"stowage rclone s5cmd aws"}
S3_SERVER=${BENCH_S3:-seaweedfs}
CASES=${BENCH_CASES:-"small large"}
SETTLE=${BENCH_SETTLE:-15}
ENV_DIR=$ROOT/.testenv/bench-sync${BENCH_ENV_SUFFIX:-}
WORK=$ENV_DIR/work
STOWAGE=${STOWAGE_BIN:-$ROOT/.build-release/release/stowage}
STOWAGE_BEFORE=${STOWAGE_BEFORE_BIN:-}

log() { printf '[bench-sync] %s\n' "$*" >&2; }

scripts/testenv ensure
[ -x /usr/bin/time ] || { apt-get update -q >&2; DEBIAN_FRONTEND=noninteractive apt-get install -y -q time >&2; }
if [ -z "${STOWAGE_BIN:-}" ]; then
  log "building stowage (release, .build-release)"
  swift build -c release --scratch-path .build-release --product stowage >&2
fi
[ -x "$STOWAGE" ] || { log "no stowage binary at $STOWAGE"; exit 1; }

scripts/testenv down "$ENV_DIR" >/dev/null 2>&1 || true
rm -rf "$ENV_DIR"
scripts/testenv up "$ENV_DIR"
# The generated data, the pulled copies and SeaweedFS's volumes come to about 6 GiB per tool
# at the default sizes: only the results and logs outlive the run.
trap 'scripts/testenv down "$ENV_DIR" || true; set +f; rm -rf "$WORK/data" "$WORK"/src-* "$WORK"/dst-* "$ENV_DIR/s3data"' EXIT
# shellcheck disable=SC1091
source "$ENV_DIR/env"
export PATH="$STOWAGE_TESTENV_BIN:$PATH"
EP=$STOWAGE_TEST_S3_ENDPOINT
[ "$S3_SERVER" = moto ] && EP=$STOWAGE_TEST_MOTO_ENDPOINT
mkdir -p "$WORK/data" "$WORK/logs"

# rclone: an S3 remote named "bench" from the environment only; no config file anywhere.
export RCLONE_CONFIG=$WORK/rclone.conf.unused
export RCLONE_CONFIG_BENCH_TYPE=s3
export RCLONE_CONFIG_BENCH_PROVIDER=Other
export RCLONE_CONFIG_BENCH_ENDPOINT=$EP
export RCLONE_CONFIG_BENCH_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID
export RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY
export RCLONE_CONFIG_BENCH_REGION=$AWS_REGION
export RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE=true
# aws s3 sync: the concurrency comes from the config file; use one of our own.
export AWS_CONFIG_FILE=$WORK/aws-config
printf '[default]\nregion = %s\ns3 =\n  max_concurrent_requests = %s\n' "$AWS_REGION" "$N" > "$AWS_CONFIG_FILE"
export AWS_SHARED_CREDENTIALS_FILE=$WORK/aws-credentials-unused

# ---------------------------------------------------------------------------- data
log "generating data: $SMALL_FILES x 16 KiB, $LARGE_FILES x $LARGE_MIB MiB"
python3 bench/small-files.py "$WORK/data/small" "$SMALL_FILES"
mkdir -p "$WORK/data/large"
for i in $(seq 1 "$LARGE_FILES"); do
  head -c "$((LARGE_MIB * 1024 * 1024))" /dev/urandom > "$WORK/data/large/large-$i.bin"
done
# Every source file is older than any upload, so the mtime-vs-LastModified tools skip them in (c).
find "$WORK/data" -type f -exec touch -d '2 minutes ago' {} +

# ---------------------------------------------------------------------------- commands
cmd_for() { # tool, push|pull, bucket, dir
  local tool=$1 op=$2 bucket=$3 dir=$4
  case "$tool/$op" in
    stowage-before/push) echo "$STOWAGE_BEFORE sync push s3://$bucket/data $dir --mode RW --endpoint $EP --concurrency $N --progress-interval 3600" ;;
    stowage-before/pull) echo "$STOWAGE_BEFORE sync pull s3://$bucket/data $dir --mode RO --endpoint $EP --concurrency $N --progress-interval 3600" ;;
    stowage/push) echo "$STOWAGE sync push s3://$bucket/data $dir --mode RW --endpoint $EP --concurrency $N --progress-interval 3600" ;;
    stowage/pull) echo "$STOWAGE sync pull s3://$bucket/data $dir --mode RO --endpoint $EP --concurrency $N --progress-interval 3600" ;;
    rclone/push)  echo "rclone copy $dir bench:$bucket/data --transfers $N --checkers $N" ;;
    rclone/pull)  echo "rclone copy bench:$bucket/data $dir --transfers $N --checkers $N" ;;
    s5cmd/push)   echo "s5cmd --endpoint-url $EP --numworkers $N sync $dir/ s3://$bucket/data/" ;;
    s5cmd/pull)   echo "s5cmd --endpoint-url $EP --numworkers $N sync s3://$bucket/data/* $dir/" ;;
    aws/push)     echo "aws --endpoint-url $EP s3 sync $dir s3://$bucket/data --only-show-errors" ;;
    aws/pull)     echo "aws --endpoint-url $EP s3 sync s3://$bucket/data $dir --only-show-errors" ;;
  esac
}

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
RESULTS=$WORK/results.tsv
printf 'case\ttool\tseconds\tdurable_seconds\tpeak_rss_kib\texit\trequests\tcpu_seconds\tserver_cpu_seconds\n' > "$RESULTS"

# "GET=2 PUT=10001": the S3 requests SeaweedFS counted for one bucket so far, by type.
requests() { # bucket
  [ "$S3_SERVER" = seaweedfs ] || { echo; return; }  # moto has no request counters
  curl -sf "$STOWAGE_TEST_S3_METRICS" | python3 -c '
import re, sys
counts = {}
for line in sys.stdin:
    m = re.match(r"SeaweedFS_s3_request_total\{(.*)\} (\S+)", line)
    if not m: continue
    labels = dict(re.findall(r"(\w+)=\"([^\"]*)\"", m.group(1)))
    if labels.get("bucket") == sys.argv[1]:
        counts[labels["type"]] = counts.get(labels["type"], 0) + int(float(m.group(2)))
print(" ".join(f"{k}={v}" for k, v in sorted(counts.items())))' "$1"
}

# The requests made between two `requests` snapshots: "GET=2 PUT=10000".
request_delta() { # before, after
  python3 -c '
import sys
def parse(text): return {k: int(v) for k, v in (item.split("=") for item in text.split())}
before, after = parse(sys.argv[1]), parse(sys.argv[2])
delta = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
print(" ".join(f"{k}={v}" for k, v in sorted(delta.items())) or "-")' "$1" "$2"
}

# CPU seconds (user + system) the S3 server has used so far: on two cores the server and
# the client share the machine, so a tool that costs the server more is slower for it.
SERVER_PID=$(cat "$ENV_DIR/pids/$([ "$S3_SERVER" = moto ] && echo moto || echo weed)")
server_cpu() { awk '{ printf "%.2f\n", ($14 + $15) / 100 }' "/proc/$SERVER_PID/stat"; }

timed() { # case label, tool, bucket, command...
  local label=$1 tool=$2 bucket=$3; shift 3
  local tag=${label// /_}.$tool out=$WORK/logs
  sync  # the previous run's dirty pages are not this run's cost
  # Memory freed a moment ago is cheap to use again; on this VM, memory the kernel has had
  # time to hand back to the host costs up to 2.3 s of CPU a GiB for whoever touches it
  # first (host page faults, charged as system time). Every command starts after the same
  # pause, so each meets memory in the same state (bench/README, "Fresh memory").
  sleep "$SETTLE"
  local before_requests before_server
  before_requests=$(requests "$bucket")
  before_server=$(server_cpu)
  log "$label: $tool: $*"
  set +e
  ( timeout 1800 /usr/bin/time -f '%e %M %U %S' -o "$out/$tag.time" "$@" >"$out/$tag.stdout" 2>"$out/$tag.stderr" )
  local rc=$?
  local flush_start flush_end
  flush_start=$(date +%s.%N); sync; flush_end=$(date +%s.%N)
  set -e
  local made server
  made=$(request_delta "$before_requests" "$(requests "$bucket")")
  server=$(python3 -c "print(f'{$(server_cpu) - $before_server:.2f}')")
  local secs=NaN rss=0 user=0 system=0
  [ -s "$out/$tag.time" ] && read -r secs rss user system < <(tail -1 "$out/$tag.time")
  [ "$rc" -eq 0 ] || { log "$label: $tool FAILED (exit $rc), see $out/$tag.stderr"; tail -5 "$out/$tag.stderr" >&2; }
  local durable
  durable=$(python3 -c "print(f'{$secs + $flush_end - $flush_start:.2f}')" 2>/dev/null || echo NaN)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$tool" "$secs" "$durable" "$rss" "$rc" "$made" \
    "$(python3 -c "print(f'{$user + $system:.2f}')")" "$server" >> "$RESULTS"
}

verify() { # label, tool, source, pulled
  if diff -r --exclude=.stowage "$3" "$4" >/dev/null; then
    log "$1: $2: pulled tree is identical"
  else
    log "$1: $2: pulled tree DIFFERS from the source"
    printf '%s\t%s\tverify\t-\t-\tdiffers\t-\n' "$1" "$2" >> "$RESULTS"
  fi
}

run_case() { # set (small|large), case letter
  local set=$1 letter=$2 tool bucket src dst
  for tool in $TOOLS; do
    bucket=bench-$letter-$tool
    aws --endpoint-url "$EP" s3 mb "s3://$bucket" >/dev/null
    src=$WORK/src-$set-$tool; dst=$WORK/dst-$set-$tool
    rm -rf "$src" "$dst"; cp -al "$WORK/data/$set" "$src"; mkdir -p "$dst"
    # shellcheck disable=SC2046
    timed "($letter) push" "$tool" "$bucket" $(cmd_for "$tool" push "$bucket" "$src")
    # shellcheck disable=SC2046
    timed "($letter) pull" "$tool" "$bucket" $(cmd_for "$tool" pull "$bucket" "$dst")
    verify "($letter) pull" "$tool" "$WORK/data/$set" "$dst"
    if [ "$letter" = a ]; then
      # shellcheck disable=SC2046
      timed "(c) no-change push" "$tool" "$bucket" $(cmd_for "$tool" push "$bucket" "$src")
    fi
    rm -rf "$dst"
  done
}

for set in $CASES; do
  case $set in small) run_case small a ;; large) run_case large b ;; *) log "unknown case set $set"; exit 64 ;; esac
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------------------- report
python3 - "$RESULTS" "$N" "$SMALL_FILES" "$LARGE_FILES" "$LARGE_MIB" "$LOAD_START" "$LOAD_END" "$S3_SERVER" <<'PY' | tee "$WORK/results.md"
import csv, sys, platform, os
path, n, small, large, mib, load_start, load_end, server = sys.argv[1:]
rows = [r for r in csv.DictReader(open(path), delimiter="\t") if r["seconds"] != "verify"]
bad = [r for r in csv.DictReader(open(path), delimiter="\t") if r["seconds"] == "verify"]
cases = []
for r in rows:
    if r["case"] not in cases: cases.append(r["case"])
order = {"(a) push": 0, "(a) pull": 1, "(b) push": 2, "(b) pull": 3, "(c) no-change push": 4}
cases.sort(key=lambda c: order.get(c, 9))
print(f"N={n}; (a) {int(small):,} x 16 KiB; (b) {large} x {mib} MiB; (c) no-change push of (a). "
      f"S3 server: {server}. {os.cpu_count()} cores. Ratio = tool time / stowage time (above 1: stowage faster). "
      f"Load average (1, 5, 15 min) at start {load_start}, at end {load_end}.\n")
print("| case | tool | wall s | ratio to stowage | durable s (+ sync) | durable ratio | client CPU s | CPU ratio | server CPU s | peak RSS MiB | S3 requests | exit |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|")
def requests(text):
    counts = dict(item.split("=") for item in text.split()) if text not in ("", "-") else {}
    total = sum(int(v) for v in counts.values())
    return f"{total:,} ({', '.join(f'{k} {int(v):,}' for k, v in sorted(counts.items()))})" if counts else "-"
def ratio(value, base):
    return f"{value / base:.2f}" if base else "-"
for c in cases:
    stowage = next((r for r in rows if r["case"] == c and r["tool"] == "stowage"), None)
    base = float(stowage["seconds"]) if stowage else None
    durable_base = float(stowage["durable_seconds"]) if stowage else None
    cpu_base = float(stowage["cpu_seconds"]) if stowage else None
    for r in (r for r in rows if r["case"] == c):
        s, d = float(r["seconds"]), float(r["durable_seconds"])
        cpu = float(r["cpu_seconds"])
        print(f"| {c} | {r['tool']} | {s:.2f} | {ratio(s, base)} | {d:.2f} | {ratio(d, durable_base)} | {cpu:.2f} | {ratio(cpu, cpu_base)} | {r['server_cpu_seconds']} | "
              f"{int(r['peak_rss_kib']) / 1024:.1f} | {requests(r['requests'])} | {r['exit']} |")
for r in bad:
    print(f"\n**{r['case']} {r['tool']}: pulled tree differs from the source.**")
PY
log "results: $WORK/results.md"
