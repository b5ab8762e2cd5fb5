"""Evaluations on the worker fleet: start → chord(group(batches) → finalize).

Tasks take ids only and call ``shadow.runner``; every step is safe to run twice (see
there). Late acks and reject-on-worker-lost come from the project's Celery settings,
so a batch whose worker was killed is redelivered, not lost.
"""

from __future__ import annotations

import logging

from celery import chord, group, shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from shadow import runner
from shieldx.breaker import CircuitOpen

logger = logging.getLogger(__name__)
# A database blip is retried; anything else is a bug, and fails the evaluation visibly.
RETRYABLE = (OperationalError, InterfaceError, CircuitOpen)
MAX_RETRIES = 5
# finalize waits this long, at most, for a batch counted by the chord but not yet stored
# (a redelivered duplicate can complete the chord early).
FINALIZE_RETRY_SECONDS = 2
FINALIZE_MAX_RETRIES = 300


def _retry_or_fail(task, evaluation_id: int, exc: Exception) -> None:
    if isinstance(exc, RETRYABLE) and task.request.retries < MAX_RETRIES:
        raise task.retry(exc=exc, countdown=min(2**task.request.retries, 30))
    runner.fail(evaluation_id, f"{task.name} failed: {type(exc).__name__}")


@shared_task(name="shadow.start_evaluation", bind=True, max_retries=MAX_RETRIES, ignore_result=True)
def start_evaluation(self, evaluation_id: int) -> int:
    try:
        batch_ids = runner.plan(evaluation_id)
    except Exception as exc:
        _retry_or_fail(self, evaluation_id, exc)
        raise
    if batch_ids:
        queue = settings.SHADOW_CELERY_QUEUE
        header = group(run_batch.si(batch_id, evaluation_id).set(queue=queue) for batch_id in batch_ids)
        chord(header, finalize_evaluation.si(evaluation_id).set(queue=queue)).apply_async(queue=queue)
    return len(batch_ids)


# Batch results must be stored: the chord counts them in the result backend. The others'
# results are never read (the evaluation row is the result).
@shared_task(name="shadow.run_batch", bind=True, max_retries=MAX_RETRIES)
def run_batch(self, batch_id: int, evaluation_id: int) -> int:
    try:
        runner.run_batch(batch_id)
    except Exception as exc:
        _retry_or_fail(self, evaluation_id, exc)
        raise
    return batch_id  # the same value on a redo, so the chord's result set does not grow


@shared_task(name="shadow.finalize_evaluation", bind=True, max_retries=FINALIZE_MAX_RETRIES, ignore_result=True)
def finalize_evaluation(self, evaluation_id: int) -> None:
    try:
        done = runner.finalize(evaluation_id)
    except Exception as exc:
        _retry_or_fail(self, evaluation_id, exc)
        raise
    if not done:
        if self.request.retries >= FINALIZE_MAX_RETRIES:
            runner.fail(evaluation_id, "batches were still missing when finalize gave up waiting")
            return
        raise self.retry(countdown=FINALIZE_RETRY_SECONDS)
