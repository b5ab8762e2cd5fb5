"""Idempotency keys: replay, reuse with another body, in-flight duplicates (CONTRACT §3)."""

from __future__ import annotations

import json
from datetime import timedelta

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from credits import idempotency, services
from credits.models import IdempotencyRecord, LedgerEntry

TENANT = "org-123"


def consume(client, amount=10, key="key-1", **extra):
    return client.post("/credits/consume", {"tenant_id": TENANT, "amount": amount, "idempotency_key": key, **extra}, format="json")


@pytest.mark.django_db
def test_a_repeat_replays_the_stored_body_with_the_replayed_header(client_for):
    first = consume(client_for)
    second = consume(client_for)
    assert first.status_code == second.status_code == 200
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert LedgerEntry.objects.filter(type="consume").count() == 1


@pytest.mark.django_db
def test_the_key_may_come_in_the_header(client_for):
    first = client_for.post("/credits/consume", {"tenant_id": TENANT, "amount": 10}, format="json", HTTP_IDEMPOTENCY_KEY="hdr-1")
    second = consume(client_for, key="hdr-1")  # same key in the body: the same request
    assert second["Idempotent-Replayed"] == "true" and second.json() == first.json()


@pytest.mark.django_db
def test_header_and_body_keys_that_differ_are_400(client_for):
    response = client_for.post(
        "/credits/consume", {"tenant_id": TENANT, "amount": 10, "idempotency_key": "a"}, format="json", HTTP_IDEMPOTENCY_KEY="b"
    )
    assert response.status_code == 400
    assert LedgerEntry.objects.filter(type="consume").count() == 0


@pytest.mark.django_db
def test_the_same_key_with_another_body_is_422_and_changes_nothing(client_for):
    consume(client_for, amount=10)
    response = consume(client_for, amount=11)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert LedgerEntry.objects.filter(type="consume").count() == 1


@pytest.mark.django_db
def test_the_same_key_on_another_route_is_422(client_for):
    consume(client_for, key="shared")
    response = client_for.post("/credits/purchase", {"tenant_id": TENANT, "amount": 10, "idempotency_key": "shared"}, format="json")
    assert response.status_code == 422


@pytest.mark.django_db
def test_a_refusal_is_stored_so_a_retry_can_never_become_a_charge(client_for):
    refused = consume(client_for, amount=5000, key="big")
    assert refused.status_code == 402
    client_for.post("/credits/purchase", {"tenant_id": TENANT, "amount": 10000}, format="json")
    retry = consume(client_for, amount=5000, key="big")
    assert retry.status_code == 402
    assert retry["Idempotent-Replayed"] == "true"
    assert retry.json() == refused.json()
    assert LedgerEntry.objects.filter(type="consume").count() == 0


@pytest.mark.django_db
def test_validation_failures_are_not_stored(client_for):
    assert consume(client_for, amount="10", key="v").status_code == 400
    assert IdempotencyRecord.objects.count() == 0
    assert consume(client_for, amount=10, key="v").status_code == 200


@pytest.mark.django_db
def test_keys_are_scoped_to_the_tenant(client_for, make_tenant, make_client):
    other = make_client(make_tenant("org-b", credits=100))
    consume(client_for, key="same")
    response = other.post("/credits/consume", {"tenant_id": "org-b", "amount": 10, "idempotency_key": "same"}, format="json")
    assert response.status_code == 200 and "Idempotent-Replayed" not in response


@pytest.mark.django_db
def test_an_expired_record_frees_the_key_and_the_purge_task_removes_it(client_for):
    from credits import tasks

    consume(client_for, key="old")
    IdempotencyRecord.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert consume(client_for, key="old", amount=12).status_code == 200  # a new request now
    IdempotencyRecord.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert tasks.purge_idempotency_records.delay().get() == 1
    assert IdempotencyRecord.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["x" * 256, "bad\nkey", "tab\tkey", "", 123])
def test_malformed_keys_are_400(client_for, key):
    assert consume(client_for, key=key).status_code == 400


