"""Rule versions, the deploy gate, rollback, deployment history and the active-rules
endpoint with its ETag."""

from __future__ import annotations

import pytest

from shadow.models import Deployment, Evaluation, EvaluationStatus, Rule, RuleVersion
from shadow.tests.conftest import sample, signature

pytestmark = pytest.mark.django_db
T = "org-123"
# "evil" finds 9 of 10 attacks and flags 1 of 100 benign samples: F1 18/20 = 0.9,
# FPR 1/100 = 0.01 (exactly the default maximum).
GOOD = signature("evil")
# "e" flags every benign sample with an "e": F1 and FPR both fail.
BAD = signature("e")


@pytest.fixture
def a(api, client_for):
    a = api(client_for)
    attacks = [sample("attack", query="q=evil", category="sqli") for _ in range(9)] + [sample("attack", query="q=nasty", category="sqli")]
    benign = [sample("benign", query="q=evil-twin")] + [sample("benign", query="q=fine") for _ in range(49)] + [sample("benign", query="q=quiet") for _ in range(50)]
    a.dataset(T, "default", attacks + benign)
    return a


def create(a, rule_id: str, rule: dict, name: str = "n"):
    return a.post("/shadow/rules", {"tenant_id": T, "rule_id": rule_id, "name": name, **rule})


def evaluate_version(a, rule_id: str, version: int) -> dict:
    status, result = a.post("/shadow/evaluate", {"tenant_id": T, "rule_id": rule_id, "version": version})
    assert status == 200, result
    return result


def deploy(a, rule_id: str, version: int, eval_id: str, **options):
    return a.post(f"/shadow/rules/{rule_id}/deploy", {"tenant_id": T, "version": version, "eval_id": eval_id, **options})


def test_each_post_makes_a_new_version(a):
    status, v1 = create(a, "sqli-1", GOOD, name="first")
    assert status == 201, v1
    assert (v1["rule_id"], v1["version"], v1["name"], v1["rule_type"], v1["active_version"]) == ("sqli-1", 1, "first", "signature", None)
    status, v2 = create(a, "sqli-1", BAD, name="second")
    assert status == 201 and v2["version"] == 2

    status, detail = a.get(f"/shadow/rules/sqli-1?tenant_id={T}")
    assert status == 200
    assert [v["version"] for v in detail["versions"]] == [1, 2]
    assert detail["versions"][0]["rule_config"] == GOOD["rule_config"]
    assert detail["name"] == "second" and detail["latest_version"] == 2
    assert detail["active_version"] is None and detail["deployments"] == []


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"rule_type": "regex", "rule_config": {"type": "regex", "pattern": "a(?<=b)"}}, "lookbehind"),
        ({"rule_type": "regex", "rule_config": {"type": "signature", "patterns": ["a"]}}, "rule_config.type"),
        ({"rule_type": "modsecurity", "rule_config": {"type": "modsecurity", "rules": "SecRule ARGS"}}, "line 1"),
        ({"rule_type": "signature", "rule_config": {"type": "signature"}}, "signature"),
        ({"rule_type": "signature", "rule_config": ["not", "an", "object"]}, "JSON object"),
    ],
)
def test_invalid_rules_are_refused_with_the_engines_reason_and_nothing_written(a, rule, expected):
    status, body = create(a, "broken", rule)
    assert status == 400 and body["error"]["code"] == "invalid_request"
    assert expected in str(body["error"])
    assert not Rule.objects.exists() and not RuleVersion.objects.exists()


@pytest.mark.parametrize("rule_id", ["active", "has space", "", "x" * 101, "../etc"])
def test_bad_rule_ids_are_refused(a, rule_id):
    status, _ = create(a, rule_id, GOOD)
    assert status == 400
    assert not Rule.objects.exists()


