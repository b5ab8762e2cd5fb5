"""Every write of the shadow app: datasets and their samples, rule versions,
deployments, and the creation of evaluations (their execution is ``shadow.runner``)."""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from shadow import representations, runner, tasks
from shadow.compiled import check_rule
from shadow.exceptions import (
    DatasetNameTaken,
    DatasetNotFound,
    EmptySelection,
    EvaluationFinished,
    EvaluationNotFound,
    GateFailed,
    InvalidSamples,
    NothingToRollBack,
    RuleNotFound,
    RuleVersionNotFound,
)
from shadow.models import (
    Dataset,
    Deployment,
    DeploymentAction,
    Evaluation,
    EvaluationStatus,
    Rule,
    RuleVersion,
    Sample,
)
from shadow.samples import CleanSample, SampleError
from shadow.selection import Selection, cache_key, eligible_count
from shieldx.errors import InvalidRequest

logger = logging.getLogger(__name__)

DATASET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
RULE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")
# "/shadow/rules/active" is the gateway's route: a rule of that name could never be read.
RESERVED_RULE_IDS = frozenset({"active"})
DEFAULT_DATASET = "default"
FLUSH_ROWS = 2000
MAX_REPORTED_ERRORS = 50
ANALYZE_AFTER_ROWS = 5000
SAMPLE_COLUMNS = ("dataset_id", "position", "sample_id", "label", "category", "data")


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


# --- datasets and samples --------------------------------------------------------------


def dataset_create(*, tenant_id: str, name: str) -> dict[str, Any]:
    if not DATASET_NAME.match(name):
        raise InvalidRequest("name must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$", details={"field": "name"})
    try:
        with transaction.atomic():
            row = Dataset.objects.create(public_id=_new_id("ds"), tenant_id=tenant_id, name=name)
    except IntegrityError:
        raise DatasetNameTaken(f"Dataset {name!r} already exists.", details={"field": "name"}) from None
    return representations.dataset(row)


def dataset_get_or_create(*, tenant_id: str, name: str) -> str:
    """The public id of the tenant's dataset of that name, created when missing."""
    found = Dataset.objects.filter(tenant_id=tenant_id, name=name).values_list("public_id", flat=True).first()
    if found:
        return found
    try:
        return dataset_create(tenant_id=tenant_id, name=name)["dataset_id"]
    except DatasetNameTaken:  # created by someone else meanwhile
        return Dataset.objects.get(tenant_id=tenant_id, name=name).public_id


Records = Iterable[tuple[int, CleanSample | SampleError]]


