"""CONTRACT §3a grants: the drawing order, holds that draw from grants, expiry as an
audited transaction (lazily and by the beat task), refunds into the grants drawn from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from credits import selectors, services, tasks
from credits.models import Account, AuditEntry, Grant, LedgerEntry

pytestmark = pytest.mark.django_db
TENANT = "org-grants"


@pytest.fixture
def client(make_tenant, make_client):
    return make_client(make_tenant(TENANT))


def post(client, path, body):
    return client.post(path, body, format="json")


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def grant(client, amount, **fields):
    response = post(client, "/credits/grants", {"tenant_id": TENANT, "amount": amount, **fields})
    assert response.status_code == 201, response.json()
    return response.json()["grant_id"]


def live(client):
    return {g["grant_id"]: g for g in client.get(f"/credits/balance/{TENANT}").json()["grants"]}


def expire_behind_the_services_back(grant_id: str, *, ago: timedelta = timedelta(seconds=1)) -> None:
    """Move time forward by moving the grant's expiry back (the clock is not ours to move)."""
    from django.core.cache import cache

    from credits.cache import balances

    past = timezone.now() - ago
    Grant.objects.filter(public_id=grant_id).update(expires_at=past)
    Account.objects.filter(tenant_id=TENANT).update(next_grant_expiry=past)
    cache.clear()
    balances.forget()  # the last write's message may still be on its way to L1


def test_a_grant_answers_201_with_its_id_and_appears_in_the_balance_and_the_list(client):
    expires = timezone.now() + timedelta(days=30)
    response = post(client, "/credits/grants", {"tenant_id": TENANT, "amount": 500, "priority": 10, "expires_at": stamp(expires), "description": "launch"})
    assert response.status_code == 201
    body = response.json()
    assert body["type"] == "grant" and body["grant_id"].startswith("grt_") and body["balance"] == 500
    assert body["grants"] == [{"grant_id": body["grant_id"], "amount": 500}]
    shown = live(client)[body["grant_id"]]
    assert shown == {
        "grant_id": body["grant_id"], "category": "promotional", "priority": 10, "amount": 500, "remaining": 500, "held": 0,
        "expires_at": stamp(expires), "created_at": shown["created_at"],
    }  # fmt: skip
    listed = client.get(f"/credits/grants/{TENANT}").json()
    assert listed["tenant_id"] == TENANT and [g["grant_id"] for g in listed["results"]] == [body["grant_id"]]


def test_a_purchase_makes_a_paid_grant_with_optional_priority_and_expiry(client):
    expires = timezone.now() + timedelta(days=1)
    body = post(client, "/credits/purchase", {"tenant_id": TENANT, "amount": 70, "priority": 5, "expires_at": stamp(expires)}).json()
    assert body["type"] == "purchase"
    shown = live(client)[body["grant_id"]]
    assert (shown["category"], shown["priority"], shown["expires_at"]) == ("paid", 5, stamp(expires))
    plain = post(client, "/credits/purchase", {"tenant_id": TENANT, "amount": 1}).json()
    assert live(client)[plain["grant_id"]]["expires_at"] is None and live(client)[plain["grant_id"]]["priority"] == 50


@pytest.mark.parametrize(
    "fields",
    [
        {"category": "free"}, {"priority": 101}, {"priority": -1}, {"priority": "5"}, {"expires_at": "2030-01-01T00:00:00"},
        {"expires_at": "tomorrow"}, {"expires_at": 1893456000}, {"expires_at": "2001-01-01T00:00:00Z"}, {"bonus": True},
    ],
)  # fmt: skip
def test_bad_grant_bodies_are_400_and_change_nothing(client, fields):
    response = post(client, "/credits/grants", {"tenant_id": TENANT, "amount": 5, **fields})
    assert response.status_code == 400, response.json()
    assert response.json()["error"]["code"] == "invalid_request"
    assert Grant.objects.filter(account_id=TENANT).count() == 0


def test_consumption_draws_in_the_contract_order(client):
    soon, later = timezone.now() + timedelta(days=5), timezone.now() + timedelta(days=10)
    paid_plain = grant(client, 1, category="paid")
    promo_old = grant(client, 1)
    paid_later = grant(client, 1, category="paid", expires_at=stamp(later))
    promo_soon = grant(client, 1, expires_at=stamp(soon))
    paid_first = grant(client, 1, category="paid", priority=10)
    promo_new = grant(client, 1)
    paid_soon = grant(client, 1, category="paid", expires_at=stamp(soon))
    # lower priority; soonest expiry (none last); promotional before paid; oldest.
    expected = [paid_first, promo_soon, paid_soon, paid_later, promo_old, promo_new, paid_plain]
    assert list(live(client)) == expected
    body = post(client, "/credits/consume", {"tenant_id": TENANT, "amount": 7}).json()
    assert body["grants"] == [{"grant_id": g, "amount": 1} for g in expected]
    one_by_one = []
    for _ in expected:
        post(client, "/credits/refund", {"tenant_id": TENANT, "transaction_id": body["transaction_id"], "amount": 1})
    for _ in expected:
        one_by_one += [part["grant_id"] for part in post(client, "/credits/consume", {"tenant_id": TENANT, "amount": 1}).json()["grants"]]
    assert one_by_one == expected


def test_a_consume_spanning_grants_lists_each_and_the_transactions_show_them(client):
    promo = grant(client, 30)
    paid = post(client, "/credits/purchase", {"tenant_id": TENANT, "amount": 100}).json()["grant_id"]
    body = post(client, "/credits/consume", {"tenant_id": TENANT, "amount": 50}).json()
    assert body["grants"] == [{"grant_id": promo, "amount": 30}, {"grant_id": paid, "amount": 20}]
    assert client.get(f"/credits/transactions/{TENANT}", {"limit": 1}).json()["results"][0]["grants"] == body["grants"]
    assert list(live(client)) == [paid] and live(client)[paid]["remaining"] == 80
    spent = client.get(f"/credits/grants/{TENANT}", {"include_spent": "true"}).json()["results"]
    assert [(g["grant_id"], g["remaining"]) for g in spent] == [(paid, 80), (promo, 0)]


def test_holds_draw_from_grants_and_a_partial_capture_spends_in_the_same_order(client):
    promo, paid = grant(client, 40), grant(client, 100, category="paid")
    hold = post(client, "/credits/reserve", {"tenant_id": TENANT, "amount": 60}).json()
    assert (live(client)[promo]["held"], live(client)[paid]["held"]) == (40, 20)
    # Held credits are not there to consume: the next consume skips what the hold holds.
    assert post(client, "/credits/consume", {"tenant_id": TENANT, "amount": 10}).json()["grants"] == [{"grant_id": paid, "amount": 10}]
    assert post(client, f"/credits/reservations/{hold['reservation_id']}/capture", {"amount": 50}).status_code == 200
    capture = client.get(f"/credits/transactions/{TENANT}", {"limit": 1}).json()["results"][0]
    assert capture["type"] == "capture" and capture["grants"] == [{"grant_id": promo, "amount": 40}, {"grant_id": paid, "amount": 10}]
    grants = live(client)
    assert promo not in grants and grants[paid]["remaining"] == 80 and grants[paid]["held"] == 0


def test_an_expired_grant_leaves_the_balance_as_an_audited_expire_lazily(client):
    short, lasting = grant(client, 30, expires_at=stamp(timezone.now() + timedelta(hours=1))), grant(client, 100, category="paid")
    expire_behind_the_services_back(short)
    body = client.get(f"/credits/balance/{TENANT}").json()
    assert body["balance"] == 100 and [g["grant_id"] for g in body["grants"]] == [lasting]
    entry = LedgerEntry.objects.get(account_id=TENANT, type="expire")
    assert (entry.amount, entry.reference, entry.actor, entry.grants) == (30, short, "system", [{"grant_id": short, "amount": 30}])
    assert AuditEntry.objects.filter(account_id=TENANT, action="expire", amount=30, ref=entry.public_id).exists()
    assert selectors.verify_chain(tenant_id=TENANT)["valid"] is True
    # And the write path settles it too, before it decides: 105 were there, 5 expired.
    short2 = grant(client, 5, expires_at=stamp(timezone.now() + timedelta(hours=1)))
    expire_behind_the_services_back(short2)
    assert post(client, "/credits/consume", {"tenant_id": TENANT, "amount": 101}).status_code == 402  # and nothing changed
    assert LedgerEntry.objects.filter(account_id=TENANT, type="expire").count() == 1
    assert post(client, "/credits/consume", {"tenant_id": TENANT, "amount": 100}).json()["grants"] == [{"grant_id": lasting, "amount": 100}]
    assert LedgerEntry.objects.filter(account_id=TENANT, type="expire").count() == 2


