"""Content negotiation: the JSON shortcut answers exactly as DRF's own negotiation would."""

from __future__ import annotations

import pytest
from rest_framework.negotiation import DefaultContentNegotiation

from shieldx.parsers import JSONNegotiation


@pytest.mark.django_db
@pytest.mark.parametrize(
    "accept",
    [None, "*/*", "application/json", "text/html", "application/xml", "application/json; q=0", "text/*, application/json;q=0.5", "image/png"],
)
@pytest.mark.parametrize("query", ["", "?format=json", "?format=xml", "?limit=5"])
def test_the_shortcut_chooses_what_drf_chooses_or_refuses_alike(client_for, tenant, monkeypatch, accept, query):
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    answers = {}
    for negotiation in (DefaultContentNegotiation, JSONNegotiation):
        monkeypatch.setattr("rest_framework.views.APIView.content_negotiation_class", negotiation)
        response = client_for.get(f"/credits/balance/{tenant.tenant_id}{query}", **headers)
        body = response.json()
        body.get("error", {}).pop("request_id", None)
        answers[negotiation.__name__] = (response.status_code, response.headers.get("Content-Type"), body)

    assert answers["JSONNegotiation"] == answers["DefaultContentNegotiation"]
