"""Prometheus metrics of shadow evaluation (CONTRACT §6), computed at scrape time from
the database.

Evaluations finish in Celery workers, which serve no /metrics; counters kept in their
memory would never reach a web pod's scrape. The evaluations table is the shared
truth, so every pod reports the same figures. Labels are result names and rule keys
(a hash of tenant and rule id): never a tenant id, a rule id, a sample, a pattern or a
request value, unless the operator asks for tenant labels (SHIELDX_METRICS_TENANT_LABELS).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import connection
from django.db.models import Count, Q, Sum
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from shadow.models import Evaluation, EvaluationStatus
from shadow.representations import rule_key

logger = logging.getLogger(__name__)
DURATION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)


def _results() -> CounterMetricFamily:
    by_status = dict(Evaluation.objects.order_by().values_list("status").annotate(n=Count("id")))
    cached = Evaluation.objects.filter(status=EvaluationStatus.COMPLETED, cached_from__isnull=False).count()
    family = CounterMetricFamily("shadow_evaluation", "Finished evaluations by result (cached: answered from an earlier identical one).", labels=["result"])
    family.add_metric(["completed"], by_status.get(EvaluationStatus.COMPLETED, 0) - cached)
    family.add_metric(["cached"], cached)
    family.add_metric(["failed"], by_status.get(EvaluationStatus.FAILED, 0))
    return family


def _durations() -> HistogramMetricFamily:
    # Computed evaluations only: a cache hit's zero would flatter the distribution.
    rows = Evaluation.objects.filter(status=EvaluationStatus.COMPLETED, cached_from__isnull=True, duration_seconds__isnull=False)
    figures = rows.aggregate(
        total=Count("id"),
        seconds=Sum("duration_seconds"),
        **{f"le{i}": Count("id", filter=Q(duration_seconds__lte=bound)) for i, bound in enumerate(DURATION_BUCKETS)},
    )
    buckets = [(str(bound), figures[f"le{i}"]) for i, bound in enumerate(DURATION_BUCKETS)] + [("+Inf", figures["total"])]
    return HistogramMetricFamily(
        "shadow_evaluation_duration_seconds", "Wall time of computed evaluations, from planning to result.",
        buckets=buckets, sum_value=figures["seconds"] or 0.0,
    )  # fmt: skip


def _f1_scores() -> GaugeMetricFamily:
    # Tenant and rule ids are client-chosen values: only on the operator's say-so (CONTRACT §1a).
    named = settings.SHIELDX_METRICS_TENANT_LABELS
    labels = ["rule_key", "tenant_id", "rule_id"] if named else ["rule_key"]
    family = GaugeMetricFamily("shadow_rule_f1_score", "F1 of each rule's latest completed evaluation, by rule_key (see the rule's API answer).", labels=labels)
    rows = (
        Evaluation.objects.filter(status=EvaluationStatus.COMPLETED, f1_score__isnull=False)
        .exclude(rule_ref="")
        .order_by("tenant_id", "rule_ref", "-finished_at", "-id")
    )
    if connection.features.can_distinct_on_fields:
        rows = rows.distinct("tenant_id", "rule_ref")
    seen: set[tuple[str, str]] = set()
    for tenant_id, rule_ref, f1 in rows.values_list("tenant_id", "rule_ref", "f1_score").iterator():
        if (tenant_id, rule_ref) not in seen:  # the first row of each rule is its latest
            seen.add((tenant_id, rule_ref))
            key = rule_key(tenant_id, rule_ref)
            family.add_metric([key, tenant_id, rule_ref] if named else [key], f1)
    return family


class EvaluationFigures:
    def __init__(self, source):
        pass

    def collect(self):
        try:
            families = [_results(), _durations(), _f1_scores()]
        except Exception:  # noqa: BLE001 - a scrape must not fail because the database is down
            logger.warning("shadow metrics unavailable", exc_info=True)
            return
        yield from families
