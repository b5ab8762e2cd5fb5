"""Render the Helm chart for every CI values file and check what comes out, offline.

Runs in the deploy tools' venv (.venv-deploy, see deploy/check.sh), not the app's:
- renders with helm-python-sdk (Helm's own Go engine behind a C ABI, no helm binary),
  and `helm lint --strict` through the same library;
- validates every object against the Kubernetes OpenAPI schemas in strict mode
  (kubernetes-validate; unknown fields are errors) for the oldest and the newest
  Kubernetes release it ships; the Prometheus Operator's ServiceMonitor and
  PrometheusRule against strict schemas generated from the operator's CRD models
  (cloudcoil-models-prometheus-operator). An object with no schema is an error;
- checks what schemas cannot: Pod Security Standards "restricted" on every pod, the
  only writable paths, probes and resources on every container, Services/HPAs/PDBs
  pointing at pods that exist, the PrometheusRule and dashboard equal to the files
  promtool and the metric-name test check, and that bad values fail with a message;
- writes the rendered manifests under OUT_DIR for checkov.

Usage: python deploy/check_manifests.py OUT_DIR
"""

from __future__ import annotations

import json
import re
import sys
from functools import cache
from pathlib import Path
from typing import Any

import helm_python as helm
import importlib_resources
import jsonschema
import jsonschema.exceptions
import yaml
from kubernetes_validate import utils as kv
from referencing import Registry, Resource

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "helm" / "shieldx"
VALUES_FILES = sorted((CHART / "ci").glob("values-ci-*.yaml"))
RELEASE, NAMESPACE = "shieldx", "shieldx"
APP_VERSION = yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]
WEB_ROLES = {"credits": 5004, "shadow": 5005, "camouflage": 8089}
WORKLOADS = {"Deployment", "Job"}

errors: list[str] = []


def error(where: str, message: str) -> None:
    errors.append(f"{where}: {message}")


# --- rendering --------------------------------------------------------------------------
def render(values: dict[str, Any] | None, *, is_upgrade: bool = False) -> dict[str, str]:
    with helm.Chart.load(str(CHART)) as chart:
        return chart.render(values=values, name=RELEASE, namespace=NAMESPACE, is_install=not is_upgrade, is_upgrade=is_upgrade)


def objects_of(rendered: dict[str, str]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for template, text in sorted(rendered.items()):
        if template.endswith("NOTES.txt"):
            continue
        for doc in yaml.load_all(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
            if doc:
                out.append((template, doc))
    return out


def kind_name(obj: dict[str, Any]) -> str:
    return f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"


# --- schemas -----------------------------------------------------------------------------
def _forbid_unknown_fields(node: Any) -> None:
    if isinstance(node, dict):
        if "properties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        for value in node.values():
            _forbid_unknown_fields(value)
    elif isinstance(node, list):
        for value in node:
            _forbid_unknown_fields(value)


@cache
def crd_validator(kind: str) -> jsonschema.Draft202012Validator:
    # Importing the generated models takes seconds: keep their schemas in the venv,
    # keyed by the package's version.
    from importlib.metadata import version

    cached = Path(sys.prefix) / "share" / "shieldx-crd-schemas" / f"{kind}-{version('cloudcoil.models.prometheus_operator')}.json"
    if cached.is_file():
        schema = json.loads(cached.read_text())
    else:
        from cloudcoil.models.prometheus_operator import v1

        schema = getattr(v1, kind).model_json_schema(by_alias=True, mode="validation")
        _forbid_unknown_fields(schema)
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_text(json.dumps(schema))
    return jsonschema.Draft202012Validator(schema)


CRD_KINDS = {("monitoring.coreos.com/v1", "ServiceMonitor"), ("monitoring.coreos.com/v1", "PrometheusRule")}
SCHEMAS = importlib_resources.files("kubernetes_validate") / "kubernetes-json-schema"


@cache
def k8s_validator(version: str, kind: str, api_version: str) -> jsonschema.Draft202012Validator | None:
    """kubernetes-validate's strict schema for one kind, built once (its own validate()
    reloads 2 MB of definitions per object and stops at the first error)."""
    directory = SCHEMAS / f"v{version}-local-strict"
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    path = directory / f"{kind.lower()}-{group_version}.json"
    if not path.is_file():
        return None
    schema = json.loads(path.read_text())
    definitions = json.loads((directory / "_definitions.json").read_text())
    registry = Resource.from_contents(definitions) @ (Resource.from_contents(schema) @ Registry())
    return jsonschema.Draft202012Validator(schema, registry=registry)


def _describe(problem: jsonschema.ValidationError) -> str:
    # For anyOf/oneOf, the closest branch says more than "is not valid under any".
    while problem.context:
        problem = jsonschema.exceptions.best_match(problem.context) or problem
        if not problem.context:
            break
    message = problem.message if len(problem.message) <= 200 else problem.message[:200] + "..."
    return f"{'.'.join(map(str, problem.absolute_path)) or '(root)'}: {message}"


def validate_schema(where: str, obj: dict[str, Any], versions: list[str]) -> None:
    if (obj.get("apiVersion"), obj.get("kind")) in CRD_KINDS:
        for problem in crd_validator(obj["kind"]).iter_errors(obj):
            error(where, f"{kind_name(obj)} (CRD schema): {_describe(problem)}")
        return
    for version in versions:
        validator = k8s_validator(version, obj.get("kind", ""), obj.get("apiVersion", ""))
        if validator is None:
            error(where, f"{kind_name(obj)}: no Kubernetes {version} schema for {obj.get('apiVersion')}")
            continue
        for problem in validator.iter_errors(obj):
            error(where, f"{kind_name(obj)} (Kubernetes {version}, strict): {_describe(problem)}")


# --- what schemas cannot see ------------------------------------------------------------
def pod_spec(obj: dict[str, Any]) -> dict[str, Any] | None:
    if obj.get("kind") in WORKLOADS:
        return obj["spec"]["template"]["spec"]
    return None


def check_restricted(where: str, obj: dict[str, Any], spec: dict[str, Any], values: dict[str, Any]) -> None:
    """Pod Security Standards 'restricted' (v1.25+), plus the chart's own rules."""
    name = kind_name(obj)
    pod_sc = spec.get("securityContext") or {}
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field):
            error(where, f"{name}: {field} is forbidden")
    if spec.get("automountServiceAccountToken") is not False:
        error(where, f"{name}: the service account token must not be mounted")
    for volume in spec.get("volumes", []):
        allowed = {"name", "emptyDir", "secret", "configMap", "projected", "downwardAPI", "persistentVolumeClaim", "ephemeral", "csi"}
        if set(volume) - allowed:
            error(where, f"{name}: volume {volume['name']} uses a type 'restricted' forbids: {sorted(set(volume) - allowed)}")
    writable = {"/tmp", values["volumes"]["metrics"]["path"]}  # noqa: S108 - the paths the pods mount, not a temp file
    for container in spec.get("containers", []) + spec.get("initContainers", []):
        cname = f"{name} container {container['name']}"
        sc = container.get("securityContext") or {}
        if sc.get("allowPrivilegeEscalation") is not False:
            error(where, f"{cname}: allowPrivilegeEscalation must be false")
        if sc.get("privileged"):
            error(where, f"{cname}: privileged")
        if (sc.get("capabilities") or {}).get("drop") != ["ALL"]:
            error(where, f"{cname}: capabilities must drop ALL")
        if set((sc.get("capabilities") or {}).get("add") or []) - {"NET_BIND_SERVICE"}:
            error(where, f"{cname}: adds capabilities")
        if not (sc.get("runAsNonRoot") or pod_sc.get("runAsNonRoot")):
            error(where, f"{cname}: runAsNonRoot must be true")
        if (sc.get("runAsUser", pod_sc.get("runAsUser")) or 0) == 0:
            error(where, f"{cname}: must run as a non-zero user id")
        seccomp = (sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            error(where, f"{cname}: seccompProfile must be RuntimeDefault")
        if sc.get("readOnlyRootFilesystem") is not True:
            error(where, f"{cname}: readOnlyRootFilesystem must be true")
        mounts = {m["mountPath"]: m for m in container.get("volumeMounts", [])}
        for path in writable:
            if path not in mounts:
                error(where, f"{cname}: {path} must be a writable volume")
        for path, mount in mounts.items():
            if path not in writable and not mount.get("readOnly"):
                error(where, f"{cname}: {path} is writable; only {sorted(writable)} may be")
        volume_names = {v["name"] for v in spec.get("volumes", [])}
        for mount in mounts.values():
            if mount["name"] not in volume_names:
                error(where, f"{cname}: mounts undefined volume {mount['name']}")
        resources = container.get("resources") or {}
        for kind in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                if resource not in (resources.get(kind) or {}):
                    error(where, f"{cname}: resources.{kind}.{resource} is missing")
        env = {e["name"]: e for e in container.get("env", [])}
        for secret in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "SHIELDX_KEYRING"):
            if secret in env:
                error(where, f"{cname}: {secret} in the environment; secrets are files (*_FILE)")
            elif f"{secret}_FILE" not in env:
                error(where, f"{cname}: {secret}_FILE is not set")
        if obj["kind"] == "Deployment":
            for probe in ("livenessProbe", "startupProbe"):
                if probe not in container:
                    error(where, f"{cname}: {probe} is missing")


def labels_match(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def check_structure(where: str, objs: list[dict[str, Any]], values: dict[str, Any]) -> None:
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for obj in objs:
        by_kind.setdefault(obj["kind"], []).append(obj)
        if obj["metadata"].get("namespace") != NAMESPACE:
            error(where, f"{kind_name(obj)}: metadata.namespace must be the release namespace")
    deployments = {d["metadata"]["name"]: d for d in by_kind.get("Deployment", [])}
    pod_labels = [d["spec"]["template"]["metadata"]["labels"] for d in deployments.values()]

    for name, deployment in deployments.items():
        if not labels_match(deployment["spec"]["selector"]["matchLabels"], deployment["spec"]["template"]["metadata"]["labels"]):
            error(where, f"Deployment/{name}: selector does not match its own pod labels")
        component = deployment["metadata"]["labels"]["app.kubernetes.io/component"]
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        env = {e["name"]: e.get("value") for e in container.get("env", [])}
        if env.get("SHIELDX_ROLE") != component:
            error(where, f"Deployment/{name}: SHIELDX_ROLE {env.get('SHIELDX_ROLE')!r} is not its component {component!r}")
        if component in WEB_ROLES:
            port = container["ports"][0]["containerPort"]
            if port != values["roles"][component]["port"] or env.get("SHIELDX_PORT") != str(port):
                error(where, f"Deployment/{name}: port {port} / SHIELDX_PORT {env.get('SHIELDX_PORT')} disagree with values")
            if container.get("readinessProbe", {}).get("httpGet", {}).get("path") != "/ready":
                error(where, f"Deployment/{name}: readiness must be GET /ready")
            if container.get("livenessProbe", {}).get("httpGet", {}).get("path") != "/health":
                error(where, f"Deployment/{name}: liveness must be GET /health")
            if "GUNICORN_WORKERS" not in env:
                error(where, f"Deployment/{name}: GUNICORN_WORKERS must be set (gunicorn would count the node's cores)")
        if component == "beat" and (deployment["spec"].get("replicas") != 1 or deployment["spec"]["strategy"]["type"] != "Recreate"):
            error(where, "beat must run exactly one replica with strategy Recreate")

    image = values["image"]
    expected_image = f"{image['repository']}@{image['digest']}" if image["digest"] else f"{image['repository']}:{image['tag'] or APP_VERSION}"
    for obj in objs:
        spec = pod_spec(obj)
        for container in (spec or {}).get("containers", []):
            if container["image"] != expected_image:
                error(where, f"{kind_name(obj)}: image {container['image']}, expected {expected_image}")

    for service in by_kind.get("Service", []):
        if service["spec"].get("type") == "ExternalName":
            continue
        if not any(labels_match(service["spec"]["selector"], labels) for labels in pod_labels):
            error(where, f"{kind_name(service)}: selects no pod")
    for hpa in by_kind.get("HorizontalPodAutoscaler", []):
        target = hpa["spec"]["scaleTargetRef"]["name"]
        if target not in deployments:
            error(where, f"{kind_name(hpa)}: targets missing Deployment {target}")
        elif "replicas" in deployments[target]["spec"]:
            error(where, f"{kind_name(hpa)}: Deployment {target} sets replicas, which every upgrade would reset")
        if not hpa["spec"].get("behavior", {}).get("scaleDown"):
            error(where, f"{kind_name(hpa)}: no scale-down behaviour")
        resources = {m["resource"]["name"] for m in hpa["spec"]["metrics"] if m["type"] == "Resource"}
        if resources != {"cpu", "memory"}:
            error(where, f"{kind_name(hpa)}: scales on {sorted(resources)}, expected cpu and memory")
    for pdb in by_kind.get("PodDisruptionBudget", []):
        if not any(labels_match(pdb["spec"]["selector"]["matchLabels"], labels) for labels in pod_labels):
            error(where, f"{kind_name(pdb)}: selects no pod")

    policies = by_kind.get("NetworkPolicy", [])
    if values["networkPolicy"]["enabled"]:
        deny = [p for p in policies if set(p["spec"].get("policyTypes", [])) == {"Ingress", "Egress"} and not p["spec"].get("ingress") and not p["spec"].get("egress")]
        if not deny:
            error(where, "no default-deny NetworkPolicy")
        egress_ports = {port["port"] for p in policies for rule in p["spec"].get("egress", []) for port in rule.get("ports", [])}
        expected = {53, values["postgresql"]["port"], values["redis"]["port"]}
        if egress_ports != expected:
            error(where, f"egress allows ports {sorted(egress_ports)}, expected exactly {sorted(expected)}")
        for labels in pod_labels:
            component = labels["app.kubernetes.io/component"]
            if not any(labels_match(p["spec"]["podSelector"].get("matchLabels", {}), labels) and p["spec"].get("ingress") for p in policies):
                error(where, f"pods of {component}: no NetworkPolicy lets Prometheus (or clients) in")
    elif policies:
        error(where, "networkPolicy.enabled is false but policies were rendered")

    hooks = {kind_name(o): o["metadata"].get("annotations", {}) for o in objs if "helm.sh/hook" in o["metadata"].get("annotations", {})}
    if values["migrations"]["enabled"]:
        job = [o for o in by_kind.get("Job", []) if o["metadata"]["labels"]["app.kubernetes.io/component"] == "migrate"]
        if not job:
            error(where, "no migration Job")
        else:
            annotations = job[0]["metadata"]["annotations"]
            if annotations.get("helm.sh/hook") != "pre-install,pre-upgrade":
                error(where, "the migration Job must be a pre-install,pre-upgrade hook")
            secret_volume = next(v for v in job[0]["spec"]["template"]["spec"]["volumes"] if "secret" in v)
            secret_name = secret_volume["secret"]["secretName"]
            secret_hook = hooks.get(f"Secret/{secret_name}")
            if not values["secrets"]["existingSecret"]:
                if secret_hook is None or int(secret_hook.get("helm.sh/hook-weight", "0")) >= int(annotations.get("helm.sh/hook-weight", "0")):
                    error(where, "the chart's Secret must be a hook created before the migration Job")

    rules = [o for o in objs if o["kind"] == "PrometheusRule"]
    if values["prometheusRule"]["enabled"]:
        expected = yaml.safe_load((CHART / "files" / "alerts.yaml").read_text())
        base = values["prometheusRule"]["runbookBaseUrl"]
        for group in expected["groups"]:
            for rule in group["rules"]:
                if "runbook_url" in rule.get("annotations", {}):
                    rule["annotations"]["runbook_url"] = base + rule["annotations"]["runbook_url"]
        if not rules or rules[0]["spec"] != expected:
            error(where, "the PrometheusRule differs from deploy/prometheus/alerts.yaml")
    dashboards = [o for o in objs if o["kind"] == "ConfigMap" and "shieldx.json" in o.get("data", {})]
    if values["grafanaDashboard"]["enabled"]:
        if not dashboards or json.loads(dashboards[0]["data"]["shieldx.json"]) != json.loads((ROOT / "deploy" / "grafana" / "shieldx.json").read_text()):
            error(where, "the dashboard ConfigMap differs from deploy/grafana/shieldx.json")


def check_bad_values() -> int:
    """Values that must be refused at render time, each with a message naming the key."""
    good = yaml.safe_load((CHART / "ci" / "values-ci-minimal.yaml").read_text())
    cases = {
        "no secrets in production": ({"image": good["image"]}, "secrets.databaseUrl is required"),
        "PDB that blocks every drain": ({**good, "roles": {"credits": {"podDisruptionBudget": {"minAvailable": 3}}}}, "minAvailable"),
        "HPA min above max": ({**good, "roles": {"shadow": {"autoscaling": {"minReplicas": 7}}}}, "minReplicas must not exceed maxReplicas"),
        "ingress without host": ({**good, "ingress": {"enabled": True}}, "ingress.host is required"),
    }
    for label, (values, message) in cases.items():
        try:
            render(values)
        except helm.HelmError as exc:
            if message not in str(exc):
                error("bad values", f"{label}: refused, but the message does not say {message!r}: {exc}")
            continue
        error("bad values", f"{label}: rendered without complaint")
    return len(cases)


def main() -> int:
    out_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / ".venv-deploy" / "rendered"
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob("*.yaml"):
        stale.unlink()
    helm.disable_logging()
    versions = [kv.all_versions()[0], kv.latest_version()]
    total = 0
    for values_file in VALUES_FILES:
        where = values_file.name
        user_values = yaml.safe_load(values_file.read_text())
        report = helm.lint(str(CHART), user_values, strict=True, namespace=NAMESPACE)
        for message in report["messages"]:
            if message["severity"] >= 2:
                error(where, f"helm lint: {message['path']}: {message['error']}")
        for text in report.get("errors") or []:
            error(where, f"helm lint: {text}")
        try:
            rendered = render(user_values)
            render(user_values, is_upgrade=True)
        except helm.HelmError as exc:
            error(where, f"render failed: {exc}")
            continue
        with helm.Chart.load(str(CHART)) as chart:
            values = chart.merge_values(user_values)
        documents = objects_of(rendered)
        objs = [obj for _, obj in documents]
        for template, obj in documents:
            validate_schema(f"{where} {template}", obj, versions)
            spec = pod_spec(obj)
            if spec is not None:
                check_restricted(f"{where} {template}", obj, spec, values)
        check_structure(where, objs, values)
        (out_dir / values_file.name).write_text(yaml.safe_dump_all(objs, sort_keys=False))
        kinds: dict[str, int] = {}
        for obj in objs:
            kinds[obj["kind"]] = kinds.get(obj["kind"], 0) + 1
        total += len(objs)
        print(f"  {where}: {len(objs)} objects ({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))})")
    refused = check_bad_values()
    if errors:
        print(f"manifests: {len(errors)} problem(s):", file=sys.stderr)
        for line in errors:
            print(f"  - {line}", file=sys.stderr)
        return 1
    print(
        f"manifests: {total} objects from {len(VALUES_FILES)} values files valid against Kubernetes "
        f"{versions[0]} and {versions[-1]} (strict) and the Prometheus Operator CRDs; "
        f"restricted pod security and wiring checked; {refused} bad values refused"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
