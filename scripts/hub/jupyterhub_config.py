"""The JupyterHub of the tests and the demo: JupyterHub with KubeSpawner, configured from
Zero to JupyterHub values as z2jh's own hub configuration reads them.

    jupyterhub -f scripts/hub/jupyterhub_config.py

The values are deploy/jupyterhub/values.yaml (what the admin guide tells an admin to use),
then scripts/hub/test-values.yaml (what only this machine needs: the small notebook image,
its command, a profile that mounts another user's claim). Only the keys those files use
are read, each as z2jh's jupyterhub_config.py maps it to KubeSpawner; any other key is an
error here, so the files cannot say more than this hub does.

What z2jh's chart sets up around the hub comes from the environment instead:
  STOWAGE_HUB_NAMESPACE   where the hub spawns (z2jh: the release namespace)
  STOWAGE_HUB_DIR         the hub's state (sqlite in memory; the cookie secret, pid files)
  STOWAGE_HUB_PORT        the proxy's public port on 127.0.0.1 (z2jh: the proxy-public Service)
  STOWAGE_HUB_API_PORT    the hub's own port, STOWAGE_HUB_PROXY_API_PORT the proxy's API
  STOWAGE_HUB_TOKEN       an API token with admin rights over users and servers (the tests'
                          and the demo's client; z2jh: a hub.services entry)
  STOWAGE_HUB_IMAGE       the notebook image (z2jh: singleuser.image)
  KUBECONFIG              the hub's service account (z2jh: in-cluster, the hub's token)
"""

import os

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
VALUES = [os.path.join(ROOT, "deploy/jupyterhub/values.yaml"), os.path.join(HERE, "test-values.yaml")]


def merged(files):
    """The values files merged as Helm merges -f files: maps key by key, the last one wins."""

    def merge(a, b):
        if isinstance(a, dict) and isinstance(b, dict):
            return {**a, **{k: merge(a.get(k), v) for k, v in b.items()}}
        return b

    values = {}
    for path in files:
        with open(path) as f:
            values = merge(values, yaml.safe_load(f) or {})
    return values


values = merged(VALUES)
used = set()


def get(path, default=None):
    """A value by its dotted z2jh path, as z2jh's get_config does."""
    used.add(path)
    node = values
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            return default
        node = node[key]
    return node


def leaves(node, prefix=""):
    if isinstance(node, dict) and node:
        for key, value in node.items():
            yield from leaves(value, f"{prefix}{key}.")
    else:
        yield prefix[:-1]


c = get_config()  # noqa: F821 (JupyterHub's config loader defines it)
env = os.environ

# z2jh: hub.*
c.JupyterHub.allow_named_servers = get("hub.allowNamedServers", False)

# z2jh: singleuser.*, each a KubeSpawner trait of the same meaning.
c.JupyterHub.spawner_class = "kubespawner.KubeSpawner"
for trait, key in [("extra_labels", "extraLabels"), ("uid", "uid"), ("fs_gid", "fsGid"), ("cmd", "cmd"),
                   ("profile_list", "profileList"), ("start_timeout", "startTimeout")]:
    value = get("singleuser." + key)
    if value is not None:
        setattr(c.KubeSpawner, trait, value)
storage = get("singleuser.storage.type", "dynamic")
if storage != "none":
    raise ValueError(f"singleuser.storage.type: {storage!r}: this hub only knows 'none' (Stowage provides the home)")
c.KubeSpawner.image = env["STOWAGE_HUB_IMAGE"]
# A map read whole (extraLabels) counts for every key in it.
unknown = sorted(leaf for leaf in leaves(values) if not any(leaf == u or leaf.startswith(u + ".") for u in used))
if unknown:
    raise ValueError(f"{', '.join(unknown)}: not read by scripts/hub/jupyterhub_config.py")

# What z2jh's chart does around the hub, for one machine.
c.KubeSpawner.namespace = env["STOWAGE_HUB_NAMESPACE"]
c.KubeSpawner.k8s_api_request_timeout = 10
c.JupyterHub.authenticator_class = "dummy"  # any name logs in; the tests use the REST API
c.Authenticator.allow_all = True
c.JupyterHub.db_url = "sqlite://"
c.JupyterHub.cookie_secret_file = os.path.join(env["STOWAGE_HUB_DIR"], "cookie_secret")
c.JupyterHub.pid_file = os.path.join(env["STOWAGE_HUB_DIR"], "hub.pid")
c.JupyterHub.bind_url = f"http://127.0.0.1:{env['STOWAGE_HUB_PORT']}"
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{env['STOWAGE_HUB_API_PORT']}"
# The Python port of configurable-http-proxy (PyPI), started by the hub as the node one is.
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{env['STOWAGE_HUB_PROXY_API_PORT']}"
c.ConfigurableHTTPProxy.pid_file = os.path.join(env["STOWAGE_HUB_DIR"], "proxy.pid")
# The Python port gives each proxied request tornado's default 20 s timeout (the node proxy
# has none), which cuts the spawn page's progress stream, a response that lasts as long as
# the spawn (a pull of a large home, on a loaded machine): one hour instead.
c.ConfigurableHTTPProxy.command = ["configurable-http-proxy", "--proxy-timeout", "3600000"]
c.JupyterHub.cleanup_servers = True
# A spawn request is answered at once (202); its progress and outcome are read from the
# progress stream, as the spawn page reads them.
c.JupyterHub.tornado_settings = {"slow_spawn_timeout": 0}
c.JupyterHub.services = [{"name": "stowage-tests", "api_token": env["STOWAGE_HUB_TOKEN"]}]
c.JupyterHub.load_roles = [{
    "name": "stowage-tests",
    "scopes": ["admin:users", "admin:servers", "read:users"],
    "services": ["stowage-tests"],
}]
