"""Exactly-once execution of keyed requests (CONTRACT §3, Stripe's semantics, stricter).

The effect and the stored response commit in one database transaction, so a request
either took effect once and its answer is stored, or nothing happened at all. A
transaction-scoped advisory lock on (tenant, key) tells a concurrent duplicate that the
first is still running (409) instead of letting it queue behind the first.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from credits.chain import canonical
from credits.exceptions import IdempotencyKeyInUse, IdempotencyKeyReused
from credits.models import IdempotencyRecord
from shieldx.errors import ApplicationError, error_body

TTL = timedelta(hours=24)
# Outcomes a retry must see again: a refusal stays a refusal, never turns into a charge.
STORED_ERROR_STATUSES = frozenset({402, 404, 409})
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})  # serialization failure, deadlock
MAX_ATTEMPTS = 4


@dataclass(frozen=True)
class Outcome:
    status: int
    body: dict[str, Any]
    replayed: bool = False


def fingerprint(operation: str, target: str, body: dict[str, Any]) -> str:
    """What makes two requests 'the same': the operation, its target, and the body without the key."""
    payload = {"op": operation, "target": target, "body": {k: v for k, v in body.items() if k != "idempotency_key"}}
    return hashlib.sha256(canonical(payload)).hexdigest()


def with_retries(fn: Callable[[], Outcome]) -> Outcome:
    """Rerun a whole transaction on deadlock or serialization failure, a bounded number of times."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            return fn()
        except DatabaseError as exc:
            sqlstate = getattr(getattr(exc, "__cause__", None), "sqlstate", None)
            if sqlstate not in RETRYABLE_SQLSTATES or attempt == MAX_ATTEMPTS:
                raise
            time.sleep(random.uniform(0, 0.01 * attempt))
    raise AssertionError("unreachable")


def _lock_key(tenant_id: str, key: str) -> None:
    if connection.vendor != "postgresql":
        return  # SQLite's IMMEDIATE transactions already run writers one at a time
    digest = hashlib.sha256(f"{tenant_id}\x00{key}".encode()).digest()
    lock_id = int.from_bytes(digest[:8], "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [lock_id])
        (acquired,) = cursor.fetchone()
    if not acquired:
        raise IdempotencyKeyInUse()


def run(
    *,
    tenant_id: str,
    key: str | None,
    request_fingerprint: str,
    perform: Callable[[], tuple[int, dict[str, Any]]],
) -> Outcome:
    """Run ``perform`` (which writes under its own locks) at most once per (tenant, key)."""

    def attempt() -> Outcome:
        with transaction.atomic():
            if key is None:
                return Outcome(*perform())
            _lock_key(tenant_id, key)
            now = timezone.now()
            record = IdempotencyRecord.objects.filter(tenant_id=tenant_id, key=key).first()
            if record is not None and record.expires_at > now:
                if record.fingerprint != request_fingerprint:
                    raise IdempotencyKeyReused()
                return Outcome(record.status_code, record.response_body, replayed=True)
            if record is not None:
                record.delete()  # expired: the key is free again
            try:
                # A savepoint, so a refusal raised midway can never leave half an effect.
                with transaction.atomic():
                    status, body = perform()
            except ApplicationError as exc:
                if exc.http_status not in STORED_ERROR_STATUSES:
                    raise
                status, body = exc.http_status, error_body(exc.code, exc.message, exc.details)
            IdempotencyRecord.objects.create(
                tenant_id=tenant_id, key=key, fingerprint=request_fingerprint, status_code=status,
                response_body=body, created_at=now, expires_at=now + TTL,
            )
            return Outcome(status, body)

    return with_retries(attempt)


def purge_expired(*, now=None) -> int:
    deleted, _ = IdempotencyRecord.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted
