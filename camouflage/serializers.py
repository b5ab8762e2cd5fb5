"""Request bodies of CONTRACT §5, validated strictly, and response shapes for the schema.

No message here ever quotes the value it refuses: a refused value may be a card number.
"""

from __future__ import annotations

from typing import Any

from django.core.validators import ProhibitNullCharactersValidator, RegexValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from camouflage.cards import MAX_CARD_DIGITS, MIN_CARD_DIGITS, card_digits
from camouflage.models import TokenType
from shieldx.masking import FINDING_TYPES
from shieldx.models import TENANT_ID_PATTERN
from shieldx.serializers import StrictCharField, StrictSerializer

MAX_TEXT_BYTES = 1024 * 1024  # text, plaintext and the sum of a fields object's values
MAX_BATCH_ITEMS = 1000
MAX_CONTEXT_CHARS = 1024
MAX_FIELDS = 1000
MAX_FIELD_NAME_CHARS = 200
MAX_CARD_NUMBER_CHARS = 64
MAX_TOKEN_VALUE_BYTES = 4096
MAX_TOKEN_CHARS = 64
# base64url of a 1 MiB plaintext with its nonce and tag, plus the `sx:v<n>:` head.
MAX_CIPHERTEXT_CHARS = 1_400_000
SSN_DIGITS = 9


class TextField(StrictCharField):
    """A string taken exactly as sent: no trimming, NUL allowed, at most `max_bytes` of UTF-8."""

    default_error_messages = {"too_large": "Must be at most {max_bytes} bytes of UTF-8."}

    def __init__(self, *, max_bytes: int = MAX_TEXT_BYTES, **kwargs: Any):
        self.max_bytes = max_bytes
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)
        # Lone surrogates stay refused (they cannot be rendered back as JSON); NUL is data.
        self.validators = [v for v in self.validators if not isinstance(v, ProhibitNullCharactersValidator)]

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        # Cheap first: a string of more characters than bytes allowed is too large anyway.
        if len(value) > self.max_bytes or (len(value) * 4 > self.max_bytes and utf8_size(value) > self.max_bytes):
            self.fail("too_large", max_bytes=self.max_bytes)
        return value


