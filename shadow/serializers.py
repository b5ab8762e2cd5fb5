"""Request bodies of CONTRACT §4, validated strictly; response shapes for the schema.
Serializers only translate: the engine judges rule configs, the services the rest."""

from __future__ import annotations

from typing import Any

from django.core.validators import RegexValidator
from rest_framework import serializers

from shadow.samples import MAX_CATEGORY_LENGTH, valid_category
from shieldx.models import TENANT_ID_PATTERN
from shieldx.serializers import (
    NulFreeJSONField,
    StrictBooleanField,
    StrictCharField,
    StrictFloatField,
    StrictIntegerField,
    StrictSerializer,
)

MAX_SAMPLE_SIZE = 10_000_000
MAX_SEED = 2**63 - 1
MAX_WAIT_SECONDS = 300
MAX_VERSION = 2**31 - 1  # versions are PostgreSQL integers: beyond, a 400 and not a lookup that cannot match


def tenant_field() -> StrictCharField:
    return StrictCharField(max_length=63, validators=[RegexValidator(TENANT_ID_PATTERN, "Not a valid tenant id.")])


class JsonObjectField(NulFreeJSONField):
    default_error_messages = {"invalid": "Must be a JSON object."}

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            self.fail("invalid")
        return super().to_internal_value(data)


class CategoriesField(serializers.ListField):
    def __init__(self, **kwargs: Any):
        super().__init__(child=StrictCharField(max_length=MAX_CATEGORY_LENGTH), max_length=100, required=False, default=list, **kwargs)

    def to_internal_value(self, data: Any) -> list[str]:
        if not isinstance(data, list):
            raise serializers.ValidationError("Must be a list of category names.")
        values = super().to_internal_value(data)
        if not all(valid_category(v) for v in values):
            raise serializers.ValidationError(f"Each category must be 1 to {MAX_CATEGORY_LENGTH} printable characters.")
        return values


def rule_id_field(**kwargs: Any) -> StrictCharField:
    return StrictCharField(max_length=100, **kwargs)


def _rule_type_matches(attrs: dict[str, Any]) -> None:
    rule_type, config = attrs.get("rule_type"), attrs.get("rule_config")
    if rule_type is not None and config is not None and config.get("type") != rule_type:
        raise serializers.ValidationError({"rule_type": [f"Must equal rule_config.type ({config.get('type')!r})."]})


class DatasetCreateSerializer(StrictSerializer):
    tenant_id = tenant_field()
    name = StrictCharField(max_length=100)


class TenantQuerySerializer(serializers.Serializer):
    tenant_id = serializers.CharField(max_length=63, required=False)


class SamplesImportSerializer(StrictSerializer):
    samples = serializers.ListField(child=serializers.JSONField(), allow_empty=False)


class RuleCreateSerializer(StrictSerializer):
    tenant_id = tenant_field()
    rule_id = rule_id_field()
    name = StrictCharField(max_length=200)
    rule_type = StrictCharField(max_length=32)
    rule_config = JsonObjectField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        _rule_type_matches(attrs)
        return attrs


class SelectionFields(StrictSerializer):
    dataset = StrictCharField(max_length=100, required=False)
    sample_size = StrictIntegerField(min_value=1, max_value=MAX_SAMPLE_SIZE, required=False)
    seed = StrictIntegerField(min_value=0, max_value=MAX_SEED, required=False)
    target_categories = CategoriesField()
    wait_seconds = StrictIntegerField(min_value=0, max_value=MAX_WAIT_SECONDS, required=False, default=30)


class EvaluateSerializer(SelectionFields):
    """The seed's body (rule inline) or a stored rule's ``rule_id`` + ``version``."""

    tenant_id = tenant_field()
    rule_id = rule_id_field(required=False)
    rule_name = StrictCharField(max_length=200, required=False, allow_blank=True)
    version = StrictIntegerField(min_value=1, max_value=MAX_VERSION, required=False)
    rule_type = StrictCharField(max_length=32, required=False)
    rule_config = JsonObjectField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "version" in attrs:
            if "rule_id" not in attrs:
                raise serializers.ValidationError({"rule_id": ["Required with version."]})
        else:
            missing = [f for f in ("rule_type", "rule_config") if f not in attrs]
            if missing:
                raise serializers.ValidationError({f: ["Required unless rule_id and version name a stored rule."] for f in missing})
        _rule_type_matches(attrs)
        return attrs


