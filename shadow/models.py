"""Datasets of labeled samples, versioned rules with their deployment history, and
evaluations split into Celery batches.

Samples are only ever appended (positions 0, 1, … under the dataset's row lock), so
"the dataset at version V" is simply the first ``sample_count`` positions it had then:
an evaluation records that count and never sees a later import.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

LABELS = ("attack", "benign")


class Dataset(models.Model):
    public_id = models.CharField(max_length=40, unique=True, editable=False)
    # No index of its own on any foreign key led by a composite unique index below: with
    # stale statistics after a bulk load the planner preferred the lone FK index and
    # filtered 100,000 rows per batch instead of using (dataset, position).
    tenant = models.ForeignKey("shieldx.Tenant", on_delete=models.PROTECT, related_name="shadow_datasets", db_index=False)
    name = models.CharField(max_length=100)
    # Bumped by every import, so cached evaluations of an older version are never reused.
    version = models.PositiveIntegerField(default=0)
    sample_count = models.PositiveIntegerField(default=0)
    # {"attack": {"sqli": 12, …}, "benign": {"benign": 30}}: kept with each import so
    # listing a dataset never scans its samples.
    counts = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="shadow_dataset_tenant_name")]
        ordering = ["tenant_id", "name"]

    def __str__(self) -> str:
        return f"{self.tenant_id}/{self.name}"


class Sample(models.Model):
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="samples", db_index=False)
    position = models.PositiveIntegerField()
    # The sample's own "id" when it had one, else "<dataset_id>:<position>".
    sample_id = models.CharField(max_length=200)
    label = models.CharField(max_length=6)
    # Effective category, as the engine counts it: benign samples without one are
    # "benign", attacks without one "uncategorized".
    category = models.CharField(max_length=64)
    # {"method", "path", "query", "headers", "body"} as compact JSON text: JSON escapes
    # a NUL as \u0000, which PostgreSQL text and jsonb columns could not hold raw.
    data = models.TextField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["dataset", "position"], name="shadow_sample_dataset_position"),
            models.CheckConstraint(condition=Q(label__in=LABELS), name="shadow_sample_label"),
        ]

    def __str__(self) -> str:
        return self.sample_id


class Rule(models.Model):
    tenant = models.ForeignKey("shieldx.Tenant", on_delete=models.PROTECT, related_name="shadow_rules", db_index=False)
    rule_id = models.CharField(max_length=100)
    latest_version = models.PositiveIntegerField(default=0)
    active_version = models.ForeignKey("RuleVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    activated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "rule_id"], name="shadow_rule_tenant_rule_id")]
        ordering = ["tenant_id", "rule_id"]

    def __str__(self) -> str:
        return f"{self.tenant_id}/{self.rule_id}"


class RuleVersion(models.Model):
    """Immutable once written: a deployment or an evaluation always names what it ran."""

    rule = models.ForeignKey(Rule, on_delete=models.PROTECT, related_name="versions", db_index=False)
    version = models.PositiveIntegerField()
    name = models.CharField(max_length=200)
    rule_type = models.CharField(max_length=16)
    rule_config = models.JSONField()
    config_hash = models.CharField(max_length=64)
    created_by = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["rule", "version"], name="shadow_rule_version")]
        ordering = ["rule_id", "version"]

    def __str__(self) -> str:
        return f"{self.rule} v{self.version}"


class DeploymentAction(models.TextChoices):
    DEPLOY = "deploy"
    ROLLBACK = "rollback"


class Deployment(models.Model):
    """One event of a rule's deployment history (append-only)."""

    rule = models.ForeignKey(Rule, on_delete=models.PROTECT, related_name="deployments")
    action = models.CharField(max_length=8, choices=DeploymentAction.choices)
    version = models.PositiveIntegerField(help_text="The version active after this event.")
    previous_version = models.PositiveIntegerField(null=True, blank=True)
    evaluation = models.ForeignKey("Evaluation", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    forced = models.BooleanField(default=False)
    # The thresholds and the evaluation's figures the gate compared (and what force overrode).
    gate = models.JSONField(default=dict, blank=True)
    actor = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["rule_id", "id"]

    def __str__(self) -> str:
        return f"{self.rule} {self.action} v{self.version}"


class EvaluationStatus(models.TextChoices):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


FINAL_STATUSES = (EvaluationStatus.COMPLETED, EvaluationStatus.FAILED)


class Evaluation(models.Model):
    public_id = models.CharField(max_length=40, unique=True, editable=False)
    tenant = models.ForeignKey("shieldx.Tenant", on_delete=models.PROTECT, related_name="shadow_evaluations", db_index=False)
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="evaluations")
    dataset_version = models.PositiveIntegerField()
    population = models.PositiveIntegerField(help_text="Samples the dataset had (positions below this) at creation.")
    rule_version = models.ForeignKey(RuleVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="evaluations")
    rule_ref = models.CharField(max_length=100, blank=True, help_text="The rule_id the caller named, if any.")
    rule_name = models.CharField(max_length=200, blank=True)
    rule_type = models.CharField(max_length=16)
    rule_config = models.JSONField()
    config_hash = models.CharField(max_length=64)
    # The selection: requested size, seed, target categories, and how many it yielded.
    sample_size = models.PositiveIntegerField(null=True, blank=True)
    seed = models.BigIntegerField(null=True, blank=True)
    target_categories = models.JSONField(default=list, blank=True)
    eligible = models.PositiveIntegerField(default=0, help_text="Samples the target categories allow, before any subset.")
    selected = models.PositiveIntegerField(default=0)
    cache_key = models.CharField(max_length=64, db_index=True)
    cached_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=EvaluationStatus.choices, default=EvaluationStatus.PENDING)
    total_batches = models.PositiveIntegerField(default=0)
    done_batches = models.PositiveIntegerField(default=0)
    result = models.JSONField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True)
    f1_score = models.FloatField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["tenant", "cache_key", "status"], name="shadow_eval_cache"),
            models.Index(fields=["status"], name="shadow_eval_status"),
            models.Index(fields=["tenant", "rule_ref", "finished_at"], name="shadow_eval_rule_latest"),
        ]
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.public_id

    @property
    def progress(self) -> float:
        if self.status == EvaluationStatus.COMPLETED:
            return 1.0
        return self.done_batches / self.total_batches if self.total_batches else 0.0


class BatchStatus(models.TextChoices):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"


class EvaluationBatch(models.Model):
    evaluation = models.ForeignKey(Evaluation, on_delete=models.CASCADE, related_name="batches", db_index=False)
    index = models.PositiveIntegerField()
    positions = models.JSONField(help_text="Sample positions, ascending.")
    status = models.CharField(max_length=8, choices=BatchStatus.choices, default=BatchStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    # engine EvaluationResult.to_dict(): counts, by_category, per-sample outcomes (in
    # the order of ``positions``), elapsed seconds.
    result = models.JSONField(null=True, blank=True)
    # Copied out of result so "the samples behind a count" skips batches without any.
    true_positives = models.PositiveIntegerField(default=0)
    false_positives = models.PositiveIntegerField(default=0)
    true_negatives = models.PositiveIntegerField(default=0)
    false_negatives = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["evaluation", "index"], name="shadow_batch_index")]
        verbose_name_plural = "evaluation batches"

    def __str__(self) -> str:
        return f"{self.evaluation_id}#{self.index}"
