"""Evaluations on a real Celery worker the tests start (prefork, one child), with this
machine's Redis as broker and result backend on a database of its own.

The same samples are imported twice (two datasets, so the second run is not answered
from the first one's cache): once evaluated in-process, once by the worker's chord;
the results must be equal to the last sample. Then the worker's child is SIGKILLed
while it runs a batch: the batch is redelivered (late ack, reject on worker lost),
redone once, and counted once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone

from shadow.engine import crs_rule_config
from shadow.models import BatchStatus, Evaluation, EvaluationBatch
from shadow.tests.conftest import corpus_slice, signature
from shieldx.testing import child_pids, stop_process

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
T = "org-123"
# A Redis database of its own, so the worker never sees another suite's tasks.
BROKER = settings.TEST_REDIS_AUX_URL
BATCH_SIZE = 25
BATCH_DELAY_MS = 400  # the window in which the kill lands inside a batch
RESULT_FIELDS = (
    "true_positives", "false_positives", "true_negatives", "false_negatives", "precision", "recall", "f1_score",
    "accuracy", "false_positive_rate", "sample_size", "by_category", "recommendations",
)  # fmt: skip


class Worker:
    def __init__(self, database_url: str, log_path: Path, extra_env: dict[str, str] | None = None):
        self.queue = f"shadow-test-{uuid.uuid4().hex[:10]}"
        keep = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR"}}
        env = {
            **keep,
            "PYTHONPATH": str(ROOT),
            "DJANGO_SETTINGS_MODULE": "shieldx.settings",
            "DATABASE_URL": database_url,
            "REDIS_URL": settings.REDIS_URL,
            "SHIELDX_CACHE_PREFIX": "shadow-worker",
            "CELERY_BROKER_URL": BROKER,
            "CELERY_RESULT_BACKEND": BROKER,
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "SHADOW_CELERY_QUEUE": self.queue,
            "SHADOW_BATCH_SIZE": str(BATCH_SIZE),
            "SHADOW_BATCH_DELAY_MS": str(BATCH_DELAY_MS),
            "LOG_LEVEL": "WARNING",
            **(extra_env or {}),
        }
        celery = str(Path(sys.executable).parent / "celery")
        self.log_path = log_path
        with log_path.open("w") as log:
            self.proc = subprocess.Popen(
                [celery, "-A", "shieldx", "worker", "--pool", "prefork", "--concurrency", "1", "-Q", self.queue,
                 "-n", f"{self.queue}@localhost", "--without-mingle", "--without-gossip", "--without-heartbeat", "--loglevel", "WARNING"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def children(self) -> list[int]:
        return child_pids(self.proc)

    def close(self) -> None:
        stop_process(self.proc)
        client = redis.Redis.from_url(BROKER)
        client.delete(self.queue, *client.keys(f"*{self.queue}*"))


@pytest.fixture(scope="module")
def worker(django_db_setup, tmp_path_factory):
    db = connection.settings_dict  # the test database, once pytest-django created it
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    url = f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    started = Worker(url, tmp_path_factory.mktemp("worker") / "worker.log")
    yield started
    started.close()


@pytest.fixture
def on_worker(worker, settings):
    """A context manager: while inside, this process sends tasks to the worker's broker."""
    from shieldx.celery import app

    def reset() -> None:
        # Connections and backends are created lazily and cached: drop them so the next
        # send uses the configuration in force.
        app._pool = None  # kombu keeps pools per URL globally: drop the reference, never close it
        app._backend_cache = None
        app._local = threading.local()
        app.amqp._producer_pool = None

    @contextlib.contextmanager
    def use():
        # The app reads Django settings under the CELERY_ namespace, and a namespaced key
        # wins over a plain one: override the namespaced keys.
        wanted = {"broker_url": BROKER, "result_backend": BROKER, "task_always_eager": False}
        saved = {f"CELERY_{key.upper()}": app.conf[key] for key in wanted}
        app.conf.update({f"CELERY_{key.upper()}": value for key, value in wanted.items()})
        settings.SHADOW_CELERY_QUEUE = worker.queue
        reset()
        try:
            yield
        finally:
            app.conf.update(saved)
            reset()

    return use


