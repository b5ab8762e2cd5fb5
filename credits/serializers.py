"""Request bodies of CONTRACT §3, validated strictly. Serializers only translate."""

from __future__ import annotations

import re

from django.core.validators import RegexValidator
from rest_framework import serializers

from credits.models import MAX_AMOUNT
from shieldx.models import TENANT_ID_PATTERN
from shieldx.serializers import StrictCharField, StrictIntegerField, StrictSerializer, StringMapField

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class IdempotencyKeyField(StrictCharField):
    def __init__(self, **kwargs):
        super().__init__(max_length=255, min_length=1, required=False, **kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if _CONTROL.search(value):
            raise serializers.ValidationError("Must not contain control characters.")
        return value


def amount_field(**kwargs) -> StrictIntegerField:
    return StrictIntegerField(min_value=1, max_value=MAX_AMOUNT, **kwargs)


def tenant_field() -> StrictCharField:
    return StrictCharField(max_length=63, validators=[RegexValidator(TENANT_ID_PATTERN, "Not a valid tenant id.")])


class ConsumeSerializer(StrictSerializer):
    tenant_id = tenant_field()
    amount = amount_field()
    description = StrictCharField(max_length=500, required=False, allow_blank=True, default="")
    idempotency_key = IdempotencyKeyField()
    metadata = StringMapField(required=False, default=dict)


class PurchaseSerializer(StrictSerializer):
    tenant_id = tenant_field()
    amount = amount_field()
    description = StrictCharField(max_length=500, required=False, allow_blank=True, default="")
    idempotency_key = IdempotencyKeyField()
    external_ref = StrictCharField(max_length=255, required=False, allow_blank=True, default="")


class ReserveSerializer(StrictSerializer):
    tenant_id = tenant_field()
    amount = amount_field()
    ttl_seconds = StrictIntegerField(min_value=1, max_value=86400, required=False, default=900)
    description = StrictCharField(max_length=500, required=False, allow_blank=True, default="")
    idempotency_key = IdempotencyKeyField()


class CaptureSerializer(StrictSerializer):
    amount = amount_field(required=False)
    idempotency_key = IdempotencyKeyField()


class ReleaseSerializer(StrictSerializer):
    idempotency_key = IdempotencyKeyField()


class RefundSerializer(StrictSerializer):
    tenant_id = tenant_field()
    transaction_id = StrictCharField(max_length=40)
    amount = amount_field(required=False)
    idempotency_key = IdempotencyKeyField()


class PageQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=500, required=False, default=50)
    cursor = serializers.CharField(max_length=200, required=False)


class AuditQuerySerializer(serializers.Serializer):
    after_seq = serializers.IntegerField(min_value=0, required=False, default=0)
    limit = serializers.IntegerField(min_value=1, max_value=1000, required=False, default=100)


class BalanceQuerySerializer(serializers.Serializer):
    at = serializers.DateTimeField(required=False)


# --- response shapes, for the OpenAPI schema only (services build the bodies) ----------


class BalanceResponse(serializers.Serializer):
    tenant_id = serializers.CharField()
    balance = serializers.IntegerField()
    reserved_funds = serializers.IntegerField()
    available = serializers.IntegerField()
    total_spent = serializers.IntegerField()
    total_purchased = serializers.IntegerField()
    at = serializers.DateTimeField(required=False, help_text="Present when ?at= was given.")


class TransactionResponse(serializers.Serializer):
    transaction_id = serializers.CharField()
    tenant_id = serializers.CharField()
    type = serializers.ChoiceField(choices=["purchase", "grant", "consume", "refund", "reserve", "capture", "release", "expire"])
    amount = serializers.IntegerField()
    description = serializers.CharField()
    balance = serializers.IntegerField()
    reserved_funds = serializers.IntegerField()
    available = serializers.IntegerField()
    reference = serializers.CharField(allow_null=True)
    metadata = serializers.DictField(child=serializers.CharField())
    created_at = serializers.DateTimeField()


class ReservationResponse(serializers.Serializer):
    reservation_id = serializers.CharField()
    tenant_id = serializers.CharField()
    amount = serializers.IntegerField()
    captured_amount = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["pending", "captured", "released", "expired"])
    description = serializers.CharField()
    expires_at = serializers.DateTimeField()
    created_at = serializers.DateTimeField()


class TransactionPageResponse(serializers.Serializer):
    results = TransactionResponse(many=True)
    next_cursor = serializers.CharField(allow_null=True)


class AuditEntryResponse(serializers.Serializer):
    tenant_id = serializers.CharField()
    seq = serializers.IntegerField()
    prev_hash = serializers.CharField()
    hash = serializers.CharField()
    action = serializers.CharField()
    amount = serializers.IntegerField()
    balance_after = serializers.IntegerField()
    reserved_after = serializers.IntegerField()
    ref = serializers.CharField()
    actor = serializers.CharField()
    created_at = serializers.CharField()


class AuditPageResponse(serializers.Serializer):
    results = AuditEntryResponse(many=True)
    next_after_seq = serializers.IntegerField(allow_null=True)


class AuditVerifyResponse(serializers.Serializer):
    tenant_id = serializers.CharField()
    valid = serializers.BooleanField()
    length = serializers.IntegerField()
    head_hash = serializers.CharField()
    broken_at_seq = serializers.IntegerField(allow_null=True)
