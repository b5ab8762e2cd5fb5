"""The bundled CRS by reference through the API (CONTRACT §4a): GET /shadow/crs, and
rule_config.crs in evaluations, stored rules and their 400s."""

from __future__ import annotations

import pytest

from shadow.engine import CRS_VERSION, crs_rule_config
from shadow.models import Evaluation
from shadow.selection import config_hash
from shadow.tests.conftest import sample

pytestmark = pytest.mark.django_db
T = "org-123"


def test_the_catalog_needs_shadow_read_and_lists_the_bundled_files(make_client, tenant):
    status, body = _get(make_client(tenant, scopes="shadow:read"), "/shadow/crs")
    assert status == 200
    assert body["version"] == CRS_VERSION
    numbers = [f["number"] for f in body["files"]]
    assert numbers[0] == "901" and "942" in numbers and numbers[-1] == "999"
    assert all(f["name"].startswith(f"REQUEST-{f['number']}-") and isinstance(f["rules"], int) for f in body["files"])
    assert _get(make_client(tenant, scopes="shadow:write"), "/shadow/crs")[0] == 403


def test_an_evaluation_of_the_crs_by_reference_equals_the_pasted_crs(api, client_for):
    a = api(client_for)
    a.dataset(
        T,
        "default",
        [
            sample("attack", query="q=1%27%20or%201%3D1--", category="sqli", id="sqli"),
            sample("attack", query="q=%3Cscript%3Ealert(1)%3C/script%3E", category="xss", id="xss"),
            sample("benign", query="q=shoes", id="ok"),
        ],
    )
    by_reference = {"type": "modsecurity", "crs": {"files": ["942"], "exclude_tags": ["attack-xss"]}}
    status, result = a.evaluate(T, {"rule_type": "modsecurity", "rule_config": by_reference})
    assert status == 200, result
    assert (result["true_positives"], result["false_negatives"], result["true_negatives"]) == (1, 1, 1)
    status, pasted = a.evaluate(T, {"rule_type": "modsecurity", "rule_config": crs_rule_config(["942"])})
    assert (pasted["true_positives"], pasted["false_negatives"], pasted["true_negatives"]) == (1, 1, 1)


def test_a_crs_reference_hashes_with_the_bundled_version():
    config = {"type": "modsecurity", "crs": {"files": ["942"]}}
    plain = {"type": "modsecurity", "rules": 'SecRule ARGS "@rx a" "id:1,phase:2,deny"'}
    import hashlib

    from shadow.selection import canonical

    assert config_hash(config) != hashlib.sha256(canonical(config)).hexdigest()
    assert config_hash(plain) == hashlib.sha256(canonical(plain)).hexdigest()


@pytest.mark.parametrize(
    ("crs", "expected"),
    [
        ({"files": ["nope"]}, "unknown CRS file"),
        ({"paranoia_level": 0}, "crs.paranoia_level"),
        ({"exclude_tags": ["a\nSecRuleEngine Off"]}, "crs.exclude_tags"),
    ],
)
def test_a_bad_crs_reference_is_a_400_and_nothing_is_written(api, client_for, crs, expected):
    a = api(client_for)
    a.dataset(T, "default", [sample("benign", query="q=ok")])
    status, body = a.evaluate(T, {"rule_type": "modsecurity", "rule_config": {"type": "modsecurity", "crs": crs}})
    assert status == 400 and body["error"]["code"] == "invalid_request"
    assert expected in str(body["error"])
    assert not Evaluation.objects.exists()


def _get(client, path):
    response = client.get(path)
    return response.status_code, response.json()
