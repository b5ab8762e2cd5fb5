"""The OpenAPI document states what the server enforces (CONTRACT §1a)."""

from __future__ import annotations

import json

import pytest
from openapi_spec_validator import validate
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    with django_db_blocker.unblock():
        response = APIClient().get("/api/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    document = json.loads(response.content)
    validate(document)
    return document


def _resolve(schema, node):
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _objects(schema, node, seen=None):
    """Every object schema reachable from node."""
    seen = set() if seen is None else seen
    node = _resolve(schema, node)
    if id(node) in seen:
        return
    seen.add(id(node))
    if "properties" in node:
        yield node
    for child in (*node.get("properties", {}).values(), *node.get("oneOf", []), *node.get("anyOf", [])):
        yield from _objects(schema, child, seen)
    if isinstance(node.get("items"), dict):
        yield from _objects(schema, node["items"], seen)


def _operations(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            yield path, method, operation


def test_every_request_object_refuses_unknown_fields(schema):
    # A dataset sample is the one exception: a corpus' extra fields (source, payload) are ignored.
    sample = schema["components"]["schemas"]["Sample"]
    assert sample["additionalProperties"] is True and "ignored" in sample["description"]
    checked = 0
    for path, method, operation in _operations(schema):
        for media in operation.get("requestBody", {}).get("content", {}).values():
            for node in _objects(schema, media["schema"]):
                if node is sample:
                    continue
                assert node.get("additionalProperties") is False, (method, path, sorted(node["properties"]))
                checked += 1
    assert checked > 30


def test_headers_are_documented_where_they_occur(schema):
    for path, method, operation in _operations(schema):
        for status, response in operation["responses"].items():
            headers = response.get("headers", {})
            assert headers["X-Request-ID"]["required"] is True, (method, path, status)
            if status == "401":
                assert "WWW-Authenticate" in headers
            if status in ("429", "503"):
                assert headers["Retry-After"]["schema"]["type"] == "integer"
    consume = schema["paths"]["/credits/consume"]["post"]
    assert "Idempotent-Replayed" in consume["responses"]["200"]["headers"]
    key = next(p for p in consume["parameters"] if p["name"] == "Idempotency-Key")
    assert (key["schema"]["minLength"], key["schema"]["maxLength"]) == (1, 255)
    assert "Location" in schema["paths"]["/shadow/evaluate"]["post"]["responses"]["202"]["headers"]
    active = schema["paths"]["/shadow/rules/active"]["get"]["responses"]
    assert "ETag" in active["200"]["headers"] and "ETag" in active["304"]["headers"]
    assert "Cache-Control" in schema["paths"]["/camouflage/decrypt"]["post"]["responses"]["200"]["headers"]


def test_tenant_ids_carry_their_pattern_in_paths_queries_and_bodies(schema):
    seen = 0
    for path, method, operation in _operations(schema):
        for parameter in operation.get("parameters", []):
            if parameter["name"] == "tenant_id":
                assert parameter["schema"]["pattern"] == "^[a-z0-9][a-z0-9._-]{0,62}$", (method, path)
                seen += 1
    assert seen >= 7
    consume = _resolve(schema, schema["paths"]["/credits/consume"]["post"]["requestBody"]["content"]["application/json"]["schema"])
    assert consume["properties"]["tenant_id"]["pattern"] == "^[a-z0-9][a-z0-9._-]{0,62}$"


def test_limits_enums_and_alternatives_are_stated(schema):
    components = schema["components"]["schemas"]
    assert components["AuditEntryResponse"]["properties"]["created_at"]["format"] == "date-time"
    assert components["EncryptBatchRequest"]["properties"]["items"]["maxItems"] == 1000
    assert components["EncryptRequest"]["properties"]["plaintext"]["maxLength"] == 1024 * 1024
    assert components["TokenizeRequest"]["properties"]["value"]["maxLength"] == 4096
    assert components["TokenizeRequest"]["properties"]["type"]["enum"] == ["card", "ssn", "generic"]
    assert [set(alt["required"]) for alt in components["MaskRequest"]["oneOf"]] == [{"text"}, {"fields"}]
    evaluate = components["EvaluateRequest"]["oneOf"]
    assert {"rule_id", "version"} <= set(evaluate[0]["required"]) and {"rule_type", "rule_config"} <= set(evaluate[1]["required"])
    assert evaluate[1]["properties"]["rule_type"]["enum"] == ["signature", "regex", "composite", "modsecurity"]
    responses = schema["paths"]["/shadow/evaluate"]["post"]["responses"]
    ok, accepted = (_resolve(schema, responses[s]["content"]["application/json"]["schema"]) for s in ("200", "202"))
    assert ok["properties"]["status"]["enum"] == ["completed", "failed"]
    assert accepted["properties"]["status"]["enum"] == ["pending", "running"]
    assert "f1_score" in ok["properties"] and "f1_score" not in accepted["properties"]


def test_what_the_document_refuses_the_server_refuses(client_for):
    # Unknown fields (additionalProperties: false), both mask forms at once (oneOf), a token type outside the enum.
    assert client_for.post("/credits/consume", {"tenant_id": "org-123", "amount": 1, "extra": 1}, format="json").status_code == 400
    assert client_for.post("/camouflage/mask", {"text": "a", "fields": {"a": "b"}}, format="json").status_code == 400
    assert client_for.post("/camouflage/tokenize", {"value": "x", "type": "iban"}, format="json").status_code == 400
    long_key = "k" * 256
    assert client_for.post("/credits/consume", {"tenant_id": "org-123", "amount": 1}, format="json", HTTP_IDEMPOTENCY_KEY=long_key).status_code == 400
