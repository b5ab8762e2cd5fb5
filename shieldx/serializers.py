"""Strict request validation shared by every app (CONTRACT §1).

DRF is lenient by default: it turns "100" and 100.0 into 100, True into 1 and 5 into
"5". Clients of a ledger deserve the opposite: a wrong type is a 400, never a guess.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from rest_framework import serializers

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class StrictIntegerField(serializers.IntegerField):
    default_error_messages = {"invalid": "Must be an integer (a JSON number without a fraction)."}

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictCharField(serializers.CharField):
    default_error_messages = {"invalid": "Must be a string."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class StrictFloatField(serializers.FloatField):
    default_error_messages = {"invalid": "Must be a number."}

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool) or not isinstance(data, (int, float)):
            self.fail("invalid")
        return super().to_internal_value(data)


class StringMapField(serializers.DictField):
    """A flat JSON object of string values (metadata, headers)."""

    def __init__(self, *, max_items: int = 50, max_value_length: int = 500, **kwargs: Any):
        self.max_items = max_items
        super().__init__(child=StrictCharField(max_length=max_value_length, allow_blank=True), **kwargs)

    def to_internal_value(self, data: Any) -> dict[str, str]:
        if not isinstance(data, dict):
            raise serializers.ValidationError("Must be a JSON object of strings.")
        if len(data) > self.max_items:
            raise serializers.ValidationError(f"At most {self.max_items} entries.")
        if any(len(key) > 100 or not key for key in data):
            raise serializers.ValidationError("Keys must be 1 to 100 characters.")
        if any(_CONTROL.search(key) for key in data):
            raise serializers.ValidationError("Keys must not contain control characters.")
        return super().to_internal_value(data)


_fields_by_thread = threading.local()


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not declare, and bodies that are not JSON objects.

    DRF deep-copies every declared field for every instance: for a request body that was
    most of the validation's cost (~60 % of a consume's serializer time). Declared fields
    hold no per-request state, so each thread copies them once per class and re-binds the
    copies to each new instance (per thread, so concurrent requests never share them).
    """

    def get_fields(self) -> dict[str, serializers.Field]:
        cache = getattr(_fields_by_thread, "by_class", None)
        if cache is None:
            cache = _fields_by_thread.by_class = {}
        fields = cache.get(type(self))
        if fields is None:
            fields = cache[type(self)] = super().get_fields()
        for field in fields.values():
            field.source = field._kwargs.get("source")  # as declared: bind() fills it in again
        return fields

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, dict):
            raise serializers.ValidationError({"non_field_errors": ["The body must be a JSON object."]})
        unknown = sorted(set(data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


class NulFreeJSONField(serializers.JSONField):
    """Free-form JSON stored as jsonb, which cannot hold NUL (PostgreSQL refuses
    ``\\u0000``): a NUL in any key or string is a 400 naming where it is, not a 500."""

    def to_internal_value(self, data: Any) -> Any:
        stack: list[tuple[Any, str]] = [(data, "")]
        while stack:
            node, where = stack.pop()
            if isinstance(node, str) and "\x00" in node:
                raise serializers.ValidationError(f"Strings stored here must not contain NUL characters (at {where or 'the top'}).")
            if isinstance(node, dict):
                for key, child in node.items():
                    if "\x00" in key:
                        raise serializers.ValidationError("Keys must not contain NUL characters.")
                    stack.append((child, f"{where}.{key}" if where else key))
            elif isinstance(node, list):
                stack.extend((child, f"{where}[{i}]") for i, child in enumerate(node))
        return super().to_internal_value(data)