def test_deploy_behind_the_gate_then_the_active_rules(a):
    create(a, "sqli-1", GOOD)
    result = evaluate_version(a, "sqli-1", 1)
    assert result["f1_score"] == 18 / 20 and result["false_positive_rate"] == 1 / 100 and result["rule"]["version"] == 1

    status, rule = deploy(a, "sqli-1", 1, result["eval_id"])

    assert status == 200, rule
    assert rule["active_version"] == 1
    (event,) = rule["deployments"]
    assert event["action"] == "deploy" and event["version"] == 1 and event["previous_version"] is None and event["eval_id"] == result["eval_id"]
    assert event["forced"] is False and event["actor"].startswith("apikey:")
    assert event["gate"] == {"min_f1": 0.8, "max_false_positive_rate": 0.01, "f1_score": 0.9, "false_positive_rate": 0.01, "overridden": []}
    status, active = a.get(f"/shadow/rules/active?tenant_id={T}")
    assert status == 200
    assert [(r["rule_id"], r["version"], r["rule_config"]) for r in active["rules"]] == [("sqli-1", 1, GOOD["rule_config"])]


def test_each_failing_condition_is_named(a):
    create(a, "r", BAD)
    result = evaluate_version(a, "r", 1)
    assert result["f1_score"] < 0.8 and result["false_positive_rate"] > 0.01

    status, body = deploy(a, "r", 1, result["eval_id"])
    assert status == 409 and body["error"]["code"] == "gate_failed"
    assert [f["condition"] for f in body["error"]["details"]["failed"]] == ["min_f1", "max_false_positive_rate"]
    assert body["error"]["details"]["failed"][0]["actual"] == result["f1_score"]

    status, body = deploy(a, "r", 1, result["eval_id"], min_f1=0.0)
    assert status == 409 and [f["condition"] for f in body["error"]["details"]["failed"]] == ["max_false_positive_rate"]
    status, body = deploy(a, "r", 1, result["eval_id"], max_false_positive_rate=1.0)
    assert status == 409 and [f["condition"] for f in body["error"]["details"]["failed"]] == ["min_f1"]
    assert not Deployment.objects.exists() and Rule.objects.get().active_version is None


def test_looser_thresholds_pass_and_stricter_ones_fail(a):
    create(a, "r", GOOD)
    result = evaluate_version(a, "r", 1)
    status, body = deploy(a, "r", 1, result["eval_id"], min_f1=0.95)
    assert status == 409 and body["error"]["details"]["failed"][0]["condition"] == "min_f1"
    status, body = deploy(a, "r", 1, result["eval_id"], max_false_positive_rate=0.005)
    assert status == 409
    assert deploy(a, "r", 1, result["eval_id"], min_f1=0.9, max_false_positive_rate=0.01)[0] == 200


def test_force_overrides_the_metrics_only_and_is_recorded(a):
    create(a, "r", BAD)
    result = evaluate_version(a, "r", 1)

    status, rule = deploy(a, "r", 1, result["eval_id"], force=True)

    assert status == 200 and rule["active_version"] == 1
    event = rule["deployments"][0]
    assert event["forced"] is True and event["gate"]["overridden"] == ["min_f1", "max_false_positive_rate"]


def test_the_evaluation_must_be_of_that_version(a):
    create(a, "r", GOOD)
    create(a, "r", GOOD)  # v2: the same config
    of_v1 = evaluate_version(a, "r", 1)
    status, adhoc = a.evaluate(T, GOOD)  # the same config, not as a stored rule
    assert status == 200

    for eval_id in (of_v1["eval_id"], adhoc["eval_id"]):
        status, body = deploy(a, "r", 2, eval_id, force=True)
        assert status == 409 and body["error"]["code"] == "gate_failed"
        assert body["error"]["details"]["failed"][0]["condition"] == "evaluation_of_version"
        assert body["error"]["details"]["force_allowed"] is False
    status, body = deploy(a, "r", 1, adhoc["eval_id"])
    assert status == 409 and body["error"]["details"]["failed"][0]["condition"] == "evaluation_of_version"

    # An evaluation of v2 (answered from the cache of v1's identical config) opens the gate for v2.
    of_v2 = evaluate_version(a, "r", 2)
    assert of_v2["cached_from"] is not None
    assert deploy(a, "r", 2, of_v2["eval_id"])[0] == 200


