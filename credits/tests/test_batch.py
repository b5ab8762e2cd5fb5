"""CONTRACT §3a batches: in order, all or nothing, the failing index, scopes per operation,
idempotent as a whole, and no deadlock between batches locking in opposite orders."""

from __future__ import annotations

import pytest

from credits import selectors
from credits.models import Account, Grant, LedgerEntry, Reservation

pytestmark = pytest.mark.django_db
A, B = "org-a", "org-b"


def batch(client, operations, **extra):
    return client.post("/credits/batch", {"operations": operations, **extra}, format="json")


@pytest.fixture
def tenant_a(make_tenant):
    return make_tenant(A, credits=100)


@pytest.fixture
def client_a(tenant_a, make_client):
    return make_client(tenant_a)


def figures(tenant_id):
    account = Account.objects.get(tenant_id=tenant_id)
    return account.balance, account.reserved_funds, LedgerEntry.objects.filter(account_id=tenant_id).count()


def test_a_batch_applies_every_operation_in_order_and_answers_each(client_a):
    response = batch(client_a, [
        {"op": "grant", "tenant_id": A, "amount": 50, "priority": 0},
        {"op": "consume", "tenant_id": A, "amount": 60, "description": "job"},
        {"op": "reserve", "tenant_id": A, "amount": 30},
        {"op": "purchase", "tenant_id": A, "amount": 5, "external_ref": "inv_9"},
    ])  # fmt: skip
    assert response.status_code == 200, response.json()
    results = response.json()["results"]
    assert [r.get("type", r.get("status")) for r in results] == ["grant", "consume", "pending", "purchase"]
    promo = results[0]["grant_id"]
    assert results[1]["grants"][0] == {"grant_id": promo, "amount": 50} and results[1]["balance"] == 90
    hold = results[2]["reservation_id"]
    then = batch(client_a, [
        {"op": "capture", "reservation_id": hold, "amount": 10},
        {"op": "refund", "tenant_id": A, "transaction_id": results[1]["transaction_id"], "amount": 10},
    ])  # fmt: skip
    assert then.status_code == 200, then.json()
    assert then.json()["results"][0]["status"] == "captured" and then.json()["results"][1]["type"] == "refund"
    assert figures(A)[:2] == (95 - 10 + 10, 0)
    assert selectors.verify_chain(tenant_id=A)["valid"] is True


def test_a_failing_operation_undoes_the_whole_batch_and_names_its_index(client_a):
    before = figures(A)
    response = batch(client_a, [
        {"op": "purchase", "tenant_id": A, "amount": 500},
        {"op": "consume", "tenant_id": A, "amount": 100},
        {"op": "consume", "tenant_id": A, "amount": 10_000},
        {"op": "consume", "tenant_id": A, "amount": 1},
    ])  # fmt: skip
    assert response.status_code == 402
    error = response.json()["error"]
    assert error["code"] == "insufficient_funds" and error["details"]["index"] == 2
    assert figures(A) == before and Grant.objects.filter(account_id=A).count() == 1


@pytest.mark.parametrize(
    ("operation", "status", "code"),
    [
        ({"op": "consume", "tenant_id": A}, 400, "invalid_request"),
        ({"op": "consume", "tenant_id": A, "amount": 1, "idempotency_key": "k"}, 400, "invalid_request"),
        ({"op": "transfer", "tenant_id": A, "amount": 1}, 400, "invalid_request"),
        ("consume", 400, "invalid_request"),
        ({"op": "consume", "tenant_id": B, "amount": 1}, 404, "not_found"),
        ({"op": "capture", "reservation_id": "rsv_nope"}, 404, "not_found"),
        ({"op": "release", "reservation_id": "rsv_nope"}, 404, "not_found"),
        ({"op": "refund", "tenant_id": A, "transaction_id": "txn_nope"}, 404, "not_found"),
        ({"op": "grant", "tenant_id": A, "amount": 1, "expires_at": "2001-01-01T00:00:00Z"}, 400, "invalid_request"),
    ],
)
def test_each_refusal_has_its_routes_status_and_the_index(client_a, make_tenant, operation, status, code):
    make_tenant(B, credits=10)
    before = figures(A)
    response = batch(client_a, [{"op": "purchase", "tenant_id": A, "amount": 7}, operation])
    assert response.status_code == status, response.json()
    assert response.json()["error"]["code"] == code and response.json()["error"]["details"]["index"] == 1
    assert figures(A) == before


def test_each_operation_needs_its_routes_scope(tenant_a, make_client):
    consumer = make_client(tenant_a, scopes="credits:consume")
    assert batch(consumer, [{"op": "consume", "tenant_id": A, "amount": 1}]).status_code == 200
    refused = batch(consumer, [{"op": "consume", "tenant_id": A, "amount": 1}, {"op": "purchase", "tenant_id": A, "amount": 1}])
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden" and refused.json()["error"]["details"]["index"] == 1
    assert batch(make_client(tenant_a, scopes="credits:read"), [{"op": "reserve", "tenant_id": A, "amount": 1}]).status_code == 403


