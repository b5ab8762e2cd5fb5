"""Nothing personal reaches the credits tables, whose ledger and audit rows can never be
edited or purged (CONTRACT §1a, §5a); tenant isolation reads the same as absence."""

from __future__ import annotations

import pytest
from django.db import connection

from credits.models import Account, IdempotencyRecord, LedgerEntry

pytestmark = pytest.mark.django_db
TENANT = "org-123"
CARD, CARD_DOTS, SSN, SSN_SPACES, EMAIL = "4111111111111111", "4111.1111.1111.1111", "123-45-6789", "123 45 6789", "jane.doe@example.com"
SECRETS = (CARD, CARD_DOTS, "4111 1111 1111 1111", SSN, SSN_SPACES, EMAIL)


def _every_text_in_the_database() -> str:
    """All rows of every credits table, as text."""
    chunks = []
    with connection.cursor() as cursor:
        for table in ("credits_account", "credits_ledgerentry", "credits_auditentry", "credits_reservation", "credits_idempotencyrecord", "credits_grant"):
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 - fixed names
            chunks += [repr(row) for row in cursor.fetchall()]
    return "\n".join(chunks)


def test_pii_in_every_free_text_field_of_every_credits_route_is_never_stored(client_for):
    post = client_for.post
    key = f"retry-{CARD}-{EMAIL}"
    assert post("/credits/purchase", {"tenant_id": TENANT, "amount": 500, "description": f"card {CARD_DOTS} ssn {SSN_SPACES}",
                                       "external_ref": f"order for {EMAIL} {CARD}", "idempotency_key": key}, format="json").status_code == 201
    consumed = post("/credits/consume", {"tenant_id": TENANT, "amount": 5, "description": f"ssn {SSN} card {CARD}",
                                         "metadata": {CARD: EMAIL, f"ssn {SSN}": CARD_DOTS, "note": SSN_SPACES},
                                         "idempotency_key": f"{key}-2"}, format="json")  # fmt: skip
    assert consumed.status_code == 200, consumed.json()
    hold = post("/credits/reserve", {"tenant_id": TENANT, "amount": 10, "description": f"hold for {EMAIL}"}, format="json").json()
    post(f"/credits/reservations/{hold['reservation_id']}/capture", {"idempotency_key": f"{CARD}"}, format="json")
    post("/credits/refund", {"tenant_id": TENANT, "transaction_id": consumed.json()["transaction_id"], "idempotency_key": SSN}, format="json")
    post("/credits/consume", {"tenant_id": TENANT, "amount": 10**9, "idempotency_key": EMAIL}, format="json")  # a stored refusal

    stored = _every_text_in_the_database()
    leaked = [secret for secret in SECRETS if secret in stored]
    assert leaked == [], f"stored readable: {leaked}"
    assert IdempotencyRecord.objects.count() >= 5  # the keys were stored — as keyed hashes only
    assert consumed.json()["metadata"] and CARD not in repr(consumed.json())


def test_another_tenants_reservation_reads_exactly_like_a_missing_one(client_for, make_tenant, make_client):
    other = make_client(make_tenant("org-other", credits=100))
    theirs = other.post("/credits/reserve", {"tenant_id": "org-other", "amount": 10}, format="json").json()["reservation_id"]
    for path in (f"/credits/reservations/{theirs}", f"/credits/reservations/{theirs}/capture", f"/credits/reservations/{theirs}/release"):
        missing_path = path.replace(theirs, "rsv_" + "0" * 24)
        call = client_for.get if path.endswith(theirs) else client_for.post
        foreign, missing = call(path, {}, format="json"), call(missing_path, {}, format="json")
        assert foreign.status_code == missing.status_code == 404
        assert {k: v for k, v in foreign.json()["error"].items() if k != "request_id"} == {
            k: v for k, v in missing.json()["error"].items() if k != "request_id"
        }


def test_a_purchase_that_would_overflow_a_stored_figure_is_409_and_changes_nothing(client_for):
    Account.objects.filter(tenant_id=TENANT).update(balance=2**63 - 10, total_purchased=2**63 - 10)
    entries = LedgerEntry.objects.count()
    response = client_for.post("/credits/purchase", {"tenant_id": TENANT, "amount": 100}, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "conflict"
    assert LedgerEntry.objects.count() == entries
    assert Account.objects.get(tenant_id=TENANT).balance == 2**63 - 10
