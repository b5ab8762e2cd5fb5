"""Confusion counts, ratios, the McNemar test, the A/B winner and recommendations.

Ratios are exact: ``tp / (tp + fp)`` on Python integers is correctly rounded, so a
metric is the float nearest the true fraction of the counts, never a rounded
display value.  A ratio whose denominator is 0 is ``0.0`` (contract).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .evaluation import EvaluationResult

F1_GOOD = "Good performance (F1>0.8). Minor tuning recommended."
F1_MODERATE = "Moderate performance (0.5<F1<=0.8). Significant tuning needed."
F1_POOR = "Poor performance (F1<=0.5). Rule needs a redesign."
SIGNIFICANCE = 0.05
# Defaults of the deploy gate (contract: min_f1 0.8, max_false_positive_rate 0.01).
GATE_MAX_FALSE_POSITIVE_RATE = 0.01
LOW_RECALL = 0.8
SLOW_MS_PER_SAMPLE = 1.0


@dataclass(slots=True)
class Counts:
    """A confusion matrix; attack is the positive class."""

    true_positives: int = 0
    false_positives: int = 0
    true_negatives: int = 0
    false_negatives: int = 0

    def add(self, *, is_attack: bool, predicted_attack: bool) -> str:
        """Count one sample and return its outcome: "tp", "fp", "tn" or "fn"."""
        if is_attack:
            if predicted_attack:
                self.true_positives += 1
                return "tp"
            self.false_negatives += 1
            return "fn"
        if predicted_attack:
            self.false_positives += 1
            return "fp"
        self.true_negatives += 1
        return "tn"

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.true_positives + other.true_positives,
            self.false_positives + other.false_positives,
            self.true_negatives + other.true_negatives,
            self.false_negatives + other.false_negatives,
        )

    @property
    def total(self) -> int:
        return self.true_positives + self.false_positives + self.true_negatives + self.false_negatives

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 0.0


def precision(c: Counts) -> float:
    return ratio(c.true_positives, c.true_positives + c.false_positives)


def recall(c: Counts) -> float:
    return ratio(c.true_positives, c.true_positives + c.false_negatives)


def f1_score(c: Counts) -> float:
    # 2PR/(P+R) simplified to counts, so it stays one exact fraction.
    return ratio(2 * c.true_positives, 2 * c.true_positives + c.false_positives + c.false_negatives)


def accuracy(c: Counts) -> float:
    return ratio(c.true_positives + c.true_negatives, c.total)


def false_positive_rate(c: Counts) -> float:
    return ratio(c.false_positives, c.false_positives + c.true_negatives)


def compute_metrics(c: Counts) -> dict[str, Any]:
    """The contract's result fields for one confusion matrix."""
    return {
        **c.to_dict(),
        "precision": precision(c),
        "recall": recall(c),
        "f1_score": f1_score(c),
        "accuracy": accuracy(c),
        "false_positive_rate": false_positive_rate(c),
    }


def category_report(by_category: dict[str, Counts]) -> dict[str, dict[str, Any]]:
    """Per category: the four counts, the sample total and recall."""
    return {name: {**counts.to_dict(), "total": counts.total, "recall": recall(counts)} for name, counts in sorted(by_category.items())}


EXACT_MCNEMAR_MAX_N = 2000


def mcnemar_p_value(b: int, c: int) -> float:
    """Exact two-sided McNemar test: binomial(n=b+c, p=1/2).

    p = min(1, 2 * sum_{i<=k} C(n, i) / 2^n), k = min(b, c); 1.0 when b + c == 0.
    Up to n = 2,000 in big integers (the float nearest the exact fraction), above in
    log space: the exact sum is O(n*k) in ever longer integers (3.2 s at n = 99,000),
    the log-space one is ~10^4 float steps at n = 10^7.
    """
    if b < 0 or c < 0:
        raise ValueError("McNemar counts must be non-negative")
    n = b + c
    if n == 0 or b == c:
        return 1.0  # the tail then holds at least half of all outcomes
    if n <= EXACT_MCNEMAR_MAX_N:
        return _mcnemar_exact(b, c)
    return _mcnemar_log_space(b, c)


def _mcnemar_exact(b: int, c: int) -> float:
    n = b + c
    # sum_{i<=k} C(n, i), each term from the previous one: C(n, i+1) = C(n, i)(n-i)/(i+1)
    # is exact in integers and linear in k, where math.comb per term would be quadratic.
    term = tail = 1
    for i in range(min(b, c)):
        term = term * (n - i) // (i + 1)
        tail += term
    numerator = 2 * tail
    denominator = 1 << n
    return 1.0 if numerator >= denominator else numerator / denominator


