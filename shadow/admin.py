"""Operator pages: datasets with their counts, rules with versions and deployment
history, evaluations with their metrics. History is read-only: versions, deployments
and evaluations are records, and deploys go through the API's gate."""

from __future__ import annotations

from django.contrib import admin

from shadow.models import Dataset, Deployment, Evaluation, EvaluationBatch, Rule, RuleVersion
from shieldx.admin import ReadOnlyMixin


@admin.register(Dataset)
class DatasetAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("public_id", "tenant", "name", "version", "sample_count", "attacks", "benign", "updated_at")
    search_fields = ("public_id", "name", "tenant__tenant_id")
    readonly_fields = ("public_id", "tenant", "name", "version", "sample_count", "counts", "created_at", "updated_at")

    @admin.display(description="attacks")
    def attacks(self, obj: Dataset) -> int:
        return sum((obj.counts or {}).get("attack", {}).values())

    @admin.display(description="benign")
    def benign(self, obj: Dataset) -> int:
        return sum((obj.counts or {}).get("benign", {}).values())


class RuleVersionInline(ReadOnlyMixin, admin.TabularInline):
    model = RuleVersion
    fields = ("version", "name", "rule_type", "config_hash", "created_by", "created_at")
    readonly_fields = fields
    extra = 0
    show_change_link = True


class DeploymentInline(ReadOnlyMixin, admin.TabularInline):
    model = Deployment
    fields = ("created_at", "action", "version", "previous_version", "evaluation", "forced", "gate", "actor")
    readonly_fields = fields
    extra = 0


@admin.register(Rule)
class RuleAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("rule_id", "tenant", "latest_version", "active", "activated_at")
    search_fields = ("rule_id", "tenant__tenant_id")
    readonly_fields = ("tenant", "rule_id", "latest_version", "active_version", "activated_at", "created_at")
    inlines = [RuleVersionInline, DeploymentInline]

    @admin.display(description="active version")
    def active(self, obj: Rule) -> int | None:
        return obj.active_version.version if obj.active_version_id else None

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("active_version")


@admin.register(RuleVersion)
class RuleVersionAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("rule", "version", "name", "rule_type", "created_by", "created_at")
    list_filter = ("rule_type",)
    search_fields = ("rule__rule_id", "rule__tenant__tenant_id", "config_hash")
    readonly_fields = ("rule", "version", "name", "rule_type", "rule_config", "config_hash", "created_by", "created_at")


class BatchInline(ReadOnlyMixin, admin.TabularInline):
    model = EvaluationBatch
    fields = ("index", "status", "attempts", "true_positives", "false_positives", "true_negatives", "false_negatives", "started_at", "finished_at")
    readonly_fields = fields
    extra = 0
    max_num = 0
    classes = ("collapse",)


def _figure(name: str, description: str):
    @admin.display(description=description)
    def show(self, obj: Evaluation):
        value = (obj.result or {}).get(name)
        return f"{value:.4f}" if isinstance(value, float) else value

    return show


@admin.register(Evaluation)
class EvaluationAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("public_id", "tenant", "rule_ref", "version", "dataset", "status", "progress_pct", "samples", "f1", "precision", "recall", "fpr", "cached_from", "created_at")
    list_filter = ("status", "rule_type")
    search_fields = ("public_id", "tenant__tenant_id", "rule_ref")
    date_hierarchy = "created_at"
    exclude = ("rule_config",)  # a CRS rule set is ~100 KB: shown on the rule version's page
    readonly_fields = [f.name for f in Evaluation._meta.fields if f.name != "rule_config"]
    inlines = [BatchInline]

    precision = _figure("precision", "precision")
    recall = _figure("recall", "recall")
    fpr = _figure("false_positive_rate", "FPR")
    samples = _figure("sample_size", "samples")

    @admin.display(description="F1", ordering="f1_score")
    def f1(self, obj: Evaluation) -> str | None:
        return f"{obj.f1_score:.4f}" if obj.f1_score is not None else None

    @admin.display(description="version")
    def version(self, obj: Evaluation) -> int | None:
        return obj.rule_version.version if obj.rule_version_id else None

    @admin.display(description="progress")
    def progress_pct(self, obj: Evaluation) -> str:
        return f"{obj.progress:.0%}"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("tenant", "dataset", "rule_version", "cached_from").defer("rule_config")
