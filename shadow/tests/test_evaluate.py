"""POST /shadow/evaluate on small hand-built datasets: every count and ratio exactly,
the zero-denominator cases, target categories, seeded subsets, the samples behind
each count, caching, and the engine's refusals as 400s with nothing written."""

from __future__ import annotations

import random
import re
import time

import pytest

from shadow.engine import crs_rule_config
from shadow.engine.crs import CRS_RULES_DIR
from shadow.models import Evaluation
from shadow.tests.conftest import corpus_slice, sample, signature

pytestmark = pytest.mark.django_db
T = "org-123"

# Under the default transforms (url_decode, lowercase) on path, query and body:
HAND_BUILT = [
    sample("attack", query="q=attack", category="sqli", id="a1"),  # tp
    sample("attack", query="q=ATTACK", category="sqli", id="a2"),  # tp (lowercased)
    sample("attack", query="q=hello", category="sqli", id="a3"),  # fn
    sample("attack", query="q=%61ttack", category="xss", id="a4"),  # tp (url-decoded)
    sample("attack", body="nothing", category="xss", id="a5"),  # fn
    sample("benign", query="q=attack-surface", id="b1"),  # fp
    *[sample("benign", query="q=fine", id=f"b{i}") for i in range(2, 7)],  # tn x5
]


@pytest.fixture
def hand_built(api, client_for):
    a = api(client_for)
    a.dataset(T, "default", HAND_BUILT)
    return a


def test_counts_and_every_ratio_are_exact_fractions(hand_built):
    status, result = hand_built.evaluate(T, signature("attack"))

    assert status == 200, result
    assert result["status"] == "completed" and result["progress"] == 1.0
    assert result["eval_id"].startswith("eval_")
    assert (result["true_positives"], result["false_positives"], result["true_negatives"], result["false_negatives"]) == (3, 1, 5, 2)
    assert result["precision"] == 3 / 4
    assert result["recall"] == 3 / 5
    assert result["f1_score"] == 6 / 9  # 2TP / (2TP + FP + FN)
    assert result["accuracy"] == 8 / 11
    assert result["false_positive_rate"] == 1 / 6
    assert result["sample_size"] == 11
    assert result["dataset"]["name"] == "default"
    assert result["by_category"]["sqli"] == {"true_positives": 2, "false_positives": 0, "true_negatives": 0, "false_negatives": 1, "total": 3, "recall": 2 / 3}
    assert result["by_category"]["xss"]["recall"] == 1 / 2
    assert result["by_category"]["benign"] == {"true_positives": 0, "false_positives": 1, "true_negatives": 5, "false_negatives": 0, "total": 6, "recall": 0.0}
    assert result["recommendations"][0].startswith("Moderate performance")
    assert isinstance(result["execution_time_ms"], float) and result["execution_time_ms"] >= 0


def test_zero_denominators_are_zero(api, client_for):
    a = api(client_for)
    a.dataset(T, "benign-only", [sample("benign", query="q=fine"), sample("benign", query="q=ok")])
    a.dataset(T, "attacks-only", [sample("attack", query="q=x", category="sqli")])

    status, nothing_flagged = a.evaluate(T, signature("never"), dataset="benign-only")
    assert status == 200
    # No attack and nothing flagged: precision 0/0, recall 0/0, F1 0/0 → 0.0; accuracy 2/2.
    assert (nothing_flagged["precision"], nothing_flagged["recall"], nothing_flagged["f1_score"]) == (0.0, 0.0, 0.0)
    assert (nothing_flagged["accuracy"], nothing_flagged["false_positive_rate"]) == (1.0, 0.0)

    status, no_benign = a.evaluate(T, signature("never"), dataset="attacks-only")
    # No benign sample: FPR 0/0 → 0.0; precision 0/0 → 0.0; accuracy 0/1.
    assert (no_benign["false_positive_rate"], no_benign["precision"], no_benign["accuracy"], no_benign["false_negatives"]) == (0.0, 0.0, 0.0, 1)
    assert any("no benign" in r for r in no_benign["recommendations"])


def test_target_categories_leave_out_attacks_of_other_categories(hand_built):
    status, result = hand_built.evaluate(T, signature("attack"), target_categories=["sqli"])

    assert status == 200
    # The xss attacks (one tp, one fn) are gone; benign samples all stay.
    assert (result["true_positives"], result["false_positives"], result["true_negatives"], result["false_negatives"]) == (2, 1, 5, 1)
    assert result["recall"] == 2 / 3 and result["precision"] == 2 / 3 and result["accuracy"] == 7 / 9
    assert set(result["by_category"]) == {"sqli", "benign"}
    assert result["selection"]["target_categories"] == ["sqli"]