class RuleSpecSerializer(StrictSerializer):
    rule_id = rule_id_field(required=False)
    version = StrictIntegerField(min_value=1, max_value=MAX_VERSION, required=False)
    name = StrictCharField(max_length=200, required=False, allow_blank=True)
    rule_type = StrictCharField(max_length=32, required=False)
    rule_config = JsonObjectField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        stored = "rule_id" in attrs and "version" in attrs
        inline = "rule_type" in attrs and "rule_config" in attrs
        if not (stored or inline):
            raise serializers.ValidationError(["Give {rule_id, version} or {rule_type, rule_config}."])
        _rule_type_matches(attrs)
        return attrs


class CompareSerializer(SelectionFields):
    tenant_id = tenant_field()
    rule_a = RuleSpecSerializer()
    rule_b = RuleSpecSerializer()


class DeploySerializer(StrictSerializer):
    tenant_id = tenant_field()
    version = StrictIntegerField(min_value=1, max_value=MAX_VERSION)
    eval_id = StrictCharField(max_length=40)
    min_f1 = StrictFloatField(min_value=0.0, max_value=1.0, required=False, default=0.8)
    max_false_positive_rate = StrictFloatField(min_value=0.0, max_value=1.0, required=False, default=0.01)
    force = StrictBooleanField(required=False, default=False)


class RollbackSerializer(StrictSerializer):
    tenant_id = tenant_field()


class SamplesQuerySerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=["tp", "fp", "tn", "fn", "error"], required=False)
    limit = serializers.IntegerField(min_value=1, max_value=500, required=False, default=100)
    cursor = serializers.CharField(max_length=200, required=False)


# --- response shapes, for the OpenAPI schema only (selectors build the bodies) -----------


class DatasetResponse(serializers.Serializer):
    dataset_id = serializers.CharField()
    tenant_id = serializers.CharField()
    name = serializers.CharField()
    version = serializers.IntegerField(help_text="Bumped by every import.")
    sample_count = serializers.IntegerField()
    by_label = serializers.DictField(child=serializers.IntegerField())
    by_category = serializers.DictField(child=serializers.IntegerField())
    counts = serializers.DictField(child=serializers.DictField(child=serializers.IntegerField()), help_text="label → category → count")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class DatasetListResponse(serializers.Serializer):
    results = DatasetResponse(many=True)


class ImportResponse(DatasetResponse):
    imported = serializers.IntegerField()


class CategoryFigures(serializers.Serializer):
    true_positives = serializers.IntegerField()
    false_positives = serializers.IntegerField()
    true_negatives = serializers.IntegerField()
    false_negatives = serializers.IntegerField()
    total = serializers.IntegerField()
    recall = serializers.FloatField()


class EvaluationResponse(serializers.Serializer):
    eval_id = serializers.CharField()
    tenant_id = serializers.CharField()
    status = serializers.ChoiceField(choices=["pending", "running", "completed", "failed"])
    progress = serializers.FloatField()
    rule = serializers.DictField()
    dataset = serializers.DictField()
    selection = serializers.DictField()
    cached_from = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True)
    true_positives = serializers.IntegerField(required=False)
    false_positives = serializers.IntegerField(required=False)
    true_negatives = serializers.IntegerField(required=False)
    false_negatives = serializers.IntegerField(required=False)
    precision = serializers.FloatField(required=False)
    recall = serializers.FloatField(required=False)
    f1_score = serializers.FloatField(required=False)
    accuracy = serializers.FloatField(required=False)
    false_positive_rate = serializers.FloatField(required=False)
    errors = serializers.IntegerField(required=False, help_text="Samples an engine limit stopped; not in the four counts.")
    sample_size = serializers.IntegerField(required=False)
    by_category = serializers.DictField(child=CategoryFigures(), required=False)
    recommendations = serializers.ListField(child=serializers.CharField(), required=False)
    execution_time_ms = serializers.FloatField(required=False, help_text="Wall time of the run.")
    compute_time_ms = serializers.FloatField(required=False, help_text="Time spent judging samples, summed over batches.")
    error = serializers.DictField(required=False)


