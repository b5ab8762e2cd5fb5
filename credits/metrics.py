"""Prometheus metrics of the credits app (CONTRACT §6)."""

from __future__ import annotations

import logging

from django.core.cache import cache
from prometheus_client import Counter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from shieldx.metrics import counter_totals

logger = logging.getLogger(__name__)
operations = Counter("credits_operations", "Credits operations by outcome.", ["op", "result"])
AUDIT_STATUS_KEY = "credits:audit:last_verification"


def count(op: str, result: str) -> None:
    operations.labels(op=op, result=result).inc()


class CacheFigures:
    """credits_cache_* gauges from the credits_cache_lookups counter all workers share."""

    def __init__(self, source):
        self.source = source

    def collect(self):
        totals = {dict(k).get("tier", "") + ":" + dict(k).get("result", ""): v for k, v in counter_totals(self.source, "credits_cache_lookups").items()}
        l1_hits, l2_hits, l3 = totals.get("l1:hit", 0.0), totals.get("l2:hit", 0.0), totals.get("l3:read", 0.0)
        reads = l1_hits + l2_hits + l3
        for name, value, text in (
            ("credits_cache_l1_hits", l1_hits, "Balance reads served from the in-process LRU."),
            ("credits_cache_l1_misses", totals.get("l1:miss", 0.0), "Balance reads the in-process LRU could not serve."),
            ("credits_cache_l2_hits", l2_hits, "Balance reads served from Redis."),
            ("credits_cache_l2_misses", totals.get("l2:miss", 0.0), "Balance reads Redis could not serve."),
            ("credits_cache_l3_reads", l3, "Balance reads served from PostgreSQL."),
            ("credits_cache_hit_rate", (l1_hits + l2_hits) / reads if reads else 0.0, "Share of balance reads served by L1 or L2."),
        ):
            yield GaugeMetricFamily(name, text, value=value)


class AuditFigures:
    """The last scheduled audit verification, kept in the shared cache by the beat task,
    so whichever pod is scraped reports it."""

    def __init__(self, source):
        pass

    def collect(self):
        try:
            status = cache.get(AUDIT_STATUS_KEY)
        except Exception:  # noqa: BLE001 - a scrape must not fail because Redis is down
            status = None
        if status is None:
            return
        yield GaugeMetricFamily("credits_audit_chain_broken_tenants", "Tenants whose audit chain failed the last verification.", value=status["broken"])
        yield GaugeMetricFamily("credits_audit_chain_last_verified_timestamp_seconds", "When the chains were last verified.", value=status["checked_at"])
        runs = CounterMetricFamily("credits_audit_chain_verifications", "Scheduled verifications by result.", labels=["result"])
        for result in ("valid", "broken"):
            runs.add_metric([result], status.get(f"runs_{result}", 0))
        yield runs


def record_audit_verification(*, broken: int, checked_at: float) -> None:
    status = cache.get(AUDIT_STATUS_KEY) or {}
    result = "broken" if broken else "valid"
    status.update({"broken": broken, "checked_at": checked_at, f"runs_{result}": status.get(f"runs_{result}", 0) + 1})
    cache.set(AUDIT_STATUS_KEY, status, timeout=None)