def _ids(a, eval_id: str) -> list[str]:
    status, page = a.get(f"/shadow/evaluations/{eval_id}/samples?limit=500")
    assert status == 200
    return [s["id"] for s in page["results"]]


def test_seeded_subsets_are_reproducible(api, client_for):
    a = api(client_for)
    samples = [sample("attack" if i % 3 else "benign", query=f"q=item{i}", category="sqli" if i % 3 else None, id=f"s{i:02}") for i in range(50)]
    a.dataset(T, "fifty", samples)

    _, first = a.evaluate(T, signature("item1"), dataset="fifty", sample_size=10, seed=7)
    _, again = a.evaluate(T, signature("item2"), dataset="fifty", sample_size=10, seed=7)  # another rule: not a cache hit
    _, other = a.evaluate(T, signature("item1"), dataset="fifty", sample_size=10, seed=8)

    assert first["sample_size"] == again["sample_size"] == 10 and first["selection"]["seed"] == 7
    assert again["cached_from"] is None
    expected = [f"s{i:02}" for i in sorted(random.Random(7).sample(range(50), 10))]  # the documented algorithm
    assert _ids(a, first["eval_id"]) == _ids(a, again["eval_id"]) == expected
    assert _ids(a, other["eval_id"]) != expected


def test_a_subset_without_a_seed_gets_one_that_reproduces_it(api, client_for):
    a = api(client_for)
    a.dataset(T, "twenty", [sample("benign", query=f"q={i}", id=f"s{i}") for i in range(20)])

    _, drawn = a.evaluate(T, signature("x"), dataset="twenty", sample_size=5)
    _, replay = a.evaluate(T, signature("y"), dataset="twenty", sample_size=5, seed=drawn["selection"]["seed"])

    assert isinstance(drawn["selection"]["seed"], int)
    assert _ids(a, drawn["eval_id"]) == _ids(a, replay["eval_id"])


def test_a_sample_size_not_smaller_than_the_dataset_means_every_sample(hand_built):
    _, everything = hand_built.evaluate(T, signature("attack"), sample_size=11, seed=1)
    _, more = hand_built.evaluate(T, signature("attack"), sample_size=1000)

    assert everything["sample_size"] == more["sample_size"] == 11
    assert more["cached_from"] == everything["eval_id"]  # the seed is irrelevant to "all": same selection


def test_the_samples_behind_each_count(hand_built):
    _, result = hand_built.evaluate(T, signature("attack"))
    eval_id = result["eval_id"]

    def ids(outcome: str) -> list[str]:
        status, page = hand_built.get(f"/shadow/evaluations/{eval_id}/samples?outcome={outcome}")
        assert status == 200 and page["next_cursor"] is None
        assert all(s["outcome"] == outcome for s in page["results"])
        return [s["id"] for s in page["results"]]

    assert ids("tp") == ["a1", "a2", "a4"]
    assert ids("fn") == ["a3", "a5"]
    assert ids("fp") == ["b1"]
    assert ids("tn") == ["b2", "b3", "b4", "b5", "b6"]
    status, page = hand_built.get(f"/shadow/evaluations/{eval_id}/samples?outcome=fp")
    flagged = page["results"][0]
    assert flagged == {
        "id": "b1", "method": "GET", "path": "/", "query": "q=attack-surface", "headers": {"Host": "app.test"}, "body": "",
        "label": "benign", "category": "benign", "outcome": "fp", "predicted_attack": True, "fired": ["attack"], "score": 0,
    }  # fmt: skip


def test_samples_page_with_a_cursor_across_batches(hand_built, settings):
    settings.SHADOW_BATCH_SIZE = 2  # six batches: pages cross batch boundaries
    _, result = hand_built.evaluate(T, signature("attack"))
    seen, cursor = [], None
    while True:
        status, page = hand_built.get(f"/shadow/evaluations/{result['eval_id']}/samples?outcome=tn&limit=2" + (f"&cursor={cursor}" if cursor else ""))
        assert status == 200 and len(page["results"]) <= 2
        seen += [s["id"] for s in page["results"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["b2", "b3", "b4", "b5", "b6"]
    status, body = hand_built.get(f"/shadow/evaluations/{result['eval_id']}/samples?cursor=bogus")
    assert status == 400 and body["error"]["details"]["field"] == "cursor"
    status, body = hand_built.get(f"/shadow/evaluations/{result['eval_id']}/samples?outcome=xx")
    assert status == 400


def test_batches_merge_to_the_same_result_as_one_batch(hand_built, settings):
    _, whole = hand_built.evaluate(T, signature("attack"))
    settings.SHADOW_BATCH_SIZE = 3
    _, split = hand_built.evaluate(T, signature("attack", "zzz-not-cached"))  # another config: computed again
    keys = ["true_positives", "false_positives", "true_negatives", "false_negatives", "precision", "recall", "f1_score", "accuracy", "false_positive_rate", "by_category", "sample_size"]
    assert {k: whole[k] for k in keys} == {k: split[k] for k in keys}
    assert Evaluation.objects.get(public_id=split["eval_id"]).total_batches == 4


def test_a_repeat_is_answered_from_the_cached_result(hand_built):
    _, first = hand_built.evaluate(T, signature("attack"))
    started = time.perf_counter()
    status, repeat = hand_built.evaluate(T, signature("attack"))

    assert status == 200 and repeat["eval_id"] != first["eval_id"]
    assert repeat["cached_from"] == first["eval_id"]
    assert time.perf_counter() - started < 1.0
    for key in ("true_positives", "false_positives", "f1_score", "by_category", "recommendations"):
        assert repeat[key] == first[key]
    # The samples behind the counts come from the evaluation that computed them.
    status, page = hand_built.get(f"/shadow/evaluations/{repeat['eval_id']}/samples?outcome=fp")
    assert [s["id"] for s in page["results"]] == ["b1"]


def test_a_new_import_invalidates_the_cache(hand_built):
    _, first = hand_built.evaluate(T, signature("attack"))
    dataset_id = first["dataset"]["dataset_id"]
    status, _ = hand_built.upload(dataset_id, '{"method": "GET", "path": "/attack", "label": "attack", "category": "sqli"}\n')
    assert status == 200

    _, second = hand_built.evaluate(T, signature("attack"))
    assert second["cached_from"] is None and second["dataset"]["version"] == first["dataset"]["version"] + 1
    assert second["true_positives"] == first["true_positives"] + 1


def test_evaluation_detail_has_status_progress_and_the_result(hand_built):
    _, result = hand_built.evaluate(T, signature("attack"))
    status, detail = hand_built.get(f"/shadow/evaluations/{result['eval_id']}")
    assert status == 200 and detail == result


def test_a_catastrophically_backtracking_regex_evaluates_in_linear_time(api, client_for):
    a = api(client_for)
    pattern = "^(a+)+$"
    a.dataset(T, "redos", [
        sample("attack", body="aaaa", id="match"),
        sample("attack", body="a" * 30 + "!", id="evil"),
        sample("attack", body="a" * 20_000 + "!", id="long"),
        sample("benign", body="b", id="plain"),
    ])  # fmt: skip
    # Python's re backtracks exponentially here: 22 a's already take it a noticeable while
    # (each extra "a" doubles it; 30 would take minutes).
    started = time.perf_counter()
    assert re.search(pattern, "a" * 22 + "!") is None
    python_re = time.perf_counter() - started

    started = time.perf_counter()
    status, result = a.evaluate(T, {"rule_type": "regex", "rule_config": {"type": "regex", "pattern": pattern, "targets": ["body"]}}, dataset="redos")
    through_api = time.perf_counter() - started

    assert status == 200 and result["status"] == "completed"
    assert (result["true_positives"], result["false_negatives"], result["true_negatives"]) == (1, 2, 1)
    assert through_api < python_re, (through_api, python_re)


def test_crs_942_loaded_through_the_api_flags_the_sql_injections(api, client_for):
    a = api(client_for)
    a.dataset(T, "corpus", corpus_slice())
    config = crs_rule_config(["942"], paranoia_level=1)

    status, result = a.evaluate(T, {"rule_type": "modsecurity", "rule_config": config}, dataset="corpus", target_categories=["sqli"])

    assert status == 200, result
    assert result["sample_size"] == 160  # 80 sqli + 80 benign; the xss rows are left out
    assert result["by_category"]["sqli"]["recall"] >= 0.9
    assert result["false_positives"] == 0
    status, page = a.get(f"/shadow/evaluations/{result['eval_id']}/samples?outcome=tp&limit=5")
    assert all(s["category"] == "sqli" and any(f.startswith("942") for f in s["fired"]) for s in page["results"])

    # The .conf file as shipped, given as SecRule text.
    text = (CRS_RULES_DIR / "REQUEST-942-APPLICATION-ATTACK-SQLI.conf").read_text()
    status, raw = a.evaluate(T, {"rule_type": "modsecurity", "rule_config": {"type": "modsecurity", "rules": text}}, dataset="corpus", target_categories=["sqli"])
    assert status == 200, raw
    assert raw["recall"] >= 0.9 and raw["status"] == "completed"


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"rule_type": "regex", "rule_config": {"type": "signature", "pattern": "x"}}, "rule_config.type"),
        ({"rule_type": "regex", "rule_config": {"type": "regex", "pattern": "(a)\\1"}}, "backreferences are not supported by RE2"),
        ({"rule_type": "regex", "rule_config": {"type": "regex", "pattern": "(?=a)b"}}, "lookahead is not supported by RE2"),
        ({"rule_type": "modsecurity", "rule_config": {"type": "modsecurity", "rules": 'SecRule ARGS "@rx a" "id:1,phase:2,deny'}}, "unterminated"),
        ({"rule_type": "modsecurity", "rule_config": {"type": "modsecurity", "rules": 'SecRule ARGS "@nope a" "id:1,phase:2,deny"'}}, "unsupported operator @nope"),
        ({"rule_type": "quantum", "rule_config": {"type": "quantum"}}, "unsupported rule type"),
        ({"rule_type": "signature", "rule_config": {"type": "signature", "patterns": ["x"], "targets": ["cookies"]}}, "unsupported target"),
    ],
)
def test_bad_rules_are_400s_naming_the_problem_and_write_nothing(hand_built, rule, expected):
    status, body = hand_built.evaluate(T, rule)

    assert status == 400, body
    assert body["error"]["code"] == "invalid_request"
    assert expected in str(body["error"]), body
    assert not Evaluation.objects.exists()


