"""API keys: who gets in, with what, and what they can see."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from shieldx.models import ApiKey
from shieldx.services import api_key_revoke, hash_key

pytestmark = pytest.mark.django_db
BALANCE = "/credits/balance/org-123"


def _assert_401(response):
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert response.json()["error"]["code"] == "unauthenticated"


def test_missing_key_is_401_with_bearer_challenge(tenant):
    _assert_401(APIClient().get(BALANCE))


@pytest.mark.parametrize("header", ["Bearer", "Basic abc", "Bearer sxk_short", "Bearer sxk_aaaaaaaaaa_" + "x" * 43, "token"])
def test_malformed_or_unknown_key_is_401(tenant, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    _assert_401(client.get(BALANCE))


def test_revoked_key_is_401(tenant, make_client):
    client = make_client(tenant)
    api_key_revoke(key=ApiKey.objects.get(key_hash=hash_key(client.raw_key)))
    _assert_401(client.get(BALANCE))


def test_expired_key_is_401(tenant, make_client):
    client = make_client(tenant, expires_at=timezone.now() - timedelta(seconds=1))
    _assert_401(client.get(BALANCE))


def test_key_of_a_deactivated_tenant_is_401(tenant, make_client):
    client = make_client(tenant)
    tenant.is_active = False
    tenant.save()
    _assert_401(client.get(BALANCE))


def test_only_a_hash_of_the_key_is_stored(tenant, make_client):
    client = make_client(tenant)
    key = ApiKey.objects.get()
    assert client.raw_key not in {key.key_hash, key.prefix, key.name}
    assert key.key_hash == hash_key(client.raw_key)
    assert client.raw_key.split("_")[1] == key.prefix


def test_a_key_with_a_tampered_secret_is_refused(tenant, make_client):
    client = make_client(tenant)
    tampered = client.raw_key[:-1] + ("A" if client.raw_key[-1] != "A" else "B")
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {tampered}")
    _assert_401(other.get(BALANCE))


def test_key_without_the_scope_is_403(tenant, make_client):
    response = make_client(tenant, scopes="credits:consume").get(BALANCE)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert "credits:read" in response.json()["error"]["message"]


def test_scoped_key_reaches_its_route(tenant, make_client):
    assert make_client(tenant, scopes="credits:read").get(BALANCE).status_code == 200


def test_another_tenants_resource_is_404_not_403(tenant, make_tenant, make_client):
    other = make_tenant("org-other", credits=5)
    response = make_client(other).get(BALANCE)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    # Existence is never revealed: an unknown tenant answers the same way.
    assert make_client(other).get("/credits/balance/org-nobody").json()["error"]["message"] == response.json()["error"]["message"]


def test_operator_key_acts_on_any_existing_tenant(tenant, make_client):
    operator = make_client(None, scopes="credits:read")
    assert operator.get(BALANCE).status_code == 200
    assert operator.get("/credits/balance/org-nobody").status_code == 404


def test_last_used_at_is_recorded(tenant, make_client):
    client = make_client(tenant)
    assert ApiKey.objects.get().last_used_at is None
    client.get(BALANCE)
    assert ApiKey.objects.get().last_used_at is not None


def test_rate_limit_answers_429_with_retry_after(tenant, make_client, settings):
    settings.SHIELDX_RATE_LIMIT = 3
    client = make_client(tenant)
    statuses = [client.get(BALANCE).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    response = client.get(BALANCE)
    assert response.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(response["Retry-After"]) <= 60
    # The limit is per key: another key of the same tenant is not affected.
    assert make_client(tenant).get(BALANCE).status_code == 200


def test_rate_limit_zero_turns_limiting_off(tenant, make_client, settings):
    settings.SHIELDX_RATE_LIMIT = 0
    client = make_client(tenant)
    assert all(client.get(BALANCE).status_code == 200 for _ in range(20))


def test_a_key_used_before_its_revocation_is_refused_right_after_it(tenant, make_client):
    from shieldx.auth import key_changes

    assert key_changes.wait_connected(5)
    client = make_client(tenant)
    assert client.get(BALANCE).status_code == 200  # verified once: now cached in this process
    api_key_revoke(key=ApiKey.objects.get(key_hash=hash_key(client.raw_key)))
    _assert_401(client.get(BALANCE))


def test_a_deactivated_tenant_is_refused_right_after_its_keys_were_cached(tenant, make_client):
    client = make_client(tenant)
    assert client.get(BALANCE).status_code == 200
    tenant.is_active = False
    tenant.save()
    _assert_401(client.get(BALANCE))


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_every_server_process_forgets_a_revoked_key_it_had_verified(make_tenant):
    import time

    from django.conf import settings
    from django.db import connection

    from shieldx.services import api_key_create
    from shieldx.testing import LiveApp

    tenant = make_tenant("org-live-keys", credits=10)
    key_row, raw = api_key_create(tenant=tenant, scopes="*")
    db = connection.settings_dict
    app = LiveApp(
        {
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:{db['PORT'] or 5432}/{db['NAME']}",
            "REDIS_URL": settings.REDIS_URL,
            "SHIELDX_CACHE_PREFIX": settings.CACHES["default"]["KEY_PREFIX"],  # the same channel as this process
        },
        workers=2,
    )
    try:
        path = "/credits/balance/org-live-keys"
        assert all(app.request("GET", path, key=raw)[0] == 200 for _ in range(20))  # both workers verified it
        api_key_revoke(key=key_row)
        deadline = time.monotonic() + 2  # pub/sub delivery, far below KEY_CACHE_SECONDS
        while time.monotonic() < deadline and app.request("GET", path, key=raw)[0] != 401:
            time.sleep(0.05)
        assert [app.request("GET", path, key=raw)[0] for _ in range(20)] == [401] * 20
    finally:
        app.close()