def test_an_unfinished_evaluation_cannot_open_the_gate(a):
    create(a, "r", GOOD)
    result = evaluate_version(a, "r", 1)
    Evaluation.objects.filter(public_id=result["eval_id"]).update(status=EvaluationStatus.RUNNING)
    status, body = deploy(a, "r", 1, result["eval_id"], force=True)
    assert status == 409 and body["error"]["details"]["failed"][0]["condition"] == "evaluation_completed"


def test_unknown_versions_rules_and_evaluations_are_404s(a):
    create(a, "r", GOOD)
    result = evaluate_version(a, "r", 1)
    assert deploy(a, "r", 9, result["eval_id"])[0] == 404
    assert deploy(a, "nope", 1, result["eval_id"])[0] == 404
    assert deploy(a, "r", 1, "eval_missing")[0] == 404
    assert a.get(f"/shadow/rules/nope?tenant_id={T}")[0] == 404
    assert a.post("/shadow/evaluate", {"tenant_id": T, "rule_id": "r", "version": 7})[0] == 404


def test_a_stored_rule_evaluation_refuses_a_different_inline_config(a):
    create(a, "r", GOOD)
    status, body = a.post("/shadow/evaluate", {"tenant_id": T, "rule_id": "r", "version": 1, **BAD})
    assert status == 400 and body["error"]["details"]["field"] == "rule_config"


def test_rollback_restores_the_previous_deployed_version(a):
    create(a, "r", GOOD)
    create(a, "r", BAD)
    assert deploy(a, "r", 1, evaluate_version(a, "r", 1)["eval_id"])[0] == 200
    assert deploy(a, "r", 2, evaluate_version(a, "r", 2)["eval_id"], force=True)[0] == 200

    status, rule = a.post("/shadow/rules/r/rollback", {"tenant_id": T})

    assert status == 200 and rule["active_version"] == 1
    assert [(d["action"], d["version"], d["previous_version"]) for d in rule["deployments"]] == [("deploy", 1, None), ("deploy", 2, 1), ("rollback", 1, 2)]
    status, body = a.post("/shadow/rules/r/rollback", {"tenant_id": T})
    assert status == 409 and body["error"]["code"] == "conflict"
    assert Rule.objects.get().active_version.version == 1
    assert Deployment.objects.count() == 3


def test_rollback_with_nothing_deployed_before_is_a_conflict(a):
    create(a, "r", GOOD)
    status, body = a.post("/shadow/rules/r/rollback", {"tenant_id": T})
    assert status == 409 and body["error"]["code"] == "conflict"
    assert deploy(a, "r", 1, evaluate_version(a, "r", 1)["eval_id"])[0] == 200
    assert a.post("/shadow/rules/r/rollback", {"tenant_id": T})[0] == 409
    assert not Deployment.objects.filter(action="rollback").exists()


def test_active_rules_etag_and_304(a):
    status, empty = a.get(f"/shadow/rules/active?tenant_id={T}")
    assert status == 200 and empty == {"tenant_id": T, "rules": []}
    create(a, "r", GOOD)
    response = a.client.get(f"/shadow/rules/active?tenant_id={T}")
    etag = response["ETag"]
    assert etag.startswith('"') and etag.endswith('"')

    assert deploy(a, "r", 1, evaluate_version(a, "r", 1)["eval_id"])[0] == 200
    fresh = a.client.get(f"/shadow/rules/active?tenant_id={T}", HTTP_IF_NONE_MATCH=etag)
    assert fresh.status_code == 200 and fresh["ETag"] != etag and len(fresh.json()["rules"]) == 1
    tag = fresh["ETag"]

    for header in (tag, f"W/{tag}", f'"other", {tag}', "*"):
        unchanged = a.client.get(f"/shadow/rules/active?tenant_id={T}", HTTP_IF_NONE_MATCH=header)
        assert unchanged.status_code == 304 and unchanged.content == b"" and unchanged["ETag"] == tag
    assert a.client.get(f"/shadow/rules/active?tenant_id={T}", HTTP_IF_NONE_MATCH='"stale"').status_code == 200
    assert a.client.get(f"/shadow/rules/active?tenant_id={T}")["ETag"] == tag  # stable while nothing changes