def _figures(result: dict) -> dict:
    """The result's figures; the speed recommendation depends on the machine's load, not the rule."""
    figures = {k: result[k] for k in RESULT_FIELDS}
    figures["recommendations"] = [r for r in figures["recommendations"] if not r.startswith("The rule is slow")]
    return figures


def _twin_datasets(a, rows) -> None:
    a.dataset(T, "in-process", rows)
    a.dataset(T, "on-worker", rows)


def _wait(eval_id: str, seconds: float, until) -> Evaluation:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ev = Evaluation.objects.get(public_id=eval_id)
        if until(ev):
            return ev
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting on {eval_id}: {Evaluation.objects.filter(public_id=eval_id).values()[0]}")


def _outcome_ids(a, eval_id: str) -> dict[str, list[str]]:
    return {o: [s["id"] for s in a.get(f"/shadow/evaluations/{eval_id}/samples?outcome={o}&limit=500")[1]["results"]] for o in ("tp", "fp", "tn", "fn")}


def test_a_chord_on_a_real_worker_equals_the_in_process_result(api, client_for, worker, on_worker):
    a = api(client_for)
    _twin_datasets(a, corpus_slice())
    rule = {"rule_type": "modsecurity", "rule_config": crs_rule_config(["942"], paranoia_level=1)}
    status, local = a.evaluate(T, rule, dataset="in-process")
    assert status == 200 and local["status"] == "completed"

    with on_worker():
        status, queued = a.evaluate(T, rule, dataset="on-worker", wait_seconds=0)
        assert status == 202 and queued["status"] in ("pending", "running"), queued
        progress = set()

        def done(ev: Evaluation) -> bool:
            if ev.status == "running":
                progress.add(ev.progress)
            return ev.status in ("completed", "failed")

        ev = _wait(queued["eval_id"], 120, done)

    assert ev.status == "completed", (ev.error, worker.log_path.read_text()[-3000:])
    assert any(0 < p < 1 for p in progress), progress  # progress is visible while the chord runs
    status, remote = a.get(f"/shadow/evaluations/{queued['eval_id']}")
    assert status == 200 and remote["progress"] == 1.0
    assert _figures(remote) == _figures(local)
    assert ev.total_batches == 8  # 180 samples in batches of 25
    assert _outcome_ids(a, queued["eval_id"]) == _outcome_ids(a, local["eval_id"])


def test_a_worker_killed_mid_batch_loses_no_batch_and_counts_none_twice(api, client_for, worker, on_worker):
    a = api(client_for)
    _twin_datasets(a, corpus_slice())
    rule = signature("select", "union", "<script")
    status, local = a.evaluate(T, rule, dataset="in-process")
    assert status == 200

    with on_worker():
        _, queued = a.evaluate(T, rule, dataset="on-worker", wait_seconds=0)
        ev = _wait(queued["eval_id"], 120, lambda ev: ev.status == "running" and ev.done_batches >= 1)

        # Kill the child right after it claimed a batch: it is then asleep inside that batch.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            fresh = EvaluationBatch.objects.filter(
                evaluation=ev, status=BatchStatus.RUNNING, started_at__gte=timezone.now() - timedelta(milliseconds=100)
            ).first()
            if fresh is not None:
                break
            time.sleep(0.005)
        assert fresh is not None, "never saw a batch start"
        (child,) = worker.children()
        os.kill(child, signal.SIGKILL)

        ev = _wait(queued["eval_id"], 120, lambda ev: ev.status in ("completed", "failed"))

    assert ev.status == "completed", (ev.error, worker.log_path.read_text()[-3000:])
    assert child not in worker.children()  # the pool replaced the killed child
    batches = list(EvaluationBatch.objects.filter(evaluation=ev).order_by("index"))
    assert len(batches) == ev.total_batches == ev.done_batches == 8
    assert all(b.status == BatchStatus.DONE for b in batches)
    killed = next(b for b in batches if b.pk == fresh.pk)
    assert killed.attempts == 2  # run, killed, redelivered, run again
    assert sum(b.attempts for b in batches) == len(batches) + 1  # no other batch ran twice
    assert sum(b.true_positives + b.false_positives + b.true_negatives + b.false_negatives for b in batches) == 180
    status, remote = a.get(f"/shadow/evaluations/{queued['eval_id']}")
    assert _figures(remote) == _figures(local)
