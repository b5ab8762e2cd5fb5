"""Reads of the shadow app. Lookups by public id return the owner's tenant id so the
view can apply ``resolve_tenant`` (404 for another tenant's) before showing anything."""

from __future__ import annotations

import hashlib
import itertools
from collections import Counter
from collections.abc import Iterator
from typing import Any

from django.db.models import Q

from shadow import representations
from shadow.compiled import compiled_rule
from shadow.engine import EvaluationResult, SampleOutcome, compare, crs_catalog, mcnemar_p_value, winner
from shadow.engine.explain import explain, rule_messages
from shadow.exceptions import DatasetNotFound, EvaluationNotCompleted, EvaluationNotFound, RuleNotFound
from shadow.models import Dataset, Evaluation, EvaluationBatch, EvaluationStatus, Rule, Sample
from shadow.selection import canonical
from shieldx import cursors

OUTCOME_FIELDS = {"tp": "true_positives", "fp": "false_positives", "tn": "true_negatives", "fn": "false_negatives"}
COMPARE_CHUNK = 1000
TOP_FIRED = 20


# --- the bundled CRS -----------------------------------------------------------------------


def bundled_crs() -> dict[str, Any]:
    """``GET /shadow/crs``: what ``rule_config.crs`` can name (CONTRACT §4a)."""
    return crs_catalog()


# --- datasets --------------------------------------------------------------------------


def dataset_tenant(*, dataset_id: str) -> str:
    tenant_id = Dataset.objects.filter(public_id=dataset_id).values_list("tenant_id", flat=True).first()
    if tenant_id is None:
        raise DatasetNotFound()
    return tenant_id


def dataset_detail(*, tenant_id: str, dataset_id: str) -> dict[str, Any]:
    row = Dataset.objects.filter(tenant_id=tenant_id, public_id=dataset_id).first()
    if row is None:
        raise DatasetNotFound()
    return representations.dataset(row)


def datasets(*, tenant_id: str) -> dict[str, Any]:
    return {"results": [representations.dataset(row) for row in Dataset.objects.filter(tenant_id=tenant_id).order_by("name")]}


# --- evaluations -----------------------------------------------------------------------


def evaluation(*, eval_id: str) -> Evaluation:
    row = Evaluation.objects.select_related("dataset", "rule_version", "cached_from").filter(public_id=eval_id).first()
    if row is None:
        raise EvaluationNotFound()
    return row


def _stored_batches(ev: Evaluation):
    # A cached evaluation's outcomes live with the evaluation that computed them.
    return EvaluationBatch.objects.filter(evaluation_id=ev.cached_from_id or ev.pk).order_by("index")


def evaluation_samples(*, ev: Evaluation, outcome: str | None, limit: int, cursor: str | None) -> dict[str, Any]:
    """The samples behind a count, in dataset order, a page at a time."""
    if ev.status != EvaluationStatus.COMPLETED:
        raise EvaluationNotCompleted(f"{ev.public_id} is {ev.status}; its samples are listed once it completes.")
    start_index, start_offset = cursors.decode(cursor, "b", 2) if cursor else (0, 0)
    batches = _stored_batches(ev).filter(index__gte=start_index)
    if outcome == "error":
        batches = batches.filter(result__errors__gt=0)
    elif outcome:
        batches = batches.filter(**{f"{OUTCOME_FIELDS[outcome]}__gt": 0})
    page: list[tuple[int, dict[str, Any]]] = []
    next_cursor = None
    for index, positions, result in batches.values_list("index", "positions", "result").iterator(chunk_size=20):
        matching = [(p, o) for p, o in zip(positions, result["outcomes"], strict=True) if outcome is None or o["outcome"] == outcome]
        first = start_offset if index == start_index else 0
        for offset in range(first, len(matching)):
            if len(page) == limit:
                next_cursor = cursors.encode("b", index, offset)
                break
            page.append(matching[offset])
        if next_cursor:
            break
    rows = Sample.objects.filter(dataset_id=ev.dataset_id, position__in=[p for p, _ in page])
    by_position = {r[0]: r[1:] for r in rows.values_list("position", "sample_id", "label", "category", "data")}
    results = []
    for position, item in page:
        sample_id, label, category, data = by_position[position]
        results.append(representations.sample(data, sample_id=sample_id, label=label, category=category, outcome=item))
    return {"results": results, "next_cursor": next_cursor}


