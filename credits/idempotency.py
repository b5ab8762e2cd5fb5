"""Exactly-once execution of keyed requests (CONTRACT §3, Stripe's semantics, stricter).

The effect and the stored response commit in one database transaction, so a request
either took effect once and its answer is stored, or nothing happened at all. A
transaction-scoped advisory lock on (tenant, key) tells a concurrent duplicate that the
first is still running (409) instead of letting it queue behind the first.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import DatabaseError, IntegrityError, connection, transaction
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
        except _KeyRaced:
            if attempt == MAX_ATTEMPTS:
                raise
            continue
        except DatabaseError as exc:
            sqlstate = getattr(getattr(exc, "__cause__", None), "sqlstate", None)
            if sqlstate not in RETRYABLE_SQLSTATES or attempt == MAX_ATTEMPTS:
                raise
            time.sleep(random.uniform(0, 0.01 * attempt))
    raise AssertionError("unreachable")


_PG_LOCK_AND_FIND = """
SELECT pg_try_advisory_xact_lock(%s), r.id, r.fingerprint, r.status_code, r.response_body::text, r.expires_at
  FROM (SELECT 1) AS one
  LEFT JOIN credits_idempotencyrecord r ON r.tenant_id = %s AND r.key = %s
"""


class _KeyRaced(Exception):
    """Another request stored this key between our read and our insert: run again to replay it."""


def _lock_and_find(tenant_id: str, key: str) -> IdempotencyRecord | None:
    """Take the key's advisory lock (409 if held) and read its record, in one round trip.

    The read's snapshot may predate the lock holder's commit; then our insert meets the
    unique constraint and the whole attempt reruns, and replays."""
    if connection.vendor != "postgresql":
        # SQLite's IMMEDIATE transactions already run writers one at a time.
        return IdempotencyRecord.objects.filter(tenant_id=tenant_id, key=key).first()
    digest = hashlib.sha256(f"{tenant_id}\x00{key}".encode()).digest()
    with connection.cursor() as cursor:
        cursor.execute(_PG_LOCK_AND_FIND, [int.from_bytes(digest[:8], "big", signed=True), tenant_id, key])
        acquired, pk, fp, status, body, expires_at = cursor.fetchone()
    if not acquired:
        raise IdempotencyKeyInUse()
    if pk is None:
        return None
    return IdempotencyRecord(pk=pk, tenant_id=tenant_id, key=key, fingerprint=fp, status_code=status, response_body=json.loads(body), expires_at=expires_at)


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
            now = timezone.now()
            record = _lock_and_find(tenant_id, key)
            if record is not None and record.expires_at > now:
                if record.fingerprint != request_fingerprint:
                    raise IdempotencyKeyReused()
                return Outcome(record.status_code, record.response_body, replayed=True)
            if record is not None:
                record.delete()  # expired: the key is free again
            # Services raise refusals before writing their effect, so a stored refusal
            # never sits beside half an effect (expired holds released on the way are
            # housekeeping, valid whatever this request's outcome).
            try:
                status, body = perform()
            except ApplicationError as exc:
                if exc.http_status not in STORED_ERROR_STATUSES:
                    raise
                status, body = exc.http_status, error_body(exc.code, exc.message, exc.details)
            try:
                IdempotencyRecord.objects.create(
                    tenant_id=tenant_id, key=key, fingerprint=request_fingerprint, status_code=status,
                    response_body=body, created_at=now, expires_at=now + TTL,
                )
            except IntegrityError:
                raise _KeyRaced() from None  # leaves the atomic block: everything rolls back
            return Outcome(status, body)

    return with_retries(attempt)


def purge_expired(*, now=None) -> int:
    deleted, _ = IdempotencyRecord.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted
