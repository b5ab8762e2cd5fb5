"""Confusion metrics, McNemar, the winner rule, recommendations, evaluate/merge/compare."""

from __future__ import annotations

import math
import time
from fractions import Fraction

import pytest

from shadow.engine import (
    Counts,
    EvaluationResult,
    compare,
    compile_rule,
    compute_metrics,
    evaluate,
    mcnemar_p_value,
    merge,
    metrics,
    winner,
)
from shadow.engine.metrics import F1_GOOD, F1_MODERATE, F1_POOR, f1_band, recommendations


def sample(label: str, query: str, category: str | None = None, sample_id: str | None = None) -> dict:
    row = {"method": "GET", "path": "/search", "query": query, "label": label}
    if category:
        row["category"] = category
    if sample_id:
        row["id"] = sample_id
    return row


# ---- ratios -----------------------------------------------------------------------------------


def test_metrics_are_exact_fractions_of_the_counts():
    m = compute_metrics(Counts(true_positives=1, false_positives=2, true_negatives=7, false_negatives=3))
    assert m["precision"] == float(Fraction(1, 3))
    assert m["recall"] == float(Fraction(1, 4))
    assert m["f1_score"] == float(Fraction(2 * 1, 2 * 1 + 2 + 3))
    assert m["accuracy"] == float(Fraction(8, 13))
    assert m["false_positive_rate"] == float(Fraction(2, 9))
    assert (m["true_positives"], m["false_positives"], m["true_negatives"], m["false_negatives"]) == (1, 2, 7, 3)


def test_ratios_with_a_zero_denominator_are_zero():
    m = compute_metrics(Counts())
    assert [m[k] for k in ("precision", "recall", "f1_score", "accuracy", "false_positive_rate")] == [0.0] * 5
    only_benign = compute_metrics(Counts(true_negatives=5))
    assert only_benign["precision"] == 0.0 and only_benign["recall"] == 0.0 and only_benign["accuracy"] == 1.0


# ---- McNemar and the winner ----------------------------------------------------------------------


def test_mcnemar_against_hand_computed_values():
    # n=10, min=1: 2 * (C(10,0) + C(10,1)) / 2^10 = 22/1024
    assert mcnemar_p_value(1, 9) == 0.021484375
    assert mcnemar_p_value(9, 1) == 0.021484375
    assert mcnemar_p_value(0, 10) == 2 / 1024
    assert mcnemar_p_value(0, 0) == 1.0
    assert mcnemar_p_value(5, 5) == 1.0  # capped at 1
    assert mcnemar_p_value(2, 3) == 1.0


def test_mcnemar_with_large_counts():
    p = mcnemar_p_value(5000, 5300)
    assert 0.0 < p < 0.05
    assert mcnemar_p_value(20000, 20000) == 1.0
    with pytest.raises(ValueError):
        mcnemar_p_value(-1, 2)


def exact_p(b: int, c: int) -> Fraction:
    """The definition, in big integers: 2 * sum_{i<=min} C(n, i) / 2^n, capped at 1."""
    n = b + c
    return min(Fraction(1), Fraction(2 * sum(math.comb(n, i) for i in range(min(b, c) + 1)), 2**n))


@pytest.mark.parametrize(
    ("b", "c"),
    [(1, 9), (0, 10), (3, 4), (10, 30), (100, 140), (480, 520), (700, 1300), (1000, 1001), (2400, 2600), (0, 3000), (1490, 1700)],
)
def test_mcnemar_in_log_space_equals_the_big_integer_value(b, c):
    exact = exact_p(b, c)
    assert metrics._mcnemar_log_space(b, c) == pytest.approx(float(exact), rel=1e-11, abs=1e-300)
    assert mcnemar_p_value(b, c) == pytest.approx(float(exact), rel=1e-11, abs=1e-300)
    if b + c <= metrics.EXACT_MCNEMAR_MAX_N:
        assert mcnemar_p_value(b, c) == float(exact)  # exactly the float nearest the fraction


def test_mcnemar_at_ten_million_samples_takes_under_50_ms():
    cases = [(4_990_000, 5_010_000), (4_999_000, 5_001_000), (1_000_000, 9_000_000), (5_000_000, 5_000_001)]
    for b, c in cases:
        started = time.thread_time()
        p = mcnemar_p_value(b, c)
        assert time.thread_time() - started < 0.050, (b, c)
        assert 0.0 <= p <= 1.0
    assert mcnemar_p_value(4_990_000, 5_010_000) < 1e-9  # 20,000 apart: 6.3 sigma
    assert mcnemar_p_value(4_999_000, 5_001_000) == pytest.approx(0.52708, rel=1e-3)  # 0.63 sigma
    assert mcnemar_p_value(1_000_000, 9_000_000) == 0.0  # below the smallest double
    assert mcnemar_p_value(5_000_000, 5_000_001) == 1.0


def test_winner_needs_significance():
    assert winner(90, 80, 0.01) == "a"
    assert winner(80, 90, 0.01) == "b"
    assert winner(90, 80, 0.05) == "tie"
    assert winner(90, 90, 0.0) == "tie"


