"""Bad input gets the contract's error and writes nothing."""

from __future__ import annotations

import pytest

from credits.models import IdempotencyRecord, LedgerEntry, Reservation

pytestmark = pytest.mark.django_db
TENANT = "org-123"


def _nothing_written():
    return LedgerEntry.objects.count(), Reservation.objects.count(), IdempotencyRecord.objects.count()


BAD_AMOUNTS = [0, -1, 1.5, 10.0, "10", True, None, 10**12 + 1, [], {}]


@pytest.mark.parametrize("amount", BAD_AMOUNTS)
@pytest.mark.parametrize("path", ["/credits/consume", "/credits/purchase", "/credits/reserve"])
def test_bad_amounts_are_400(client_for, path, amount):
    before = _nothing_written()
    response = client_for.post(path, {"tenant_id": TENANT, "amount": amount, "idempotency_key": "k"}, format="json")
    assert response.status_code == 400, (amount, response.content)
    assert response.json()["error"]["code"] == "invalid_request"
    assert "amount" in response.json()["error"]["details"]["fields"]
    assert _nothing_written() == before


def test_the_largest_amount_is_accepted(client_for):
    assert client_for.post("/credits/purchase", {"tenant_id": TENANT, "amount": 10**12}, format="json").status_code == 201


@pytest.mark.parametrize("body", [
    {"tenant_id": TENANT, "amount": 1, "description": "x" * 501},
    {"tenant_id": TENANT, "amount": 1, "metadata": {"nested": {"a": "b"}}},
    {"tenant_id": TENANT, "amount": 1, "metadata": {"n": 1}},
    {"tenant_id": TENANT, "amount": 1, "metadata": ["a"]},
    {"tenant_id": TENANT, "amount": 1, "metadata": "a=b"},
    {"tenant_id": TENANT, "amount": 1, "description": 5},
    {"tenant_id": "ORG 123", "amount": 1},
    {"tenant_id": 123, "amount": 1},
    {"amount": 1},
    {"tenant_id": TENANT},
])
def test_malformed_consume_bodies_are_400(client_for, body):
    before = _nothing_written()
    assert client_for.post("/credits/consume", body, format="json").status_code == 400
    assert _nothing_written() == before


def test_unknown_tenant_is_404_for_an_operator(client_for, make_client):
    operator = make_client(None)
    response = operator.post("/credits/consume", {"tenant_id": "org-ghost", "amount": 1}, format="json")
    assert response.status_code == 404


@pytest.mark.parametrize("ttl", [0, 86401, -5, "60", 1.5])
def test_bad_reservation_ttls_are_400(client_for, ttl):
    assert client_for.post("/credits/reserve", {"tenant_id": TENANT, "amount": 1, "ttl_seconds": ttl}, format="json").status_code == 400


def test_bad_capture_amounts_are_400(client_for):
    hold = client_for.post("/credits/reserve", {"tenant_id": TENANT, "amount": 10}, format="json").json()
    for amount in (0, -1, "5", 2.5, True):
        path = f"/credits/reservations/{hold['reservation_id']}/capture"
        assert client_for.post(path, {"amount": amount}, format="json").status_code == 400
    assert Reservation.objects.get().status == "pending"