def _outcomes(ev: Evaluation) -> Iterator[dict[str, Any]]:
    for result in _stored_batches(ev).values_list("result", flat=True).iterator(chunk_size=50):
        yield from result["outcomes"]


def comparison(*, a: Evaluation, b: Evaluation) -> dict[str, Any]:
    """A/B figures of two completed evaluations of the same selection, streamed in chunks
    through the engine's ``compare`` so memory stays flat on large datasets."""
    a_only = b_only = 0
    fired_a: Counter[str] = Counter()
    fired_b: Counter[str] = Counter()
    pairs = zip(_outcomes(a), _outcomes(b), strict=True)
    while chunk := list(itertools.islice(pairs, COMPARE_CHUNK)):
        left = EvaluationResult(outcomes=[SampleOutcome.from_dict(x) for x, _ in chunk])
        right = EvaluationResult(outcomes=[SampleOutcome.from_dict(y) for _, y in chunk])
        part = compare(left, right, top=len(chunk) * 1000)
        a_only += part.a_only_correct
        b_only += part.b_only_correct
        fired_a.update(part.fired_only_in_a)
        fired_b.update(part.fired_only_in_b)
    p_value = mcnemar_p_value(a_only, b_only)
    correct_a = a.result["true_positives"] + a.result["true_negatives"]
    correct_b = b.result["true_positives"] + b.result["true_negatives"]
    return {
        "a": representations.evaluation(a),
        "b": representations.evaluation(b),
        "a_only_correct": a_only,
        "b_only_correct": b_only,
        "mcnemar_p_value": p_value,
        "winner": winner(correct_a, correct_b, p_value),
        # Detections (SecRule ids, patterns) by how many samples they fire on under one
        # rule and not the other: with A as the baseline, B stops firing the first and
        # newly fires the second.
        "fired_only_in_a": dict(fired_a.most_common(TOP_FIRED)),
        "fired_only_in_b": dict(fired_b.most_common(TOP_FIRED)),
    }


# --- rules -----------------------------------------------------------------------------


def rule_detail(*, tenant_id: str, rule_id: str) -> dict[str, Any]:
    row = Rule.objects.select_related("active_version").filter(tenant_id=tenant_id, rule_id=rule_id).first()
    if row is None:
        raise RuleNotFound()
    versions = list(row.versions.order_by("version"))
    deployments = list(row.deployments.select_related("evaluation").order_by("id"))
    return representations.rule(row, versions, deployments)


def _active(tenant_id: str):
    return Rule.objects.filter(tenant_id=tenant_id, active_version__isnull=False).order_by("rule_id")


def _etag(keys: list[list[Any]]) -> str:
    # Versions are immutable, so (rule, version, config, activation time) fixes the body.
    return '"' + hashlib.sha256(canonical(keys)).hexdigest()[:40] + '"'


def active_rules_etag(*, tenant_id: str) -> str:
    """Cheap: never loads a rule_config, so a gateway polling with If-None-Match costs one small query."""
    rows = _active(tenant_id).values_list("rule_id", "active_version__version", "active_version__config_hash", "activated_at")
    return _etag([[r, v, h, representations.rfc3339(t)] for r, v, h, t in rows])


def active_rules(*, tenant_id: str) -> tuple[dict[str, Any], str]:
    rules = []
    keys = []
    for row in _active(tenant_id).select_related("active_version"):
        version = row.active_version
        activated = representations.rfc3339(row.activated_at)
        keys.append([row.rule_id, version.version, version.config_hash, activated])
        rules.append({
            "rule_id": row.rule_id,
            "name": version.name,
            "version": version.version,
            "rule_type": version.rule_type,
            "rule_config": version.rule_config,
            "config_hash": version.config_hash,
            "activated_at": activated,
        })  # fmt: skip
    return {"tenant_id": tenant_id, "rules": rules}, _etag(keys)


