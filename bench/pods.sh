#!/usr/bin/env bash
# bench/pods.sh: Stowage in real pods (issue 14's benchmark). Its own test environment
# (.testenv/bench-pods, one node), the operator (controllers and webhook) from a release
# build, its image built around the same binary. Two parts:
#
# 1. Notebook start overhead. A KubeSpawner-like pod (the hub's service account creates it,
#    by impersonation; the notebook image as 1000:100) is timed from the create call until
#    a watch shows its container `notebook` running, in four kinds, alternating, RUNS each:
#      baseline  the same pod in namespace `baseline`, which no Stowage webhook covers
#                (neither mutating nor validating: see WEBHOOKS below), so no volume at all;
#      claims    the baseline pod mounting two claims of its own (same StorageClass, same
#                files as the home and the dataset): what the volumes cost without Stowage;
#      in-place  alice's pod in `notebooks`: the webhook injects her home (data pulled,
#                `sync.onStart: false`) and an RO dataset (pulled, `sync.onStart: false`):
#                by the rules (docs/webhook.md) nothing is owed, so no `stowage-wait`;
#      refresh   bob's pod: his home from the homes template and an RO dataset, both with
#                the defaults (`sync.onStart: true`), so every start after the first is a
#                refresh pull the notebook waits for (`stowage-wait`).
#    Times are client-side (bench/pods/podwatch.py: create sent, create returned, first watch
#    event with the container running) and the API's (creationTimestamp to startedAt, whole
#    seconds). Between runs the pod is deleted and the volumes settle (push on stop done).
# 2. A pull of issue 5's (a) (FILES x 16 KiB) into a real claim: a DataVolume's initial pull
#    by the operator's sync Job, against s5cmd in a Job of the same image, pod shape,
#    resources, StorageClass and claim size, concurrency 32 for both (the sync pods'
#    default), alternating, PULL_RUNS each. s5cmd is the test environment's static binary
#    mounted read-only by hostPath (the image stays byte-identical to the sync pods'). Each
#    pulled claim is checked byte-identical with `diff -r`.
#
#   bench/pods.sh                                  # RUNS=10, PULL_RUNS=3, FILES=10000
#   BENCH_RUNS=3 BENCH_PULL_RUNS=1 BENCH_SMALL_FILES=1000 bench/pods.sh
#   BENCH_PARTS=notebook bench/pods.sh             # or BENCH_PARTS=pull
#   STOWAGE_BIN=/path/to/static/stowage bench/pods.sh   # skip the build
#
# Output: markdown on stdout and in .testenv/bench-pods/work/results.md, raw rows in
# notebook.jsonl and pull.jsonl, the operator's log in operator.log.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

RUNS=${BENCH_RUNS:-10}
PULL_RUNS=${BENCH_PULL_RUNS:-3}
FILES=${BENCH_SMALL_FILES:-10000}
PARTS=${BENCH_PARTS:-"notebook pull"}
ENV_DIR=$ROOT/.testenv/bench-pods
WORK=$ENV_DIR/work
SCRATCH=.build-image-release
STOWAGE=${STOWAGE_BIN:-$ROOT/$SCRATCH/release/stowage}
S5CMD=$HOME/.cache/stowage/testenv/venv/lib/python3.11/site-packages/s5cmd/bin/s5cmd
HUB=system:serviceaccount:jhub:hub

