"""The balance read path: tiers, coherence by seq, publication on commit only."""

from __future__ import annotations

import threading

import pytest
from django.db import transaction
from rest_framework.test import APIClient

from credits import selectors, services
from credits.cache import BalanceCache, Snapshot, balances

TENANT = "org-123"


def _read(client):
    response = client.get(f"/credits/balance/{TENANT}")
    return response["X-Cache"], response.json()["balance"]


@pytest.fixture
def subscribed():
    assert balances.changes.wait_connected(5), "the cache listener did not subscribe"


@pytest.mark.django_db
def test_reads_walk_down_the_tiers(client_for, subscribed):
    from django.core.cache import cache

    balances.l1.reset()
    cache.clear()  # opening the account published its balance; start from nothing cached
    assert _read(client_for) == ("L3", 1000)
    assert _read(client_for) == ("L1", 1000)
    balances.l1.reset()
    assert _read(client_for) == ("L2", 1000)
    balances.l1.reset()
    cache.clear()
    assert _read(client_for) == ("L3", 1000)


@pytest.mark.django_db
def test_a_write_is_seen_by_the_next_read_from_the_cache(client_for, subscribed):
    _read(client_for)
    client_for.post("/credits/consume", {"tenant_id": TENANT, "amount": 7}, format="json")
    assert _read(client_for) == ("L1", 993)
    balances.l1.reset()
    assert _read(client_for) == ("L2", 993)


@pytest.mark.django_db
def test_an_older_snapshot_never_overwrites_a_newer_one_in_either_tier(tenant, subscribed):
    old = Snapshot(4, {"balance": 1}, None)
    new = Snapshot(5, {"balance": 2}, None)
    cache = BalanceCache()
    cache.publish(TENANT, new)
    cache.store(TENANT, old)  # a slow reader's late fill
    assert cache.l1.get(TENANT).seq == 5
    cache.l1.reset()
    snapshot, tier = cache.read_cached(TENANT, 0)
    assert (tier, snapshot.seq) == ("L2", 5)


@pytest.mark.django_db
def test_a_snapshot_whose_hold_expiry_is_due_is_not_served(tenant, subscribed):
    import time

    balances.publish(TENANT, Snapshot(9, {"balance": 1}, time.time() - 1))
    assert balances.read_cached(TENANT, time.time()) == (None, "L3")


@pytest.mark.django_db(transaction=True)
def test_caches_learn_of_a_write_after_commit_never_before(make_tenant, subscribed):
    make_tenant(TENANT, credits=100)
    assert selectors.balance_cached(tenant_id=TENANT).body["balance"] == 100
    inside, committed = threading.Event(), threading.Event()

    def writer():
        with transaction.atomic():
            services.consume(tenant_id=TENANT, amount=30, actor="t")
            inside.set()
            committed.wait(5)
        from django.db import connection

        connection.close()

    thread = threading.Thread(target=writer)
    thread.start()
    assert inside.wait(5)
    # Written but not committed: no tier may show it (a rollback must not leak).
    assert selectors.balance_cached(tenant_id=TENANT).body["balance"] == 100
    balances.l1.reset()
    assert selectors.balance_cached(tenant_id=TENANT).body["balance"] == 100
    committed.set()
    thread.join(5)
    read = selectors.balance_cached(tenant_id=TENANT)
    assert (read.tier, read.body["balance"]) == ("L1", 70)


@pytest.mark.django_db
def test_cache_figures_are_exported(client_for, subscribed):
    _read(client_for)
    _read(client_for)
    text = APIClient().get("/metrics").content.decode()
    for name in ("credits_cache_hit_rate", "credits_cache_l1_hits", "credits_cache_l2_hits", "credits_cache_l1_misses", "credits_circuit_breaker_state"):
        assert f"\n{name}" in text or text.startswith(name), name
