"""Run a compiled rule over labeled samples, in batches that can be merged.

The Celery layer calls :func:`evaluate` per batch, stores ``result.to_dict()`` and
combines batches with :func:`merge`; :func:`compare` turns two rules' outcomes on
the same samples into the A/B figures.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .base import CompiledRule, Verdict
from .limits import EngineLimitExceeded
from .metrics import Counts, category_report, compute_metrics, mcnemar_p_value, recommendations, winner
from .sample import NormalizedSample

LABELS = ("attack", "benign")


@dataclass(frozen=True, slots=True)
class SampleOutcome:
    sample_id: Any
    label: str
    category: str
    predicted_attack: bool
    outcome: str  # "tp" | "fp" | "tn" | "fn" | "error" (an engine limit stopped the sample)
    fired: tuple[str, ...]
    score: int
    path: str
    error: str | None = None

    @property
    def correct(self) -> bool:
        return self.outcome in ("tp", "tn")

    def to_dict(self) -> dict[str, Any]:
        data = {
            "sample_id": self.sample_id,
            "label": self.label,
            "category": self.category,
            "predicted_attack": self.predicted_attack,
            "outcome": self.outcome,
            "fired": list(self.fired),
            "score": self.score,
            "path": self.path,
        }
        if self.error is not None:
            data["error"] = self.error
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SampleOutcome:
        return cls(
            data["sample_id"],
            data["label"],
            data["category"],
            data["predicted_attack"],
            data["outcome"],
            tuple(data["fired"]),
            data["score"],
            data["path"],
            data.get("error"),
        )


@dataclass(slots=True)
class EvaluationResult:
    counts: Counts = field(default_factory=Counts)
    by_category: dict[str, Counts] = field(default_factory=dict)
    outcomes: list[SampleOutcome] = field(default_factory=list)
    elapsed_seconds: float = 0.0
    sample_count: int = 0
    # Samples an engine limit stopped (CONTRACT §4a): in sample_count, not in counts.
    errors: int = 0

    def metrics(self) -> dict[str, Any]:
        """Contract fields: counts, precision, recall, f1_score, accuracy, FPR, by_category."""
        return {
            **compute_metrics(self.counts),
            "errors": self.errors,
            "sample_size": self.sample_count,
            "by_category": category_report(self.by_category),
            "execution_time_ms": self.elapsed_seconds * 1000,
        }

    def recommendations(self, **kwargs: Any) -> list[str]:
        return recommendations(self, **kwargs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "counts": self.counts.to_dict(),
            "by_category": {k: v.to_dict() for k, v in self.by_category.items()},
            "outcomes": [o.to_dict() for o in self.outcomes],
            "elapsed_seconds": self.elapsed_seconds,
            "sample_count": self.sample_count,
            "errors": self.errors,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EvaluationResult:
        return cls(
            Counts(**data["counts"]),
            {k: Counts(**v) for k, v in data["by_category"].items()},
            [SampleOutcome.from_dict(o) for o in data["outcomes"]],
            data["elapsed_seconds"],
            data["sample_count"],
            data.get("errors", 0),
        )


def judge(compiled: CompiledRule, sample: NormalizedSample) -> Verdict:
    """``compiled.match(sample)``, with one second chance for the time limit.

    The first sight of a value makes RE2 build DFA states for it, and a PL4 CRS run on a
    novel 500-byte payload can spend 50 ms doing so, where the same sample takes 6 ms
    once warm. The engine is pure, so a sample that runs out of time is run once more:
    only a sample that is slow when warm is an error (bounded at twice the limit)."""
    try:
        return compiled.match(sample)
    except EngineLimitExceeded as exc:
        if exc.limit != "time":
            raise
    return compiled.match(sample)


def evaluate(
    compiled: CompiledRule,
    samples: Iterable[NormalizedSample | Mapping[str, Any]],
    *,
    keep_outcomes: bool = True,
) -> EvaluationResult:
    """Judge every sample; counts, per-category counts and (optionally) per-sample outcomes.

    A sample's ``id`` (if any) is kept in its outcome; its label must be "attack" or
    "benign".  ``elapsed_seconds`` covers normalisation and matching.
    """
    result = EvaluationResult()
    start = time.perf_counter()
    for index, raw in enumerate(samples):
        sample = NormalizedSample.of(raw)
        if sample.label not in LABELS:
            raise ValueError(f"sample {index} has label {sample.label!r}; expected 'attack' or 'benign'")
        is_attack = sample.label == "attack"
        try:
            verdict = judge(compiled, sample)
        except EngineLimitExceeded as exc:
            result.errors += 1
            result.sample_count += 1
            if keep_outcomes:
                category = sample.category or ("benign" if not is_attack else "uncategorized")
                sample_id = sample.id if sample.id is not None else index
                result.outcomes.append(SampleOutcome(sample_id, sample.label, category, False, "error", (), 0, sample.path, exc.message))  # type: ignore[arg-type]
            continue
        outcome = result.counts.add(is_attack=is_attack, predicted_attack=verdict.matched)
        category = sample.category or ("benign" if not is_attack else "uncategorized")
        per_category = result.by_category.get(category)
        if per_category is None:
            per_category = result.by_category[category] = Counts()
        per_category.add(is_attack=is_attack, predicted_attack=verdict.matched)
        if keep_outcomes:
            result.outcomes.append(
                SampleOutcome(
                    sample.id if sample.id is not None else index,
                    sample.label,  # type: ignore[arg-type]
                    category,
                    verdict.matched,
                    outcome,
                    verdict.fired,
                    verdict.score,
                    sample.path,
                )
            )
        result.sample_count += 1
    result.elapsed_seconds = time.perf_counter() - start
    return result


def merge(results: Iterable[EvaluationResult]) -> EvaluationResult:
    """Combine batch results (in order); elapsed time is the sum of the batches' times."""
    merged = EvaluationResult()
    for part in results:
        merged.counts = merged.counts + part.counts
        for name, counts in part.by_category.items():
            merged.by_category[name] = merged.by_category.get(name, Counts()) + counts
        merged.outcomes.extend(part.outcomes)
        merged.elapsed_seconds += part.elapsed_seconds
        merged.sample_count += part.sample_count
        merged.errors += part.errors
    return merged