def test_the_beat_task_expires_grants_nobody_looks_at(client):
    short = grant(client, 30, expires_at=stamp(timezone.now() + timedelta(hours=1)))
    expire_behind_the_services_back(short)
    assert tasks.expire_grants.delay().get() == 1
    account = Account.objects.get(tenant_id=TENANT)
    assert account.balance == 0 and account.next_grant_expiry is None
    assert tasks.expire_grants.delay().get() == 0


def test_only_the_unheld_part_expires_and_a_released_hold_expires_what_it_gives_back(client):
    short = grant(client, 50, expires_at=stamp(timezone.now() + timedelta(hours=1)))
    hold = post(client, "/credits/reserve", {"tenant_id": TENANT, "amount": 20}).json()
    expire_behind_the_services_back(short)
    body = client.get(f"/credits/balance/{TENANT}").json()
    assert (body["balance"], body["reserved_funds"], body["available"]) == (20, 20, 0)
    assert body["grants"][0]["remaining"] == 20 and body["grants"][0]["held"] == 20
    post(client, f"/credits/reservations/{hold['reservation_id']}/release", {})
    body = client.get(f"/credits/balance/{TENANT}").json()
    assert (body["balance"], body["reserved_funds"], body["grants"]) == (0, 0, [])
    assert [e.amount for e in LedgerEntry.objects.filter(account_id=TENANT, type="expire").order_by("id")] == [30, 20]
    assert selectors.verify_chain(tenant_id=TENANT)["valid"] is True


def test_a_capture_after_expiry_spends_the_held_part(client):
    short = grant(client, 50, expires_at=stamp(timezone.now() + timedelta(hours=1)))
    hold = post(client, "/credits/reserve", {"tenant_id": TENANT, "amount": 20}).json()
    expire_behind_the_services_back(short)
    assert post(client, f"/credits/reservations/{hold['reservation_id']}/capture", {"amount": 15}).status_code == 200
    body = client.get(f"/credits/balance/{TENANT}").json()
    assert (body["balance"], body["total_spent"], body["grants"]) == (0, 15, [])
    assert selectors.verify_chain(tenant_id=TENANT)["valid"] is True


def test_a_refund_returns_to_the_grants_drawn_from_or_to_a_new_paid_grant_when_they_expired(client):
    promo = grant(client, 30, expires_at=stamp(timezone.now() + timedelta(hours=1)))
    paid = grant(client, 100, category="paid")
    txn = post(client, "/credits/consume", {"tenant_id": TENANT, "amount": 50}).json()["transaction_id"]
    # Refunds unwind the draw from its end: the paid part comes back first.
    first = post(client, "/credits/refund", {"tenant_id": TENANT, "transaction_id": txn, "amount": 25}).json()
    assert first["grants"] == [{"grant_id": paid, "amount": 20}, {"grant_id": promo, "amount": 5}]
    assert live(client)[paid]["remaining"] == 100 and live(client)[promo]["remaining"] == 5
    expire_behind_the_services_back(promo)
    rest = post(client, "/credits/refund", {"tenant_id": TENANT, "transaction_id": txn}).json()
    assert rest["amount"] == 25 and len(rest["grants"]) == 1
    fresh = live(client)[rest["grants"][0]["grant_id"]]
    assert (fresh["category"], fresh["expires_at"], fresh["remaining"]) == ("paid", None, 25)
    assert client.get(f"/credits/balance/{TENANT}").json()["balance"] == 125
    assert selectors.verify_chain(tenant_id=TENANT)["valid"] is True


def test_a_refund_brings_a_spent_grant_back_to_life(client):
    promo = grant(client, 10)
    txn = post(client, "/credits/consume", {"tenant_id": TENANT, "amount": 10}).json()["transaction_id"]
    assert live(client) == {}
    post(client, "/credits/refund", {"tenant_id": TENANT, "transaction_id": txn, "amount": 4})
    assert live(client)[promo]["remaining"] == 4