log() { printf '[bench-pods] %s\n' "$*" >&2; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

scripts/testenv ensure
if [ -z "${STOWAGE_BIN:-}" ]; then
  # Linked as the Dockerfile links it (the image has no Swift libraries), in release.
  log "building stowage (release, static Swift runtime, $SCRATCH)"
  swift build -c release --scratch-path "$SCRATCH" --product stowage --static-swift-stdlib >&2
fi
[ -x "$STOWAGE" ] || { log "no stowage binary at $STOWAGE"; exit 1; }
# The venv's s5cmd is a Python launcher; the pod gets the Go binary behind it.
[ -x "$S5CMD" ] || S5CMD=$(find "$HOME/.cache/stowage/testenv/venv" -path '*s5cmd/bin/s5cmd' -type f | head -1)

scripts/testenv down "$ENV_DIR" >/dev/null 2>&1 || true
rm -rf "$ENV_DIR"
OPERATOR_PID=
cleanup() {
  local status=$?
  if [ -n "$OPERATOR_PID" ]; then kill -TERM "$OPERATOR_PID" 2>/dev/null || true; wait "$OPERATOR_PID" 2>/dev/null || true; fi
  scripts/testenv down "$ENV_DIR" >/dev/null 2>&1 || true
  rm -rf "$WORK/data"
  # The claims, S3 data and the node's images are large; removed only once nothing is
  # mounted under the environment any more (a claim is a bind mount while a pod runs).
  if ! grep -q " $ENV_DIR/" /proc/mounts; then rm -rf "$ENV_DIR/volumes" "$ENV_DIR/s3data" "$ENV_DIR/nodes" "$ENV_DIR/images"; fi
  [ "$status" -eq 0 ] || log "failed (exit $status); logs in $WORK and $ENV_DIR/logs"
}
trap cleanup EXIT
STOWAGE_TESTENV_NODES=1 scripts/testenv up "$ENV_DIR"
scripts/testenv load-image "$ENV_DIR" "$STOWAGE"
# shellcheck disable=SC1091
source "$ENV_DIR/env"
export PATH="$STOWAGE_TESTENV_BIN:$PATH"
export KUBECACHEDIR=$WORK/kubectl-cache
EP=$STOWAGE_TEST_S3_ENDPOINT
mkdir -p "$WORK"
k() { kubectl "$@"; }
s3() { aws --endpoint-url "$EP" s3 "$@"; }

# ---------------------------------------------------------------------------- Stowage installed
log "installing Stowage: CRDs, RBAC, access levels with homes"
k apply --server-side -k crds >/dev/null
k wait --for condition=established --timeout=60s crd/datavolumes.stowage.io crd/sharedvolumes.stowage.io >/dev/null
k apply --server-side -f deploy/namespace.yaml -f deploy/rbac.yaml >/dev/null
k apply --server-side -f - >/dev/null <<EOF
apiVersion: v1
kind: ConfigMap
metadata: {name: stowage-config, namespace: stowage-system}
data:
  config.yaml: |
    levels:
      public: {read: ["*"], write: ["members:ReadWrite"]}
    homes:
      enabled: true
      size: 1Gi
      mountPath: /home/jovyan
      access: RW
      source:
        s3: {endpoint: $EP, region: us-east-1, bucket: homes, prefix: "users/{username}", credentialsSecretRef: {name: s3-credentials}, pathStyle: true}
    spawners:
      trusted: ["$HUB"]
EOF
for ns in notebooks baseline pull; do
  k create namespace "$ns" >/dev/null
  k create secret generic s3-credentials -n "$ns" \
    --from-literal=AWS_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" --from-literal=AWS_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY" >/dev/null
done
k label namespace notebooks stowage.io/inject=enabled >/dev/null
# Kubernetes 1.21+ sets this label itself; the validating webhook's selector excludes by it.
k label namespace baseline kubernetes.io/metadata.name=baseline >/dev/null
for ns in notebooks baseline; do
  k apply -n "$ns" -f - >/dev/null <<EOF
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: hub}
rules: [{apiGroups: [""], resources: [pods], verbs: [get, list, watch, create, delete]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: hub}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: hub}
subjects: [{kind: ServiceAccount, name: hub, namespace: jhub}]
EOF
done

