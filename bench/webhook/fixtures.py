#!/usr/bin/env python3
"""Objects for bench/webhook.sh: COUNT DataVolumes and COUNT SharedVolumes in namespace jhub,
the access-level ConfigMap, and realistic AdmissionReview bodies (KubeSpawner pods).

  fixtures.py objects COUNT > objects.json     # a v1 List for `kubectl create -f`
  fixtures.py bodies COUNT DIR                 # DIR/mutate-*.json, validate-*.json, volume-*.json,
                                               # plain-*.json (validate, no Stowage claim; not in the load's mix)
"""
import json
import os
import random
import sys

NS = "jhub"
SPAWNER = "system:serviceaccount:jhub:hub"

CONFIG = """groups:
  team-a: [user-0001, user-0002, user-0003]
levels:
  public: {read: ["*"], write: ["members:ReadWrite"]}
  private: {read: ["members"], write: ["members:ReadWrite"]}
homes:
  enabled: true
  size: 10Gi
  mountPath: /home/jovyan
spawners:
  trusted: ["%s"]
""" % SPAWNER


def user(i):
    return "user-%04d" % i


def objects(count):
    items = [{
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "stowage-config", "namespace": "stowage-system"},
        "data": {"config.yaml": CONFIG},
    }]
    for i in range(count):
        items.append({
            "apiVersion": "stowage.io/v1alpha1", "kind": "DataVolume",
            "metadata": {"name": "data-%04d" % i, "namespace": NS},
            "spec": {"owner": user(i), "size": "5Gi", "mount": {"path": "/data/own"},
                     "source": {"s3": {"endpoint": "https://s3.example", "bucket": "data",
                                       "prefix": "users/%s" % user(i),
                                       "credentialsSecretRef": {"name": "s3"}}}},
        })
    for i in range(count):
        # A few public datasets (readable by everyone, so mounted into every notebook),
        # the rest team or project shares granted to their members.
        level = "public" if i % 100 == 0 else "private"
        members = [{"user": user((i * 7 + k) % count), "access": "ReadWrite" if k == 0 else "ReadOnly"} for k in range(3)]
        spec = {"size": "20Gi", "accessLevel": level, "members": members}
        if i % 200 == 0:
            spec["purpose"] = "software"
        items.append({
            "apiVersion": "stowage.io/v1alpha1", "kind": "SharedVolume",
            "metadata": {"name": "share-%04d" % i, "namespace": NS}, "spec": spec,
        })
    return {"apiVersion": "v1", "kind": "List", "items": items}


