"""The outside review's findings against the base (issue 11), each as the attack it was:
invented methods as metric labels, API keys outside the Authorization header, deep or
NUL-bearing bodies and URLs, empty query values, 404 texts that tell tenants apart."""

from __future__ import annotations

import json
import re

import pytest
from rest_framework.test import APIClient

from shieldx.keyguard import redact_keys
from shieldx.middleware import STANDARD_METHODS

pytestmark = pytest.mark.django_db
BALANCE = "/credits/balance/org-123"
CARD = "4111111111111111"


def _error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == code
    return error


# --- methods -------------------------------------------------------------------------


def test_an_invented_method_is_405_and_never_a_metric_label(client_for):
    for i in range(20):
        _error(client_for.generic(f"G{CARD}{i}", BALANCE), 405, "method_not_allowed")
    text = APIClient().get("/metrics").content.decode()
    assert CARD not in text and "G4111" not in text
    assert set(re.findall(r'method="([^"]*)"', text)) <= set(STANDARD_METHODS)


def test_standard_methods_still_reach_the_views(client_for):
    assert client_for.get(BALANCE).status_code == 200
    head = client_for.head(BALANCE)
    assert head.status_code == 200 and head.content == b""
    # A standard method the route does not serve is DRF's 405 with the route's Allow.
    assert client_for.delete(BALANCE).status_code == 405


# --- API keys only in the Authorization header ------------------------------------------


@pytest.mark.parametrize("where", ["query", "encoded-query", "body", "header", "path"])
def test_a_key_outside_the_authorization_header_is_refused_and_never_logged(client_for, captured_logs, where):
    key = client_for.raw_key
    secret = key.split("_", 2)[2]
    if where == "query":
        response = client_for.get(f"{BALANCE}?api_key={key}")
    elif where == "encoded-query":
        response = client_for.get(f"{BALANCE}?api_key=%2573xk_{key[4:]}")
    elif where == "body":
        response = client_for.post("/credits/consume", {"tenant_id": "org-123", "amount": 1, "description": key}, format="json")
    elif where == "header":
        response = client_for.get(BALANCE, HTTP_X_API_KEY=key)
    else:
        response = client_for.get(f"/credits/balance/{key}")
    error = _error(response, 401, "unauthenticated")
    assert response["WWW-Authenticate"] == "Bearer"
    assert error["details"] == {"location": where.replace("encoded-", "")}
    assert secret not in response.content.decode()
    logs = captured_logs.getvalue()
    assert "Unauthorized" in logs  # the refusal is logged...
    assert secret not in logs  # ...without the key
    # Refused even with a valid key in the header: nothing was done with the request.
    assert client_for.get(BALANCE).json()["balance"] == 1000


def test_the_log_filter_cuts_the_secret_off_any_key_that_reaches_a_log_line(client_for):
    key = client_for.raw_key
    prefix = key.split("_")[1]
    assert redact_keys(f"GET /x?k={key} HTTP/1.1") == f"GET /x?k=sxk_{prefix}_[redacted] HTTP/1.1"
    assert redact_keys({"request": [f"<WSGIRequest: GET '/x?{key}'>"]}) == {"request": [f"<WSGIRequest: GET '/x?sxk_{prefix}_[redacted]'>"]}


