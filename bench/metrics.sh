#!/usr/bin/env bash
# bench/metrics.sh: what the operator's Prometheus registry costs with many volumes' series.
#
# `stowage-bench metrics-cost BACKEND VOLUMES SCRAPES` (MetricsCost.swift), once per backend,
# each in its own process (so peak RSS is its own): KubeRuntime's hand-written MetricsRegistry
# and swift-prometheus's PrometheusCollectorRegistry used directly (issue 18: why the first is
# kept). No cluster. CPU times are the benchmark thread's; the table is per backend, with the ratio to
# the hand-written one.
#
#   bench/metrics.sh                         # VOLUMES=10000 SCRAPES=20 ROUNDS=3
#   BENCH_VOLUMES=1000 BENCH_BACKENDS=handwritten bench/metrics.sh
set -euo pipefail
cd "$(dirname "$0")/.."
VOLUMES=${BENCH_VOLUMES:-10000}
SCRAPES=${BENCH_SCRAPES:-20}
ROUNDS=${BENCH_ROUNDS:-3}
BACKENDS=${BENCH_BACKENDS:-handwritten prometheus}
WORK=${BENCH_WORK:-.testenv/bench-metrics}
BIN=${STOWAGE_BENCH_BIN:-.build-release/release/stowage-bench}
[ -x "$BIN" ] && [ "${BENCH_NO_BUILD:-0}" = 1 ] || swift build -c release --scratch-path .build-release --product stowage-bench >&2
mkdir -p "$WORK"
: > "$WORK/rows.jsonl"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for round in $(seq "$ROUNDS"); do
  for backend in $BACKENDS; do
    /usr/bin/time -f '%M' -o "$WORK/rss" "$BIN" metrics-cost "$backend" "$VOLUMES" "$SCRAPES" > "$WORK/row.json"
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); r["round"]=int(sys.argv[3]); r["peakRSSMiB"]=round(int(open(sys.argv[2]).read().split()[-1])/1024,1); print(json.dumps(r))' \
      "$WORK/row.json" "$WORK/rss" "$round" >> "$WORK/rows.jsonl"
  done
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
python3 - "$WORK/rows.jsonl" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
backends = list(dict.fromkeys(r["backend"] for r in rows))
cols = [("scrapeMsMedian", "scrape ms"), ("scrapeBytes", "bytes"), ("populateMs", "first pass of all volumes ms"),
        ("volumePassUs", "later pass µs/volume"), ("incrementNs", "increment ns"), ("observeNs", "observe ns"),
        ("lookupIncrementNs", "lookup + increment ns"), ("forgetOneVolumeMs", "forget 1 volume ms"),
        ("forgetAllRestMs", "forget the other 99 % ms"), ("peakRSSMiB", "peak RSS MiB")]
med = {b: {k: statistics.median(r[k] for r in rows if r["backend"] == b) for k, _ in cols} for b in backends}
base = med.get("HandWrittenBackend") or med[backends[0]]
print(f"{rows[0]['volumes']} volumes ({rows[0]['volumeSeries']} volume series), medians of {len(rows) // len(backends)} runs; ratio = backend / hand-written\n")
print("| backend | " + " | ".join(t for _, t in cols) + " |")
print("|---|" + "---:|" * len(cols))
for b in backends:
    cells = [f"{med[b][k]:g} ({med[b][k] / base[k]:.2f}x)" if base[k] else f"{med[b][k]:g}" for k, _ in cols]
    print(f"| {b} | " + " | ".join(cells) + " |")
PY
