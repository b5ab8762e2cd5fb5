"""/metrics: Prometheus text, summed across gunicorn workers, plus derived gauges.

Ratios cannot be summed across processes, so the cache figures of CONTRACT §6 are
computed here, at scrape time, from the counters all workers share.
"""

from __future__ import annotations

import os

from django.http import HttpRequest, HttpResponse
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector


def _source_registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return registry
    return REGISTRY


class CacheFigures:
    """credits_cache_* gauges from the shared credits_cache_lookups counter."""

    def __init__(self, source: CollectorRegistry):
        self.source = source

    def collect(self):
        counts: dict[tuple[str, str], float] = {}
        for family in self.source.collect():
            if family.name == "credits_cache_lookups":
                for sample in family.samples:
                    if sample.name.endswith("_total"):
                        key = (sample.labels["tier"], sample.labels["result"])
                        counts[key] = counts.get(key, 0.0) + sample.value
        l1_hits, l2_hits, l3 = counts.get(("l1", "hit"), 0.0), counts.get(("l2", "hit"), 0.0), counts.get(("l3", "read"), 0.0)
        reads = l1_hits + l2_hits + l3
        for name, value, text in (
            ("credits_cache_l1_hits", l1_hits, "Balance reads served from the in-process LRU."),
            ("credits_cache_l1_misses", counts.get(("l1", "miss"), 0.0), "Balance reads the in-process LRU could not serve."),
            ("credits_cache_l2_hits", l2_hits, "Balance reads served from Redis."),
            ("credits_cache_l2_misses", counts.get(("l2", "miss"), 0.0), "Balance reads Redis could not serve."),
            ("credits_cache_l3_reads", l3, "Balance reads served from PostgreSQL."),
            ("credits_cache_hit_rate", (l1_hits + l2_hits) / reads if reads else 0.0, "Share of balance reads served by L1 or L2."),
        ):
            yield GaugeMetricFamily(name, text, value=value)


def metrics_view(request: HttpRequest) -> HttpResponse:
    source = _source_registry()
    derived = CollectorRegistry(auto_describe=False)
    derived.register(CacheFigures(source))
    body = generate_latest(source) + generate_latest(derived)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
