"""Logs are JSON lines with the request id, and never carry PII or secrets."""

from __future__ import annotations

import json
import logging

import pytest
from django.conf import settings

CARD, SSN, EMAIL = "4111 1111 1111 1111", "123-45-6789", "jane.doe@example.com"


def _lines(buffer) -> list[dict]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


def test_every_configured_handler_masks_pii():
    for name, handler in settings.LOGGING["handlers"].items():
        assert "mask_pii" in handler.get("filters", []), name


def test_message_args_extras_and_exceptions_are_masked(captured_logs):
    log = logging.getLogger("shieldx.test")
    log.warning("card %s ssn %s", CARD, SSN, extra={"customer": EMAIL, "nested": {"pan": "5555555555554444"}})
    try:
        raise ValueError(f"bad card {CARD}")
    except ValueError:
        log.exception("failed for %s", EMAIL)
    text = captured_logs.getvalue()
    for secret in (CARD, SSN, EMAIL, "5555555555554444", "4111111111111111"):
        assert secret not in text
    lines = _lines(captured_logs)
    assert lines[0]["level"] == "WARNING" and lines[0]["logger"] == "shieldx.test"
    assert "****" in lines[0]["message"]
    assert "ValueError" in lines[1]["exception"]


@pytest.mark.django_db
def test_request_logs_carry_the_request_id_and_no_pii_or_key(client_for, captured_logs):
    response = client_for.post(
        f"/credits/nothing/{CARD.replace(' ', '')}", {"email": EMAIL}, format="json", HTTP_X_REQUEST_ID="req-42"
    )
    assert response.status_code == 404
    client_for.post("/credits/consume", {"tenant_id": "org-123", "amount": "x", "description": SSN}, format="json")
    text = captured_logs.getvalue()
    assert "req-42" in text
    for secret in ("4111111111111111", SSN, EMAIL, client_for.raw_key):
        assert secret not in text


@pytest.mark.django_db
def test_error_bodies_never_echo_pii(client_for):
    response = client_for.post("/credits/consume", {"tenant_id": "org-123", "amount": 1, CARD: SSN}, format="json")
    assert response.status_code == 400
    assert CARD not in response.content.decode() and SSN not in response.content.decode()