@pytest.mark.postgresql  # threads on one SQLite file serialise by design; SQLite cannot truncate append-only tables
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_requests_with_one_key_take_effect_once(make_tenant, make_client, in_threads):
    client = make_client(make_tenant(TENANT, credits=1000))
    raw_key = client.raw_key

    def call(i):
        from rest_framework.test import APIClient

        c = APIClient()
        c.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
        r = c.post("/credits/consume", {"tenant_id": TENANT, "amount": 7, "idempotency_key": "race"}, format="json")
        return r.status_code, r.json(), r.get("Idempotent-Replayed")

    results = in_threads(20, call)
    assert all(isinstance(r, tuple) for r in results), results
    statuses = [r[0] for r in results]
    assert set(statuses) <= {200, 409}
    fresh = [r for r in results if r[0] == 200 and r[2] is None]
    replays = [r for r in results if r[0] == 200 and r[2] == "true"]
    assert len(fresh) == 1
    assert all(r[1] == fresh[0][1] for r in replays)
    assert all(r[1]["error"]["code"] == "idempotency_key_in_use" for r in results if r[0] == 409)
    assert LedgerEntry.objects.filter(type="consume").count() == 1
    # After completion every retry replays.
    again = [call(0) for _ in range(3)]
    assert all(r[0] == 200 and r[2] == "true" and r[1] == fresh[0][1] for r in again)


@pytest.mark.postgresql  # the race needs a second connection committing meanwhile
@pytest.mark.django_db(transaction=True)
def test_a_unit_whose_record_meets_a_winners_at_commit_undoes_its_effect_and_replays_the_winner(make_tenant):
    """The lookup's snapshot may predate the lock holder's commit: the unit then sees no
    record, runs its effect, and its record meets the winner's when the pipeline closes.
    That error surfaced as psycopg's own class, which ``once`` did not catch: a 500
    instead of the winner's answer (the loser's effect did roll back)."""
    make_tenant(TENANT, credits=100)
    request_fingerprint = idempotency.fingerprint("consume", "/credits/consume", {"tenant_id": TENANT, "amount": 7})
    winner = {"transaction_id": "txn_winner"}
    db = connection.settings_dict
    with idempotency.once(tenant_id=TENANT, key="raced", request_fingerprint=request_fingerprint) as unit:
        assert unit.pending
        services.consume(tenant_id=TENANT, amount=7, actor="test")
        with psycopg.connect(
            host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"], dbname=db["NAME"], autocommit=True
        ) as other:
            now = timezone.now()
            other.execute(
                "INSERT INTO credits_idempotencyrecord (tenant_id, key, fingerprint, status_code, response_body, created_at, expires_at)"
                " VALUES (%s, %s, %s, 200, %s, %s, %s)",
                (TENANT, idempotency.stored_key(TENANT, "raced"), request_fingerprint, json.dumps(winner), now, now + idempotency.TTL),
            )
        unit.answer(200, {"transaction_id": "txn_loser"})
    assert unit.replayed and (unit.status, unit.body) == (200, winner)
    assert not LedgerEntry.objects.filter(type="consume").exists()


@pytest.mark.postgresql
@pytest.mark.django_db
def test_the_lookups_generic_plan_finds_the_key_by_index_however_many_records_the_tenant_has(make_tenant):
    """psycopg prepares the lookup, and PostgreSQL soon caches one generic plan for it per
    connection. With a tenant-only index beside the unique (tenant, key) one, that plan
    scanned all of the tenant's records and filtered the key: every keyed write grew
    slower with the tenant's history."""
    make_tenant(TENANT)
    sql = idempotency._PG_LOCK_AND_FIND.replace("%(lock_id)s", "$1").replace("%(tenant_id)s", "$2").replace("%(key)s", "$3")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        cursor.execute(f"PREPARE lookup(bigint, text, text) AS {sql}")
        cursor.execute("EXPLAIN EXECUTE lookup(1, 'org-123', 'k')")
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("DEALLOCATE lookup")
    assert "idempotency_tenant_key" in plan and "Filter" not in plan, plan
