"""What the Celery tasks do: plan an evaluation into batches, judge one batch, merge.

Redelivery is the normal case here (acks_late + reject_on_worker_lost: a batch whose
worker was killed runs again), so every step is safe to repeat:

* ``plan`` creates the batches once, under the evaluation's row lock;
* ``run_batch`` stores its result with a conditional UPDATE (``status <> 'done'``):
  of two runs of the same batch exactly one stores it and counts it in
  ``done_batches``, the other changes nothing;
* ``finalize`` reads the stored batch results from the database (never the chord's
  arguments, which a redone batch could duplicate) and completes the evaluation with
  a conditional UPDATE, so a second run is a no-op.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Iterator
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from shadow.compiled import compiled_rule
from shadow.engine import EvaluationResult, SampleOutcome, evaluate, merge
from shadow.models import FINAL_STATUSES, BatchStatus, Evaluation, EvaluationBatch, EvaluationStatus, Sample
from shadow.selection import Selection

logger = logging.getLogger(__name__)
BULK_BATCHES = 500
ACTIVE = (EvaluationStatus.PENDING, EvaluationStatus.RUNNING)


def eligible_positions(*, dataset_id: int, population: int, target_categories: Iterable[str]) -> Iterator[int]:
    """Positions of the samples an evaluation may pick from, ascending, streamed."""
    rows = Sample.objects.filter(dataset_id=dataset_id, position__lt=population)
    targets = list(target_categories)
    if targets:
        rows = rows.filter(Q(label="benign") | Q(label="attack", category__in=targets))
    return rows.order_by("position").values_list("position", flat=True).iterator(chunk_size=5000)


def plan(evaluation_id: int) -> list[int]:
    """Split the evaluation into batches (once); the ids of the batches not done yet."""
    with transaction.atomic():
        ev = Evaluation.objects.select_for_update().filter(pk=evaluation_id).first()
        if ev is None or ev.status in FINAL_STATUSES:
            return []
        if ev.status == EvaluationStatus.PENDING:
            selection = Selection(ev.eligible, ev.sample_size, ev.seed, tuple(ev.target_categories))
            positions = selection.chosen(eligible_positions(dataset_id=ev.dataset_id, population=ev.population, target_categories=ev.target_categories))
            total = _create_batches(ev, positions, settings.SHADOW_BATCH_SIZE)
            Evaluation.objects.filter(pk=ev.pk).update(status=EvaluationStatus.RUNNING, total_batches=total, started_at=timezone.now())
    return list(EvaluationBatch.objects.filter(evaluation_id=evaluation_id).exclude(status=BatchStatus.DONE).order_by("index").values_list("id", flat=True))


def _create_batches(ev: Evaluation, positions: Iterable[int], size: int) -> int:
    rows: list[EvaluationBatch] = []
    chunk: list[int] = []
    index = 0

    def close_chunk() -> None:
        nonlocal index, chunk
        rows.append(EvaluationBatch(evaluation=ev, index=index, positions=chunk))
        index += 1
        chunk = []
        if len(rows) >= BULK_BATCHES:
            EvaluationBatch.objects.bulk_create(rows)
            rows.clear()

    for position in positions:
        chunk.append(position)
        if len(chunk) == size:
            close_chunk()
    if chunk:
        close_chunk()
    EvaluationBatch.objects.bulk_create(rows)
    return index


def _load_samples(dataset_id: int, positions: list[int]) -> list[dict[str, Any]]:
    # The range bounds keep the (dataset, position) index in the plan even when the
    # table's statistics are stale (just after a bulk import).
    rows = Sample.objects.filter(dataset_id=dataset_id, position__gte=positions[0], position__lte=positions[-1], position__in=positions)
    rows = rows.order_by("position")
    return [
        {**json.loads(data), "id": sample_id, "label": label, "category": category}
        for sample_id, label, category, data in rows.values_list("sample_id", "label", "category", "data")
    ]


def run_batch(batch_id: int) -> bool:
    """Judge one batch and store its outcomes; False when it was already done."""
    claimed = EvaluationBatch.objects.filter(pk=batch_id).exclude(status=BatchStatus.DONE).update(
        status=BatchStatus.RUNNING, attempts=F("attempts") + 1, started_at=timezone.now()
    )
    if not claimed:
        return False
    batch = EvaluationBatch.objects.select_related("evaluation").only(
        "positions", "evaluation__status", "evaluation__config_hash", "evaluation__dataset_id"
    ).get(pk=batch_id)
    ev = batch.evaluation
    if ev.status in FINAL_STATUSES:
        return False
    rule = compiled_rule(ev.config_hash, lambda: Evaluation.objects.values_list("rule_config", flat=True).get(pk=ev.pk))
    samples = _load_samples(ev.dataset_id, batch.positions)
    if settings.SHADOW_BATCH_DELAY_MS:
        time.sleep(settings.SHADOW_BATCH_DELAY_MS / 1000)  # failure drills only: widens the window a kill can hit
    result = evaluate(rule, samples)
    counts = result.counts
    with transaction.atomic():
        stored = EvaluationBatch.objects.filter(pk=batch_id).exclude(status=BatchStatus.DONE).update(
            status=BatchStatus.DONE,
            result=result.to_dict(),
            true_positives=counts.true_positives,
            false_positives=counts.false_positives,
            true_negatives=counts.true_negatives,
            false_negatives=counts.false_negatives,
            finished_at=timezone.now(),
        )
        if stored:
            Evaluation.objects.filter(pk=ev.pk).update(done_batches=F("done_batches") + 1)
    return bool(stored)


def _for_recommendations(data: dict[str, Any], true_negatives: dict[str, SampleOutcome]) -> EvaluationResult:
    """A batch's result with only what recommendations read: the false positives, and
    the path of each true negative. True negatives share one immutable outcome per
    path, so a million-sample evaluation holds a list of pointers, not a million objects."""
    result = EvaluationResult.from_dict({**data, "outcomes": []})
    for item in data["outcomes"]:
        if item["outcome"] == "fp":
            result.outcomes.append(SampleOutcome.from_dict(item))
        elif item["outcome"] == "tn":
            path = item["path"]
            shared = true_negatives.get(path)
            if shared is None:
                shared = true_negatives[path] = SampleOutcome(None, "benign", "benign", False, "tn", (), 0, path)
            result.outcomes.append(shared)
    return result


def finalize(evaluation_id: int) -> bool:
    """Merge the stored batches into the result; False while batches are still missing."""
    ev = Evaluation.objects.filter(pk=evaluation_id).first()
    if ev is None or ev.status in FINAL_STATUSES:
        return True
    if ev.status != EvaluationStatus.RUNNING or ev.done_batches < ev.total_batches:
        return False
    stored = EvaluationBatch.objects.filter(evaluation_id=evaluation_id).order_by("index").values_list("result", flat=True)
    true_negatives: dict[str, SampleOutcome] = {}
    merged = merge(_for_recommendations(data, true_negatives) for data in stored.iterator(chunk_size=100))
    now = timezone.now()
    duration = (now - (ev.started_at or ev.created_at)).total_seconds()
    figures = merged.metrics()
    compute_ms = figures.pop("execution_time_ms")
    result = {**figures, "recommendations": merged.recommendations(), "execution_time_ms": duration * 1000, "compute_time_ms": compute_ms}
    completed = Evaluation.objects.filter(pk=evaluation_id, status=EvaluationStatus.RUNNING).update(
        status=EvaluationStatus.COMPLETED, result=result, f1_score=result["f1_score"], duration_seconds=duration, finished_at=now
    )
    if completed:
        logger.info("evaluation completed", extra={"eval_id": ev.public_id, "samples": merged.sample_count, "seconds": round(duration, 3)})
    return True


def fail(evaluation_id: int, message: str) -> None:
    updated = Evaluation.objects.filter(pk=evaluation_id, status__in=ACTIVE).update(
        status=EvaluationStatus.FAILED, error={"code": "evaluation_failed", "message": message}, finished_at=timezone.now()
    )
    if updated:
        logger.error("evaluation failed", extra={"evaluation": evaluation_id, "reason": message})
