"""/metrics: Prometheus text, summed across gunicorn workers, plus scrape-time figures.

Ratios cannot be summed across processes, and some figures live outside any process
(a queue length in Redis, the last audit verification): apps register collectors that
compute those at scrape time with ``register_scrape_collector``.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector

from shieldx.celery_metrics import QueueLengths

# Each factory takes the registry of process metrics and returns a collector.
_scrape_collectors: list[Callable[[CollectorRegistry], object]] = [QueueLengths]


def register_scrape_collector(factory: Callable[[CollectorRegistry], object]) -> None:
    if factory not in _scrape_collectors:
        _scrape_collectors.append(factory)


def counter_totals(source: CollectorRegistry, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """The ``<name>_total`` samples of a counter, summed per label set."""
    totals: dict[tuple[tuple[str, str], ...], float] = {}
    for family in source.collect():
        if family.name == name:
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    key = tuple(sorted(sample.labels.items()))
                    totals[key] = totals.get(key, 0.0) + sample.value
    return totals


def _source_registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return registry
    return REGISTRY


def metrics_view(request: HttpRequest) -> HttpResponse:
    source = _source_registry()
    derived = CollectorRegistry(auto_describe=False)
    for factory in _scrape_collectors:
        derived.register(factory(source))
    body = generate_latest(source) + generate_latest(derived)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