# --- operator console reads (issue 14) ---------------------------------------------------
# Read-only, for the console's pages. Evaluations are shown through
# ``representations.evaluation``, so a page's figures are the API's figures.


def evaluations_recent(*, limit: int = 20, active: bool = False) -> list[dict[str, Any]]:
    """The newest evaluations (every tenant), or only those still pending or running."""
    rows = Evaluation.objects.select_related("dataset", "rule_version", "cached_from").defer("rule_config").order_by("-id")
    if active:
        rows = rows.filter(status__in=(EvaluationStatus.PENDING, EvaluationStatus.RUNNING))
    return [representations.evaluation(row) for row in rows[:limit]]


def evaluation_fired_top(*, ev: Evaluation, limit: int = TOP_FIRED) -> list[dict[str, Any]]:
    """The detections (SecRule ids, patterns, regex targets) that fired most, each with
    how many attack samples (true positives) and benign samples (false positives) it
    fired on; most samples first. Batches that flagged nothing are never read."""
    on_attacks: Counter[str] = Counter()
    on_benign: Counter[str] = Counter()
    batches = _stored_batches(ev).filter(Q(true_positives__gt=0) | Q(false_positives__gt=0))
    for result in batches.values_list("result", flat=True).iterator(chunk_size=50):
        for item in result["outcomes"]:
            if item["outcome"] == "tp":
                on_attacks.update(set(item["fired"]))
            elif item["outcome"] == "fp":
                on_benign.update(set(item["fired"]))
    total = on_attacks + on_benign
    return [
        {"detection": name, "samples": n, "true_positives": on_attacks[name], "false_positives": on_benign[name]}
        for name, n in sorted(total.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    ]


def _compiled(ev: Evaluation):
    return compiled_rule(ev.config_hash, lambda: Evaluation.objects.values_list("rule_config", flat=True).get(pk=ev.pk))


def evaluation_highlights(*, ev: Evaluation, samples: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """For each sample (as ``evaluation_samples`` lists them), where the evaluated rule
    matched: excerpts of its targets with character spans. Empty for SecRule programs,
    whose detections are named by ``evaluation_rule_messages`` instead."""
    rule = _compiled(ev)
    return [
        [
            {
                "target": e.target, "text": e.text, "as_seen": e.as_seen, "transforms": list(e.transforms),
                "spans": [{"start": s.start, "end": s.end, "label": s.label} for s in e.spans],
            }
            for e in explain(rule, sample)
        ]
        for sample in samples
    ]  # fmt: skip


def evaluation_rule_messages(*, ev: Evaluation) -> dict[str, str]:
    """``{fired id: SecRule msg}`` of the evaluated rule (empty for other rule types)."""
    return rule_messages(_compiled(ev))


def comparison_refusal(*, a: Evaluation, b: Evaluation) -> str | None:
    """Why two evaluations cannot be compared sample by sample, or None when they can."""
    for ev in (a, b):
        if ev.status != EvaluationStatus.COMPLETED:
            return f"{ev.public_id} is {ev.status}; only completed evaluations can be compared."
    same = (
        a.tenant_id == b.tenant_id
        and a.dataset_id == b.dataset_id
        and a.population == b.population
        and a.selected == b.selected
        and (a.sample_size, a.seed, sorted(a.target_categories)) == (b.sample_size, b.seed, sorted(b.target_categories))
    )
    if not same:
        return "The two evaluations did not judge the same samples (dataset, version or selection differ)."
    return None


def rule_evaluations(*, tenant_id: str, rule_id: str, limit: int = 200) -> list[dict[str, Any]]:
    """Evaluations of the rule's stored versions, newest first."""
    rows = (
        Evaluation.objects.filter(tenant_id=tenant_id, rule_version__rule__tenant_id=tenant_id, rule_version__rule__rule_id=rule_id)
        .select_related("dataset", "rule_version", "cached_from")
        .defer("rule_config")
        .order_by("-id")
    )
    return [representations.evaluation(row) for row in rows[:limit]]