def test_gunicorn_access_logs_never_carry_a_key(make_tenant, tmp_path):
    """Operators turn gunicorn's access log on with --access-logfile: its request line
    (query string included) goes through the same handlers and filters."""
    import subprocess
    import sys
    import urllib.request

    from django.db import connection

    from shieldx.services import api_key_create
    from shieldx.testing import ROOT, free_port, wait_for_port

    key = api_key_create(tenant=make_tenant("org-logs"), scopes="*")[1]
    port, log = free_port(), tmp_path / "gunicorn.log"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "shieldx.settings", "LOG_LEVEL": "INFO",
           "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{connection.settings_dict['NAME']}"}  # fmt: skip
    gunicorn = str(__import__("pathlib").Path(sys.executable).parent / "gunicorn")
    with log.open("w") as out:
        proc = subprocess.Popen(
            [gunicorn, "shieldx.wsgi", "--config", str(ROOT / "gunicorn.conf.py"), "--bind", f"127.0.0.1:{port}", "--workers", "1",
             "--access-logfile", "-"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_for_port(port, timeout=30)
        for path in (f"/health?api_key={key}", f"/credits/balance/org-logs?key={key}"):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10)  # noqa: S310 - loopback
            except urllib.error.HTTPError as error:
                assert error.code == 401
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    text = log.read_text()
    assert "/health" in text  # the access log did log the requests
    assert key.split("_", 2)[2] not in text


# --- bodies: depth, NUL, numbers --------------------------------------------------------


@pytest.mark.parametrize("depth", [33, 5000])
def test_a_body_nested_deeper_than_32_levels_is_400(client_for, depth):
    body = '{"tenant_id": "org-123", "amount": 1, "description": ' + "[" * depth + "]" * depth + "}"
    error = _error(client_for.post("/credits/consume", body, content_type="application/json"), 400, "invalid_request")
    assert "32 levels" in error["message"]


def test_a_body_nested_32_levels_is_parsed(client_for):
    body = '{"tenant_id": "org-123", "amount": 1, "description": ' + "[" * 31 + "]" * 31 + "}"
    error = _error(client_for.post("/credits/consume", body, content_type="application/json"), 400, "invalid_request")
    assert error["details"]["fields"]["description"] == ["Must be a string."]  # parsed, then refused by the field


def test_a_nul_in_a_metadata_key_is_400(client_for):
    response = client_for.post("/credits/consume", {"tenant_id": "org-123", "amount": 1, "metadata": {"a\x00b": "v"}}, format="json")
    _error(response, 400, "invalid_request")
    assert client_for.get(BALANCE).json()["balance"] == 1000


def test_numbers_json_cannot_hold_as_numbers_are_400(client_for):
    for raw in ("NaN", "Infinity", "-Infinity", "9" * 5000):
        body = '{"tenant_id": "org-123", "amount": ' + raw + "}"
        _error(client_for.post("/credits/consume", body, content_type="application/json"), 400, "invalid_request")


# --- URLs: NUL, empty query values -------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/credits/reservations/rsv_%00abc", "/shadow/evaluations/eval_%00x", "/shadow/datasets/ds_%00x", "/shadow/rules/r%00x?tenant_id=org-123",
     "/shadow/evaluations/eval_x/samples?outcome=fp%00", "/credits/balance/org-123?%00=1"],
)  # fmt: skip
def test_a_nul_in_a_url_is_400_not_500(client_for, path):
    _error(client_for.get(path), 400, "invalid_request")


@pytest.mark.parametrize(
    ("path", "field"),
    [(f"{BALANCE}?at=", "at"), ("/credits/transactions/org-123?limit=", "limit"), ("/shadow/datasets?tenant_id=", "tenant_id"),
     ("/shadow/rules/active?tenant_id=org-123&x=", "x")],
)  # fmt: skip
def test_an_empty_query_value_is_400_naming_the_parameter(client_for, path, field):
    error = _error(client_for.get(path), 400, "invalid_request")
    assert error["details"]["field"] == field
    assert repr(field) in error["message"] and "body" not in error["message"]


def test_an_invalid_query_value_is_named_as_a_parameter_not_the_body(client_for):
    error = _error(client_for.get("/credits/transactions/org-123?limit=100000"), 400, "invalid_request")
    assert error["details"]["field"] == "limit"
    assert "body" not in error["message"]


def test_the_error_body_of_a_refused_body_is_json_of_the_contract_shape(client_for):
    body = "[" * 100 + "]" * 100
    response = client_for.post("/credits/consume", body, content_type="application/json")
    assert set(json.loads(response.content)["error"]) == {"code", "message", "details", "request_id"}
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])