def _write_samples(rows: list[tuple]) -> None:
    if not rows:
        return
    if connection.vendor == "postgresql":
        # COPY is ~5x faster than INSERT for 100,000 samples and runs in the caller's transaction.
        with connection.cursor() as cursor, cursor.copy(f"COPY shadow_sample ({', '.join(SAMPLE_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        Sample.objects.bulk_create([Sample(**dict(zip(SAMPLE_COLUMNS, row, strict=True))) for row in rows], batch_size=500)


def _analyze_samples() -> None:
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE shadow_sample")


def samples_import(*, tenant_id: str, dataset_id: str, records: Records, unit: str = "line") -> dict[str, Any]:
    """Append samples to a dataset, all or nothing.

    Records stream through: valid ones are written in chunks inside one transaction,
    so memory stays flat; the first bad one stops the writing, the rest are still
    checked so the error names every bad line, and the transaction is rolled back.
    Imports into one dataset are serialised by its row lock (positions are contiguous).
    """
    with transaction.atomic():
        dataset = Dataset.objects.select_for_update().filter(tenant_id=tenant_id, public_id=dataset_id).first()
        if dataset is None:
            raise DatasetNotFound()
        start = position = dataset.sample_count
        counts: dict[str, dict[str, int]] = {label: dict(per) for label, per in (dataset.counts or {}).items()}
        pending: list[tuple] = []
        errors: list[dict[str, Any]] = []
        invalid: list[int] = []
        for number, item in records:
            if isinstance(item, SampleError):
                invalid.append(number)
                if len(errors) < MAX_REPORTED_ERRORS:
                    errors.append({unit: number, "error": str(item)})
                pending.clear()
                continue
            if invalid:
                continue  # keep checking, stop writing
            sample_id = item.sample_id or f"{dataset.public_id}:{position}"
            pending.append((dataset.pk, position, sample_id, item.label, item.category, item.data))
            per_label = counts.setdefault(item.label, {})
            per_label[item.category] = per_label.get(item.category, 0) + 1
            position += 1
            if len(pending) >= FLUSH_ROWS:
                _write_samples(pending)
                pending.clear()
        if invalid:
            shown = ", ".join(str(n) for n in invalid[:20]) + (", …" if len(invalid) > 20 else "")
            raise InvalidSamples(
                f"{len(invalid)} {unit}(s) invalid ({unit} {shown}); nothing was imported.",
                details={"invalid_count": len(invalid), f"{unit}s": invalid[:1000], "errors": errors},
            )
        if position == start:
            raise InvalidSamples("The body holds no samples; nothing was imported.")
        _write_samples(pending)
        Dataset.objects.filter(pk=dataset.pk).update(sample_count=position, version=F("version") + 1, counts=counts, updated_at=timezone.now())
        dataset.refresh_from_db()
        if position - start >= ANALYZE_AFTER_ROWS and connection.vendor == "postgresql":
            # Fresh statistics at once: until autovacuum gets to it, the planner believes
            # the table is as small as before the load and scans a whole dataset per batch.
            transaction.on_commit(_analyze_samples, robust=True)
    logger.info("samples imported", extra={"dataset_id": dataset.public_id, "imported": position - start})
    return {"imported": position - start, **representations.dataset(dataset)}


def dataset_for(*, tenant_id: str, ref: str | None) -> Dataset:
    """A tenant's dataset by public id or name; the one named "default" when not given."""
    ref = ref or DEFAULT_DATASET
    rows = Dataset.objects.filter(tenant_id=tenant_id)
    found = rows.filter(public_id=ref).first() if ref.startswith("ds_") else None
    found = found or rows.filter(name=ref).first()
    if found is None:
        raise DatasetNotFound(f"Dataset {ref!r} not found.", details={"field": "dataset"})
    return found


# --- rules -----------------------------------------------------------------------------


def _check_rule_id(rule_id: str) -> None:
    if not RULE_ID.match(rule_id) or rule_id in RESERVED_RULE_IDS:
        raise InvalidRequest("rule_id must match ^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$ and not be 'active'.", details={"field": "rule_id"})


def rule_version_create(*, tenant_id: str, rule_id: str, name: str, rule_type: str, rule_config: dict[str, Any], actor: str) -> dict[str, Any]:
    """A new version (1, 2, …) of the rule; the engine must compile it first."""
    _check_rule_id(rule_id)
    digest = check_rule(rule_type, rule_config)  # slow for big SecRule sets: before any lock
    with transaction.atomic():
        rule, _ = Rule.objects.get_or_create(tenant_id=tenant_id, rule_id=rule_id)
        rule = Rule.objects.select_for_update().get(pk=rule.pk)
        rule.latest_version += 1
        version = RuleVersion.objects.create(
            rule=rule, version=rule.latest_version, name=name, rule_type=rule_type, rule_config=rule_config, config_hash=digest, created_by=actor
        )
        Rule.objects.filter(pk=rule.pk).update(latest_version=rule.latest_version)
    return representations.created_version(rule, version)


def _locked_rule(tenant_id: str, rule_id: str) -> Rule:
    rule = Rule.objects.select_for_update().filter(tenant_id=tenant_id, rule_id=rule_id).first()
    if rule is None:
        raise RuleNotFound()
    return rule


def _deployed_stack(rule: Rule) -> list[int]:
    """Versions deployed and not rolled back, oldest first: a deploy pushes, a rollback pops."""
    stack: list[int] = []
    for action, version in rule.deployments.order_by("id").values_list("action", "version"):
        if action == DeploymentAction.DEPLOY:
            stack.append(version)
        elif stack:
            stack.pop()
    return stack


@dataclass(frozen=True)
class Gate:
    min_f1: float
    max_false_positive_rate: float
    force: bool


def _gate_failures(ev: Evaluation, version: RuleVersion, gate: Gate) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(conditions force cannot override, metric conditions force may override)."""
    if ev.rule_version_id != version.pk:
        evaluated = ev.rule_version.version if ev.rule_version_id else None
        return [{
            "condition": "evaluation_of_version",
            "message": f"{ev.public_id} did not evaluate version {version.version} of rule {version.rule.rule_id!r}.",
            "evaluated": {"rule_id": ev.rule_ref or None, "version": evaluated, "stored_rule": ev.rule_version_id is not None},
        }], []
    if ev.status != EvaluationStatus.COMPLETED:
        return [{"condition": "evaluation_completed", "message": f"{ev.public_id} is {ev.status}.", "status": ev.status}], []
    f1, fpr = ev.result["f1_score"], ev.result["false_positive_rate"]
    metric: list[dict[str, Any]] = []
    if f1 < gate.min_f1:
        metric.append({"condition": "min_f1", "message": f"F1 {f1} is below {gate.min_f1}.", "required": gate.min_f1, "actual": f1})
    if fpr > gate.max_false_positive_rate:
        metric.append({
            "condition": "max_false_positive_rate",
            "message": f"False-positive rate {fpr} is above {gate.max_false_positive_rate}.",
            "required": gate.max_false_positive_rate,
            "actual": fpr,
        })
    return [], metric


def rule_deploy(*, tenant_id: str, rule_id: str, version: int, eval_id: str, gate: Gate, actor: str) -> dict[str, Any]:
    """Make ``version`` active if its evaluation passes the gate.

    ``force`` overrides the metric thresholds only (and is recorded): the evaluation
    must still be a completed evaluation of exactly this version, so whoever forces a
    deployment does it knowing the figures, which the history keeps.
    """
    with transaction.atomic():
        rule = _locked_rule(tenant_id, rule_id)
        target = rule.versions.filter(version=version).first()
        if target is None:
            raise RuleVersionNotFound(f"Rule {rule_id!r} has no version {version}.", details={"field": "version"})
        ev = Evaluation.objects.select_related("rule_version").filter(tenant_id=tenant_id, public_id=eval_id).first()
        if ev is None:
            raise EvaluationNotFound(details={"field": "eval_id"})
        hard, metric = _gate_failures(ev, target, gate)
        if hard or (metric and not gate.force):
            failed = hard + metric
            raise GateFailed(
                "The deploy gate is not met: " + " ".join(f["message"] for f in failed),
                details={"failed": failed, "eval_id": eval_id, "version": version, "force_allowed": not hard},
            )
        if rule.active_version_id != target.pk:
            previous = rule.active_version.version if rule.active_version_id else None
            Deployment.objects.create(
                rule=rule, action=DeploymentAction.DEPLOY, version=version, previous_version=previous, evaluation=ev,
                forced=bool(metric), actor=actor,
                gate={
                    "min_f1": gate.min_f1, "max_false_positive_rate": gate.max_false_positive_rate,
                    "f1_score": ev.result["f1_score"], "false_positive_rate": ev.result["false_positive_rate"],
                    "overridden": [f["condition"] for f in metric],
                },
            )  # fmt: skip
            Rule.objects.filter(pk=rule.pk).update(active_version=target, activated_at=timezone.now())
    from shadow.selectors import rule_detail  # reads after the write committed

    return rule_detail(tenant_id=tenant_id, rule_id=rule_id)


def rule_rollback(*, tenant_id: str, rule_id: str, actor: str) -> dict[str, Any]:
    """The version deployed before the active one becomes active again."""
    with transaction.atomic():
        rule = _locked_rule(tenant_id, rule_id)
        stack = _deployed_stack(rule)
        if len(stack) < 2:
            raise NothingToRollBack(details={"active_version": stack[-1] if stack else None})
        current, target = stack[-1], stack[-2]
        Deployment.objects.create(rule=rule, action=DeploymentAction.ROLLBACK, version=target, previous_version=current, actor=actor)
        Rule.objects.filter(pk=rule.pk).update(active_version=rule.versions.get(version=target), activated_at=timezone.now())
    from shadow.selectors import rule_detail

    return rule_detail(tenant_id=tenant_id, rule_id=rule_id)


# --- evaluations -----------------------------------------------------------------------


@dataclass(frozen=True)
class RuleSpec:
    """What to evaluate: a stored version, or a rule given inline."""

    rule_type: str
    rule_config: dict[str, Any]
    config_hash: str
    rule_ref: str = ""
    name: str = ""
    rule_version: RuleVersion | None = None


def rule_spec(
    *, tenant_id: str, rule_id: str | None = None, version: int | None = None, name: str | None = None,
    rule_type: str | None = None, rule_config: dict[str, Any] | None = None,
) -> RuleSpec:  # fmt: skip
    if version is None:
        digest = check_rule(rule_type, rule_config)
        return RuleSpec(rule_type, rule_config, digest, rule_id or "", name or "")
    stored = RuleVersion.objects.select_related("rule").filter(rule__tenant_id=tenant_id, rule__rule_id=rule_id, version=version).first()
    if stored is None:
        raise RuleVersionNotFound(f"Rule {rule_id!r} version {version} not found.", details={"field": "version"})
    if (rule_type is not None and rule_type != stored.rule_type) or (rule_config is not None and rule_config != stored.rule_config):
        raise InvalidRequest(
            f"rule_type/rule_config differ from version {version} of rule {rule_id!r}; omit them to evaluate the stored version.",
            details={"field": "rule_config"},
        )
    return RuleSpec(stored.rule_type, stored.rule_config, stored.config_hash, rule_id, name or stored.name, stored)


def selection_for(*, dataset: Dataset, sample_size: int | None, seed: int | None, target_categories: Iterable[str]) -> Selection:
    targets = list(target_categories)
    eligible = eligible_count(dataset.counts or {}, targets)
    if eligible == 0:
        raise EmptySelection(
            f"Dataset {dataset.name!r} has no samples" + (" in the target categories." if targets else "."),
            details={"field": "target_categories" if targets else "dataset"},
        )
    return Selection.make(eligible=eligible, sample_size=sample_size, seed=seed, target_categories=targets)


def evaluation_create(*, tenant_id: str, spec: RuleSpec, dataset: Dataset, selection: Selection) -> Evaluation:
    """A new evaluation; completed at once from an earlier one with the same rule config,
    dataset version and selection, else queued for the workers after commit."""
    key = cache_key(config_hash=spec.config_hash, dataset_id=dataset.pk, dataset_version=dataset.version, selection=selection)
    with transaction.atomic():
        cached = (
            Evaluation.objects.filter(tenant_id=tenant_id, cache_key=key, status=EvaluationStatus.COMPLETED)
            .only("id", "cached_from_id", "result", "f1_score", "total_batches", "started_at")
            .order_by("-id")
            .first()
        )
        now = timezone.now()
        ev = Evaluation.objects.create(
            public_id=_new_id("eval"),
            tenant_id=tenant_id,
            dataset=dataset,
            dataset_version=dataset.version,
            population=dataset.sample_count,
            rule_version=spec.rule_version,
            rule_ref=spec.rule_ref,
            rule_name=spec.name,
            rule_type=spec.rule_type,
            rule_config=spec.rule_config,
            config_hash=spec.config_hash,
            sample_size=selection.sample_size,
            seed=selection.seed,
            target_categories=list(selection.target_categories),
            eligible=selection.eligible,
            selected=selection.size,
            cache_key=key,
            **(
                {
                    # The outcomes stay with the evaluation that computed them.
                    "cached_from_id": cached.cached_from_id or cached.pk,
                    "status": EvaluationStatus.COMPLETED,
                    "result": cached.result,
                    "f1_score": cached.f1_score,
                    "total_batches": cached.total_batches,
                    "done_batches": cached.total_batches,
                    "started_at": now,
                    "finished_at": now,
                }
                if cached
                else {}
            ),
        )
        if not cached:
            transaction.on_commit(lambda: dispatch(ev.pk))
    return ev


def evaluation_start(
    *, tenant_id: str, rule: Mapping[str, Any], dataset: str | None, sample_size: int | None, seed: int | None,
    target_categories: Iterable[str],
) -> Evaluation:  # fmt: skip
    """Start one evaluation: the rule (inline, or ``rule_id`` + ``version`` of a stored
    one), the dataset (name or id; ``default`` when None) and the seeded selection,
    then a new evaluation — completed at once from the cache, or queued on commit."""
    spec = _spec_of(tenant_id, rule)
    chosen = dataset_for(tenant_id=tenant_id, ref=dataset)
    selection = selection_for(dataset=chosen, sample_size=sample_size, seed=seed, target_categories=target_categories)
    return evaluation_create(tenant_id=tenant_id, spec=spec, dataset=chosen, selection=selection)


def comparison_start(
    *, tenant_id: str, rule_a: Mapping[str, Any], rule_b: Mapping[str, Any], dataset: str | None, sample_size: int | None,
    seed: int | None, target_categories: Iterable[str],
) -> tuple[Evaluation, Evaluation]:  # fmt: skip
    """Start both evaluations of an A/B comparison on one selection."""
    specs = [_spec_of(tenant_id, rule) for rule in (rule_a, rule_b)]
    chosen = dataset_for(tenant_id=tenant_id, ref=dataset)
    # One selection (one drawn seed) for both: the same samples, or the test means nothing.
    selection = selection_for(dataset=chosen, sample_size=sample_size, seed=seed, target_categories=target_categories)
    a, b = (evaluation_create(tenant_id=tenant_id, spec=spec, dataset=chosen, selection=selection) for spec in specs)
    return a, b


def _spec_of(tenant_id: str, rule: Mapping[str, Any]) -> RuleSpec:
    return rule_spec(
        tenant_id=tenant_id, rule_id=rule.get("rule_id"), version=rule.get("version"), name=rule.get("name"),
        rule_type=rule.get("rule_type"), rule_config=rule.get("rule_config"),
    )  # fmt: skip


def dispatch(evaluation_id: int) -> None:
    """Queue an evaluation; if it cannot be queued it fails visibly instead of waiting forever."""
    try:
        tasks.start_evaluation.apply_async(args=[evaluation_id], queue=settings.SHADOW_CELERY_QUEUE)
    except Exception:  # noqa: BLE001 - broker down, or (in-process mode) the evaluation itself raised
        logger.exception("evaluation could not run", extra={"evaluation": evaluation_id})
        runner.fail(evaluation_id, "The evaluation could not be queued or run; try again.")


def evaluation_wait(*, evaluation: Evaluation, seconds: float, poll: Callable[[float], None] = time.sleep) -> Evaluation:
    """Poll until the evaluation is completed or failed, or ``seconds`` have passed."""
    deadline = time.monotonic() + seconds
    delay = 0.02
    while evaluation.status not in (EvaluationStatus.COMPLETED, EvaluationStatus.FAILED):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        poll(min(delay, left))
        delay = min(delay * 2, 0.5)
        evaluation.refresh_from_db()
    return evaluation


# --- cancelling an evaluation (operator console, issue 14) ------------------------------

CANCELLED = "evaluation_cancelled"


def evaluation_cancel(*, eval_id: str) -> Evaluation:
    """Stop a pending or running evaluation: it ends ``failed`` with code
    ``evaluation_cancelled``. A batch checks the evaluation's status before judging, so
    the batches not started yet end at once; one already judging finishes and is ignored.
    The status change is a conditional UPDATE, so a cancel racing the last batch's
    finalize leaves exactly one of "completed" and "cancelled"."""
    ev = Evaluation.objects.filter(public_id=eval_id).first()
    if ev is None:
        raise EvaluationNotFound()
    updated = Evaluation.objects.filter(pk=ev.pk, status__in=(EvaluationStatus.PENDING, EvaluationStatus.RUNNING)).update(
        status=EvaluationStatus.FAILED,
        error={"code": CANCELLED, "message": "Cancelled by an operator before it finished."},
        finished_at=timezone.now(),
    )
    if not updated:
        ev.refresh_from_db()
        raise EvaluationFinished(f"{eval_id} is already {ev.status}.", details={"status": ev.status})
    logger.info("evaluation cancelled", extra={"eval_id": eval_id})
    ev.refresh_from_db()
    return ev
