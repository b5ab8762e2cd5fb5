"""Balance alerts and signed webhooks (CONTRACT §3a): the rules, with no Django and no I/O.

- A threshold ``t`` is crossed when ``available`` goes from ``>= t`` to ``< t``. Every
  change happens under the account lock, so the changes form one sequence of
  (before, after) pairs and "before >= t > after" holds for exactly one change per
  downward crossing; a threshold is re-armed by ``available`` being ``>= t`` again, which
  is what makes "before >= t" true for the next crossing. No armed flags to keep in step.
- ``balance.depleted``: ``available`` reached 0 (from above).
- Signatures: ``ShieldX-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>``
  (Stripe's scheme): the timestamp is signed with the body, so a captured delivery
  cannot be replayed later than the receiver's tolerance.
- Retries: exponential backoff with jitter for 24 h after the event, then ``failed``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

THRESHOLD_CROSSED = "balance.threshold_crossed"
DEPLETED = "balance.depleted"
GRANT_EXPIRED = "grant.expired"
GRANT_EXPIRING = "grant.expiring"
TYPES = (THRESHOLD_CROSSED, DEPLETED, GRANT_EXPIRED, GRANT_EXPIRING)

MAX_THRESHOLDS = 10
MIN_SECRET_LENGTH = 32
MAX_SECRET_LENGTH = 256
SIGNATURE_HEADER = "ShieldX-Signature"

RETRY_FOR = timedelta(hours=24)
EXPIRING_NOTICE = timedelta(hours=24)
BACKOFF_FIRST_SECONDS = 30.0
BACKOFF_MAX_SECONDS = 3600.0

Event = tuple[str, dict[str, Any]]  # (type, data)


def normalized(thresholds: Iterable[int]) -> list[int]:
    """Distinct, highest first: the order events of one change are written in."""
    return sorted(set(thresholds), reverse=True)


def balance_events(thresholds: Iterable[int], before: int, after: int) -> list[Event]:
    """The events of one change of ``available`` from ``before`` to ``after``."""
    events: list[Event] = [
        (THRESHOLD_CROSSED, {"threshold": t, "available": after, "previous_available": before}) for t in thresholds if before >= t > after
    ]
    if after == 0 < before:
        events.append((DEPLETED, {"available": 0, "previous_available": before}))
    return events


def payload(*, event_id: str, type: str, created_at: str, tenant_id: str, data: dict[str, Any]) -> bytes:
    """The body POSTed to the webhook, exactly as signed."""
    body = {"event_id": event_id, "type": type, "created_at": created_at, "tenant_id": tenant_id, "data": data}
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``ShieldX-Signature`` header's value."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def backoff(attempts: int, *, rng: random.Random | None = None) -> timedelta:
    """How long after its ``attempts``-th failed attempt an event is tried again: doubling
    from 30 s up to an hour, each delay drawn from its upper half ("equal jitter") so that
    the events of one outage do not all come back at the same moment."""
    ceiling = min(BACKOFF_MAX_SECONDS, BACKOFF_FIRST_SECONDS * 2 ** max(attempts - 1, 0))
    return timedelta(seconds=ceiling / 2 + (rng or random).random() * ceiling / 2)  # noqa: S311 - jitter, not a secret