def test_re2s_reason_is_in_the_details(hand_built):
    status, body = hand_built.evaluate(T, {"rule_type": "regex", "rule_config": {"type": "regex", "pattern": "(a)\\1"}})
    assert status == 400
    assert body["error"]["details"]["field"] == "rule_config"
    assert "re2_error" in body["error"]["details"]["rule_error"]


@pytest.mark.parametrize(
    "fields",
    [
        {"sample_size": "10"},
        {"sample_size": 0},
        {"sample_size": 10.5},
        {"seed": True},
        {"wait_seconds": 301},
        {"target_categories": "sqli"},
        {"target_categories": [""]},
        {"unknown": 1},
        {"dataset": 5},
    ],
)
def test_bad_evaluate_bodies_are_400s(hand_built, fields):
    status, body = hand_built.evaluate(T, signature("attack"), **fields)
    assert status == 400 and body["error"]["code"] == "invalid_request"
    assert not Evaluation.objects.exists()


def test_an_inline_rule_needs_type_and_config(hand_built):
    status, body = hand_built.post("/shadow/evaluate", {"tenant_id": T, "rule_id": "r1", "sample_size": 5})
    assert status == 400 and set(body["error"]["details"]["fields"]) == {"rule_type", "rule_config"}


def test_missing_or_foreign_datasets_are_404s(api, client_for, make_tenant, make_client):
    other = make_client(make_tenant("org-other"))
    foreign = api(other).dataset("org-other", "default", [sample("attack", query="q=attack")])
    mine = api(client_for)

    status, body = mine.evaluate(T, signature("attack"))  # no "default" dataset for org-123
    assert status == 404 and body["error"]["code"] == "not_found"
    status, body = mine.evaluate(T, signature("attack"), dataset=foreign)
    assert status == 404
    status, body = mine.evaluate("org-other", signature("attack"))
    assert status == 404
    assert not Evaluation.objects.filter(tenant_id=T).exists()


def test_an_empty_selection_is_a_400(hand_built):
    status, body = hand_built.evaluate(T, signature("attack"), target_categories=["lfi"])
    assert status == 200  # benign samples remain
    assert body["sample_size"] == 6
    a = hand_built
    a.dataset(T, "empty", [])
    status, body = a.evaluate(T, signature("attack"), dataset="empty")
    assert status == 400 and "no samples" in body["error"]["message"]