def utf8_size(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


class StrictChoiceField(serializers.ChoiceField):
    """DRF's own message quotes the refused input; this one names the choices only."""

    def __init__(self, choices, **kwargs: Any):
        super().__init__(choices, **kwargs)
        self.error_messages["invalid_choice"] = f"Must be one of: {', '.join(str(c) for c in self.choices)}."

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid_choice")
        return super().to_internal_value(data)


# Not an OpenAPI enum: drf-spectacular names enums by field name, and credits has a
# `type` enum of its own; two sets under one name used in several components warn.
@extend_schema_field({"type": "string", "pattern": "^(card|ssn|generic)$", "description": "`card`, `ssn` or `generic`."})
class TokenTypeField(StrictChoiceField):
    def __init__(self, **kwargs: Any):
        super().__init__(TokenType.values, **kwargs)


def tenant_field() -> StrictCharField:
    return StrictCharField(
        required=False,
        max_length=63,
        validators=[RegexValidator(TENANT_ID_PATTERN, "Not a valid tenant id.")],
        help_text="Tenant keys act on their own tenant (a different id is 404); operator keys must name one.",
    )


def context_field() -> TextField:
    return TextField(
        required=False,
        default="",
        allow_blank=True,
        max_bytes=MAX_CONTEXT_CHARS,
        help_text="Bound to the ciphertext as associated data: decryption needs the same context.",
    )


class FieldsField(serializers.DictField):
    """`{name: value}` of strings; values may be empty, their total is at most 1 MiB."""

    def __init__(self, **kwargs: Any):
        super().__init__(child=TextField(allow_blank=True), **kwargs)

    def to_internal_value(self, data: Any) -> dict[str, str]:
        if not isinstance(data, dict):
            raise serializers.ValidationError("Must be a JSON object of strings.")
        if not data:
            raise serializers.ValidationError("Must hold at least one field.")
        if len(data) > MAX_FIELDS:
            raise serializers.ValidationError(f"At most {MAX_FIELDS} fields.")
        if any(not name or len(name) > MAX_FIELD_NAME_CHARS for name in data):
            raise serializers.ValidationError(f"Field names must be 1 to {MAX_FIELD_NAME_CHARS} characters.")
        fields = super().to_internal_value(data)
        if sum(utf8_size(value) for value in fields.values()) > MAX_TEXT_BYTES:
            raise serializers.ValidationError(f"The values must total at most {MAX_TEXT_BYTES} bytes of UTF-8.")
        return fields


def batch_of(item_serializer: type[serializers.Serializer], **kwargs: Any) -> serializers.ListSerializer:
    return item_serializer(many=True, allow_empty=False, max_length=MAX_BATCH_ITEMS, **kwargs)


# --- masking and cards ------------------------------------------------------------------


class MaskSerializer(StrictSerializer):
    text = TextField(required=False, help_text="Free text; findings carry offsets (code points) into it.")
    fields = FieldsField(required=False, help_text="Form fields: a card- or SSN-shaped value is masked whole.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("text" in attrs) == ("fields" in attrs):
            raise serializers.ValidationError({"non_field_errors": ["Give either text or fields."]})
        return attrs


class CardValidateSerializer(StrictSerializer):
    number = StrictCharField(max_length=MAX_CARD_NUMBER_CHARS, trim_whitespace=False)


# --- the envelope -------------------------------------------------------------------------


class EncryptItemSerializer(StrictSerializer):
    plaintext = TextField()
    context = context_field()


class EncryptSerializer(EncryptItemSerializer):
    tenant_id = tenant_field()


class EncryptBatchSerializer(StrictSerializer):
    tenant_id = tenant_field()
    items = batch_of(EncryptItemSerializer)


class CiphertextItemSerializer(StrictSerializer):
    ciphertext = StrictCharField(max_length=MAX_CIPHERTEXT_CHARS, trim_whitespace=False)
    context = context_field()


class CiphertextSerializer(CiphertextItemSerializer):
    tenant_id = tenant_field()


class CiphertextBatchSerializer(StrictSerializer):
    tenant_id = tenant_field()
    items = batch_of(CiphertextItemSerializer)


# --- tokens ---------------------------------------------------------------------------------


class TokenizeItemSerializer(StrictSerializer):
    value = TextField(max_bytes=MAX_TOKEN_VALUE_BYTES)
    type = TokenTypeField(required=False, default=TokenType.GENERIC)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        value, kind = attrs["value"], attrs["type"]
        digits = card_digits(value) if kind != TokenType.GENERIC else None
        if kind == TokenType.CARD and (digits is None or not MIN_CARD_DIGITS <= len(digits) <= MAX_CARD_DIGITS):
            raise serializers.ValidationError({"value": ["Not a card number: 13 to 19 digits, optionally grouped by spaces or dashes."]})
        if kind == TokenType.SSN and (digits is None or len(digits) != SSN_DIGITS):
            raise serializers.ValidationError({"value": ["Not an SSN: nine digits, as ddd-dd-dddd or without dashes."]})
        return attrs


class TokenizeSerializer(TokenizeItemSerializer):
    tenant_id = tenant_field()


class TokenizeBatchSerializer(StrictSerializer):
    tenant_id = tenant_field()
    items = batch_of(TokenizeItemSerializer)


class DetokenizeSerializer(StrictSerializer):
    tenant_id = tenant_field()
    token = StrictCharField(max_length=MAX_TOKEN_CHARS, trim_whitespace=False)


# --- response shapes, for the OpenAPI schema only (services build the bodies) ----------------


@extend_schema_field({"type": "string", "enum": list(FINDING_TYPES)})
class FindingTypeField(serializers.CharField):
    """An inline enum: a named one would collide with the token `type` enum's name."""


class FindingResponse(serializers.Serializer):
    type = FindingTypeField()
    start = serializers.IntegerField(help_text="Offset (code points) of the first character.")
    end = serializers.IntegerField(help_text="Offset just past the last character.")


class MaskTextResponse(serializers.Serializer):
    masked = serializers.CharField()
    findings = FindingResponse(many=True)


class MaskFieldsResponse(serializers.Serializer):
    fields = serializers.DictField(child=serializers.CharField())
    findings = serializers.DictField(child=serializers.ListField(child=FindingTypeField()))


class CardValidateResponse(serializers.Serializer):
    valid = serializers.BooleanField(help_text="Luhn passes and the length fits the brand.")
    luhn_valid = serializers.BooleanField()
    brand = serializers.ChoiceField(choices=["visa", "mastercard", "amex", "discover", "unknown"])
    masked = serializers.CharField()
    last4 = serializers.CharField()
    length = serializers.IntegerField()


class SealedResponse(serializers.Serializer):
    ciphertext = serializers.CharField(help_text="sx:v<key_version>:<base64url(nonce ‖ ciphertext ‖ tag)>")
    key_version = serializers.IntegerField()


class SealedBatchResponse(serializers.Serializer):
    items = SealedResponse(many=True)


class ItemErrorResponse(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class PlaintextResponse(serializers.Serializer):
    plaintext = serializers.CharField()


class DecryptItemResponse(serializers.Serializer):
    plaintext = serializers.CharField(required=False)
    error = ItemErrorResponse(required=False, help_text="In place of the result when this item failed to decrypt.")


class DecryptBatchResponse(serializers.Serializer):
    items = DecryptItemResponse(many=True)


class RewrapItemResponse(SealedResponse):
    ciphertext = serializers.CharField(required=False)
    key_version = serializers.IntegerField(required=False)
    error = ItemErrorResponse(required=False, help_text="In place of the result when this item failed to decrypt.")


class RewrapBatchResponse(serializers.Serializer):
    items = RewrapItemResponse(many=True)


class TokenResponse(serializers.Serializer):
    token = serializers.CharField()
    last4 = serializers.CharField(required=False, help_text="Cards only.")
    brand = serializers.CharField(required=False, help_text="Cards only.")


class TokenBatchResponse(serializers.Serializer):
    items = TokenResponse(many=True)


class DetokenizeResponse(serializers.Serializer):
    value = serializers.CharField(help_text="Cards and SSNs come back as digits only (their canonical form).")
    type = TokenTypeField()
