"""Exactly-once requests at the API's edge (CONTRACT §3: Stripe's semantics, stricter).

A keyed write request is one unit of work: ``once`` opens the transaction, takes a
transaction-scoped advisory lock on (tenant, key) — a concurrent duplicate gets 409
instead of queueing —, replays a stored answer or refuses a reused key, lets the view run
its plain service, and stores the answer (a success, or a 402/404/409 refusal) in the same
transaction as the effect. So a request either took effect once and its answer is stored,
or nothing happened. Services never see keys.

Keys are stored as keyed hashes (HMAC with a key derived from SECRET_KEY): a client may
put anything in a key, and the table must not keep it readable for 24 h.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from credits.chain import canonical
from credits.exceptions import IdempotencyKeyInUse, IdempotencyKeyReused
from credits.models import IdempotencyRecord
from shieldx.db import pipelined
from shieldx.errors import ApplicationError, error_body

TTL = timedelta(hours=24)
# Outcomes a retry must see again: a refusal stays a refusal, never turns into a charge.
STORED_ERROR_STATUSES = frozenset({402, 404, 409})

_PG_LOCK_AND_FIND = """
SELECT pg_try_advisory_xact_lock(%(lock_id)s), r.fingerprint, r.status_code, r.response_body::text, r.expires_at
  FROM (SELECT 1) AS one
  LEFT JOIN credits_idempotencyrecord r ON r.tenant_id = %(tenant_id)s AND r.key = %(key)s
"""
_INSERT = """
INSERT INTO credits_idempotencyrecord (tenant_id, key, fingerprint, status_code, response_body, created_at, expires_at)
VALUES (%(tenant_id)s, %(key)s, %(fingerprint)s, %(status)s, %(body)s, %(now)s, %(expires_at)s)
"""


def fingerprint(operation: str, target: str, body: dict[str, Any]) -> str:
    """What makes two requests 'the same': the operation, its target, and the body without the key."""
    payload = {"op": operation, "target": target, "body": {k: v for k, v in body.items() if k != "idempotency_key"}}
    return hashlib.sha256(canonical(payload)).hexdigest()


@lru_cache(maxsize=4)
def _hash_key(secret: str) -> bytes:
    return hashlib.sha256(b"shieldx.credits.idempotency\x00" + secret.encode()).digest()


def stored_key(tenant_id: str, key: str) -> str:
    """The keyed hash under which a client's key is stored (64 hex characters)."""
    return hmac.new(_hash_key(settings.SECRET_KEY), f"{tenant_id}\x00{key}".encode(), hashlib.sha256).hexdigest()


@dataclass
class Unit:
    """One request's unit of work. The view answers it unless it is already ``replayed``."""

    status: int = 0
    body: dict[str, Any] = field(default_factory=dict)
    replayed: bool = False

    @property
    def pending(self) -> bool:
        return not self.replayed

    def answer(self, status: int, body: dict[str, Any]) -> None:
        self.status, self.body = status, body


@dataclass(frozen=True)
class _Stored:
    fingerprint: str
    status: int
    body: dict[str, Any]


def _lock_and_find(tenant_id: str, key: str) -> _Stored | None:
    """Take the key's advisory lock (409 if held) and read its live record, in one round trip.

    The read's snapshot may predate the lock holder's commit; then our insert meets the
    unique constraint at commit, and ``once`` replays the winner's answer instead."""
    now = timezone.now()
    if connection.vendor != "postgresql":
        # SQLite's IMMEDIATE transactions already run writers one at a time.
        record = IdempotencyRecord.objects.filter(tenant_id=tenant_id, key=key).first()
        row = (True, record.fingerprint, record.status_code, json.dumps(record.response_body), record.expires_at) if record else (True, None, None, None, None)
    else:
        lock_id = int.from_bytes(bytes.fromhex(key[:16]), "big", signed=True)
        with connection.cursor() as cursor:
            cursor.execute(_PG_LOCK_AND_FIND, {"lock_id": lock_id, "tenant_id": tenant_id, "key": key})
            row = cursor.fetchone()
    acquired, fp, status, body, expires_at = row
    if not acquired:
        raise IdempotencyKeyInUse()
    if fp is None:
        return None
    if expires_at <= now:
        IdempotencyRecord.objects.filter(tenant_id=tenant_id, key=key).delete()  # expired: the key is free again
        return None
    return _Stored(fp, status, json.loads(body))


def _store(tenant_id: str, key: str, request_fingerprint: str, unit: Unit) -> None:
    now = timezone.now()
    params = {
        "tenant_id": tenant_id, "key": key, "fingerprint": request_fingerprint, "status": unit.status,
        "body": json.dumps(unit.body), "now": now, "expires_at": now + TTL,
    }  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(_INSERT, params)  # not awaited: it travels with the pipeline's closing sync


def _replay(tenant_id: str, key: str, request_fingerprint: str) -> Unit | None:
    record = IdempotencyRecord.objects.filter(tenant_id=tenant_id, key=key).first()
    if record is None:
        return None
    if record.fingerprint != request_fingerprint:
        raise IdempotencyKeyReused()
    return Unit(record.status_code, record.response_body, replayed=True)


@contextmanager
def once(*, tenant_id: str, key: str | None, request_fingerprint: str) -> Iterator[Unit]:
    """The request's unit of work; see the module's docstring.

    Inside, the view calls its service and ``unit.answer(status, body)`` when
    ``unit.pending``. A refusal with a stored status raised inside is stored and answered
    (the service's savepoint already undid its partial writes); anything else rolls the
    whole unit back and propagates."""
    unit = Unit()
    hashed = stored_key(tenant_id, key) if key is not None else None
    try:
        # Pipelined inside the transaction: psycopg would spend a round trip on each
        # autocommit switch made inside a pipeline.
        with transaction.atomic(), pipelined():
            stored = _lock_and_find(tenant_id, hashed) if hashed else None
            if stored is not None:
                if stored.fingerprint != request_fingerprint:
                    raise IdempotencyKeyReused()
                unit.answer(stored.status, stored.body)
                unit.replayed = True
            try:
                yield unit
            except ApplicationError as exc:
                if hashed is None or exc.http_status not in STORED_ERROR_STATUSES:
                    raise
                unit.answer(exc.http_status, error_body(exc.code, exc.message, exc.details))
            if hashed and not unit.replayed:
                _store(tenant_id, hashed, request_fingerprint, unit)
    except IntegrityError:
        # Our record met another request's at commit: the same key won the race while we
        # ran. Everything we did rolled back; answer what the winner stored.
        replay = _replay(tenant_id, hashed, request_fingerprint) if hashed else None
        if replay is None:
            raise
        unit.status, unit.body, unit.replayed = replay.status, replay.body, True


def purge_expired(*, now=None) -> int:
    deleted, _ = IdempotencyRecord.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted
