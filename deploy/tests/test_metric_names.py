"""Every metric an alert or a dashboard panel names is one the app exports, or one
another exporter provides and deploy/prometheus/external-metrics.yaml lists.

The exported names are read from /metrics after exercising the app, never from a list
kept by hand: a metric the app stops exporting, or renames, fails this test."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
import warnings
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from rest_framework.test import APIClient

from deploy.metric_names import dashboard_expressions, exported_names, promql_metric_names, recorded_names, rule_file_expressions
from shieldx.testing import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yaml"
DASHBOARD = ROOT / "deploy" / "grafana" / "shieldx.json"
EXTERNAL = ROOT / "deploy" / "prometheus" / "external-metrics.yaml"


def used_metrics() -> dict[str, list[str]]:
    """metric name -> where it is used (alert, recording rule or dashboard panel)."""
    import json

    rules = yaml.safe_load(ALERTS.read_text())
    recorded = recorded_names(rules)
    used: dict[str, list[str]] = {}
    sources = [(f"rule {name}", expr) for name, expr in rule_file_expressions(rules)]
    sources += [(f"dashboard {where}", expr) for where, expr in dashboard_expressions(json.loads(DASHBOARD.read_text()))]
    for where, expr in sources:
        for name in promql_metric_names(expr) - recorded:
            used.setdefault(name, []).append(where)
    return used


def external_metrics() -> tuple[dict[str, str], dict[str, str]]:
    listed = yaml.safe_load(EXTERNAL.read_text())
    exporters = {name: entry["exporter"] for entry in listed["exporters"] for name in entry["metrics"]}
    pending = {name: entry["owner"] for entry in listed.get("pending", []) for name in entry["metrics"]}
    return exporters, pending


def test_the_extractor_finds_the_metrics_the_alerts_and_panels_name():
    # Guards against a vacuous pass: an extractor that found nothing would accept anything.
    used = used_metrics()
    for name in (
        "credits_operations_total",
        "credits_cache_hit_rate",
        "credits_circuit_breaker_state",
        "credits_audit_chain_broken_tenants",
        "credits_audit_chain_verifications_total",
        "shieldx_celery_queue_length",
        "shieldx_celery_tasks_total",
        "shadow_evaluation_total",
        "shadow_evaluation_duration_seconds_bucket",
        "shadow_rule_f1_score",
        "django_http_responses_total_by_status_view_method_total",
        "django_http_requests_latency_seconds_by_view_method_bucket",
        "kube_pod_container_status_restarts_total",
        "redis_up",
        "pg_up",
    ):
        assert name in used, name
    assert not {"by", "on", "rate", "sum", "namespace", "job", "le"} & set(used)


def _exercise_and_scrape(client_for, tenant) -> set[str]:
    from credits.tasks import verify_audit_chains

    verify_audit_chains()  # the hourly beat task: its figures appear after its first run
    client_for.get(f"/credits/balance/{tenant.tenant_id}")
    client_for.get(f"/credits/balance/{tenant.tenant_id}")
    client_for.post("/credits/consume", {"tenant_id": tenant.tenant_id, "amount": 5}, format="json")
    client_for.post("/credits/consume", {"tenant_id": tenant.tenant_id, "amount": 10**9}, format="json")
    APIClient().get("/health")
    APIClient().get("/ready")
    response = APIClient().get("/metrics")
    assert response.status_code == 200
    return exported_names(response.content.decode())


@pytest.mark.django_db
def test_every_metric_in_the_alerts_and_the_dashboard_is_exported_or_listed(client_for, tenant):
    exported = _exercise_and_scrape(client_for, tenant)
    exporters, pending = external_metrics()
    used = used_metrics()

    missing = {name: where for name, where in used.items() if name not in exported and name not in exporters and name not in pending}
    assert not missing, "used but neither exported by the app nor listed in external-metrics.yaml:\n" + "\n".join(
        f"  {name}: {', '.join(where)}" for name, where in sorted(missing.items())
    )

    for name, owner in sorted(pending.items()):
        if name in exported:
            warnings.warn(f"{name} is exported now: delete it from 'pending' in {EXTERNAL.name}", stacklevel=1)
        else:
            warnings.warn(f"{name} is used by {', '.join(used.get(name, []))} but not exported yet ({owner})", stacklevel=1)


@pytest.mark.django_db
def test_the_external_list_names_only_metrics_in_use_and_none_the_app_exports(client_for, tenant):
    exported = _exercise_and_scrape(client_for, tenant)
    exporters, pending = external_metrics()
    used = used_metrics()
    assert set(exporters) <= set(used), f"listed but unused: {sorted(set(exporters) - set(used))}"
    assert set(pending) <= set(used), f"pending but unused: {sorted(set(pending) - set(used))}"
    assert not set(exporters) & exported, "the app exports these itself: drop them from the external list"


def test_a_gunicorn_server_in_multiprocess_mode_exports_the_scrape_time_metrics(tmp_path):
    """The production path: the container entry point, gunicorn with two workers, and
    PROMETHEUS_MULTIPROC_DIR (cleared of an earlier run's files at start)."""
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    stale = metrics_dir / "counter_999999.db"
    stale.write_bytes(b"stale")
    port = free_port()
    env = {
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(tmp_path),
        "SHIELDX_ENV": "development",
        "SHIELDX_ROLE": "credits",
        "SHIELDX_PORT": str(port),
        "GUNICORN_WORKERS": "2",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "DATABASE_URL": settings.DATABASE_URL,
        "REDIS_URL": settings.REDIS_URL,
        "SHIELDX_CACHE_PREFIX": "deploy-metrics-test",
        "LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(
        [str(ROOT / "deploy" / "docker" / "entrypoint.sh")], env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        wait_for_port(port, timeout=30)
        assert not stale.exists(), "the entry point must clear an earlier run's metric files"

        def get(path: str) -> str:
            request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Host": "127.0.0.1"})
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback test server
                return response.read().decode()

        for _ in range(3):
            get("/health")
        names = exported_names(get("/metrics"))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        _, stderr = server.communicate(timeout=30)
    for name in (
        "credits_circuit_breaker_state",
        "credits_cache_hit_rate",
        "credits_cache_l1_hits",
        "credits_cache_l2_hits",
        "shieldx_celery_queue_length",
        "django_http_responses_total_by_status_view_method_total",
        "django_http_requests_latency_seconds_by_view_method_bucket",
    ):
        assert name in names, f"{name} missing from a multiprocess scrape; server said: {stderr.decode()[-2000:]}"
