"""The alert rules and the dashboard as files: every alert documented, linked to a
runbook that exists, and unit-tested by promtool both firing and quiet; the dashboard
has the seed's panels; the chart ships these very files. (promtool itself runs in
deploy/check.sh: `promtool check rules` and `promtool test rules`.)"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ALERTS_FILE = ROOT / "deploy" / "prometheus" / "alerts.yaml"
PROMTOOL_TESTS = sorted((ROOT / "deploy" / "prometheus" / "tests").glob("*.yaml"))
RUNBOOKS = ROOT / "docs" / "runbooks"
DASHBOARD_FILE = ROOT / "deploy" / "grafana" / "shieldx.json"


def alerts() -> list[dict]:
    groups = yaml.safe_load(ALERTS_FILE.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


ALERT_NAMES = [rule["alert"] for rule in alerts()]


def test_the_seed_alerts_are_all_there():
    # error rate, latency, cache, breaker, pool, audit, Celery x2, shadow, restarts, Redis, PostgreSQL
    for name in (
        "ShieldXHighErrorRate",
        "ShieldXLatencyBudgetFastBurn",
        "ShieldXLatencyBudgetSlowBurn",
        "ShieldXCacheHitRateLow",
        "ShieldXCircuitBreakerOpen",
        "ShieldXDatabasePoolSaturation",
        "ShieldXAuditChainBroken",
        "ShieldXCeleryBacklog",
        "ShieldXCeleryTaskFailures",
        "ShieldXShadowEvaluationFailures",
        "ShieldXPodRestarting",
        "ShieldXRedisDown",
        "ShieldXPostgreSQLDown",
    ):
        assert name in ALERT_NAMES, name
    assert len(ALERT_NAMES) == len(set(ALERT_NAMES))


@pytest.mark.parametrize("rule", alerts(), ids=ALERT_NAMES)
def test_each_alert_has_a_severity_a_summary_a_description_and_a_runbook_that_exists(rule):
    assert rule["labels"]["severity"] in {"critical", "warning"}
    annotations = rule["annotations"]
    assert annotations["summary"].strip() and len(annotations["summary"]) <= 120
    assert len(annotations["description"].split()) >= 10
    match = re.fullmatch(r"docs/runbooks/([a-z0-9-]+\.md)", annotations["runbook_url"])
    assert match, annotations["runbook_url"]
    runbook = RUNBOOKS / match.group(1)
    assert runbook.is_file(), f"{runbook} is missing"
    assert rule["alert"] in runbook.read_text(), f"{runbook.name} does not name {rule['alert']}"


def _promtool_cases() -> dict[str, dict[str, int]]:
    cases: dict[str, dict[str, int]] = {}
    for path in PROMTOOL_TESTS:
        for test in yaml.safe_load(path.read_text())["tests"]:
            for case in test.get("alert_rule_test", []):
                kind = "fires" if case.get("exp_alerts") else "quiet"
                cases.setdefault(case["alertname"], {"fires": 0, "quiet": 0})[kind] += 1
    return cases


@pytest.mark.parametrize("name", ALERT_NAMES)
def test_each_alert_has_promtool_cases_where_it_fires_and_where_it_stays_quiet(name):
    cases = _promtool_cases().get(name, {})
    assert cases.get("fires", 0) >= 1, f"no promtool case where {name} fires"
    assert cases.get("quiet", 0) >= 1, f"no promtool case where {name} stays quiet"


def test_promtool_tests_load_the_alert_file_and_test_only_real_alerts():
    for path in PROMTOOL_TESTS:
        assert yaml.safe_load(path.read_text())["rule_files"] == ["../alerts.yaml"], path
    assert set(_promtool_cases()) <= set(ALERT_NAMES)


def test_the_seed_troubleshooting_cases_have_runbooks():
    for page in ("high-latency", "low-cache-hit-rate", "circuit-breaker-open", "audit-chain-broken", "stuck-evaluations", "key-rotation"):
        assert (RUNBOOKS / f"{page}.md").is_file(), page
    index = (RUNBOOKS / "README.md").read_text()
    for page in sorted(RUNBOOKS.glob("*.md")):
        if page.name != "README.md":
            assert f"({page.name})" in index, f"{page.name} is not linked from docs/runbooks/README.md"


def test_the_chart_ships_the_same_alert_and_dashboard_files():
    chart_files = ROOT / "helm" / "shieldx" / "files"
    assert (chart_files / "alerts.yaml").read_bytes() == ALERTS_FILE.read_bytes()
    assert (chart_files / "dashboards" / "shieldx.json").read_bytes() == DASHBOARD_FILE.read_bytes()


def test_the_dashboard_has_the_seed_panels_over_a_selectable_prometheus():
    dashboard = json.loads(DASHBOARD_FILE.read_text())
    panels = {panel["title"]: panel for panel in dashboard["panels"]}
    expected = {
        "Credits operations rate": "timeseries",
        "Error rate trend": "timeseries",
        "Cache hit rate": "timeseries",
        "Shadow evaluation duration": "timeseries",
        "F1 score by rule": "heatmap",
        "Circuit breaker state": "state-timeline",
    }
    for title, kind in expected.items():
        assert panels[title]["type"] == kind, title
        assert panels[title]["targets"], title
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["query"] == "prometheus"
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}"
        for target in panel["targets"]:
            assert 'namespace=~"$namespace"' in target["expr"], (panel["title"], target["expr"])
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
