"""No task holds a Celery worker child for ever or grows it without bound (issue 11):
a real worker started with small limits fails an evaluation whose batch overruns the
soft time limit, with the reason, and its children run under the memory cap."""

from __future__ import annotations

import time

import pytest
from django.db import connection

from shadow.models import Evaluation
from shadow.tests import test_worker
from shadow.tests.conftest import sample, signature
from shadow.tests.test_worker import BROKER, Worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
T = "org-123"
MEMORY_LIMIT_MB = 1536
on_worker = test_worker.on_worker  # the fixture, sending tasks to the fixture named worker below


@pytest.fixture
def slow_worker(tmp_path):
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    limits = {
        "SHADOW_BATCH_DELAY_MS": "4000",  # each batch outlives the soft limit below
        "CELERY_TASK_SOFT_TIME_LIMIT": "1",
        "CELERY_TASK_TIME_LIMIT": "3",
        "SHIELDX_WORKER_MEMORY_LIMIT_MB": str(MEMORY_LIMIT_MB),
    }
    worker = Worker(url, tmp_path / "worker.log", extra_env=limits)
    yield worker
    worker.close()


@pytest.fixture
def worker(slow_worker):
    """on_worker (imported) sends tasks to the queue of the fixture named worker."""
    return slow_worker


def _children(worker: Worker, timeout: float = 30) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if children := worker.children():
            return children
        time.sleep(0.2)
    raise AssertionError("the worker started no child")


def test_a_batch_over_the_time_limit_fails_its_evaluation_with_the_reason(api, client_for, slow_worker, on_worker):
    a = api(client_for)
    a.dataset(T, "default", [sample("attack", query="q=evil"), sample("benign")])
    with on_worker():
        status, queued = a.evaluate(T, signature("evil"), wait_seconds=0)
        assert status == 202
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ev = Evaluation.objects.get(public_id=queued["eval_id"])
            if ev.status in ("completed", "failed"):
                break
            time.sleep(0.2)
    assert ev.status == "failed", (ev.status, slow_worker.log_path.read_text()[-2000:])
    assert "TimeLimitExceeded" in ev.error["message"]


def _data_limit(pid: int) -> list[str]:
    limits = open(f"/proc/{pid}/limits").read()
    return next(line for line in limits.splitlines() if line.startswith("Max data size")).split()[3:5]


def test_worker_children_run_under_the_memory_cap(slow_worker):
    wanted = [str(MEMORY_LIMIT_MB * 1024 * 1024)] * 2
    for pid in _children(slow_worker):
        # A child is listed as soon as it is forked; it sets its limit while it initialises.
        deadline = time.monotonic() + 60
        while _data_limit(pid) != wanted and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _data_limit(pid) == wanted


def test_the_settings_bound_every_task():
    from shieldx.celery import app

    assert app.conf.task_soft_time_limit == 300
    assert app.conf.task_time_limit == 330
    assert app.conf.worker_max_memory_per_child == 600 * 1024
    assert BROKER  # the worker above used the run's own broker database