# ---- recommendations -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("f1", "sentence"),
    [(0.81, F1_GOOD), (0.8, F1_MODERATE), (0.51, F1_MODERATE), (0.5, F1_POOR), (0.0, F1_POOR)],
)
def test_f1_bands_use_the_seed_sentences(f1, sentence):
    assert f1_band(f1) == sentence


def test_f1_sentences_are_exactly_the_seeds():
    assert F1_GOOD == "Good performance (F1>0.8). Minor tuning recommended."
    assert F1_MODERATE == "Moderate performance (0.5<F1<=0.8). Significant tuning needed."
    assert F1_POOR == "Poor performance (F1<=0.5). Rule needs a redesign."


def test_recommendations_name_weak_categories_false_positive_sources_and_slowness():
    rule = compile_rule({"type": "signature", "patterns": ["select", "<script"]})
    rows = [
        sample("attack", "q=select+1", "sqli"),
        sample("attack", "q=union+select", "sqli"),
        sample("attack", "q=%3Cscript%3E", "xss"),
        sample("attack", "q=%3Cimg+onerror%3D1%3E", "xss"),
        sample("attack", "q=%3Csvg+onload%3D1%3E", "xss"),
        sample("benign", "q=please+select+a+size", "benign"),
        sample("benign", "q=select+all", "benign"),
        sample("benign", "q=hello", "benign"),
    ]
    result = evaluate(rule, rows)
    recs = recommendations(result, elapsed_seconds=0.5)
    assert recs[0] == F1_MODERATE  # tp=3 fp=2 fn=2: F1 = 6/10
    assert any("Low recall on category 'xss': 0.333 (1 of 3 attacks detected)" in r for r in recs)
    assert not any("'sqli'" in r for r in recs)
    assert any("False-positive rate 0.6667 (2 of 3 benign samples flagged) exceeds" in r for r in recs)
    assert any("Most false positives come from 'select' (2 of 2)" in r for r in recs)
    assert any(r.startswith("The rule is slow: 62.50 ms per sample") for r in recs)


def test_recommendations_when_a_side_is_missing():
    rule = compile_rule({"type": "signature", "patterns": ["x"]})
    assert any("no attacks" in r for r in recommendations(evaluate(rule, [sample("benign", "q=a")])))
    assert any("no benign requests" in r for r in recommendations(evaluate(rule, [sample("attack", "q=x")])))


# ---- evaluate, merge, compare ----------------------------------------------------------------------

ROWS = [
    sample("attack", "q=union+select", "sqli", "a1"),
    sample("attack", "q=sleep(5)", "sqli", "a2"),
    sample("attack", "q=%3Cscript%3E", "xss", "a3"),
    sample("benign", "q=shoes", None, "b1"),
    sample("benign", "q=select+size", None, "b2"),
]


def test_evaluate_counts_outcomes_and_categories():
    result = evaluate(compile_rule({"type": "signature", "patterns": ["select", "sleep("]}), ROWS)
    assert result.counts == Counts(true_positives=2, false_positives=1, true_negatives=1, false_negatives=1)
    assert [o.outcome for o in result.outcomes] == ["tp", "tp", "fn", "tn", "fp"]
    assert result.outcomes[4].fired == ("select",) and result.outcomes[4].sample_id == "b2"
    report = result.metrics()["by_category"]
    assert report["sqli"]["recall"] == 1.0 and report["xss"]["recall"] == 0.0
    assert report["benign"]["false_positives"] == 1 and report["benign"]["total"] == 2


def test_batches_merge_to_the_whole_and_survive_serialisation():
    rule = compile_rule({"type": "signature", "patterns": ["select"]})
    whole = evaluate(rule, ROWS)
    parts = [EvaluationResult.from_dict(evaluate(rule, ROWS[i : i + 2]).to_dict()) for i in range(0, 5, 2)]
    merged = merge(parts)
    assert merged.counts == whole.counts
    assert merged.by_category == whole.by_category
    assert merged.outcomes == whole.outcomes
    assert merged.sample_count == 5


def test_evaluate_refuses_unlabeled_samples():
    with pytest.raises(ValueError, match="sample 0 has label None"):
        evaluate(compile_rule({"type": "signature", "patterns": ["x"]}), [{"method": "GET", "path": "/"}])


def test_compare_counts_disagreements_and_diffs_what_fires():
    a = evaluate(compile_rule({"type": "signature", "patterns": ["select"]}), ROWS)
    b = evaluate(compile_rule({"type": "signature", "patterns": ["union", "sleep(", "<script"]}), ROWS)
    comparison = compare(a, b)
    # b alone is right on a2, a3 and b2; a is right on nothing b misses.
    assert (comparison.a_only_correct, comparison.b_only_correct) == (0, 3)
    assert comparison.mcnemar_p_value == mcnemar_p_value(0, 3) == 0.25
    assert comparison.winner == "tie"
    assert comparison.fired_only_in_a == {"select": 2}
    assert comparison.fired_only_in_b == {"union": 1, "sleep(": 1, "<script": 1}
    with pytest.raises(ValueError):
        compare(a, evaluate(compile_rule({"type": "signature", "patterns": ["x"]}), ROWS[:2]))
