"""What camouflage's serializers cannot tell drf-spectacular: size limits in bytes, batch
sizes, the token types, mask's text-or-fields, and which answers must not be cached.

A post-processing hook (settings.SPECTACULAR_SETTINGS); it runs before the base's
(`shieldx.openapi.postprocess`), which closes every request object."""

from __future__ import annotations

from camouflage.serializers import (
    MAX_BATCH_ITEMS,
    MAX_CONTEXT_CHARS,
    MAX_FIELD_NAME_CHARS,
    MAX_FIELDS,
    MAX_TEXT_BYTES,
    MAX_TOKEN_VALUE_BYTES,
)
from shieldx.openapi import header

# A JSON Schema length counts characters, the server counts UTF-8 bytes: the character
# bound below is the largest that can pass; the description says which bytes count.
_BYTES = "At most {} bytes of UTF-8."
NO_STORE_ROUTES = ("/camouflage/encrypt", "/camouflage/decrypt", "/camouflage/tokenize", "/camouflage/detokenize", "/camouflage/rewrap")


def _limit(schema: dict, field: str, max_bytes: int) -> None:
    prop = schema.get("properties", {}).get(field)
    if prop is not None and prop.get("type") == "string":
        prop["maxLength"] = max_bytes
        prop["description"] = " ".join(filter(None, [prop.get("description"), _BYTES.format(max_bytes)]))


def postprocess(result: dict, generator, request, public) -> dict:
    schemas = result.get("components", {}).get("schemas", {})
    for name, schema in schemas.items():
        if not name.endswith("Request"):
            continue
        _limit(schema, "plaintext", MAX_TEXT_BYTES)
        _limit(schema, "context", MAX_CONTEXT_CHARS)
        if name.startswith("Tokenize"):
            _limit(schema, "value", MAX_TOKEN_VALUE_BYTES)
            kind = schema.get("properties", {}).get("type")
            if kind is not None:
                kind.pop("pattern", None)
                kind["enum"] = ["card", "ssn", "generic"]
        items = schema.get("properties", {}).get("items")
        if name.endswith("BatchRequest") and items is not None:
            items.update(minItems=1, maxItems=MAX_BATCH_ITEMS)
    mask = schemas.get("MaskRequest")
    if mask is not None and "properties" in mask:
        _limit(mask, "text", MAX_TEXT_BYTES)
        fields = mask["properties"]["fields"]
        fields.update(minProperties=1, maxProperties=MAX_FIELDS)
        # OpenAPI 3.0 has no propertyNames: the name limit is said in words.
        fields["description"] = (
            f"{fields.get('description', '')} Names of 1 to {MAX_FIELD_NAME_CHARS} characters; "
            f"the values total at most {MAX_TEXT_BYTES} bytes of UTF-8."
        ).strip()
        properties = mask.pop("properties")
        mask["oneOf"] = [
            {"type": "object", "title": "Free text", "properties": {"text": properties["text"]}, "required": ["text"]},
            {"type": "object", "title": "Form fields", "properties": {"fields": fields}, "required": ["fields"]},
        ]
        mask.pop("type", None)
    paths = result.get("paths", {})
    for route in NO_STORE_ROUTES:
        operation = paths.get(route, {}).get("post")
        if operation:
            for status, response in operation["responses"].items():
                if status.startswith("2"):
                    response.setdefault("headers", {})["Cache-Control"] = header("Cache-Control")
    return result