def _mcnemar_log_space(b: int, c: int) -> float:
    """The same p in floating point: the tail is summed from i = k downwards relative to
    its largest term, C(n, i-1) = C(n, i) * i / (n - i + 1), until the terms stop
    mattering in double precision (they fall off like a Gaussian of width sqrt(n)/2:
    ~10^4 terms at n = 10^7); C(n, k) / 2^n comes from lgamma. Relative error ~1e-8
    at n = 10^7 (lgamma of 1.5e8 has ~1e-8 absolute error), far less at small n."""
    n = b + c
    k = min(b, c)
    if n == 0 or b == c:
        return 1.0
    total = term = 1.0
    i = k
    while i > 0:
        term *= i / (n - i + 1)
        total += term
        if term < total * 1e-17:
            break
        i -= 1
    log_p = math.log(2.0) + _log_binomial(n, k) - n * math.log(2.0) + math.log(total)
    return 1.0 if log_p >= 0.0 else math.exp(log_p)


def _log_binomial(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def winner(correct_a: int, correct_b: int, p_value: float) -> str:
    """ "a" or "b" (more correct predictions) when p < 0.05, else "tie"."""
    if p_value < SIGNIFICANCE and correct_a != correct_b:
        return "a" if correct_a > correct_b else "b"
    return "tie"


def f1_band(f1: float) -> str:
    if f1 > 0.8:
        return F1_GOOD
    if f1 > 0.5:
        return F1_MODERATE
    return F1_POOR


def _share(count: int, total: int) -> str:
    return f"{count} of {total}"


def recommendations(
    result: EvaluationResult,
    *,
    elapsed_seconds: float | None = None,
    max_false_positive_rate: float = GATE_MAX_FALSE_POSITIVE_RATE,
) -> list[str]:
    """What a security engineer should do next, derived from the evaluation itself."""
    counts = result.counts
    out = [f1_band(f1_score(counts))]
    attacks = counts.true_positives + counts.false_negatives
    benign = counts.true_negatives + counts.false_positives
    if attacks == 0:
        out.append("The samples contain no attacks, so recall and F1 say nothing about detection: add labeled attacks.")
    if benign == 0:
        out.append("The samples contain no benign requests, so false positives cannot be measured: add benign traffic.")

    weak = []
    for name, c in result.by_category.items():
        total = c.true_positives + c.false_negatives
        if total and recall(c) < LOW_RECALL:
            weak.append((recall(c), name, c.true_positives, total))
    for value, name, hit, total in sorted(weak)[:5]:
        out.append(
            f"Low recall on category '{name}': {value:.3f} ({_share(hit, total)} attacks detected). "
            "Add detection for it, or leave it out with target_categories if the rule is not meant to cover it."
        )

    if counts.false_positives:
        fpr = false_positive_rate(counts)
        verdict = "exceeds" if fpr > max_false_positive_rate else "is within"
        out.append(
            f"False-positive rate {fpr:.4f} ({_share(counts.false_positives, benign)} benign samples flagged) "
            f"{verdict} the default deploy gate of {max_false_positive_rate}."
        )
        out.extend(_false_positive_patterns(result))

    if result.errors:
        out.append(
            f"{_share(result.errors, result.sample_count)} samples stopped at an engine limit (64 KiB per TX value or macro, "
            "1,000 TX variables, 50 ms per sample) and are in no count: list them with outcome=error and bound the rule's setvars."
        )

    per_sample_ms = _ms_per_sample(result, elapsed_seconds)
    if per_sample_ms is not None and per_sample_ms > SLOW_MS_PER_SAMPLE:
        out.append(
            f"The rule is slow: {per_sample_ms:.2f} ms per sample ({1000 / per_sample_ms:,.0f} samples/s). "
            "Merge literal alternatives into one signature/@pm list, drop redundant transformations, "
            "and anchor or simplify the costliest regexes."
        )
    return out


def _ms_per_sample(result: EvaluationResult, elapsed_seconds: float | None) -> float | None:
    seconds = result.elapsed_seconds if elapsed_seconds is None else elapsed_seconds
    if not result.sample_count or seconds is None:
        return None
    return seconds * 1000 / result.sample_count


def _false_positive_patterns(result: EvaluationResult) -> list[str]:
    """What the flagged benign samples have in common (fired rules/patterns, paths)."""
    flagged = [o for o in result.outcomes if o.outcome == "fp"]
    if not flagged:
        return []
    total = len(flagged)
    out = []
    fired = Counter(item for o in flagged for item in set(o.fired))
    if fired:
        top = ", ".join(f"{item!r} ({_share(n, total)})" for item, n in fired.most_common(3))
        out.append(f"Most false positives come from {top}: add an exclusion for the benign traffic they hit or tighten them.")
    path, n = Counter(o.path for o in flagged).most_common(1)[0]
    benign = [o for o in result.outcomes if o.outcome in ("fp", "tn")]
    base = sum(1 for o in benign if o.path == path)
    # Only worth saying when the path is over-represented among the false positives.
    if total >= 2 and n * 2 >= total and n * len(benign) >= 2 * base * total:
        out.append(
            f"False positives concentrate on path {path} ({_share(n, total)}, against "
            f"{_share(base, len(benign))} of all benign samples): consider scoping the rule or excluding that path."
        )
    return out
