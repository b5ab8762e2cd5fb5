"""CONTRACT §3 route by route: shapes, status codes and the arithmetic of each operation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from credits.models import LedgerEntry

pytestmark = pytest.mark.django_db
TENANT = "org-123"


def post(client, path, body, **headers):
    return client.post(path, body, format="json", **headers)


def _forget_cached_balances():
    from django.core.cache import cache

    from credits.cache import balances

    cache.clear()
    balances.forget()


def balance(client):
    body = client.get(f"/credits/balance/{TENANT}").json()
    body.pop("grants")  # §3a's breakdown (test_grants.py); these tests hold §3's figures
    return body


def test_balance_has_the_contract_fields(client_for):
    assert balance(client_for) == {
        "tenant_id": TENANT, "balance": 1000, "reserved_funds": 0, "available": 1000, "total_spent": 0, "total_purchased": 1000,
    }


def test_consume_answers_200_with_the_transaction_as_after_it(client_for):
    response = post(client_for, "/credits/consume", {"tenant_id": TENANT, "amount": 30, "description": "scan", "metadata": {"job": "42"}})
    assert response.status_code == 200
    body = response.json()
    assert body["transaction_id"].startswith("txn_")
    assert {k: body[k] for k in ("tenant_id", "type", "amount", "description", "balance", "reserved_funds", "available")} == {
        "tenant_id": TENANT, "type": "consume", "amount": 30, "description": "scan", "balance": 970, "reserved_funds": 0, "available": 970,
    }
    assert body["metadata"] == {"job": "42"}
    assert body["created_at"].endswith("Z")
    assert balance(client_for)["total_spent"] == 30


def test_consume_beyond_available_is_refused_and_changes_nothing(client_for):
    before = LedgerEntry.objects.count()
    response = post(client_for, "/credits/consume", {"tenant_id": TENANT, "amount": 1001})
    assert response.status_code == 402
    assert response.json()["error"]["code"] == "insufficient_funds"
    assert balance(client_for)["balance"] == 1000
    assert LedgerEntry.objects.count() == before


def test_purchase_answers_201_and_raises_balance_and_total(client_for):
    response = post(client_for, "/credits/purchase", {"tenant_id": TENANT, "amount": 500, "external_ref": "inv_1"})
    assert response.status_code == 201
    assert response.json()["type"] == "purchase" and response.json()["balance"] == 1500
    assert balance(client_for)["total_purchased"] == 1500


def test_reserve_lowers_available_only(client_for):
    response = post(client_for, "/credits/reserve", {"tenant_id": TENANT, "amount": 300, "ttl_seconds": 60})
    assert response.status_code == 201
    hold = response.json()
    assert hold["reservation_id"].startswith("rsv_") and hold["status"] == "pending" and hold["captured_amount"] == 0
    assert balance(client_for) | {} == {
        "tenant_id": TENANT, "balance": 1000, "reserved_funds": 300, "available": 700, "total_spent": 0, "total_purchased": 1000,
    }
    assert post(client_for, "/credits/consume", {"tenant_id": TENANT, "amount": 701}).status_code == 402
    assert post(client_for, "/credits/reserve", {"tenant_id": TENANT, "amount": 701}).status_code == 402


def test_partial_capture_charges_the_captured_amount_and_releases_the_rest(client_for):
    hold = post(client_for, "/credits/reserve", {"tenant_id": TENANT, "amount": 300}).json()
    response = post(client_for, f"/credits/reservations/{hold['reservation_id']}/capture", {"amount": 120})
    assert response.status_code == 200
    assert response.json()["status"] == "captured" and response.json()["captured_amount"] == 120
    assert balance(client_for) == {
        "tenant_id": TENANT, "balance": 880, "reserved_funds": 0, "available": 880, "total_spent": 120, "total_purchased": 1000,
    }


def test_capture_defaults_to_the_whole_hold(client_for):
    hold = post(client_for, "/credits/reserve", {"tenant_id": TENANT, "amount": 300}).json()
    assert post(client_for, f"/credits/reservations/{hold['reservation_id']}/capture", {}).json()["captured_amount"] == 300
    assert balance(client_for)["balance"] == 700


def test_capture_of_more_than_reserved_is_400_and_changes_nothing(client_for):
    hold = post(client_for, "/credits/reserve", {"tenant_id": TENANT, "amount": 300}).json()
    response = post(client_for, f"/credits/reservations/{hold['reservation_id']}/capture", {"amount": 301})
    assert response.status_code == 400
    assert client_for.get(f"/credits/reservations/{hold['reservation_id']}").json()["status"] == "pending"


def test_release_returns_the_hold_and_a_second_release_is_409(client_for):
    hold = post(client_for, "/credits/reserve", {"tenant_id": TENANT, "amount": 300}).json()
    path = f"/credits/reservations/{hold['reservation_id']}/release"
    assert post(client_for, path, {}).json()["status"] == "released"
    assert balance(client_for)["available"] == 1000
    second = post(client_for, path, {})
    assert second.status_code == 409 and second.json()["error"]["code"] == "conflict"
    assert post(client_for, f"/credits/reservations/{hold['reservation_id']}/capture", {}).status_code == 409


def test_expired_hold_is_released_lazily_when_the_account_is_touched(client_for):
    from credits.models import Reservation

    hold = post(client_for, "/credits/reserve", {"tenant_id": TENANT, "amount": 300, "ttl_seconds": 1}).json()
    # Move time forward by moving the hold's expiry back (the clock is not ours to move).
    Reservation.objects.filter(public_id=hold["reservation_id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    from credits.models import Account

    Account.objects.filter(tenant_id=TENANT).update(next_hold_expiry=timezone.now() - timedelta(seconds=1))
    _forget_cached_balances()  # the rows were edited behind the services' back
    assert balance(client_for)["available"] == 1000
    assert client_for.get(f"/credits/reservations/{hold['reservation_id']}").json()["status"] == "expired"
    assert post(client_for, f"/credits/reservations/{hold['reservation_id']}/capture", {}).status_code == 409
    assert LedgerEntry.objects.filter(type="expire", reference=hold["reservation_id"], actor="system").count() == 1


def test_beat_task_releases_expired_holds(client_for):
    from credits import tasks
    from credits.models import Account, Reservation

    hold = post(client_for, "/credits/reserve", {"tenant_id": TENANT, "amount": 300}).json()
    past = timezone.now() - timedelta(seconds=1)
    Reservation.objects.filter(public_id=hold["reservation_id"]).update(expires_at=past)
    Account.objects.filter(tenant_id=TENANT).update(next_hold_expiry=past)
    assert tasks.expire_holds.delay().get() == 1
    assert Account.objects.get(tenant_id=TENANT).reserved_funds == 0
    assert Account.objects.get(tenant_id=TENANT).next_hold_expiry is None


def test_refund_returns_credits_and_never_exceeds_the_consume_in_total(client_for):
    txn = post(client_for, "/credits/consume", {"tenant_id": TENANT, "amount": 100}).json()
    first = post(client_for, "/credits/refund", {"tenant_id": TENANT, "transaction_id": txn["transaction_id"], "amount": 60})
    assert first.status_code == 201
    assert first.json()["type"] == "refund" and first.json()["reference"] == txn["transaction_id"] and first.json()["balance"] == 960
    too_much = post(client_for, "/credits/refund", {"tenant_id": TENANT, "transaction_id": txn["transaction_id"], "amount": 41})
    assert too_much.status_code == 409
    rest = post(client_for, "/credits/refund", {"tenant_id": TENANT, "transaction_id": txn["transaction_id"]})
    assert rest.status_code == 201 and rest.json()["amount"] == 40
    assert post(client_for, "/credits/refund", {"tenant_id": TENANT, "transaction_id": txn["transaction_id"]}).status_code == 409
    assert balance(client_for)["balance"] == 1000 and balance(client_for)["total_spent"] == 0


def test_refund_of_a_purchase_or_unknown_transaction_is_404(client_for):
    purchase = post(client_for, "/credits/purchase", {"tenant_id": TENANT, "amount": 5}).json()
    assert post(client_for, "/credits/refund", {"tenant_id": TENANT, "transaction_id": purchase["transaction_id"]}).status_code == 404
    assert post(client_for, "/credits/refund", {"tenant_id": TENANT, "transaction_id": "txn_nope"}).status_code == 404


def test_refunding_another_tenants_transaction_is_404_and_writes_nothing(client_for, make_tenant, make_client):
    txn = post(client_for, "/credits/consume", {"tenant_id": TENANT, "amount": 10}).json()
    other = make_client(make_tenant("org-evil", credits=0))
    before = LedgerEntry.objects.count()
    # As itself, naming the victim's transaction:
    assert post(other, "/credits/refund", {"tenant_id": "org-evil", "transaction_id": txn["transaction_id"]}).status_code == 404
    # As the victim:
    assert post(other, "/credits/refund", {"tenant_id": TENANT, "transaction_id": txn["transaction_id"]}).status_code == 404
    assert LedgerEntry.objects.count() == before


def test_another_tenants_reservation_is_404_for_every_route(client_for, make_tenant, make_client):
    hold = post(client_for, "/credits/reserve", {"tenant_id": TENANT, "amount": 10}).json()
    other = make_client(make_tenant("org-evil"))
    rid = hold["reservation_id"]
    assert other.get(f"/credits/reservations/{rid}").status_code == 404
    assert post(other, f"/credits/reservations/{rid}/capture", {}).status_code == 404
    assert post(other, f"/credits/reservations/{rid}/release", {}).status_code == 404
    assert client_for.get(f"/credits/reservations/{rid}").json()["status"] == "pending"


def test_balance_at_a_past_moment_comes_from_the_ledger(client_for):
    post(client_for, "/credits/consume", {"tenant_id": TENANT, "amount": 100})
    middle = timezone.now()
    post(client_for, "/credits/consume", {"tenant_id": TENANT, "amount": 50})
    at = client_for.get(f"/credits/balance/{TENANT}", {"at": middle.isoformat()}).json()
    assert at["balance"] == 900 and at["total_spent"] == 100
    before_all = client_for.get(f"/credits/balance/{TENANT}", {"at": "2000-01-01T00:00:00Z"}).json()
    assert before_all["balance"] == 0
    assert client_for.get(f"/credits/balance/{TENANT}", {"at": "yesterday"}).status_code == 400


def test_transactions_page_newest_first_with_an_opaque_cursor(client_for):
    for amount in range(1, 8):
        post(client_for, "/credits/consume", {"tenant_id": TENANT, "amount": amount})
    seen, cursor = [], None
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = client_for.get(f"/credits/transactions/{TENANT}", params).json()
        seen += [t["amount"] for t in page["results"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [7, 6, 5, 4, 3, 2, 1, 1000]
    assert client_for.get(f"/credits/transactions/{TENANT}", {"cursor": "garbage!"}).status_code == 400
    assert client_for.get(f"/credits/transactions/{TENANT}", {"limit": 0}).status_code == 400


def test_unknown_reservation_is_404(client_for):
    assert client_for.get("/credits/reservations/rsv_nope").status_code == 404
    assert post(client_for, "/credits/reservations/rsv_nope/capture", {}).status_code == 404


def test_a_tenant_made_without_an_account_reads_as_empty(make_client):
    from shieldx.services import tenant_create

    client = make_client(tenant_create(tenant_id="org-admin-made"))
    body = client.get("/credits/balance/org-admin-made").json()
    assert body["balance"] == 0 and body["available"] == 0
    assert client.post("/credits/consume", {"tenant_id": "org-admin-made", "amount": 1}, format="json").status_code == 402