log "the operator (release) with its webhook on https://127.0.0.1, as its ServiceAccount"
cat > "$WORK/operator.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: bench, cluster: {server: $STOWAGE_TEST_APISERVER, certificate-authority: $STOWAGE_TEST_CA}}]
users: [{name: stowage-operator, user: {token: stowage-operator-token}}]
contexts: [{name: bench, context: {cluster: bench, user: stowage-operator}}]
current-context: bench
EOF
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
HEALTH=$(free_port)
WEBHOOK=$(free_port)
tls=$WORK/tls
mkdir -p "$tls"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tls/ca.key" -out "$tls/ca.crt" -days 1 -subj /CN=bench-pods-ca 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout "$tls/tls.key" -out "$tls/tls.csr" -subj /CN=stowage-webhook 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > "$tls/ext"
openssl x509 -req -in "$tls/tls.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" -CAcreateserial -days 1 \
  -extfile "$tls/ext" -out "$tls/tls.crt" 2>/dev/null
POD_NAME=stowage-operator-bench "$STOWAGE" operator --kubeconfig "$WORK/operator.kubeconfig" \
  --namespace stowage-system --image "$STOWAGE_TEST_IMAGE" --health-address 127.0.0.1 --health-port "$HEALTH" \
  --webhook-port "$WEBHOOK" --tls-cert "$tls/tls.crt" --tls-key "$tls/tls.key" --log-level info \
  > "$WORK/operator.log" 2>&1 < /dev/null &
OPERATOR_PID=$!
for _ in $(seq 1 150); do curl -sf "http://127.0.0.1:$HEALTH/readyz" >/dev/null && break; sleep 0.2; done
curl -sf "http://127.0.0.1:$HEALTH/readyz" >/dev/null || { tail -20 "$WORK/operator.log" >&2; exit 1; }
# WEBHOOKS: deploy/webhook.yaml with the Service swapped for the loopback URL, and the
# baseline namespace added to the validating webhooks' exclusions, so its pods meet no
# Stowage webhook at all (the mutating one covers only stowage.io/inject=enabled).
ca=$(base64 -w0 < "$tls/ca.crt")
sed -e "s#service: {name: stowage-webhook, namespace: stowage-system, path: \(/[a-z-]*\), port: 443}#url: \"https://127.0.0.1:$WEBHOOK\1\"\n      caBundle: $ca#" \
  -e '/cert-manager.io\/inject-ca-from/d' -e 's/values: \[kube-system, \(.*\)\]/values: [kube-system, \1, baseline]/' \
  deploy/webhook.yaml > "$WORK/webhook.yaml"
grep -q 'stowage-system, baseline' "$WORK/webhook.yaml" || { log "could not exclude the baseline namespace"; exit 1; }
k apply --server-side -f "$WORK/webhook.yaml" >/dev/null

# Waits until every DataVolume of the namespace is in one of PHASES and none of its pods
# runs but the notebooks named (a push on stop leaves them Idle). Polls: a benchmark only.
settle() { # namespace seconds phases...
  local ns=$1 secs=$2; shift 2
  local deadline=$((SECONDS + secs))
  until k get dv,pods -n "$ns" -o json | python3 -c '
import json, sys
items, want = json.load(sys.stdin)["items"], sys.argv[1:]
dvs = [i for i in items if i["kind"] == "DataVolume"]
busy = [i for i in items if i["kind"] == "Pod" and i["status"].get("phase") in ("Pending", "Running")]
sys.exit(0 if dvs and all(d.get("status", {}).get("phase") in want for d in dvs) and not busy else 1)' "$@"; do
    [ $SECONDS -lt $deadline ] || { log "timed out: volumes of $ns not $*"; k get dv,pods -n "$ns" >&2; return 1; }
    sleep 0.5
  done
}

