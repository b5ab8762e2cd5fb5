"""Celery metrics: task outcomes from signals, queue backlog at scrape time.

- ``shieldx_celery_tasks_total{task,state}`` counts outcomes in the process that ran the
  task (``state`` is ``success``, ``failure`` or ``retry``). Under a prefork worker with
  ``PROMETHEUS_MULTIPROC_DIR`` set, every child writes its own file and the worker's
  metrics endpoint sums them.
- ``shieldx_celery_queue_length{queue}`` is read from the broker (Redis ``LLEN``) when
  ``/metrics`` is scraped, so whichever web pod is scraped reports the backlog; with no
  Redis broker the family has no sample.
- A worker or beat has no web server, so with ``SHIELDX_METRICS_PORT`` set each starts a
  small one (``/metrics`` of its process, or of all its children) that the chart's
  ServiceMonitor scrapes and its probes call.
"""

from __future__ import annotations

import logging
import os
from functools import lru_cache
from typing import Any

import redis
from prometheus_client import REGISTRY, CollectorRegistry, Counter, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

logger = logging.getLogger(__name__)

tasks = Counter("shieldx_celery_tasks", "Celery task outcomes, counted where the task ran.", ["task", "state"])

# kombu's Redis transport keeps one list per queue and priority step: "<queue>" for
# priority 0, "<queue>\x06\x16<step>" for the others (kombu.transport.redis).
_PRIORITY_SEPARATOR = "\x06\x16"
_PRIORITY_STEPS = (3, 6, 9)
# A scrape must stay fast even when the broker is not answering.
BROKER_TIMEOUT_SECONDS = 0.25


def _task_name(sender: Any) -> str:
    return str(getattr(sender, "name", None) or sender or "unknown")


def on_task_success(sender=None, **kwargs) -> None:
    tasks.labels(task=_task_name(sender), state="success").inc()


def on_task_failure(sender=None, **kwargs) -> None:
    tasks.labels(task=_task_name(sender), state="failure").inc()


def on_task_retry(sender=None, request=None, **kwargs) -> None:
    # task_retry's sender is the task; the request also names it when the sender does not.
    name = _task_name(sender) if sender is not None else str(getattr(request, "task", None) or "unknown")
    tasks.labels(task=name, state="retry").inc()


def _multiprocess_dir() -> str:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


def _exposition_registry() -> CollectorRegistry:
    if _multiprocess_dir():
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return registry
    return REGISTRY


_metrics_server_started = False


def start_metrics_server(**kwargs) -> None:
    """On worker_ready / beat_init: serve /metrics on SHIELDX_METRICS_PORT, once per process."""
    global _metrics_server_started
    port = os.environ.get("SHIELDX_METRICS_PORT", "").strip()
    if not port or _metrics_server_started:
        return
    start_http_server(int(port), addr=os.environ.get("SHIELDX_METRICS_ADDR", "0.0.0.0"), registry=_exposition_registry())  # noqa: S104 - scraped from other pods
    _metrics_server_started = True
    logger.info("celery metrics server listening", extra={"port": int(port)})


def on_worker_process_shutdown(pid=None, **kwargs) -> None:
    # Live gauges of a dead pool child must not linger in the shared files.
    if _multiprocess_dir():
        mark_process_dead(pid or os.getpid())


def connect(app) -> None:
    """Wire the signals to this Celery app (called once from shieldx.celery)."""
    from celery import signals

    signals.task_success.connect(on_task_success, weak=False, dispatch_uid="shieldx-task-success")
    signals.task_failure.connect(on_task_failure, weak=False, dispatch_uid="shieldx-task-failure")
    signals.task_retry.connect(on_task_retry, weak=False, dispatch_uid="shieldx-task-retry")
    signals.worker_ready.connect(start_metrics_server, weak=False, dispatch_uid="shieldx-worker-metrics")
    signals.beat_init.connect(start_metrics_server, weak=False, dispatch_uid="shieldx-beat-metrics")
    signals.worker_process_shutdown.connect(on_worker_process_shutdown, weak=False, dispatch_uid="shieldx-worker-child-dead")


@lru_cache(maxsize=4)
def _broker_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=BROKER_TIMEOUT_SECONDS, socket_timeout=BROKER_TIMEOUT_SECONDS)


def _queue_names() -> list[str]:
    from django.conf import settings

    from shieldx.celery import app

    names = [app.conf.task_default_queue or "celery"]
    shadow_queue = getattr(settings, "SHADOW_CELERY_QUEUE", "")
    if shadow_queue and shadow_queue not in names:
        names.append(shadow_queue)
    for queue in app.conf.task_queues or ():
        name = getattr(queue, "name", queue)
        if name not in names:
            names.append(name)
    return names


def queue_lengths(broker_url: str, queues: list[str]) -> dict[str, int]:
    """Messages waiting per queue, all priority steps together."""
    client = _broker_client(broker_url)
    pipe = client.pipeline(transaction=False)
    for queue in queues:
        pipe.llen(queue)
        for step in _PRIORITY_STEPS:
            pipe.llen(f"{queue}{_PRIORITY_SEPARATOR}{step}")
    sizes = pipe.execute()
    per_queue = 1 + len(_PRIORITY_STEPS)
    return {queue: sum(sizes[i * per_queue : (i + 1) * per_queue]) for i, queue in enumerate(queues)}


class QueueLengths:
    """shieldx_celery_queue_length{queue}: the broker's backlog, read at scrape time."""

    def __init__(self, source: CollectorRegistry | None = None):
        self.source = source

    def collect(self):
        from django.conf import settings

        family = GaugeMetricFamily("shieldx_celery_queue_length", "Messages waiting in the Celery broker, per queue.", labels=["queue"])
        url = getattr(settings, "CELERY_BROKER_URL", "") or ""
        if url.startswith(("redis://", "rediss://", "unix://")) and not getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False):
            try:
                for queue, length in queue_lengths(url, _queue_names()).items():
                    family.add_metric([queue], length)
            except (redis.RedisError, OSError) as exc:
                # Absent, not zero: a backlog we cannot see is not an empty one.
                logger.warning("celery queue length unavailable", extra={"error": type(exc).__name__})
        yield family
