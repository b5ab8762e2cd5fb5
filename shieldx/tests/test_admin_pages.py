"""Operator pages: tenant ids written as they are, every page with a title."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.django_db


def _title(html: str) -> str:
    return re.search(r"<title>(.*?)</title>", html, re.S).group(1).strip()


def test_a_message_that_begins_with_a_tenant_id_keeps_it_lowercase(tenant, admin_client):
    response = admin_client.post("/admin/credits/account/", {"action": "verify_audit_chain", "_selected_action": [tenant.tenant_id]}, follow=True)
    html = response.content.decode()
    assert "org-123: chain of" in html
    assert "Org-123" not in html


def test_the_grant_page_has_a_title(tenant, admin_client):
    response = admin_client.post("/admin/credits/account/", {"action": "grant_credits", "_selected_action": [tenant.tenant_id]})
    assert response.status_code == 200
    assert _title(response.content.decode()).startswith("Grant credits |")


def test_the_new_key_page_has_a_title(tenant, admin_client):
    response = admin_client.post("/admin/shieldx/apikey/add/", {"tenant": tenant.pk, "name": "ops", "scopes": ["credits:read"]})
    assert response.status_code == 200
    assert _title(response.content.decode()).startswith("API key created |")