# Runs FUNCTION KIND ROUND for every kind, ROUNDS times, in the order given in odd rounds
# and reversed in even ones, so no kind always runs right after another.
alternate() { # rounds function kinds...
  local rounds=$1 fn=$2 round kind; shift 2
  local forward=("$@") backward=()
  for ((i = $# - 1; i >= 0; i--)); do backward+=("${forward[i]}"); done
  for round in $(seq 1 "$rounds"); do
    if [ $((round % 2)) -eq 1 ]; then for kind in "${forward[@]}"; do "$fn" "$kind" "$round"; done
    else for kind in "${backward[@]}"; do "$fn" "$kind" "$round"; done; fi
  done
}

# The claim's directory on this machine (the provisioner's hostPath).
claim_dir() { # claim [namespace]
  local pv
  pv=$(k get pvc "$1" -n "${2:-pull}" -o jsonpath='{.spec.volumeName}')
  k get pv "$pv" -o jsonpath='{.spec.hostPath.path}{.spec.local.path}'
}

# ---------------------------------------------------------------------------- 1. notebook start
# A notebook pod as KubeSpawner makes it; with "claims", it also mounts the claims home and
# iris itself (as the webhook would mount a home and a dataset), so no webhook is involved.
notebook_pod() { # name user [claims]
  python3 - "$1" "$2" "$STOWAGE_TEST_NOTEBOOK_IMAGE" "${3:-}" <<'PY'
import json, sys
name, user, image, claims = sys.argv[1:]
pod = {"apiVersion": "v1", "kind": "Pod",
  "metadata": {"name": name, "labels": {"app": "jupyterhub", "component": "singleuser-server", "hub.jupyter.org/username": user},
               "annotations": {"hub.jupyter.org/username": user}},
  "spec": {"securityContext": {"runAsUser": 1000, "runAsGroup": 100, "fsGroup": 100},
           "terminationGracePeriodSeconds": 5, "enableServiceLinks": False,
           "containers": [{"name": "notebook", "image": image, "imagePullPolicy": "IfNotPresent",
                           "command": ["/bin/sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.5; done"]}]}}
if claims:
    pod["spec"]["volumes"] = [{"name": "home", "persistentVolumeClaim": {"claimName": "home"}},
                              {"name": "iris", "persistentVolumeClaim": {"claimName": "iris", "readOnly": True}}]
    pod["spec"]["containers"][0]["volumeMounts"] = [{"name": "home", "mountPath": "/home/jovyan"},
                                                     {"name": "iris", "mountPath": "/data/iris", "readOnly": True}]
print(json.dumps(pod))
PY
}

start_one() { # kind round
  local kind=$1 round=$2 ns user name
  case $kind in
    baseline) ns=baseline user=carol ;;
    claims)   ns=baseline user=dave ;;
    in-place) ns=notebooks user=alice ;;
    refresh)  ns=notebooks user=bob ;;
  esac
  name=jupyter-$user-$round
  notebook_pod "$name" "$user" "$([ "$kind" = claims ] && echo claims)" > "$WORK/pod.json"
  local row
  row=$(python3 bench/pods/podwatch.py notebook "$ns" "$WORK/pod.json" "$HUB")
  printf '{"kind": "%s", "round": "%s", "load": "%s", "result": %s}\n' "$kind" "$round" "$(load)" "$row" >> "$WORK/notebook.jsonl"
  log "$kind $round: $(jq -r '"\(.sent_to_running_s * 100 | round / 100) s to running, init containers \(.init_containers), injected \(.injected)"' <<< "$row")"
  k delete pod "$name" -n "$ns" --wait=true --timeout=120s >/dev/null
  [ "$ns" = baseline ] || settle notebooks 300 Idle Ready
}

if [[ " $PARTS " == *" notebook "* ]]; then
  log "notebook start: seeding homes and a dataset"
  mkdir -p "$WORK/seed/home/notebooks" "$WORK/seed/iris"
  echo '{"cells": [], "nbformat": 4}' > "$WORK/seed/home/notebooks/analysis.ipynb"
  echo 'alias ll="ls -l"' > "$WORK/seed/home/.bashrc"
  python3 -c 'import random; random.seed(1); print("sepal_length,sepal_width,species"); [print(f"{random.uniform(4,8):.1f},{random.uniform(2,4.5):.1f},setosa") for _ in range(150)]' > "$WORK/seed/iris/iris.csv"
  s3 mb s3://homes >/dev/null
  s3 mb s3://datasets >/dev/null
  s3 cp --recursive --quiet "$WORK/seed/home" s3://homes/users/alice/
  s3 cp --recursive --quiet "$WORK/seed/home" s3://homes/users/bob/
  s3 cp --recursive --quiet "$WORK/seed/iris" s3://datasets/iris/
  source_of() { echo "{s3: {endpoint: \"$EP\", region: us-east-1, bucket: $1, prefix: \"$2\", credentialsSecretRef: {name: s3-credentials}, pathStyle: true}}"; }
  # alice's home as the homes template makes it, but with sync.onStart false (an admin's
  # or the user's choice), so a home already pulled is used as it is.
  k apply -n notebooks -f - >/dev/null <<EOF
