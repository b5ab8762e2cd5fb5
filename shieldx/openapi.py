"""OpenAPI descriptions that DRF cannot infer: the Bearer scheme and the error shape."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "shieldx.auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "An API key: `Authorization: Bearer sxk_…`"}


ErrorSerializer = inline_serializer(
    "Error",
    {
        "error": inline_serializer(
            "ErrorBody",
            {
                "code": serializers.CharField(),
                "message": serializers.CharField(),
                "details": serializers.DictField(),
                "request_id": serializers.CharField(),
            },
        )
    },
)


def errors(*statuses: int) -> dict[int, OpenApiResponse]:
    """The documented error responses of a route, all in the contract's one shape."""
    return {status: OpenApiResponse(ErrorSerializer) for status in statuses}


# --- post-processing: what the server enforces, stated in the document (CONTRACT §1a) ----
# drf-spectacular infers bodies from serializers; what they cannot say (unknown fields
# refused, headers, the tenant id's pattern on every parameter) is added here, for every
# app at once. App-specific additions live in each app's openapi.py hook.

TENANT_ID_PATTERN = "^[a-z0-9][a-z0-9._-]{0,62}$"
# Names of response fields that carry RFC 3339 timestamps, in every app.
TIMESTAMP_FIELDS = frozenset({"created_at", "updated_at", "expires_at", "started_at", "completed_at", "deployed_at", "activated_at", "at"})
IDEMPOTENCY_KEY_MAX = 255


def _header(description: str, *, schema: dict | None = None, required: bool = False) -> dict:
    return {"schema": schema or {"type": "string"}, "description": description, "required": required}


HEADERS = {
    "X-Request-ID": _header("This request's id (echoed when the request carried a safe one); in every log line about it.", required=True),
    "WWW-Authenticate": _header("`Bearer`: how to authenticate.", required=True),
    "Retry-After": _header("Seconds to wait before trying again.", schema={"type": "integer", "minimum": 1}, required=True),
    "Idempotent-Replayed": _header("`true` when this is the stored answer of an earlier request with the same idempotency key.", schema={"type": "string", "enum": ["true"]}),
    "Cache-Control": _header("`no-store`: the answer holds secrets or values that must not be cached."),
    "ETag": _header("A strong validator of the body: send it back in `If-None-Match`.", required=True),
    "Location": _header("Where to poll the result.", required=True),
}


def header(name: str, **overrides) -> dict:
    return {**HEADERS[name], **overrides}


def _resolve(schema: dict, components: dict) -> dict:
    ref = schema.get("$ref")
    return components[ref.rsplit("/", 1)[1]] if ref else schema


def close_objects(schema: dict, components: dict, seen: set[int] | None = None) -> None:
    """`additionalProperties: false` on every object with declared properties, through
    references, arrays and alternatives: the strict serializers refuse unknown fields.
    Free-form objects (no `properties`, e.g. `metadata`, `rule_config`) stay open."""
    seen = set() if seen is None else seen
    schema = _resolve(schema, components)
    if id(schema) in seen:
        return
    seen.add(id(schema))
    if "properties" in schema and "additionalProperties" not in schema:
        schema["additionalProperties"] = False
    for child in (*schema.get("properties", {}).values(), *schema.get("oneOf", []), *schema.get("anyOf", []), *schema.get("allOf", [])):
        close_objects(child, components, seen)
    if isinstance(schema.get("items"), dict):
        close_objects(schema["items"], components, seen)


def _walk_properties(schema: dict, components: dict, visit, seen: set[int]) -> None:
    schema = _resolve(schema, components)
    if id(schema) in seen:
        return
    seen.add(id(schema))
    for name, child in schema.get("properties", {}).items():
        visit(name, child)
        _walk_properties(child, components, visit, seen)
    for child in (*schema.get("oneOf", []), *schema.get("anyOf", []), *schema.get("allOf", [])):
        _walk_properties(child, components, visit, seen)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            _walk_properties(schema[key], components, visit, seen)


def _timestamp(name: str, schema: dict) -> None:
    if name in TIMESTAMP_FIELDS and schema.get("type") == "string" and "format" not in schema:
        schema["format"] = "date-time"


def _tenant_id(name: str, schema: dict) -> None:
    if name == "tenant_id" and schema.get("type") == "string":
        schema.setdefault("pattern", TENANT_ID_PATTERN)
        schema.setdefault("maxLength", 63)


def _requires_body(body: dict, components: dict) -> bool:
    """A body is required when its JSON form has required fields (or alternatives that all do)."""
    schema = body.get("content", {}).get("application/json", {}).get("schema")
    if schema is None:
        return False
    schema = _resolve(schema, components)
    alternatives = schema.get("oneOf") or [schema]
    return all(_resolve(alt, components).get("required") for alt in alternatives)


def postprocess(result: dict, generator, request, public) -> dict:
    components = result.get("components", {}).get("schemas", {})
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            has_key = False
            for parameter in operation.get("parameters", []):
                if parameter.get("name") == "tenant_id":
                    parameter["schema"].update(type="string", pattern=TENANT_ID_PATTERN, minLength=1, maxLength=63)
                if parameter.get("in") == "header" and parameter.get("name") == "Idempotency-Key":
                    parameter["schema"].update(type="string", minLength=1, maxLength=IDEMPOTENCY_KEY_MAX)
                    has_key = True
            body = operation.get("requestBody")
            if body is not None and _requires_body(body, components):
                body["required"] = True  # the server refuses a missing body with a 400
            for media in (body or {}).get("content", {}).values():
                if "schema" in media:
                    close_objects(media["schema"], components)
                    _walk_properties(media["schema"], components, _tenant_id, set())
            for status, response in operation["responses"].items():
                headers = response.setdefault("headers", {})
                headers.setdefault("X-Request-ID", header("X-Request-ID"))
                if status == "401":
                    headers.setdefault("WWW-Authenticate", header("WWW-Authenticate"))
                if status in ("429", "503"):
                    headers.setdefault("Retry-After", header("Retry-After"))
                # Stored answers (2xx and the 402/404/409 refusals) replay with this header.
                if has_key and (status.startswith("2") or status in ("402", "404", "409")):
                    headers.setdefault("Idempotent-Replayed", header("Idempotent-Replayed"))
                for media in response.get("content", {}).values():
                    if "schema" in media:
                        _walk_properties(media["schema"], components, _timestamp, set())
    return result
