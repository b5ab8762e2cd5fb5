"""Bad input gets the contract's error, writes nothing and echoes nothing."""

from __future__ import annotations

import json

import pytest

from camouflage.models import Token
from camouflage.tests.conftest import post

pytestmark = pytest.mark.django_db
MIB = 1024 * 1024
CARD = "4111111111111111"

# One valid body per route, keyed by the field that carries the payload.
VALID = {
    "mask": {"text": "hello"},
    "cards/validate": {"number": CARD},
    "encrypt": {"plaintext": "hello"},
    "decrypt": {"ciphertext": "sx:v1:AAAA"},
    "rewrap": {"ciphertext": "sx:v1:AAAA"},
    "tokenize": {"value": "hello"},
    "detokenize": {"token": "tok_x"},
}
PAYLOAD = {path: next(iter(body)) for path, body in VALID.items()}


def assert_invalid(response, *, code: str = "invalid_request", status: int = 400) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["error"]["code"] == code
    assert CARD not in response.content.decode()
    return body


@pytest.mark.parametrize("path", list(VALID))
@pytest.mark.parametrize("value", [None, 4111111111111111, 1.5, True, ["x"], {"a": "b"}, ""], ids=repr)
def test_non_strings_and_empty_strings_are_400(client_for, path, value):
    body = assert_invalid(post(client_for, path, {**VALID[path], PAYLOAD[path]: value}))

    assert PAYLOAD[path] in body["error"]["details"]["fields"]


@pytest.mark.parametrize("path", list(VALID))
def test_unknown_fields_are_400(client_for, path):
    body = assert_invalid(post(client_for, path, {**VALID[path], "extra": 1}))

    assert body["error"]["details"]["fields"] == {"extra": ["Unknown field."]}


@pytest.mark.parametrize("path", list(VALID))
@pytest.mark.parametrize("raw", [b"[]", b'"text"', b"{", b"null"])
def test_bodies_that_are_not_json_objects_are_400(client_for, path, raw):
    assert_invalid(client_for.post(f"/camouflage/{path}", raw, content_type="application/json"))


@pytest.mark.parametrize("path", list(VALID))
def test_missing_payload_is_400(client_for, path):
    assert_invalid(post(client_for, path, {}))


@pytest.mark.parametrize(("path", "field"), [("mask", "text"), ("encrypt", "plaintext")])
def test_text_over_one_mebibyte_is_400_and_at_one_mebibyte_is_accepted(client_for, path, field):
    assert post(client_for, path, {field: "a" * MIB}).status_code == 200
    body = assert_invalid(post(client_for, path, {field: "a" * (MIB + 1)}))
    assert field in body["error"]["details"]["fields"]
    assert_invalid(post(client_for, path, {field: "é" * (MIB // 2 + 1)}))  # counted in UTF-8 bytes


def test_fields_totalling_over_one_mebibyte_are_400(client_for):
    assert_invalid(post(client_for, "mask", {"fields": {"a": "x" * (MIB // 2), "b": "x" * (MIB // 2 + 1)}}))


def test_a_body_over_the_limit_is_413(client_for):
    response = client_for.post("/camouflage/mask", json.dumps({"text": "a" * (11 * MIB)}), content_type="application/json")

    assert_invalid(response, code="payload_too_large", status=413)


def test_the_wrong_content_type_is_415(client_for):
    response = client_for.post("/camouflage/encrypt", "plaintext=x", content_type="application/x-www-form-urlencoded")

    assert_invalid(response, code="unsupported_media_type", status=415)


@pytest.mark.parametrize(("path", "item"), [("encrypt", {"plaintext": "x"}), ("decrypt", {"ciphertext": "x"}), ("tokenize", {"value": "x"})])
def test_batches_over_a_thousand_or_empty_are_400(client_for, path, item):
    body = assert_invalid(post(client_for, path, {"items": [item] * 1001}))

    assert "items" in body["error"]["details"]["fields"]
    assert_invalid(post(client_for, path, {"items": []}))
    assert_invalid(post(client_for, path, {"items": "x"}))
    assert Token.objects.count() == 0


@pytest.mark.parametrize(("path", "item"), [("encrypt", {"plaintext": "x"}), ("decrypt", {"ciphertext": "x"}), ("tokenize", {"value": "x"})])
def test_one_bad_item_refuses_the_whole_batch_naming_it(client_for, path, item):
    field = next(iter(item))
    body = assert_invalid(post(client_for, path, {"items": [item, {field: 5}, {**item, "tenant_id": "org-123"}]}))

    errors = body["error"]["details"]["fields"]["items"]
    assert errors[0] == {} and field in errors[1] and "tenant_id" in errors[2]
    assert Token.objects.count() == 0


def test_single_and_batch_fields_do_not_mix(client_for):
    assert_invalid(post(client_for, "encrypt", {"plaintext": "x", "items": [{"plaintext": "y"}]}))
    assert_invalid(post(client_for, "encrypt", {"context": "c", "items": [{"plaintext": "y"}]}))
    assert_invalid(post(client_for, "mask", {"text": "x", "fields": {"a": "b"}}))


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("tokenize", {"value": "x", "type": "4111 1111 1111 1111"}),
        ("tokenize", {"value": "x", "type": 1}),
        ("encrypt", {"plaintext": "x", "context": 4111111111111111}),
        ("encrypt", {"plaintext": "x", "tenant_id": "4111 1111 1111 1111"}),
        ("encrypt", {"plaintext": "x", "context": "c" * 1025}),
        ("cards/validate", {"number": "4" * 65}),
        ("detokenize", {"token": "t" * 65}),
        ("mask", {"fields": {}}),
        ("mask", {"fields": {"": "x"}}),
        ("mask", {"fields": {"a": None}}),
        ("mask", {"fields": ["4111 1111 1111 1111"]}),
    ],
)
def test_other_bad_values_are_400_without_echo(client_for, path, body):
    response = post(client_for, path, body)

    assert_invalid(response)
    assert "4111 1111 1111 1111" not in response.content.decode()


@pytest.mark.parametrize("path", ["mask", "encrypt", "tokenize"])
def test_a_lone_surrogate_is_400_not_a_server_error(client_for, path):
    raw = json.dumps({PAYLOAD[path]: "a\ud800"}).encode()  # JSON's \ud800 escape, as a client may send it

    assert_invalid(client_for.post(f"/camouflage/{path}", raw, content_type="application/json"))
