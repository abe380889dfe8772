"""Helm itself, through its Go SDK (PyPI helm-python-sdk, `scripts/testenv ensure` installs it):
what `helm lint`, `helm template`, `helm install`, `helm upgrade` and `helm uninstall` do, for
the chart tests (Tests/ControllersTests/HelmTests.swift). Run with the test environment's
python; the cluster is $KUBECONFIG's. Results are JSON on stdout.

  helm.py lint CHART VALUES                           findings; exits 1 on a warning or error
  helm.py render CHART RELEASE NAMESPACE VALUES       the objects `helm template` makes, offline
  helm.py install|upgrade CHART RELEASE NAMESPACE VALUES   the objects of the new revision
  helm.py uninstall RELEASE NAMESPACE                 what Helm says it kept
  helm.py objects < YAML                              a YAML stream's objects (to compare parsed)

VALUES is a JSON object. A failure exits 1 naming the action, the release and Helm's error.
"""

import json
import sys

import helm_python as helm
import yaml

WARNING = 2  # the SDK's lint severities: 1 info, 2 warning, 3 error


def objects(text):
    """The objects of a YAML stream, empty documents (a template that rendered nothing) left out."""
    return [o for o in yaml.safe_load_all(text) if o]


def lint(chart, values):
    report = helm.lint(chart, values, strict=True)
    problems = [m for m in report["messages"] if m["severity"] >= WARNING] + report["errors"]
    print(json.dumps(report))
    if problems:
        sys.exit(f"helm lint {chart}: {json.dumps(problems)}")


def render(chart, release, namespace, values):
    with helm.Chart.load(chart) as loaded:
        manifests = loaded.render(values, name=release, namespace=namespace, is_install=True)
        crds = [c["data"] for c in loaded.crds]
    rendered = [text for path, text in sorted(manifests.items()) if not path.endswith("NOTES.txt")]
    print(json.dumps([o for text in crds + rendered for o in objects(text)]))


def deploy(action, chart, release, namespace, values):
    with helm.Config(namespace=namespace) as cfg:
        run = cfg.install if action == "install" else cfg.upgrade
        result = run(chart, release, values, namespace=namespace, timeout=120)
    print(json.dumps(objects(result["manifest"])))


def uninstall(release, namespace):
    with helm.Config(namespace=namespace) as cfg:
        print(json.dumps(cfg.uninstall(release, timeout=120)))


def main(args):
    action = args[0] if args else ""
    try:
        if action == "lint" and len(args) == 3:
            lint(args[1], json.loads(args[2]))
        elif action == "render" and len(args) == 5:
            render(args[1], args[2], args[3], json.loads(args[4]))
        elif action in ("install", "upgrade") and len(args) == 5:
            deploy(action, args[1], args[2], args[3], json.loads(args[4]))
        elif action == "uninstall" and len(args) == 3:
            uninstall(args[1], args[2])
        elif action == "objects" and len(args) == 1:
            print(json.dumps(objects(sys.stdin.read())))
        else:
            sys.exit(__doc__)
    except helm.HelmError as error:
        sys.exit(f"helm {' '.join(args[:3])}: {type(error).__name__}: {error}")


if __name__ == "__main__":
    main(sys.argv[1:])