def test_rules_active_is_not_taken_for_a_rule_id(a):
    status, body = a.get("/shadow/rules/active")
    assert status == 200 and "rules" in body


def test_rules_are_tenant_isolated(api, a, make_tenant, make_client):
    other = api(make_client(make_tenant("org-other")))
    other.dataset("org-other", "default", [sample("attack", query="q=evil")])
    assert other.post("/shadow/rules", {"tenant_id": "org-other", "rule_id": "r", "name": "theirs", **GOOD})[0] == 201
    _, their_eval = other.post("/shadow/evaluate", {"tenant_id": "org-other", "rule_id": "r", "version": 1})
    create(a, "r", GOOD)  # same rule id, another tenant: an independent rule

    assert a.get("/shadow/rules/r?tenant_id=org-other")[0] == 404
    assert a.get(f"/shadow/evaluations/{their_eval['eval_id']}")[0] == 404
    assert a.get(f"/shadow/evaluations/{their_eval['eval_id']}/samples")[0] == 404
    assert deploy(a, "r", 1, their_eval["eval_id"])[0] == 404  # their evaluation does not exist for us
    assert a.post("/shadow/rules/r/deploy", {"tenant_id": "org-other", "version": 1, "eval_id": their_eval["eval_id"]})[0] == 404
    assert a.post("/shadow/rules/r/rollback", {"tenant_id": "org-other"})[0] == 404
    assert a.get("/shadow/rules/active?tenant_id=org-other")[0] == 404
    assert a.get(f"/shadow/rules/r?tenant_id={T}")[1]["versions"][0]["created_by"] != other.get("/shadow/rules/r")[1]["versions"][0]["created_by"]


def test_scopes(api, a, tenant, make_client):
    create(a, "r", GOOD)
    result = evaluate_version(a, "r", 1)
    reader = api(make_client(tenant, scopes="shadow:read"))
    evaluator = api(make_client(tenant, scopes="shadow:evaluate"))
    deployer = api(make_client(tenant, scopes="shadow:deploy"))

    assert reader.post("/shadow/rules", {"tenant_id": T, "rule_id": "x", "name": "x", **GOOD})[0] == 403
    assert reader.post("/shadow/evaluate", {"tenant_id": T, "rule_id": "r", "version": 1})[0] == 403
    assert evaluator.post("/shadow/evaluate", {"tenant_id": T, "rule_id": "r", "version": 1})[0] == 200
    assert evaluator.get(f"/shadow/evaluations/{result['eval_id']}")[0] == 403
    assert evaluator.post("/shadow/compare", {"tenant_id": T, "rule_a": GOOD, "rule_b": BAD})[0] == 200
    assert reader.post("/shadow/compare", {"tenant_id": T, "rule_a": GOOD, "rule_b": BAD})[0] == 403
    assert reader.post("/shadow/rules/r/deploy", {"tenant_id": T, "version": 1, "eval_id": result["eval_id"]})[0] == 403
    assert reader.post("/shadow/rules/r/rollback", {"tenant_id": T})[0] == 403
    assert deployer.get("/shadow/rules/active")[0] == 403
    assert deployer.post("/shadow/rules/r/deploy", {"tenant_id": T, "version": 1, "eval_id": result["eval_id"]})[0] == 200
    assert reader.get("/shadow/rules/active")[0] == 200


@pytest.mark.parametrize(
    "body",
    [
        {"version": "1"},
        {"version": 1, "eval_id": 5},
        {"version": 1, "min_f1": 1.5},
        {"version": 1, "force": "yes"},
        {"version": 1, "extra": True},
    ],
)
def test_bad_deploy_bodies_are_400s(a, body):
    create(a, "r", GOOD)
    status, error = a.post("/shadow/rules/r/deploy", {"tenant_id": T, "eval_id": "eval_x", **body})
    assert status == 400 and error["error"]["code"] == "invalid_request"
    assert not Deployment.objects.exists()