def test_verify_catches_grants_that_disagree_with_the_balance(client):
    g = grant(client, 10)
    assert selectors.verify_chain(tenant_id=TENANT)["valid"] is True
    Grant.objects.filter(public_id=g).update(remaining=11)
    report = selectors.verify_chain(tenant_id=TENANT)
    assert report["valid"] is False and report["broken_at_seq"] == Account.objects.get(tenant_id=TENANT).audit_seq


def test_grant_routes_need_their_scopes(make_tenant, make_client):
    reader = make_client(make_tenant(TENANT), scopes="credits:read")
    assert post(reader, "/credits/grants", {"tenant_id": TENANT, "amount": 5}).status_code == 403
    assert reader.get(f"/credits/grants/{TENANT}").status_code == 200
    assert make_client(make_tenant("org-other"), scopes="*").get(f"/credits/grants/{TENANT}").status_code == 404


def test_services_grant_from_a_shell():
    from shieldx.services import tenant_create

    tenant_create(tenant_id=TENANT)
    done = services.grant(tenant_id=TENANT, amount=9, actor="ops:test", priority=0, expires_at=timezone.now() + timedelta(days=1))
    assert done.grant_id and Grant.objects.get(public_id=done.grant_id).priority == 0


@pytest.mark.postgresql  # going back past 0004 on SQLite would rebuild the ledger table without its triggers
@pytest.mark.django_db(transaction=True)
def test_existing_balances_and_holds_migrate_into_one_paid_grant():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    executor.migrate([("credits", "0003_hash_idempotency_keys")])
    apps = executor.loader.project_state([("credits", "0003_hash_idempotency_keys")]).apps
    apps.get_model("shieldx", "Tenant").objects.create(tenant_id="org-old", name="old")
    apps.get_model("credits", "Account").objects.create(tenant_id="org-old", balance=700, reserved_funds=200, total_purchased=700)
    apps.get_model("credits", "Reservation").objects.create(
        public_id="rsv_old", account_id="org-old", amount=200, expires_at=timezone.now() + timedelta(hours=1)
    )
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    (migrated,) = Grant.objects.filter(account_id="org-old")
    assert (migrated.category, migrated.expires_at, migrated.amount, migrated.remaining, migrated.held) == ("paid", None, 700, 700, 200)
    assert services.capture(tenant_id="org-old", reservation_id="rsv_old", actor="t", amount=150).status == "captured"
    migrated.refresh_from_db()
    assert (migrated.remaining, migrated.held) == (550, 0)


def test_the_admin_shows_grants_on_the_account_and_grants_through_the_service(make_tenant, admin_client):
    make_tenant(TENANT, credits=10)
    response = admin_client.post(
        "/admin/credits/account/",
        {"action": "grant_credits", "_selected_action": [TENANT], "apply": "1", "amount": "25", "category": "promotional", "priority": "5"},
    )
    assert response.status_code == 302
    made = Grant.objects.get(account_id=TENANT, priority=5)
    assert (made.category, made.remaining) == ("promotional", 25)
    assert LedgerEntry.objects.filter(account_id=TENANT, type="grant", actor="admin:admin", amount=25).exists()
    page = admin_client.get(f"/admin/credits/account/{TENANT}/change/").content.decode()
    assert made.public_id in page and Grant.objects.get(account_id=TENANT, priority=50).public_id in page
    past = admin_client.post(
        "/admin/credits/account/",
        {"action": "grant_credits", "_selected_action": [TENANT], "apply": "1", "amount": "5", "expires_at": "2001-01-01 00:00:00"},
        follow=True,
    )
    assert past.status_code == 200 and Grant.objects.filter(account_id=TENANT).count() == 2


@pytest.mark.postgresql
def test_no_index_of_grants_names_the_columns_every_consume_rewrites(client):
    """A column in any index (or index predicate) makes every update of it non-HOT: a dead
    tuple and new entries in each index per consume. ``remaining > 0`` once was such a
    predicate, and the consume rate fell 40 % within a minute of load."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'credits_grant'")
        definitions = dict(cursor.fetchall())
    assert "grant_live" in definitions
    for name, definition in definitions.items():
        assert "remaining" not in definition and "held" not in definition, (name, definition)
