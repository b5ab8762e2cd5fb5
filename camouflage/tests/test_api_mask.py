"""POST /camouflage/mask and /camouflage/cards/validate through the API."""

from __future__ import annotations

import pytest

from camouflage.tests.conftest import luhn_card, post

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("4532-1234-5678-9010", "****-****-****-9010"),
        ("123-45-6789", "***-**-****"),
        ("user@email.com", "us***@email.com"),
    ],
)
def test_the_contracts_three_masks_exactly_as_fields(client_for, value, masked):
    response = post(client_for, "mask", {"fields": {"v": value}})

    assert response.status_code == 200
    assert response.json()["fields"] == {"v": masked}


def test_the_contracts_ssn_and_email_masks_in_text_with_offsets(client_for):
    text = "ssn 123-45-6789 mail user@email.com"

    body = post(client_for, "mask", {"text": text}).json()

    assert body["masked"] == "ssn ***-**-**** mail us***@email.com"
    assert body["findings"] == [
        {"type": "us_ssn", "start": 4, "end": 15},
        {"type": "email", "start": 21, "end": 35},
    ]
    assert text[4:15] == "123-45-6789" and text[21:35] == "user@email.com"


def test_text_masks_a_card_that_passes_luhn_and_keeps_its_separators(client_for):
    body = post(client_for, "mask", {"text": "paid with 4111-1111-1111-1111 today"}).json()

    assert body["masked"] == "paid with ****-****-****-1111 today"
    assert body["findings"] == [{"type": "credit_card", "start": 10, "end": 29}]


def test_text_leaves_the_seed_card_that_fails_luhn_but_fields_mask_it(client_for):
    seed = "4532-1234-5678-9010"

    assert post(client_for, "mask", {"text": f"ref {seed}"}).json()["findings"] == []
    body = post(client_for, "mask", {"fields": {"card_number": seed, "name": "Jane"}}).json()

    assert body == {"fields": {"card_number": "****-****-****-9010", "name": "Jane"}, "findings": {"card_number": ["credit_card"], "name": []}}


def test_fields_report_every_type_found_per_field(client_for):
    body = post(client_for, "mask", {"fields": {"note": "call +1 415 555 2671 or mail bob@example.org", "empty": ""}}).json()

    assert body["findings"] == {"note": ["phone", "email"], "empty": []}
    assert "bob@" not in body["fields"]["note"] and body["fields"]["empty"] == ""


def test_field_names_holding_pii_are_refused_without_echoing_them(client_for):
    response = post(client_for, "mask", {"fields": {"4111 1111 1111 1111": "x"}})

    assert response.status_code == 400
    assert "4111" not in response.content.decode()


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("4111 1111 1111 1111", {"valid": True, "luhn_valid": True, "brand": "visa", "masked": "**** **** **** 1111", "last4": "1111", "length": 16}),
        ("4532-1234-5678-9010", {"valid": False, "luhn_valid": False, "brand": "visa", "masked": "****-****-****-9010", "last4": "9010", "length": 16}),
        ("2221000000000009", {"valid": True, "luhn_valid": True, "brand": "mastercard", "masked": "************0009", "last4": "0009", "length": 16}),
        ("378282246310005", {"valid": True, "luhn_valid": True, "brand": "amex", "masked": "***********0005", "last4": "0005", "length": 15}),
        ("6011111111111117", {"valid": True, "luhn_valid": True, "brand": "discover", "masked": "************1117", "last4": "1117", "length": 16}),
        ("4111111111111111111", {"valid": False, "luhn_valid": False, "brand": "visa", "masked": "***************1111", "last4": "1111", "length": 19}),
        ("9999999999999995", {"valid": False, "luhn_valid": True, "brand": "unknown", "masked": "************9995", "last4": "9995", "length": 16}),
        ("4111-1111-1111-111a", {"valid": False, "luhn_valid": False, "brand": "unknown", "masked": "****-****-***1-111a", "last4": "1111", "length": 15}),
    ],
)
def test_card_validation_table(client_for, number, expected):
    response = post(client_for, "cards/validate", {"number": number})

    assert response.status_code == 200
    assert response.json() == expected


def test_nineteen_digit_visa_is_valid(client_for):
    number = luhn_card("4", 19)

    assert post(client_for, "cards/validate", {"number": number}).json()["valid"] is True


def test_an_email_typed_into_the_card_field_is_not_echoed(client_for):
    body = post(client_for, "cards/validate", {"number": "jane.doe@example.com"}).json()

    assert body["valid"] is False and "jane.doe" not in body["masked"]


@pytest.mark.parametrize("path", ["mask", "cards/validate"])
def test_masking_needs_the_mask_scope(make_client, tenant, path):
    client = make_client(tenant, scopes="camouflage:encrypt,camouflage:decrypt,camouflage:tokenize")
    body = {"text": "x"} if path == "mask" else {"number": "4111111111111111"}

    response = post(client, path, body)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert post(make_client(tenant, scopes="camouflage:mask"), path, body).status_code == 200


def test_masking_needs_a_key(client):
    response = client.post("/camouflage/mask", {"text": "x"}, content_type="application/json")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
