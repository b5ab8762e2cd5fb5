"""One error shape for every failure, DRF's and Django's included (CONTRACT §1)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db
CONSUME = "/credits/consume"


def _assert_error(response, status: int, code: str):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details", "request_id"}
    assert body["error"]["code"] == code
    assert body["error"]["request_id"] == response["X-Request-ID"]
    return body["error"]


def test_unknown_field_is_400_naming_it(client_for):
    error = _assert_error(client_for.post(CONSUME, {"tenant_id": "org-123", "amount": 1, "colour": "red"}, format="json"), 400, "invalid_request")
    assert "colour" in error["details"]["fields"]


def test_malformed_json_is_400(client_for):
    _assert_error(client_for.post(CONSUME, data="{not json", content_type="application/json"), 400, "invalid_request")


def test_body_that_is_not_an_object_is_400(client_for):
    _assert_error(client_for.post(CONSUME, data="[1, 2]", content_type="application/json"), 400, "invalid_request")


def test_wrong_content_type_is_415(client_for):
    _assert_error(client_for.post(CONSUME, data="tenant_id=org-123", content_type="application/x-www-form-urlencoded"), 415, "unsupported_media_type")


def test_oversize_body_is_413(client_for, settings):
    settings.SHIELDX_MAX_BODY_BYTES = 2048
    _assert_error(client_for.post(CONSUME, data='{"d": "' + "x" * 4096 + '"}', content_type="application/json"), 413, "payload_too_large")


def test_wrong_method_is_405(client_for):
    _assert_error(client_for.get(CONSUME), 405, "method_not_allowed")


def test_unknown_route_is_404_in_the_same_shape(client_for):
    _assert_error(client_for.get("/no/such/route"), 404, "not_found")


def test_unauthenticated_and_forbidden_share_the_shape(tenant, make_client):
    from rest_framework.test import APIClient

    _assert_error(APIClient().get("/credits/balance/org-123"), 401, "unauthenticated")
    _assert_error(make_client(tenant, scopes="shadow:read").get("/credits/balance/org-123"), 403, "forbidden")


def test_request_id_is_echoed_when_safe_and_generated_otherwise(client_for):
    assert client_for.get("/health", HTTP_X_REQUEST_ID="abc-123").headers["X-Request-ID"] == "abc-123"
    generated = client_for.get("/health", HTTP_X_REQUEST_ID="bad id\nwith newline").headers["X-Request-ID"]
    assert len(generated) == 32 and "\n" not in generated
    assert client_for.get("/no/route").headers["X-Request-ID"]


def test_an_unexpected_exception_is_a_500_in_the_shape_without_details(client_for, monkeypatch):
    from credits import selectors

    def explode(**kwargs):
        raise RuntimeError("secret detail 4111111111111111")

    monkeypatch.setattr(selectors, "balance_cached", explode)
    error = _assert_error(client_for.get("/credits/balance/org-123"), 500, "internal_error")
    assert "4111" not in str(error) and "secret" not in str(error)


def test_a_request_id_that_may_be_pii_is_replaced(client_for):
    response = client_for.get("/health", HTTP_X_REQUEST_ID="4111111111111111")
    assert response["X-Request-ID"] != "4111111111111111" and len(response["X-Request-ID"]) == 32