@dataclass(frozen=True, slots=True)
class Comparison:
    a_only_correct: int
    b_only_correct: int
    mcnemar_p_value: float
    winner: str  # "a" | "b" | "tie"
    # Detections (rule ids / patterns) that fire under one rule and not the other, by sample count.
    fired_only_in_a: dict[str, int]
    fired_only_in_b: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {
            "a_only_correct": self.a_only_correct,
            "b_only_correct": self.b_only_correct,
            "mcnemar_p_value": self.mcnemar_p_value,
            "winner": self.winner,
            "fired_only_in_a": self.fired_only_in_a,
            "fired_only_in_b": self.fired_only_in_b,
        }


def compare(a: EvaluationResult, b: EvaluationResult, *, top: int = 20) -> Comparison:
    """A/B figures from two evaluations of the same samples, in the same order."""
    if len(a.outcomes) != len(b.outcomes):
        raise ValueError("compare() needs both rules' outcomes on the same samples")
    a_only = b_only = 0
    only_a: Counter[str] = Counter()
    only_b: Counter[str] = Counter()
    for left, right in zip(a.outcomes, b.outcomes, strict=True):
        if left.sample_id != right.sample_id:
            raise ValueError(f"sample order differs: {left.sample_id!r} vs {right.sample_id!r}")
        if left.correct and not right.correct:
            a_only += 1
        elif right.correct and not left.correct:
            b_only += 1
        fired_a, fired_b = set(left.fired), set(right.fired)
        only_a.update(fired_a - fired_b)
        only_b.update(fired_b - fired_a)
    p_value = mcnemar_p_value(a_only, b_only)
    correct_a = a.counts.true_positives + a.counts.true_negatives
    correct_b = b.counts.true_positives + b.counts.true_negatives
    return Comparison(
        a_only,
        b_only,
        p_value,
        winner(correct_a, correct_b, p_value),
        dict(only_a.most_common(top)),
        dict(only_b.most_common(top)),
    )