def test_the_envelope_is_checked(client_a):
    assert batch(client_a, []).status_code == 400
    assert batch(client_a, [{"op": "consume", "tenant_id": A, "amount": 1}] * 1001).status_code == 400
    assert client_a.post("/credits/batch", {"operations": [], "extra": 1}, format="json").status_code == 400
    assert client_a.post("/credits/batch", {}, format="json").status_code == 400


def test_a_thousand_operations_commit_as_one(client_a):
    response = batch(client_a, [{"op": "consume", "tenant_id": A, "amount": 1}] * 100 + [{"op": "purchase", "tenant_id": A, "amount": 1}] * 900)
    assert response.status_code == 200
    assert len(response.json()["results"]) == 1000
    assert figures(A) == (100 - 100 + 900, 0, 1 + 1000)
    assert selectors.verify_chain(tenant_id=A)["valid"] is True


def test_an_operator_batch_spans_tenants(make_tenant, make_client):
    make_tenant(A, credits=10)
    make_tenant(B, credits=10)
    operator = make_client(None)
    response = batch(operator, [{"op": "consume", "tenant_id": B, "amount": 3}, {"op": "consume", "tenant_id": A, "amount": 4}])
    assert response.status_code == 200
    assert (figures(A)[0], figures(B)[0]) == (6, 7)
    # A balance read right after sees the batch (the caches heard of it after commit).
    assert operator.get(f"/credits/balance/{B}").json()["balance"] == 7


def test_a_batch_is_idempotent_as_a_whole(client_a):
    operations = [{"op": "consume", "tenant_id": A, "amount": 5}, {"op": "reserve", "tenant_id": A, "amount": 5}]
    first = batch(client_a, operations, idempotency_key="b-1")
    again = batch(client_a, operations, idempotency_key="b-1")
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert figures(A)[:2] == (95, 5) and Reservation.objects.filter(account_id=A).count() == 1
    assert batch(client_a, operations[:1], idempotency_key="b-1").status_code == 422
    refused = batch(client_a, [{"op": "consume", "tenant_id": A, "amount": 10**6}], idempotency_key="b-2")
    assert refused.status_code == 402
    assert batch(client_a, [{"op": "consume", "tenant_id": A, "amount": 10**6}], idempotency_key="b-2").json() == refused.json()


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_batches_locking_the_same_tenants_in_opposite_orders_never_deadlock(make_tenant, make_client, in_threads):
    make_tenant(A, credits=10**6)
    make_tenant(B, credits=10**6)
    raw_key = make_client(None).raw_key

    def run(i):
        from rest_framework.test import APIClient

        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
        first, second = (A, B) if i % 2 else (B, A)
        statuses = []
        for _ in range(15):
            # Many operations on the first tenant keep its lock held while the other
            # batch takes its own first tenant: without ordered locking the two meet in a cycle.
            ops = [{"op": "consume", "tenant_id": first, "amount": 1}] * 20 + [{"op": "consume", "tenant_id": second, "amount": 1}]
            statuses.append(batch(client, ops).status_code)
        return statuses

    results = in_threads(4, run)
    assert all(statuses == [200] * 15 for statuses in results), results
    assert Account.objects.get(tenant_id=A).balance + Account.objects.get(tenant_id=B).balance == 2 * 10**6 - 4 * 15 * 21
    assert selectors.verify_chain(tenant_id=A)["valid"] is True and selectors.verify_chain(tenant_id=B)["valid"] is True


def test_later_operations_see_earlier_ones_of_the_same_batch(client_a):
    response = batch(client_a, [
        {"op": "grant", "tenant_id": A, "amount": 40, "priority": 0},
        {"op": "consume", "tenant_id": A, "amount": 70},
        {"op": "reserve", "tenant_id": A, "amount": 20},
    ])  # fmt: skip
    consume, hold = response.json()["results"][1], response.json()["results"][2]
    second = batch(client_a, [
        {"op": "refund", "tenant_id": A, "transaction_id": consume["transaction_id"], "amount": 5},
        {"op": "consume", "tenant_id": A, "amount": 3},
        {"op": "refund", "tenant_id": A, "transaction_id": consume["transaction_id"], "amount": 65},
        {"op": "capture", "reservation_id": hold["reservation_id"], "amount": 4},
        {"op": "consume", "tenant_id": A, "amount": 1},
    ])  # fmt: skip
    assert second.status_code == 200, second.json()
    results = second.json()["results"]
    # The last refund found the first one (written mid-batch) and took exactly the rest.
    assert [r["amount"] for r in results[0:3:2]] == [5, 65]
    balances = [r["balance"] for r in results if "balance" in r]
    assert balances == [75, 72, 137, 137 - 4 - 1]
    history = client_a.get(f"/credits/transactions/{A}", {"limit": 5}).json()["results"]
    assert [t["type"] for t in history] == ["consume", "capture", "refund", "consume", "refund"]
    body = client_a.get(f"/credits/balance/{A}").json()
    assert body["balance"] == 132 and body["balance"] == sum(g["remaining"] for g in body["grants"])
    assert selectors.verify_chain(tenant_id=A)["valid"] is True