def notebook_pod(u, claims=()):
    """A pod as KubeSpawner 6 renders it, with the usual env, resources and volumes."""
    env = [{"name": k, "value": v} for k, v in [
        ("JUPYTERHUB_API_URL", "http://hub:8081/hub/api"), ("JUPYTERHUB_USER", u),
        ("JUPYTERHUB_SERVICE_PREFIX", "/user/%s/" % u), ("JUPYTERHUB_CLIENT_ID", "jupyterhub-user-%s" % u),
        ("JUPYTERHUB_HOST", ""), ("JUPYTERHUB_OAUTH_CALLBACK_URL", "/user/%s/oauth_callback" % u),
        ("JUPYTERHUB_SERVER_NAME", ""), ("JUPYTER_IMAGE", "jupyter/scipy-notebook:2024-01-15"),
        ("MEM_GUARANTEE", "1073741824"), ("MEM_LIMIT", "4294967296"), ("CPU_GUARANTEE", "0.5"), ("CPU_LIMIT", "2.0")]]
    env.append({"name": "JUPYTERHUB_API_TOKEN", "valueFrom": {"secretKeyRef": {"name": "jupyter-%s" % u, "key": "token"}}})
    volumes = [{"name": "files", "configMap": {"name": "user-etc-singleuser", "defaultMode": 420}}]
    mounts = [{"name": "files", "mountPath": "/etc/jupyter/jupyter_notebook_config.py", "subPath": "config.py"}]
    for n, (claim, ro) in enumerate(claims):
        v = {"name": "v%d" % n, "persistentVolumeClaim": {"claimName": claim}}
        m = {"name": "v%d" % n, "mountPath": "/mnt/v%d" % n}
        if ro:
            v["persistentVolumeClaim"]["readOnly"] = True
            m["readOnly"] = True
        volumes.append(v)
        mounts.append(m)
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "generateName": "jupyter-%s-" % u, "namespace": NS,
            "labels": {"app": "jupyterhub", "component": "singleuser-server", "release": "jhub",
                       "chart": "jupyterhub-3.2.1", "heritage": "jupyterhub", "hub.jupyter.org/network-access-hub": "true",
                       "hub.jupyter.org/servername": "", "hub.jupyter.org/username": u},
            "annotations": {"hub.jupyter.org/username": u, "hub.jupyter.org/servername": ""},
        },
        "spec": {
            "automountServiceAccountToken": False, "enableServiceLinks": False, "restartPolicy": "OnFailure",
            "schedulerName": "jhub-user-scheduler", "serviceAccountName": "default",
            "securityContext": {"fsGroup": 100},
            "initContainers": [{"name": "block-cloud-metadata", "image": "jupyterhub/k8s-network-tools:3.2.1",
                                "command": ["iptables", "-A", "OUTPUT", "-d", "169.254.169.254", "-j", "DROP"],
                                "securityContext": {"privileged": True, "runAsUser": 0, "capabilities": {"add": ["NET_ADMIN"]}}}],
            "containers": [{
                "name": "notebook", "image": "jupyter/scipy-notebook:2024-01-15",
                "args": ["jupyterhub-singleuser", "--ip=0.0.0.0", "--port=8888"],
                "env": env, "ports": [{"containerPort": 8888, "name": "notebook-port", "protocol": "TCP"}],
                "resources": {"limits": {"cpu": "2", "memory": "4Gi"}, "requests": {"cpu": "500m", "memory": "1Gi"}},
                "securityContext": {"allowPrivilegeEscalation": False, "runAsUser": 1000},
                "volumeMounts": mounts, "lifecycle": {}, "imagePullPolicy": "IfNotPresent",
            }],
            "volumes": volumes,
            "tolerations": [{"effect": "NoSchedule", "key": "hub.jupyter.org/dedicated", "operator": "Equal", "value": "user"},
                            {"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists", "tolerationSeconds": 300}],
            "affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 100, "preference": {"matchExpressions": [{"key": "hub.jupyter.org/node-purpose", "operator": "In", "values": ["user"]}]}}]}},
        },
    }


def review(uid, kind, group, version, resource, obj, user_name=SPAWNER, operation="CREATE", old=None):
    request = {
        "uid": uid, "kind": {"group": group, "version": version, "kind": kind},
        "resource": {"group": group, "version": version, "resource": resource},
        "requestKind": {"group": group, "version": version, "kind": kind},
        "requestResource": {"group": group, "version": version, "resource": resource},
        "namespace": NS, "operation": operation,
        "userInfo": {"username": user_name, "uid": "6f0b7c2e-hub", "groups": ["system:serviceaccounts", "system:serviceaccounts:jhub", "system:authenticated"]},
        "object": obj, "oldObject": old, "dryRun": False,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
    }
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}


def bodies(count, out, variants=200):
    rnd = random.Random(7)
    os.makedirs(out, exist_ok=True)
    items = objects(count)["items"]
    for n in range(variants):
        i = rnd.randrange(count)
        u = user(i)
        with open(os.path.join(out, "mutate-%03d.json" % n), "w") as f:
            json.dump(review("m-%d" % n, "Pod", "", "v1", "pods", notebook_pod(u)), f)
        # What the validating webhook sees after mutation: the user's own claims, a share read-only.
        claims = [("dv-home-" + u.replace("-", "-2d"), False), ("dv-data-%04d" % i, False), ("shv-share-%04d" % (i - i % 100), True)]
        with open(os.path.join(out, "validate-%03d.json" % n), "w") as f:
            json.dump(review("v-%d" % n, "Pod", "", "v1", "pods", notebook_pod(u, claims)), f)
        # A pod of the same kind naming no Stowage claim: what most pods of a cluster are.
        with open(os.path.join(out, "plain-%03d.json" % n), "w") as f:
            json.dump(review("p-%d" % n, "Pod", "", "v1", "pods", notebook_pod(u, [("scratch-%04d" % i, False)])), f)
        dv = items[1 + i] if n < 20 else None
        if dv:
            with open(os.path.join(out, "volume-%03d.json" % n), "w") as f:
                json.dump(review("d-%d" % n, "DataVolume", "stowage.io", "v1alpha1", "datavolumes", dv, user_name=u), f)


if __name__ == "__main__":
    if sys.argv[1] == "objects":
        json.dump(objects(int(sys.argv[2])), sys.stdout)
    elif sys.argv[1] == "bodies":
        bodies(int(sys.argv[2]), sys.argv[3])
    else:
        sys.exit("usage: fixtures.py objects COUNT | bodies COUNT DIR")