apiVersion: stowage.io/v1alpha1
kind: DataVolume
metadata: {name: home-alice, labels: {stowage.io/managed-by: stowage, stowage.io/user: alice}}
spec:
  owner: alice
  size: 1Gi
  access: RW
  source: $(source_of homes users/alice)
  mount: {path: /home/jovyan}
  attachTo: {users: [alice]}
  sync: {onStart: false}
---
apiVersion: stowage.io/v1alpha1
kind: DataVolume
metadata: {name: iris-pinned}
spec:
  size: 1Gi
  access: RO
  source: $(source_of datasets iris)
  mount: {path: /data/iris}
  attachTo: {users: [alice]}
  sync: {onStart: false}
---
apiVersion: stowage.io/v1alpha1
kind: DataVolume
metadata: {name: iris}
spec:
  size: 1Gi
  access: RO
  source: $(source_of datasets iris)
  mount: {path: /data/iris}
  attachTo: {users: [bob]}
EOF
  settle notebooks 300 Ready
  log "warm-up: one pod of each kind (bob's first login creates and pulls his home)"
  # The claims kind's own two claims, holding what the home and the dataset hold.
  for claim in home iris; do
    k apply -n baseline -f - >/dev/null <<EOF
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: $claim}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
EOF
  done
  until [ "$(k get pvc home iris -n baseline -o jsonpath='{.items[*].status.phase}')" = "Bound Bound" ]; do sleep 0.5; done
  cp -r "$WORK/seed/home/." "$(claim_dir home baseline)/"
  cp -r "$WORK/seed/iris/." "$(claim_dir iris baseline)/"
  for kind in baseline claims in-place refresh; do start_one "$kind" warmup; done
  k get dv -n notebooks >&2
  NOTEBOOK_LOAD_START=$(load)
  log "notebook start: $RUNS rounds, load $NOTEBOOK_LOAD_START"
  alternate "$RUNS" start_one baseline claims in-place refresh
  NOTEBOOK_LOAD_END=$(load)
fi

# ---------------------------------------------------------------------------- 2. pull into a claim
pull_stowage() { # run
  local run=$1
  cat > "$WORK/dv.yaml" <<EOF
apiVersion: stowage.io/v1alpha1
kind: DataVolume
metadata: {name: pull$run, namespace: pull}
spec:
  size: 2Gi
  access: RO
  source: {s3: {endpoint: "$EP", region: us-east-1, bucket: bench-pull, prefix: data, credentialsSecretRef: {name: s3-credentials}, pathStyle: true}}
EOF
  python3 bench/pods/podwatch.py job pull "stowage-dv-pull$run-pull-" -- kubectl apply -f "$WORK/dv.yaml"
}

