"""Fixtures for camouflage's Django layer: keyrings, tenants and clients."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient
from stdnum import luhn

from camouflage.envelope import generate_key

KEY_1, KEY_2, KEY_3 = generate_key(), generate_key(), generate_key()


@pytest.fixture
def use_keyring(settings):
    """use_keyring("1:…,2:…", min_version=None): the process keyring for this test."""

    def use(spec: str, *, min_version: int | None = None) -> None:
        settings.SHIELDX_KEYRING = spec
        settings.SHIELDX_KEYRING_MIN_VERSION = min_version or 0

    return use


@pytest.fixture
def keyring_v1(use_keyring):
    use_keyring(f"1:{KEY_1}")


@pytest.fixture
def other_tenant(make_tenant):
    return make_tenant("org-other")


@pytest.fixture
def other_client(other_tenant, make_client):
    return make_client(other_tenant)


@pytest.fixture
def operator(make_client):
    return make_client(None)


def client_with(raw_key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


def post(client: APIClient, path: str, body, **extra):
    return client.post(f"/camouflage/{path}", body, format="json", **extra)


def luhn_card(prefix: str, length: int = 16) -> str:
    body = prefix + "7" * (length - len(prefix) - 1)
    return body + luhn.calc_check_digit(body)
