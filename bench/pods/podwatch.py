#!/usr/bin/env python3
"""Client-side timing of pods for bench/pods.sh, straight against the apiserver.

A watch on the namespace's pods is open before anything is created, and a reader thread
stamps every event with this machine's clock when it arrives, so the times do not depend on
the API's one-second timestamps (which are reported too).

  podwatch.py notebook NAMESPACE POD.json [IMPERSONATE_USER]
      creates the pod (as the spawner, by impersonation) and returns once its container
      `notebook` is running: sent, returned, scheduled and running times, the API's
      creationTimestamp and startedAt, its init containers and stowage.io/injected.
  podwatch.py job NAMESPACE POD_NAME_PREFIX -- COMMAND...
      runs COMMAND (what creates the Job, or the DataVolume whose Job it is), then follows
      the first pod whose name starts with the prefix until it has Succeeded or Failed:
      when it was first seen, first Running and first finished, its container's startedAt
      and finishedAt, and its Job's startTime and completionTime.

One JSON object on stdout. Needs STOWAGE_TEST_APISERVER, STOWAGE_TEST_TOKEN, STOWAGE_TEST_CA.
"""
import http.client
import json
import os
import queue
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
from datetime import datetime, timezone

SERVER = urllib.parse.urlparse(os.environ["STOWAGE_TEST_APISERVER"])
CONTEXT = ssl.create_default_context(cafile=os.environ["STOWAGE_TEST_CA"])
TOKEN = os.environ["STOWAGE_TEST_TOKEN"]
TIMEOUT = float(os.environ.get("PODWATCH_TIMEOUT", "900"))


def connect():
    return http.client.HTTPSConnection(SERVER.hostname, SERVER.port, context=CONTEXT, timeout=TIMEOUT)


def call(method, path, body=None, as_user=None):
    headers = {"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"}
    if as_user:
        headers["Impersonate-User"] = as_user
    if body is not None:
        headers["Content-Type"] = "application/json"
    conn = connect()
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    if response.status >= 300:
        sys.exit(f"podwatch: {method} {path}: HTTP {response.status}: {data[:800].decode(errors='replace')}")
    return json.loads(data)


class PodWatch(threading.Thread):
    """Pod events of one namespace from now on, each with its arrival time."""

    def __init__(self, namespace, field_selector=None):
        super().__init__(daemon=True)
        listed = call("GET", f"/api/v1/namespaces/{namespace}/pods?limit=1")
        query = {"watch": "1", "resourceVersion": listed["metadata"]["resourceVersion"]}
        if field_selector:
            query["fieldSelector"] = field_selector
        self.conn = connect()
        self.conn.request("GET", f"/api/v1/namespaces/{namespace}/pods?{urllib.parse.urlencode(query)}",
                          headers={"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"})
        # The apiserver sends the headers of a watch at once: from here on nothing is missed.
        self.response = self.conn.getresponse()
        if self.response.status != 200:
            sys.exit(f"podwatch: watch: HTTP {self.response.status}")
        self.events = queue.Queue()

    def run(self):
        while True:
            line = self.response.readline()
            if not line:
                self.events.put((time.time(), None))
                return
            self.events.put((time.time(), json.loads(line)))

    def next(self, deadline):
        left = deadline - time.time()
        if left <= 0:
            sys.exit("podwatch: timed out")
        try:
            stamp, event = self.events.get(timeout=left)
        except queue.Empty:
            sys.exit("podwatch: timed out")
        if event is None:
            sys.exit("podwatch: the watch ended")
        if event.get("type") == "ERROR":
            sys.exit(f"podwatch: watch error: {event}")
        return stamp, event["object"]


def api_time(text):
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp() if text else None


def container_state(pod, name, init=False):
    key = "initContainerStatuses" if init else "containerStatuses"
    for status in pod.get("status", {}).get(key) or []:
        if status["name"] == name:
            return status.get("state", {})
    return {}


def notebook(namespace, pod_file, as_user=None):
    body = open(pod_file, "rb").read()
    name = json.loads(body)["metadata"]["name"]
    watch = PodWatch(namespace, f"metadata.name={name}")
    watch.start()
    sent = time.time()
    created = call("POST", f"/api/v1/namespaces/{namespace}/pods", body, as_user)
    returned = time.time()
    deadline = sent + TIMEOUT
    scheduled = None
    while True:
        stamp, pod = watch.next(deadline)
        if scheduled is None and pod.get("spec", {}).get("nodeName"):
            scheduled = stamp
        running = container_state(pod, "notebook").get("running")
        if running:
            break
    annotations = created["metadata"].get("annotations") or {}
    created_at = api_time(created["metadata"]["creationTimestamp"])
    started_at = api_time(running.get("startedAt"))
    print(json.dumps({
        "pod": name, "namespace": namespace,
        "sent": sent, "returned": returned, "scheduled": scheduled, "running": stamp,
        "create_call_s": returned - sent,
        "sent_to_running_s": stamp - sent,
        "returned_to_running_s": stamp - returned,
        "api_created_to_started_s": started_at - created_at,
        "init_containers": [c["name"] for c in created["spec"].get("initContainers") or []],
        "volumes": len(created["spec"].get("volumes") or []),
        "injected": annotations.get("stowage.io/injected", ""),
        "node": pod["spec"].get("nodeName"),
    }))


def job(namespace, prefix, command):
    watch = PodWatch(namespace)
    watch.start()
    started = time.time()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    deadline = started + TIMEOUT
    name = seen = running = None
    while True:
        stamp, pod = watch.next(deadline)
        if not pod["metadata"]["name"].startswith(prefix):
            continue
        if name is None:
            name, seen = pod["metadata"]["name"], stamp
        elif pod["metadata"]["name"] != name:
            continue
        phase = pod.get("status", {}).get("phase")
        if running is None and phase in ("Running", "Succeeded", "Failed"):
            running = stamp
        if phase in ("Succeeded", "Failed"):
            break
    statuses = pod["status"].get("containerStatuses") or [{}]
    terminated = statuses[0].get("state", {}).get("terminated", {})
    owner = next((o["name"] for o in pod["metadata"].get("ownerReferences") or [] if o["kind"] == "Job"), None)
    job_start = job_end = None
    if owner:
        for _ in range(100):  # the Job controller records completion a moment after the pod's
            j = call("GET", f"/apis/batch/v1/namespaces/{namespace}/jobs/{owner}")
            job_start, job_end = api_time(j["status"].get("startTime")), api_time(j["status"].get("completionTime"))
            if job_end or j["status"].get("failed"):
                break
            time.sleep(0.2)
    container_s = None
    if terminated.get("startedAt") and terminated.get("finishedAt"):
        container_s = api_time(terminated["finishedAt"]) - api_time(terminated["startedAt"])
    print(json.dumps({
        "pod": name, "job": owner, "phase": phase, "exit": terminated.get("exitCode"),
        "reason": terminated.get("reason"), "message": (terminated.get("message") or "")[:300],
        "created_to_seen_s": seen - started, "created_to_done_s": stamp - started,
        "running_to_done_s": stamp - running, "seen_to_done_s": stamp - seen,
        "api_container_s": container_s,
        "api_job_s": (job_end - job_start) if job_start and job_end else None,
        "done": stamp,
    }))


def main(argv):
    if len(argv) >= 3 and argv[0] == "notebook":
        notebook(argv[1], argv[2], argv[3] if len(argv) > 3 else None)
    elif len(argv) >= 5 and argv[0] == "job" and argv[3] == "--":
        job(argv[1], argv[2], argv[4:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
