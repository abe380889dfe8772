#!/usr/bin/env python3
"""The markdown report of bench/pods.sh from WORK/notebook.jsonl and WORK/pull.jsonl.

  report.py WORK FILES NOTEBOOK_LOAD_START NOTEBOOK_LOAD_END PULL_LOAD_START PULL_LOAD_END
"""
import json
import os
import statistics
import sys

work, files, nb_start, nb_end, pull_start, pull_end = sys.argv[1:]


def rows(name):
    path = os.path.join(work, name)
    return [json.loads(line) for line in open(path)] if os.path.exists(path) else []


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(value, digits=2):
    return "-" if value is None else f"{value:.{digits}f}"


def runs(values, digits=2):
    return ", ".join(fmt(v, digits) for v in values)


KINDS = ("baseline", "claims", "in-place", "refresh")
notebook = [r for r in rows("notebook.jsonl") if r["round"] != "warmup"]
if notebook:
    print(f"### Notebook start ({os.cpu_count()} cores; load average 1, 5, 15 min at start {nb_start}, at end {nb_end})\n")
    print("| kind | runs | init containers | volumes injected | create call s | sent to running s | "
          "returned to running s | API created to started s (whole seconds) |")
    print("|---|---:|---|---|---:|---:|---:|---:|")
    medians = {}
    for kind in KINDS:
        mine = [r["result"] for r in notebook if r["kind"] == kind]
        if not mine:
            continue
        inits = sorted({",".join(r["init_containers"]) or "none" for r in mine})
        injected = sorted({r["injected"] or "none" for r in mine})
        m = {key: median([r[key] for r in mine]) for key in
             ("create_call_s", "sent_to_running_s", "returned_to_running_s", "api_created_to_started_s")}
        medians[kind] = m
        print(f"| {kind} | {len(mine)} | {' / '.join(inits)} | {' / '.join(injected)} | {fmt(m['create_call_s'], 3)} | "
              f"**{fmt(m['sent_to_running_s'])}** | {fmt(m['returned_to_running_s'])} | {fmt(m['api_created_to_started_s'], 1)} |")
    print()
    for kind, against in (("in-place", "baseline"), ("refresh", "baseline"), ("claims", "baseline"),
                          ("in-place", "claims"), ("refresh", "claims")):
        if kind in medians and against in medians:
            d = {key: medians[kind][key] - medians[against][key] for key in medians[kind]}
            print(f"* {kind} minus {against} (medians): sent to running **{d['sent_to_running_s']:+.2f} s**, "
                  f"returned to running {d['returned_to_running_s']:+.2f} s, create call {d['create_call_s'] * 1000:+.0f} ms, "
                  f"API {d['api_created_to_started_s']:+.1f} s")
    print()
    print("Every run, sent to running (s), in the order run:\n")
    for kind in KINDS:
        mine = [r["result"]["sent_to_running_s"] for r in notebook if r["kind"] == kind]
        if mine:
            print(f"* {kind}: {runs(mine)}")
    print()

pull = rows("pull.jsonl")
if pull:
    print(f"### Pull of (a) into a claim, {int(files):,} x 16 KiB ({os.cpu_count()} cores; load average at start {pull_start}, at end {pull_end})\n")
    print("| tool | runs | pod running to done s (client) | durable s (+ host sync) | container s (API) | "
          "Job s (API) | create to done s | all identical | exit codes |")
    print("|---|---:|---:|---:|---:|---:|---:|---|---|")
    medians = {}
    for tool in ("stowage", "s5cmd"):
        mine = [r for r in pull if r["tool"] == tool]
        if not mine:
            continue
        res = [r["result"] for r in mine]
        m = {
            "running": median([r["running_to_done_s"] for r in res]),
            "durable": median([r["result"]["running_to_done_s"] + r["flush_s"] for r in mine]),
            "container": median([r["api_container_s"] for r in res]),
            "job": median([r["api_job_s"] for r in res]),
            "created": median([r["created_to_done_s"] for r in res]),
        }
        medians[tool] = m
        print(f"| {tool} | {len(mine)} | **{fmt(m['running'])}** | {fmt(m['durable'])} | {fmt(m['container'], 0)} | "
              f"{fmt(m['job'], 0)} | {fmt(m['created'])} | {all(r['identical'] for r in mine)} | "
              f"{','.join(str(r['exit']) for r in res)} |")
    print()
    if "stowage" in medians and "s5cmd" in medians:
        s, o = medians["stowage"], medians["s5cmd"]
        job = f"{o['job'] / s['job']:.2f}" if s["job"] and o["job"] else "-"
        print(f"* s5cmd / stowage (medians, above 1: stowage faster): running to done **{o['running'] / s['running']:.2f}**, "
              f"durable {o['durable'] / s['durable']:.2f}, Job {job}")
        by_run = {}
        for r in pull:
            by_run.setdefault(r["run"], {})[r["tool"]] = r["result"]["running_to_done_s"]
        pairs = [t["s5cmd"] / t["stowage"] for _, t in sorted(by_run.items()) if "s5cmd" in t and t.get("stowage")]
        if pairs:
            print(f"* per run (the two pulls of one round, back to back): {runs(pairs)}; median **{median(pairs):.2f}**")
    print()
    print("Every run, pod running to done (s), in the order run:\n")
    for tool in ("stowage", "s5cmd"):
        mine = [r["result"]["running_to_done_s"] for r in pull if r["tool"] == tool]
        if mine:
            print(f"* {tool}: {runs(mine)}")
