"""Which database errors count against the PostgreSQL breaker: outages do, lost races don't."""

from __future__ import annotations

import threading

import psycopg
import pytest
from django.db import OperationalError, connection, transaction

from shieldx import resilience
from shieldx.breaker import CLOSED
from shieldx.models import Tenant
from shieldx.services import tenant_create


@pytest.mark.django_db(transaction=True)
def test_a_real_deadlock_loses_one_transaction_and_never_opens_the_breaker(in_threads):
    """Under load, concurrent batches deadlocked, three deadlocks opened the breaker and
    every other request in the process got 503 for a reset period."""
    for tenant_id in ("org-a", "org-b"):
        tenant_create(tenant_id=tenant_id)
    both_hold_one = threading.Barrier(2)

    def lock_in_opposite_orders(i: int) -> str:
        first, second = ("org-a", "org-b") if i == 0 else ("org-b", "org-a")
        with transaction.atomic():
            Tenant.objects.select_for_update().get(tenant_id=first)
            both_hold_one.wait()
            Tenant.objects.select_for_update().get(tenant_id=second)
        return "committed"

    for _ in range(resilience.database.fail_max + 1):
        results = in_threads(2, lock_in_opposite_orders)
        lost = [r for r in results if isinstance(r, OperationalError)]
        assert len(lost) == 1 and "committed" in results, results
        assert lost[0].__cause__.sqlstate == "40P01"  # deadlock_detected
        assert not resilience.is_database_outage(lost[0])
    assert resilience.database.state == CLOSED
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def test_a_refused_connection_and_a_server_shutdown_are_outages():
    with pytest.raises(psycopg.OperationalError) as refused:
        psycopg.connect("host=127.0.0.1 port=1 connect_timeout=1")
    as_django = OperationalError(str(refused.value))
    as_django.__cause__ = refused.value
    shutdown = OperationalError("terminating connection due to administrator command")
    shutdown.__cause__ = psycopg.errors.AdminShutdown()

    assert resilience.is_database_outage(as_django)
    assert resilience.is_database_outage(shutdown)


@pytest.mark.parametrize("cause", [psycopg.errors.LockNotAvailable, psycopg.errors.SerializationFailure, psycopg.errors.QueryCanceled])
def test_a_lock_timeout_a_serialization_failure_and_a_statement_timeout_are_not(cause):
    lost = OperationalError("one transaction lost")
    lost.__cause__ = cause()

    assert not resilience.is_database_outage(lost)
