"""The events outbox (CONTRACT §3a): events are rows written in the same transaction as
the change that caused them, and delivered to the tenant's webhook after it commits.

Writing. ``ledger.record`` asks ``rows`` for a change's events (a threshold crossed,
the balance depleted, a grant expired) and writes them with ``write``: one more statement
on PostgreSQL (its result is not awaited: in a pipelined request it travels with the
COMMIT), and only when there is an event. A rolled-back change leaves no event, and a
committed one always has its events.

Delivering. Each pending event is queued after commit (``transaction.on_commit``); the
beat task ``credits.deliver_due_events`` queues every pending event whose attempt is due,
so an event whose queueing was lost (a crash between commit and queue, a broker outage)
is delivered anyway. ``deliver`` makes one attempt while holding the event's row lock
(``SELECT … FOR UPDATE SKIP LOCKED``) and marks the outcome in the same transaction: two
workers given the same event never both POST it, and an event a receiver answered with
2xx is never POSTed again. A worker killed between the 2xx and its commit leaves the
event pending, so it is delivered again: at least once, which is why receivers
deduplicate by ``event_id``.

The signing secret is sealed with the keyring's envelope (camouflage's AES-256-GCM,
through its services): it is stored so it can sign, never shown.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from camouflage import services as camouflage
from credits import alerts, webhooks
from credits.exceptions import EventNotFound, EventNotRetryable
from credits.models import AlertSettings, DeliveryStatus, Event
from shieldx.errors import ApplicationError
from shieldx.timestamps import rfc3339

if TYPE_CHECKING:
    from credits.models import Account

logger = logging.getLogger(__name__)

# Associated data of the sealed secret: binds the ciphertext to this use.
SEAL_CONTEXT = "credits/webhook_secret"
DUE_BATCH = 1000
_DELIVERY_FIELDS = ["delivery_status", "attempts", "next_attempt_at", "last_attempt_at", "last_status", "last_error", "delivered_at"]

_PG_INSERT = """
INSERT INTO credits_event (public_id, account_id, type, data, created_at, delivery_status, attempts, next_attempt_at, last_error)
SELECT v.public_id, v.tenant_id, v.type, v.data, v.created_at, v.status, 0, v.next_attempt_at, ''
  FROM json_to_recordset(%(events)s::json) AS v(public_id text, tenant_id text, type text, data jsonb, created_at timestamptz,
       status text, next_attempt_at timestamptz)
"""
_PORTABLE_INSERT = """
INSERT INTO credits_event (public_id, account_id, type, data, created_at, delivery_status, attempts, next_attempt_at, last_error)
VALUES (%(public_id)s, %(tenant_id)s, %(type)s, %(data)s, %(created_at)s, %(status)s, 0, %(next_attempt_at)s, '')
"""


# --- writing ------------------------------------------------------------------------------


def rows(account: Account, available_before: int, events: Sequence[alerts.Event], *, now: datetime, transaction_id: str = "") -> list[dict]:
    """The event rows of one change of the locked account (its figures already changed).
    Costs two comparisons when the tenant has no alerts and nothing happened."""
    wanted = account.alerts
    available = account.available
    if not events and not wanted and available != 0:
        return []
    events = [*alerts.balance_events(wanted["thresholds"] if wanted else (), available_before, available), *events]
    status = DeliveryStatus.PENDING if wanted and wanted.get("webhook") else DeliveryStatus.NONE
    extra = {"transaction_id": transaction_id} if transaction_id else {}
    return [
        {
            "public_id": _new_id(),
            "tenant_id": account.tenant_id,
            "type": kind,
            "data": {**data, **extra},
            "created_at": now,
            "status": status,
            "next_attempt_at": now if status == DeliveryStatus.PENDING else None,
        }  # fmt: skip
        for kind, data in events
    ]


def _new_id() -> str:
    return f"evt_{secrets.token_hex(12)}"


def write(event_rows: list[dict]) -> None:
    """Insert the rows in the current transaction; pending ones are queued after commit."""
    if not event_rows:
        return
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_PG_INSERT, {"events": json.dumps(event_rows, default=datetime.isoformat)})
        else:
            for row in event_rows:
                cursor.execute(_PORTABLE_INSERT, {**row, "data": json.dumps(row["data"])})
    pending = [row["public_id"] for row in event_rows if row["status"] == DeliveryStatus.PENDING]
    if pending:
        # robust: a broker that cannot take the message must not fail a request whose
        # change has already committed; the sweep delivers what was not queued.
        transaction.on_commit(lambda: _queue(pending), robust=True)


def _queue(event_ids: list[str]) -> None:
    from credits import tasks  # tasks → services → ledger → this module

    for event_id in event_ids:
        tasks.deliver_event.delay(event_id)


# --- the signing secret --------------------------------------------------------------------


def seal_secret(*, tenant_id: str, secret: str) -> str:
    return camouflage.encrypt(tenant_id=tenant_id, items=[(secret, SEAL_CONTEXT)])[0]["ciphertext"]


def _open_secret(*, tenant_id: str, sealed: str) -> str | None:
    try:
        return camouflage.decrypt(tenant_id=tenant_id, items=[(sealed, SEAL_CONTEXT)]).items[0]["plaintext"]
    except ApplicationError:  # the key version was retired, or the row was tampered with
        return None


# --- delivering ----------------------------------------------------------------------------


def deliver(*, event_id: str, now: datetime | None = None) -> str | None:
    """One delivery attempt of the event if it is pending and due. Returns its delivery
    status afterwards, or None when there was nothing to do (already delivered, failed,
    not due yet, or another worker is delivering it right now)."""
    now = now or timezone.now()
    with transaction.atomic():
        event = (
            Event.objects.select_for_update(skip_locked=True)
            .filter(public_id=event_id, delivery_status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
            .first()
        )
        if event is None:
            return None
        hook = AlertSettings.objects.filter(account_id=event.account_id).first()
        if hook is None or not hook.webhook_url:  # the webhook was removed meanwhile
            event.delivery_status, event.next_attempt_at = DeliveryStatus.NONE, None
        else:
            _attempt(event, hook, now)
        event.save(update_fields=_DELIVERY_FIELDS)
    return event.delivery_status


def _attempt(event: Event, hook: AlertSettings, now: datetime) -> None:
    body = alerts.payload(
        event_id=event.public_id, type=event.type, created_at=rfc3339(event.created_at), tenant_id=event.account_id, data=event.data
    )  # fmt: skip
    secret = _open_secret(tenant_id=event.account_id, sealed=hook.webhook_secret_sealed)
    if secret is None:
        outcome = webhooks.Outcome(None, "secret_unreadable")
    else:
        headers = {
            "Content-Type": "application/json", "User-Agent": "ShieldX-Webhooks/1", "ShieldX-Event-Id": event.public_id,
            alerts.SIGNATURE_HEADER: alerts.signature(secret, int(now.timestamp()), body),
        }  # fmt: skip
        outcome = webhooks.post(hook.webhook_url, body, headers, allow_private=settings.SHIELDX_WEBHOOK_ALLOW_PRIVATE)
    event.attempts += 1
    event.last_attempt_at, event.last_status, event.last_error = now, outcome.status, outcome.error
    deadline = event.created_at + alerts.RETRY_FOR
    if outcome.delivered:
        event.delivery_status, event.delivered_at, event.next_attempt_at = DeliveryStatus.DELIVERED, now, None
    elif now >= deadline:
        event.delivery_status, event.next_attempt_at = DeliveryStatus.FAILED, None
    else:
        event.next_attempt_at = min(now + alerts.backoff(event.attempts), deadline)
    logger.info(
        "webhook attempt",
        extra={"event_id": event.public_id, "attempt": event.attempts, "http_status": outcome.status, "error": outcome.error},
    )


def due(*, now: datetime | None = None, limit: int = DUE_BATCH) -> list[str]:
    """Pending events whose attempt is due, oldest due first (the sweep queues them)."""
    pending = Event.objects.filter(delivery_status=DeliveryStatus.PENDING, next_attempt_at__lte=now or timezone.now())
    return list(pending.order_by("next_attempt_at", "id").values_list("public_id", flat=True)[:limit])


@transaction.atomic
def retry_now(*, event_id: str, actor: str) -> str:
    """Try a pending or failed event again at once (the admin's "retry now"). A failed
    event gets one more attempt; if that fails too it is failed again."""
    # Waits for a delivery in progress to finish, so its outcome is what is judged.
    event = Event.objects.select_for_update().filter(public_id=event_id).first()
    if event is None:
        raise EventNotFound()
    if event.delivery_status not in (DeliveryStatus.PENDING, DeliveryStatus.FAILED):
        raise EventNotRetryable(f"The event is {event.delivery_status}; only pending or failed events are retried.")
    event.delivery_status, event.next_attempt_at = DeliveryStatus.PENDING, timezone.now()
    event.save(update_fields=["delivery_status", "next_attempt_at"])
    logger.info("webhook retry requested", extra={"event_id": event.public_id, "actor": actor})
    transaction.on_commit(lambda: _queue([event.public_id]), robust=True)
    return event.delivery_status