class SampleResponse(serializers.Serializer):
    id = serializers.CharField()
    method = serializers.CharField()
    path = serializers.CharField()
    query = serializers.CharField()
    headers = serializers.DictField(child=serializers.CharField())
    body = serializers.CharField()
    label = serializers.CharField()
    category = serializers.CharField()
    outcome = serializers.ChoiceField(choices=["tp", "fp", "tn", "fn", "error"])
    error = serializers.CharField(required=False, help_text="Which engine limit stopped the sample (outcome error).")
    predicted_attack = serializers.BooleanField()
    fired = serializers.ListField(child=serializers.CharField())
    score = serializers.IntegerField()


class SamplePageResponse(serializers.Serializer):
    results = SampleResponse(many=True)
    next_cursor = serializers.CharField(allow_null=True)


class RuleVersionResponse(serializers.Serializer):
    version = serializers.IntegerField()
    name = serializers.CharField()
    rule_type = serializers.CharField()
    rule_config = serializers.DictField()
    config_hash = serializers.CharField()
    created_by = serializers.CharField()
    created_at = serializers.DateTimeField()


class CreatedVersionResponse(RuleVersionResponse):
    tenant_id = serializers.CharField()
    rule_id = serializers.CharField()
    rule_key = serializers.CharField(help_text="First 16 hex digits of sha256(\"<tenant_id>/<rule_id>\"): the label of shadow_rule_f1_score.")
    active_version = serializers.IntegerField(allow_null=True)


class DeploymentResponse(serializers.Serializer):
    action = serializers.ChoiceField(choices=["deploy", "rollback"])
    version = serializers.IntegerField()
    previous_version = serializers.IntegerField(allow_null=True)
    eval_id = serializers.CharField(allow_null=True)
    forced = serializers.BooleanField()
    gate = serializers.DictField()
    actor = serializers.CharField()
    created_at = serializers.DateTimeField()


class RuleResponse(serializers.Serializer):
    tenant_id = serializers.CharField()
    rule_id = serializers.CharField()
    rule_key = serializers.CharField(help_text="First 16 hex digits of sha256(\"<tenant_id>/<rule_id>\"): the label of shadow_rule_f1_score.")
    name = serializers.CharField()
    latest_version = serializers.IntegerField()
    active_version = serializers.IntegerField(allow_null=True)
    activated_at = serializers.DateTimeField(allow_null=True)
    versions = RuleVersionResponse(many=True)
    deployments = DeploymentResponse(many=True)


class ActiveRuleResponse(serializers.Serializer):
    rule_id = serializers.CharField()
    name = serializers.CharField()
    version = serializers.IntegerField()
    rule_type = serializers.CharField()
    rule_config = serializers.DictField()
    config_hash = serializers.CharField()
    activated_at = serializers.DateTimeField()


class ActiveRulesResponse(serializers.Serializer):
    tenant_id = serializers.CharField()
    rules = ActiveRuleResponse(many=True)


class CompareResponse(serializers.Serializer):
    status = serializers.ChoiceField(choices=["completed", "running", "failed"])
    a = EvaluationResponse()
    b = EvaluationResponse()
    a_only_correct = serializers.IntegerField(required=False)
    b_only_correct = serializers.IntegerField(required=False)
    mcnemar_p_value = serializers.FloatField(required=False)
    winner = serializers.ChoiceField(choices=["a", "b", "tie"], required=False)
    fired_only_in_a = serializers.DictField(child=serializers.IntegerField(), required=False)
    fired_only_in_b = serializers.DictField(child=serializers.IntegerField(), required=False)


class CrsFileResponse(serializers.Serializer):
    name = serializers.CharField(help_text="REQUEST-942-APPLICATION-ATTACK-SQLI.conf")
    number = serializers.CharField(help_text="942: what crs.files may name")
    rules = serializers.IntegerField(help_text="Rules (SecRule/SecAction ids) in the file, every paranoia level.")


class CrsResponse(serializers.Serializer):
    version = serializers.CharField()
    files = CrsFileResponse(many=True)
