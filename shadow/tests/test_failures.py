"""An evaluation that cannot run fails visibly (status "failed", never a 500, never
"running" forever), and the runner's steps are safe to repeat."""

from __future__ import annotations

import pytest

from shadow import runner, tasks
from shadow.models import BatchStatus, Evaluation, EvaluationBatch, EvaluationStatus
from shadow.tests.conftest import sample, signature

pytestmark = pytest.mark.django_db
T = "org-123"


@pytest.fixture
def a(api, client_for):
    a = api(client_for)
    a.dataset(T, "default", [sample("attack", query="q=evil", category="sqli"), sample("benign", query="q=fine")])
    return a


def test_a_batch_that_raises_fails_the_evaluation(a, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("engine bug")

    monkeypatch.setattr(runner, "evaluate", broken)
    status, body = a.evaluate(T, signature("evil"))

    assert status == 200 and body["status"] == "failed"
    assert body["error"] == {"code": "evaluation_failed", "message": "shadow.run_batch failed: RuntimeError"}
    assert "true_positives" not in body
    assert a.get(f"/shadow/evaluations/{body['eval_id']}/samples")[0] == 409


def test_an_evaluation_that_cannot_be_queued_fails(a, monkeypatch):
    def broker_down(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(tasks.start_evaluation, "apply_async", broker_down)
    status, body = a.evaluate(T, signature("evil"))

    assert status == 200 and body["status"] == "failed"
    assert "could not be queued" in body["error"]["message"]


def test_runner_steps_are_idempotent(a, monkeypatch):
    monkeypatch.setattr(tasks.start_evaluation, "apply_async", lambda *args, **kwargs: None)  # nothing runs by itself
    _, body = a.evaluate(T, signature("evil"), wait_seconds=0)
    ev = Evaluation.objects.get(public_id=body["eval_id"])
    assert body["status"] == "pending" and body["progress"] == 0.0

    batch_ids = runner.plan(ev.pk)
    assert runner.plan(ev.pk) == batch_ids  # planned once
    assert EvaluationBatch.objects.filter(evaluation=ev).count() == 1
    assert runner.finalize(ev.pk) is False  # a batch is missing: finalize waits
    assert runner.run_batch(batch_ids[0]) is True
    assert runner.run_batch(batch_ids[0]) is False  # a redelivered duplicate changes nothing
    ev.refresh_from_db()
    assert ev.done_batches == 1 and ev.total_batches == 1
    assert runner.finalize(ev.pk) is True and runner.finalize(ev.pk) is True
    ev.refresh_from_db()
    assert ev.status == EvaluationStatus.COMPLETED and ev.result["true_positives"] == 1
    batch = EvaluationBatch.objects.get(pk=batch_ids[0])
    assert batch.status == BatchStatus.DONE and batch.attempts == 1
    assert runner.plan(ev.pk) == []
