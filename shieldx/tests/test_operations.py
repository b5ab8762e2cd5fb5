"""Health, metrics, OpenAPI and docs (CONTRACT §6); readiness is in test_readiness.py."""

from __future__ import annotations

import json
import re

import pytest
from openapi_spec_validator import validate
from rest_framework.test import APIClient


def test_health_needs_no_dependency_and_no_key():
    response = APIClient().get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_metrics_expose_request_counters_without_a_key(client_for):
    client_for.get("/credits/balance/org-123")
    response = APIClient().get("/metrics")
    assert response.status_code == 200
    text = response.content.decode()

    def sample(name: str, *labels: str) -> bool:
        return any(line.startswith(name + "{") and all(label in line for label in labels) for line in text.splitlines())

    view = ('view="credits.apis.BalanceView"', 'method="GET"')
    assert sample("django_http_responses_total_by_status_view_method_total", 'status="200"', *view)
    assert sample("django_http_requests_latency_seconds_by_view_method_bucket", 'le="0.25"', *view)


@pytest.mark.django_db
def test_openapi_schema_is_valid_openapi_3_and_lists_the_contract_routes():
    response = APIClient().get("/api/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["openapi"].startswith("3.")
    validate(schema)
    for route in ("/credits/consume", "/credits/balance/{tenant_id}", "/credits/audit/{tenant_id}/verify"):
        assert route in schema["paths"], route


@pytest.mark.django_db
def test_api_docs_are_served_with_local_assets():
    response = APIClient().get("/api/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "cdn" not in html.lower() and "https://" not in html.split("<body")[0]
    bundle = re.search(r'src="([^"]*swagger-ui-bundle\.js)"', html).group(1)
    assert b"".join(APIClient().get(bundle).streaming_content)[:100]  # served by WhiteNoise, no internet
