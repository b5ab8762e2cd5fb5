"""The outside review's findings against shadow (issue 11): 404 texts that told another
tenant's object from a missing one, NUL in rule configs (a 500: jsonb cannot hold it),
the rule_key an operator finds a metric's rule by."""

from __future__ import annotations

import hashlib

import pytest

from shadow.tests.conftest import sample, signature

pytestmark = pytest.mark.django_db
T = "org-123"


# --- 404s: another tenant's object reads exactly like a missing one -------------------


def test_another_tenants_objects_answer_the_404_of_a_missing_one(api, client_for, make_tenant, make_client):
    owner = api(client_for)
    dataset_id = owner.dataset("org-123", "default", [sample("attack", query="q=evil"), sample("benign")])
    owner.post("/shadow/rules", {"tenant_id": "org-123", "rule_id": "mine", "name": "n", **signature("evil")})
    _, ev = owner.evaluate("org-123", signature("evil"))
    intruder = make_client(make_tenant("org-intruder"))

    def same(theirs: str, missing: str) -> None:
        a, b = intruder.get(theirs), intruder.get(missing)
        assert a.status_code == b.status_code == 404
        strip = lambda r: {k: v for k, v in r.json()["error"].items() if k != "request_id"}  # noqa: E731
        assert strip(a) == strip(b), (a.json(), b.json())

    same(f"/shadow/datasets/{dataset_id}", "/shadow/datasets/ds_000000000000000000000000")
    same(f"/shadow/evaluations/{ev['eval_id']}", "/shadow/evaluations/eval_000000000000000000000000")
    same(f"/shadow/evaluations/{ev['eval_id']}/samples?outcome=tp", "/shadow/evaluations/eval_000000000000000000000000/samples?outcome=tp")
    # A rule is named with its tenant: another tenant's rule reads like a missing rule.
    same("/shadow/rules/mine?tenant_id=org-123", "/shadow/rules/nothing?tenant_id=org-intruder")


@pytest.mark.parametrize(
    "config",
    [{"type": "signature", "pattern": "a\x00b"}, {"type": "regex", "pattern": "x", "k\x00": 1},
     {"type": "composite", "operator": "any", "rules": [{"type": "signature", "patterns": ["ok", "\x00"]}]},
     {"type": "modsecurity", "rules": 'SecRule ARGS "@contains a\x00" "id:1,phase:2,deny,severity:CRITICAL"'}],
)  # fmt: skip
def test_a_nul_in_a_rule_config_is_400_not_500(api, client_for, config):
    a = api(client_for)
    status, body = a.post("/shadow/rules", {"tenant_id": T, "rule_id": "r1", "name": "n", "rule_type": config["type"], "rule_config": config})
    assert status == 400, body
    assert body["error"]["code"] == "invalid_request"
    a.dataset(T, "default", [sample("attack", query="q=evil"), sample("benign")])
    status, body = a.evaluate(T, {"rule_type": config["type"], "rule_config": config})
    assert status == 400, body


def test_the_rule_answers_show_the_rule_key_of_the_metric(api, client_for):
    a = api(client_for)
    status, created = a.post("/shadow/rules", {"tenant_id": T, "rule_id": "4111111111111111", "name": "n", **signature("x")})
    assert status == 201
    key = hashlib.sha256(b"org-123/4111111111111111").hexdigest()[:16]
    assert created["rule_key"] == key
    assert a.get(f"/shadow/rules/4111111111111111?tenant_id={T}")[1]["rule_key"] == key


def test_a_version_outside_the_integer_range_is_400_naming_it(api, client_for):
    a = api(client_for)
    for path, body in (
        ("/shadow/evaluate", {"tenant_id": T, "rule_id": "r1", "version": 2**63}),
        ("/shadow/rules/r1/deploy", {"tenant_id": T, "version": 2**31, "eval_id": "eval_x"}),
    ):
        status, answer = a.post(path, body)
        assert status == 400, answer
        assert "version" in answer["error"]["details"]["fields"]
