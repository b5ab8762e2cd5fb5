"""Request bodies of CONTRACT §3, validated strictly. Serializers only translate."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from django.core.validators import RegexValidator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from credits.alerts import MAX_SECRET_LENGTH, MAX_THRESHOLDS, MIN_SECRET_LENGTH
from credits.alerts import TYPES as ALERT_EVENT_TYPES
from credits.ledger import MAX_FIGURE
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


@extend_schema_field(OpenApiTypes.DATETIME)
class Rfc3339Field(serializers.Field):
    """An RFC 3339 timestamp with its offset (``Z`` or ``±hh:mm``): a moment, never a local time."""

    default_error_messages = {"invalid": "Must be an RFC 3339 timestamp with a time zone, e.g. 2027-01-31T00:00:00Z."}

    def to_internal_value(self, data):
        if not isinstance(data, str) or len(data) > 40 or "T" not in data.upper():
            self.fail("invalid")
        try:
            moment = datetime.fromisoformat(data)
        except ValueError:
            self.fail("invalid")
        if moment.tzinfo is None:
            self.fail("invalid")
        return moment.astimezone(UTC)

    def to_representation(self, value):
        return value.isoformat()


def priority_field() -> StrictIntegerField:
    return StrictIntegerField(min_value=0, max_value=100, required=False, default=50)


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
    priority = priority_field()
    expires_at = Rfc3339Field(required=False, allow_null=True, default=None)


class GrantSerializer(StrictSerializer):
    tenant_id = tenant_field()
    amount = amount_field()
    category = serializers.ChoiceField(choices=["paid", "promotional"], required=False, default="promotional")
    priority = priority_field()
    expires_at = Rfc3339Field(required=False, allow_null=True, default=None)
    description = StrictCharField(max_length=500, required=False, allow_blank=True, default="")
    idempotency_key = IdempotencyKeyField()


class GrantsQuerySerializer(serializers.Serializer):
    include_spent = serializers.BooleanField(required=False, default=False)


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


# --- batches: each operation is its route's body without idempotency_key ---------------


class _BatchConsume(ConsumeSerializer):
    idempotency_key = None


class _BatchPurchase(PurchaseSerializer):
    idempotency_key = None


class _BatchGrant(GrantSerializer):
    idempotency_key = None


class _BatchReserve(ReserveSerializer):
    idempotency_key = None


class _BatchCapture(StrictSerializer):
    reservation_id = StrictCharField(max_length=40)
    amount = amount_field(required=False)


class _BatchRelease(StrictSerializer):
    reservation_id = StrictCharField(max_length=40)


class _BatchRefund(RefundSerializer):
    idempotency_key = None


# op -> (its body's serializer, the scope its route needs)
BATCH_OPERATIONS: dict[str, tuple[type[StrictSerializer], str]] = {
    "consume": (_BatchConsume, "credits:consume"),
    "purchase": (_BatchPurchase, "credits:purchase"),
    "grant": (_BatchGrant, "credits:purchase"),
    "reserve": (_BatchReserve, "credits:reserve"),
    "capture": (_BatchCapture, "credits:reserve"),
    "release": (_BatchRelease, "credits:reserve"),
    "refund": (_BatchRefund, "credits:purchase"),
}


class BatchSerializer(StrictSerializer):
    """The envelope; each operation is checked by its own serializer (apis.BatchView),
    so that a refusal can name its index."""

    operations = serializers.ListField(child=serializers.JSONField(), min_length=1, max_length=1000)
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


class GrantPartResponse(serializers.Serializer):
    grant_id = serializers.CharField()
    amount = serializers.IntegerField()


class GrantResponse(serializers.Serializer):
    grant_id = serializers.CharField()
    category = serializers.ChoiceField(choices=["paid", "promotional"])
    priority = serializers.IntegerField()
    amount = serializers.IntegerField()
    remaining = serializers.IntegerField()
    held = serializers.IntegerField()
    expires_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


class GrantListResponse(serializers.Serializer):
    tenant_id = serializers.CharField()
    results = GrantResponse(many=True)


class BalanceResponse(serializers.Serializer):
    tenant_id = serializers.CharField()
    balance = serializers.IntegerField()
    reserved_funds = serializers.IntegerField()
    available = serializers.IntegerField()
    total_spent = serializers.IntegerField()
    total_purchased = serializers.IntegerField()
    grants = GrantResponse(many=True, required=False, help_text="Live grants in drawing order; absent from a past balance (?at=).")
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
    grants = GrantPartResponse(many=True, help_text="The grants it moved credits into or out of.")
    grant_id = serializers.CharField(required=False, help_text="Purchases and grants: the grant made.")


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


class BatchResponse(serializers.Serializer):
    results = serializers.ListField(child=serializers.DictField(), help_text="Each operation's answer: a transaction or a reservation.")


# --- alerts and events (CONTRACT §3a) ------------------------------------------------------

# Printable ASCII without spaces: the secret is used byte for byte by the receiver, so
# nothing about it may be ambiguous (no trimming, no encodings).
_SECRET = RegexValidator(r"^[\x21-\x7e]*\Z", "Must be printable ASCII without spaces.")


class AlertsSerializer(StrictSerializer):
    """PUT /credits/alerts/{tenant_id}: replaces the settings. A webhook_url needs a
    webhook_secret the first time; without a webhook_url the webhook and its secret go."""

    thresholds = serializers.ListField(child=StrictIntegerField(min_value=0, max_value=MAX_FIGURE), max_length=MAX_THRESHOLDS)
    webhook_url = StrictCharField(max_length=2048, required=False, allow_null=True, trim_whitespace=False)
    webhook_secret = StrictCharField(
        min_length=MIN_SECRET_LENGTH, max_length=MAX_SECRET_LENGTH, required=False, allow_null=True, trim_whitespace=False,
        validators=[_SECRET], write_only=True,
    )  # fmt: skip


class EventsQuerySerializer(serializers.Serializer):
    after = serializers.CharField(max_length=200, required=False, help_text="A next_cursor from this route, or an event_id.")
    limit = serializers.IntegerField(min_value=1, max_value=500, required=False, default=50)


class AlertSettingsResponse(serializers.Serializer):
    tenant_id = serializers.CharField()
    thresholds = serializers.ListField(child=serializers.IntegerField(), help_text="Distinct, highest first.")
    webhook_url = serializers.CharField(allow_null=True)
    webhook_secret_set = serializers.BooleanField(help_text="The secret itself is never shown.")
    updated_at = serializers.DateTimeField(allow_null=True)


class EventDeliveryResponse(serializers.Serializer):
    status = serializers.ChoiceField(choices=["pending", "delivered", "failed", "none"])
    attempts = serializers.IntegerField()


class EventResponse(serializers.Serializer):
    event_id = serializers.CharField()
    type = serializers.ChoiceField(choices=list(ALERT_EVENT_TYPES))
    created_at = serializers.DateTimeField()
    data = serializers.DictField()
    delivery = EventDeliveryResponse()


class EventPageResponse(serializers.Serializer):
    results = EventResponse(many=True)
    next_cursor = serializers.CharField(allow_null=True)