# The sync pod's shape (SyncJob.build): same image, security contexts, resources, claim.
# Plus a writable /tmp: `s5cmd sync` sorts its listings in temporary files there and panics
# on a read-only root file system (stowage needs only the claim).
pull_s5cmd() { # run
  local run=$1
  cat > "$WORK/s5cmd.yaml" <<EOF
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: s5cmd$run, namespace: pull}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 2Gi}}}
---
apiVersion: batch/v1
kind: Job
metadata: {name: s5cmd$run, namespace: pull}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      automountServiceAccountToken: false
      securityContext: {runAsNonRoot: true, runAsUser: 1000, runAsGroup: 100, fsGroup: 100, seccompProfile: {type: RuntimeDefault}}
      containers:
      - name: sync
        image: $STOWAGE_TEST_IMAGE
        imagePullPolicy: IfNotPresent
        command: [/opt/s5cmd/s5cmd]
        args: [--endpoint-url, "$EP", --numworkers, "32", sync, "s3://bench-pull/data/*", /data/]
        env:
        - {name: AWS_ACCESS_KEY_ID, valueFrom: {secretKeyRef: {name: s3-credentials, key: AWS_ACCESS_KEY_ID}}}
        - {name: AWS_SECRET_ACCESS_KEY, valueFrom: {secretKeyRef: {name: s3-credentials, key: AWS_SECRET_ACCESS_KEY}}}
        - {name: AWS_REGION, value: us-east-1}
        resources: {requests: {cpu: 100m, memory: 64Mi}, limits: {memory: 512Mi}}
        terminationMessagePolicy: FallbackToLogsOnError
        securityContext: {allowPrivilegeEscalation: false, runAsNonRoot: true, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
        volumeMounts:
        - {name: data, mountPath: /data}
        - {name: s5cmd, mountPath: /opt/s5cmd/s5cmd, readOnly: true}
        - {name: tmp, mountPath: /tmp}
      volumes:
      - {name: tmp, emptyDir: {}}
      - {name: data, persistentVolumeClaim: {claimName: s5cmd$run}}
      - {name: s5cmd, hostPath: {path: "$S5CMD", type: File}}
EOF
  python3 bench/pods/podwatch.py job pull "s5cmd$run-" -- kubectl apply -f "$WORK/s5cmd.yaml"
}


pull_one() { # tool run
  local tool=$1 run=$2 row claim flush0 flush1 identical
  sync
  row=$("pull_$tool" "$run")
  flush0=$(date +%s.%N); sync; flush1=$(date +%s.%N)
  if [ "$tool" = stowage ]; then claim=dv-pull$run; else claim=s5cmd$run; fi
  [ "$(jq -r .exit <<< "$row")" = 0 ] || k logs -n pull "$(jq -r .pod <<< "$row")" > "$WORK/failed-$tool-$run.log" 2>&1 || true
  if diff -r --exclude=.stowage "$WORK/data/small" "$(claim_dir "$claim")" >/dev/null; then identical=true; else identical=false; fi
  printf '{"tool": "%s", "run": %s, "load": "%s", "flush_s": %s, "identical": %s, "result": %s}\n' \
    "$tool" "$run" "$(load)" "$(python3 -c "print($flush1 - $flush0)")" "$identical" "$row" >> "$WORK/pull.jsonl"
  log "pull $tool $run: $(jq -r '"\(.running_to_done_s * 100 | round / 100) s running to done, exit \(.exit)"' <<< "$row"), identical $identical"
  if [ "$tool" = stowage ]; then k delete dv "pull$run" -n pull --wait=true --timeout=300s >/dev/null
  else k delete job "s5cmd$run" -n pull --wait=true >/dev/null; k delete pvc "s5cmd$run" -n pull --wait=true >/dev/null; fi
}

if [[ " $PARTS " == *" pull "* ]]; then
  log "pull: generating (a), $FILES x 16 KiB, and pushing it to s3://bench-pull/data"
  python3 bench/small-files.py "$WORK/data/small" "$FILES"
  s3 mb s3://bench-pull >/dev/null
  "$STOWAGE" sync push s3://bench-pull/data "$WORK/data/small" --mode RW --endpoint "$EP" --progress-interval 3600 >/dev/null
  PULL_LOAD_START=$(load)
  log "pull: $PULL_RUNS runs each, load $PULL_LOAD_START"
  alternate "$PULL_RUNS" pull_one stowage s5cmd
  PULL_LOAD_END=$(load)
fi

# ---------------------------------------------------------------------------- report
python3 bench/pods/report.py "$WORK" "$FILES" "${NOTEBOOK_LOAD_START:-}" "${NOTEBOOK_LOAD_END:-}" \
  "${PULL_LOAD_START:-}" "${PULL_LOAD_END:-}" | tee "$WORK/results.md"
log "results: $WORK/results.md"
