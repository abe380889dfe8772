#!/usr/bin/env python3
"""A paced HTTPS load client for bench/webhook.sh.

Sends RATE requests per second for SECONDS over THREADS keep-alive TLS connections (CA
verified), cycling through AdmissionReview bodies: 50 % /mutate-pods, 45 % /validate-pods,
5 % /validate-volumes. Request i is due at start + i/RATE; a thread sleeps until its next
request is due, so the rate holds as long as answers are fast (the achieved rate is
reported). Latency is measured two ways: service time (request written to response read)
and from the due time (includes any queueing behind a slow answer: no coordinated omission).

  load.py HOST PORT CAFILE BODYDIR RATE SECONDS THREADS > result.json
"""
import glob
import http.client
import json
import os
import ssl
import sys
import threading
import time


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, int(round(p / 100.0 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def main():
    host, port, cafile, bodydir = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    rate, seconds, threads = float(sys.argv[5]), float(sys.argv[6]), int(sys.argv[7])
    def load(pattern):
        return [open(f, "rb").read() for f in sorted(glob.glob(os.path.join(bodydir, pattern)))]
    mutate, validate, volume = load("mutate-*.json"), load("validate-*.json"), load("volume-*.json")
    plan = []
    for i in range(100):
        if i % 20 == 19:
            plan.append(("/validate-volumes", volume))
        elif i % 2 == 0:
            plan.append(("/mutate-pods", mutate))
        else:
            plan.append(("/validate-pods", validate))

    # The transport's floor (bench/webhook.sh BENCH_FLOOR=1): the same bodies over the same
    # connections to a path answered without reading them.
    floor = os.environ.get("BENCH_FLOOR_PATH")
    if floor:
        plan = [(floor, bodies) for _, bodies in plan]

    context = ssl.create_default_context(cafile=cafile)
    total = int(rate * seconds)
    lock = threading.Lock()
    state = {"next": 0}
    results = []  # (path, status, service_s, from_due_s, bytes)
    errors = []
    start = time.perf_counter() + 0.5

    def worker():
        conn = http.client.HTTPSConnection(host, port, context=context, timeout=10)
        local = []
        while True:
            with lock:
                i = state["next"]
                state["next"] += 1
            if i >= total:
                break
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            path, bodies = plan[i % len(plan)]
            body = bodies[(i // len(plan)) % len(bodies)]
            try:
                t0 = time.perf_counter()
                conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
                response = conn.getresponse()
                data = response.read()
                t1 = time.perf_counter()
                local.append((path, response.status, t1 - t0, t1 - due, len(data)))
                if response.status != 200 or b'"allowed":true' not in data:
                    with lock:
                        if len(errors) < 5:
                            errors.append((path, response.status, data[:300].decode("utf-8", "replace")))
            except Exception as e:  # a failed request is a result, not a crash of the client
                with lock:
                    errors.append((path, 0, repr(e)))
                conn.close()
                conn = http.client.HTTPSConnection(host, port, context=context, timeout=10)
        with lock:
            results.extend(local)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = max(r[3] for r in results) + 0 if results else 0
    wall = time.perf_counter() - start
    service = sorted(r[2] * 1000 for r in results)
    from_due = sorted(r[3] * 1000 for r in results)
    by_path = {}
    for path in sorted({r[0] for r in results}):
        s = sorted(r[2] * 1000 for r in results if r[0] == path)
        by_path[path] = {"count": len(s), "p50_ms": percentile(s, 50), "p99_ms": percentile(s, 99), "max_ms": s[-1]}
    denied = sum(1 for r in results if r[1] != 200)
    json.dump({
        "requests": len(results), "target_rate": rate, "achieved_rate": len(results) / wall, "seconds": wall,
        "threads": threads, "non_200": denied, "errors": errors,
        "service_ms": {"p50": percentile(service, 50), "p90": percentile(service, 90), "p99": percentile(service, 99),
                       "p999": percentile(service, 99.9), "max": service[-1] if service else None},
        "from_due_ms": {"p50": percentile(from_due, 50), "p99": percentile(from_due, 99), "max": from_due[-1] if from_due else None},
        "by_path": by_path,
    }, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
