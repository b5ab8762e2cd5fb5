"""/metrics families computed from the database (visible on any web pod whoever ran the
evaluation), the OpenAPI schema, and the admin pages."""

from __future__ import annotations

import hashlib
import re

import pytest
from django.contrib.auth.models import User
from django.test import Client

from shadow.models import Evaluation, EvaluationStatus
from shadow.tests.conftest import sample, signature

pytestmark = pytest.mark.django_db
T = "org-123"


def _value(text: str, line_start: str) -> float:
    match = re.search(rf"^{re.escape(line_start)} (\S+)$", text, re.M)
    assert match, f"{line_start!r} not in /metrics"
    return float(match.group(1))


def test_metrics_count_results_durations_and_f1_per_rule(api, client_for):
    a = api(client_for)
    a.dataset(T, "default", [sample("attack", query="q=evil", category="sqli"), sample("benign", query="q=fine")])
    a.post("/shadow/rules", {"tenant_id": T, "rule_id": "sqli-1", "name": "n", **signature("evil")})
    a.post("/shadow/evaluate", {"tenant_id": T, "rule_id": "sqli-1", "version": 1})
    a.post("/shadow/evaluate", {"tenant_id": T, "rule_id": "sqli-1", "version": 1})  # cached
    _, weak = a.evaluate(T, signature("fine"))  # rule_id r-test: f1 0.0
    Evaluation.objects.filter(public_id=weak["eval_id"]).update(status=EvaluationStatus.FAILED)

    text = Client().get("/metrics").content.decode()

    assert _value(text, 'shadow_evaluation_total{result="completed"}') == 1
    assert _value(text, 'shadow_evaluation_total{result="cached"}') == 1
    assert _value(text, 'shadow_evaluation_total{result="failed"}') == 1
    assert _value(text, "shadow_evaluation_duration_seconds_count") == 1
    assert _value(text, 'shadow_evaluation_duration_seconds_bucket{le="+Inf"}') == 1
    key = hashlib.sha256(b"org-123/sqli-1").hexdigest()[:16]
    assert _value(text, f'shadow_rule_f1_score{{rule_key="{key}"}}') == 1.0
    assert 'rule_key="' + hashlib.sha256(b"org-123/r-test").hexdigest()[:16] not in text  # its only evaluation failed
    assert "evil" not in text and "fine" not in text  # no pattern or sample in any label
    # No tenant id or rule id (client-chosen values) unless the operator asks for them.
    assert "org-123" not in text and "sqli-1" not in text
    # The rule's API answer shows the key, so the operator can find the rule.
    assert a.get(f"/shadow/rules/sqli-1?tenant_id={T}")[1]["rule_key"] == key


def test_tenant_and_rule_labels_only_when_the_operator_turns_them_on(api, client_for, settings):
    a = api(client_for)
    a.dataset(T, "default", [sample("attack", query="q=evil", category="sqli"), sample("benign", query="q=fine")])
    a.post("/shadow/rules", {"tenant_id": T, "rule_id": "sqli-1", "name": "n", **signature("evil")})
    a.post("/shadow/evaluate", {"tenant_id": T, "rule_id": "sqli-1", "version": 1})
    settings.SHIELDX_METRICS_TENANT_LABELS = True
    key = hashlib.sha256(b"org-123/sqli-1").hexdigest()[:16]
    text = Client().get("/metrics").content.decode()
    assert _value(text, f'shadow_rule_f1_score{{rule_id="sqli-1",rule_key="{key}",tenant_id="org-123"}}') == 1.0


def test_openapi_schema_describes_the_shadow_routes():
    response = Client().get("/api/schema", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for route in ("/shadow/datasets", "/shadow/datasets/{dataset_id}/samples", "/shadow/evaluate", "/shadow/evaluations/{eval_id}/samples",
                  "/shadow/rules/active", "/shadow/rules/{rule_id}/deploy", "/shadow/compare"):  # fmt: skip
        assert route in paths, route
    assert "application/x-ndjson" in paths["/shadow/datasets/{dataset_id}/samples"]["post"]["requestBody"]["content"]


def test_admin_pages_render(api, client_for):
    a = api(client_for)
    a.dataset(T, "default", [sample("attack", query="q=evil", category="sqli"), sample("benign")])
    a.post("/shadow/rules", {"tenant_id": T, "rule_id": "r", "name": "n", **signature("evil")})
    _, result = a.post("/shadow/evaluate", {"tenant_id": T, "rule_id": "r", "version": 1})
    a.post("/shadow/rules/r/deploy", {"tenant_id": T, "version": 1, "eval_id": result["eval_id"], "force": True})
    admin = Client()
    admin.force_login(User.objects.create_superuser("ops", "ops@example.org", "pw-unused-123"))
    ev = Evaluation.objects.get(public_id=result["eval_id"])

    for url in ("/admin/shadow/dataset/", "/admin/shadow/rule/", "/admin/shadow/ruleversion/", "/admin/shadow/evaluation/",
                f"/admin/shadow/evaluation/{ev.pk}/change/", f"/admin/shadow/rule/{ev.rule_version.rule_id}/change/"):  # fmt: skip
        response = admin.get(url)
        assert response.status_code == 200, url
    listing = admin.get("/admin/shadow/evaluation/").content.decode()
    assert result["eval_id"] in listing and "1.0000" in listing
    assert admin.get("/admin/shadow/rule/add/").status_code == 403  # history is read-only
