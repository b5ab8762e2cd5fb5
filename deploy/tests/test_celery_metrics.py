"""Celery metrics: task outcomes from signals, the broker backlog at scrape time, and the
worker's own metrics endpoint (shieldx/celery_metrics.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
import redis
from django.conf import settings
from prometheus_client import REGISTRY
from rest_framework.test import APIClient

from deploy.metric_names import exported_names
from shieldx import celery_metrics
from shieldx.celery import app
from shieldx.testing import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]


@app.task(name="deploy.tests.succeeds")
def succeeds() -> int:
    return 1


@app.task(name="deploy.tests.fails")
def fails() -> None:
    raise ValueError("boom")


@app.task(bind=True, name="deploy.tests.retries", max_retries=1, default_retry_delay=0)
def retries(self) -> str:
    if self.request.retries == 0:
        raise self.retry(exc=ValueError("once more"))
    return "done"


def count(task: str, state: str) -> float:
    return REGISTRY.get_sample_value("shieldx_celery_tasks_total", {"task": task, "state": state}) or 0.0


def test_each_task_outcome_is_counted_under_the_task_name():
    successes, failures = count("deploy.tests.succeeds", "success"), count("deploy.tests.fails", "failure")

    succeeds.apply()
    fails.apply(throw=False)

    assert count("deploy.tests.succeeds", "success") == successes + 1
    assert count("deploy.tests.fails", "failure") == failures + 1
    assert count("deploy.tests.succeeds", "failure") == 0


def test_a_retry_is_counted_as_a_retry_and_the_rerun_by_its_outcome():
    retried, succeeded = count("deploy.tests.retries", "retry"), count("deploy.tests.retries", "success")
    retries.apply(throw=False)
    assert count("deploy.tests.retries", "retry") == retried + 1
    assert count("deploy.tests.retries", "success") == succeeded + 1


@pytest.fixture
def broker_keys():
    """Queue names no other test or process uses, deleted afterwards."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    names: list[str] = []

    def make() -> str:
        name = f"deploy-test-{uuid.uuid4().hex}"
        names.append(name)
        return name

    yield client, make
    for name in names:
        client.delete(name, *(f"{name}\x06\x16{step}" for step in (3, 6, 9)))


def test_queue_length_counts_every_priority_list_of_a_queue(broker_keys):
    client, make = broker_keys
    queue, empty = make(), make()
    client.lpush(queue, "a", "b")
    client.lpush(f"{queue}\x06\x166", "c")
    client.lpush(f"{queue}\x06\x169", "d")

    assert celery_metrics.queue_lengths(settings.REDIS_URL, [queue, empty]) == {queue: 4, empty: 0}


def _samples(collector) -> dict[str, float]:
    (family,) = list(collector.collect())
    assert family.name == "shieldx_celery_queue_length"
    return {sample.labels["queue"]: sample.value for sample in family.samples}


def test_the_collector_reports_the_configured_queues(broker_keys, settings, monkeypatch):
    client, make = broker_keys
    queue = make()
    client.lpush(queue, *range(7))
    settings.CELERY_BROKER_URL = settings.REDIS_URL
    settings.CELERY_TASK_ALWAYS_EAGER = False
    monkeypatch.setattr(celery_metrics, "_queue_names", lambda: [queue])

    assert _samples(celery_metrics.QueueLengths()) == {queue: 7}


def test_the_default_queue_and_shadows_own_queue_are_watched(settings):
    settings.SHADOW_CELERY_QUEUE = "celery"
    assert celery_metrics._queue_names() == [app.conf.task_default_queue] == ["celery"]
    settings.SHADOW_CELERY_QUEUE = "shadow-evaluations"
    assert celery_metrics._queue_names() == ["celery", "shadow-evaluations"]


def test_an_unreachable_broker_leaves_the_gauge_absent_not_zero_and_answers_fast(settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:9/0"
    settings.CELERY_TASK_ALWAYS_EAGER = False
    started = time.monotonic()
    assert _samples(celery_metrics.QueueLengths()) == {}
    assert time.monotonic() - started < 2 * celery_metrics.BROKER_TIMEOUT_SECONDS + 0.5


@pytest.mark.parametrize("url, eager", [("", True), ("memory://", False), (None, True)])
def test_without_a_redis_broker_there_is_no_sample(settings, url, eager):
    if url is not None:
        settings.CELERY_BROKER_URL = url
    settings.CELERY_TASK_ALWAYS_EAGER = eager
    assert _samples(celery_metrics.QueueLengths()) == {}


@pytest.mark.django_db
def test_metrics_view_serves_the_queue_length_and_task_outcomes(settings):
    settings.CELERY_BROKER_URL = settings.REDIS_URL
    settings.CELERY_TASK_ALWAYS_EAGER = False
    succeeds.apply()
    text = APIClient().get("/metrics").content.decode()
    names = exported_names(text)
    assert {"shieldx_celery_queue_length", "shieldx_celery_tasks_total"} <= names
    assert 'shieldx_celery_queue_length{queue="celery"}' in text


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored", "ignore:Results are not stored:RuntimeWarning")
def test_a_worker_started_by_the_entrypoint_serves_its_children_task_outcomes(tmp_path):
    """The worker pod's path: the entry point starts `celery worker` (prefork), the
    children count outcomes in PROMETHEUS_MULTIPROC_DIR, and the main process serves
    them on SHIELDX_METRICS_PORT, which the chart's probes and ServiceMonitor use."""
    port = free_port()
    queue = f"deploy-test-{uuid.uuid4().hex}"
    metrics_dir = tmp_path / "metrics"
    env = {
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(tmp_path),
        "SHIELDX_ENV": "development",
        "SHIELDX_ROLE": "worker",
        "SHIELDX_METRICS_PORT": str(port),
        "SHIELDX_METRICS_ADDR": "127.0.0.1",
        "CELERY_CONCURRENCY": "1",
        "CELERY_QUEUES": queue,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "DATABASE_URL": settings.DATABASE_URL,
        "REDIS_URL": settings.REDIS_URL,
        "SHIELDX_CACHE_PREFIX": "deploy-worker-test",
        "LOG_LEVEL": "WARNING",
    }
    worker = subprocess.Popen(
        [str(ROOT / "deploy" / "docker" / "entrypoint.sh")], env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        wait_for_port(port, timeout=60)
        # A connection of its own, not kombu's process-wide pool (which another test may
        # have closed).
        with app.connection_for_write(settings.REDIS_URL) as connection:
            ok = app.send_task("celery.accumulate", args=(1, 2), queue=queue, connection=connection)
            bad = app.send_task("celery.starmap", args=("no.such.task", [[1]]), queue=queue, connection=connection)
        assert ok.get(timeout=30) == [1, 2]
        bad.get(timeout=30, propagate=False)
        assert bad.status == "FAILURE"
        request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics")
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback test server
            text = response.read().decode()
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        _, stderr = worker.communicate(timeout=60)
        redis.Redis.from_url(settings.REDIS_URL).delete(queue, f"_kombu.binding.{queue}", *(f"{queue}\x06\x16{step}" for step in (3, 6, 9)))
    assert 'shieldx_celery_tasks_total{state="success",task="celery.accumulate"} 1.0' in text, stderr.decode()[-3000:]
    assert 'shieldx_celery_tasks_total{state="failure",task="celery.starmap"} 1.0' in text, stderr.decode()[-3000:]
