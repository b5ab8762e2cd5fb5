"""POST /shadow/compare: both rules on the same samples, the disagreements, the exact
McNemar p-value checked against a hand computation, the winner, and which detections
newly fire or stop firing."""

from __future__ import annotations

from fractions import Fraction
from math import comb

import pytest

from shadow.engine import crs_rule_config
from shadow.tests.conftest import corpus_slice, sample, signature

pytestmark = pytest.mark.django_db
T = "org-123"
A = signature("evil", "oops")
B = signature("evil", "bad")


@pytest.fixture
def a(api, client_for):
    a = api(client_for)
    a.dataset(T, "default", [
        *[sample("attack", query="q=bad", category="sqli", id=f"bad{i}") for i in range(8)],  # B right, A wrong
        sample("attack", query="q=oops", category="sqli", id="oops"),  # A right, B wrong
        *[sample("attack", query="q=evil", category="sqli", id=f"evil{i}") for i in range(3)],  # both right
        *[sample("benign", query="q=fine", id=f"fine{i}") for i in range(4)],  # both right
    ])  # fmt: skip
    return a


def test_mcnemar_p_value_matches_the_hand_computed_value(a):
    status, body = a.post("/shadow/compare", {"tenant_id": T, "rule_a": A, "rule_b": B})

    assert status == 200, body
    assert body["status"] == "completed"
    assert (body["a_only_correct"], body["b_only_correct"]) == (1, 8)
    # Exact two-sided binomial test, n = 9 discordant pairs, k = min(1, 8) = 1:
    # p = 2 * (C(9,0) + C(9,1)) / 2^9 = 2 * 10 / 512 = 0.0390625
    hand = 2 * Fraction(comb(9, 0) + comb(9, 1), 2**9)
    assert hand == Fraction(5, 128)
    assert body["mcnemar_p_value"] == float(hand) == 0.0390625
    assert body["winner"] == "b"  # p < 0.05 and B is right 15 times to A's 8
    assert (body["a"]["true_positives"], body["b"]["true_positives"]) == (4, 11)
    assert body["a"]["sample_size"] == body["b"]["sample_size"] == 16
    # With A as the baseline: B stops firing "oops" on one sample and newly fires "bad" on eight.
    assert body["fired_only_in_a"] == {"oops": 1}
    assert body["fired_only_in_b"] == {"bad": 8}


def test_not_significant_is_a_tie(a):
    status, body = a.post("/shadow/compare", {"tenant_id": T, "rule_a": A, "rule_b": signature("evil", "oops", "zzz")})
    assert status == 200
    assert (body["a_only_correct"], body["b_only_correct"], body["mcnemar_p_value"], body["winner"]) == (0, 0, 1.0, "tie")


def test_stored_versions_and_a_seeded_subset_use_the_same_samples(a):
    for rule in (A, B):
        assert a.post("/shadow/rules", {"tenant_id": T, "rule_id": "r", "name": "r", **rule})[0] == 201

    status, body = a.post("/shadow/compare", {
        "tenant_id": T, "rule_a": {"rule_id": "r", "version": 1}, "rule_b": {"rule_id": "r", "version": 2}, "sample_size": 10,
    })  # fmt: skip

    assert status == 200, body
    selection = body["a"]["selection"]
    assert selection == body["b"]["selection"] and isinstance(selection["seed"], int) and selection["selected"] == 10
    assert (body["a"]["rule"]["version"], body["b"]["rule"]["version"]) == (1, 2)
    ids = [[s["id"] for s in a.get(f"/shadow/evaluations/{body[side]['eval_id']}/samples?limit=50")[1]["results"]] for side in "ab"]
    assert ids[0] == ids[1] and len(ids[0]) == 10


def test_rule_sets_show_which_crs_rules_newly_fire_or_stop_firing(api, client_for):
    a = api(client_for)
    a.dataset(T, "corpus", corpus_slice())
    paranoid = crs_rule_config(["942"], paranoia_level=2)
    baseline = crs_rule_config(["942"], paranoia_level=1)

    status, body = a.post("/shadow/compare", {
        "tenant_id": T, "dataset": "corpus", "target_categories": ["sqli"],
        "rule_a": {"rule_type": "modsecurity", "rule_config": baseline},
        "rule_b": {"rule_type": "modsecurity", "rule_config": paranoid},
    })  # fmt: skip

    assert status == 200, body
    # Paranoia level 2 adds rules: they can only newly fire, never stop firing.
    assert body["fired_only_in_a"] == {}
    assert body["fired_only_in_b"] and all(rule_id.startswith("942") for rule_id in body["fired_only_in_b"])
    assert body["b"]["true_positives"] >= body["a"]["true_positives"]


@pytest.mark.parametrize(
    "change",
    [
        {"rule_a": {"rule_id": "r"}},
        {"rule_a": {"rule_type": "regex", "rule_config": {"type": "signature", "patterns": ["x"]}}},
        {"rule_b": {"rule_type": "regex", "rule_config": {"type": "regex", "pattern": "(x)\\1"}}},
        {"rule_a": "evil"},
        {"sample_size": -1},
    ],
)
def test_bad_compare_bodies_are_400s(a, change):
    status, body = a.post("/shadow/compare", {"tenant_id": T, "rule_a": A, "rule_b": B, **change})
    assert status == 400 and body["error"]["code"] == "invalid_request"


def test_another_tenants_rule_or_dataset_is_a_404(api, a, make_tenant, make_client):
    other = api(make_client(make_tenant("org-other")))
    foreign = other.dataset("org-other", "default", [sample("attack", query="q=x")])
    other.post("/shadow/rules", {"tenant_id": "org-other", "rule_id": "theirs", "name": "t", **A})
    assert a.post("/shadow/compare", {"tenant_id": T, "rule_a": A, "rule_b": B, "dataset": foreign})[0] == 404
    assert a.post("/shadow/compare", {"tenant_id": T, "rule_a": {"rule_id": "theirs", "version": 1}, "rule_b": B})[0] == 404
    assert a.post("/shadow/compare", {"tenant_id": "org-other", "rule_a": A, "rule_b": B})[0] == 404
