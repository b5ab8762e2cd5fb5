"""The contract's JSON shapes (CONTRACT §3), rendered from domain values in one place."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from credits import domain, grants
from credits.models import Account
from shieldx.timestamps import rfc3339


def balance(account: Account, live_grants: Iterable[grants.Grant] | None = None) -> dict[str, Any]:
    """The balance; with the account's live grants (in drawing order) when given, as the
    API answers it (CONTRACT §3a). A past balance (``?at=``) has no grants."""
    body = {
        "tenant_id": account.tenant_id,
        "balance": account.balance,
        "reserved_funds": account.reserved_funds,
        "available": account.balance - account.reserved_funds,
        "total_spent": account.total_spent,
        "total_purchased": account.total_purchased,
    }
    if live_grants is not None:
        body["grants"] = [grant(domain.Grant.of(g)) for g in grants.in_drawing_order(live_grants) if g.remaining > 0]
    return body


def grant(value: domain.Grant) -> dict[str, Any]:
    return {
        "grant_id": value.grant_id,
        "category": value.category,
        "priority": value.priority,
        "amount": value.amount,
        "remaining": value.remaining,
        "held": value.held,
        "expires_at": rfc3339(value.expires_at) if value.expires_at else None,
        "created_at": rfc3339(value.created_at),
    }


def transaction(value: domain.Transaction) -> dict[str, Any]:
    return {
        "transaction_id": value.transaction_id,
        "tenant_id": value.tenant_id,
        "type": value.type,
        "amount": value.amount,
        "description": value.description,
        "balance": value.balance,
        "reserved_funds": value.reserved_funds,
        "available": value.available,
        "reference": value.reference,
        "metadata": value.metadata,
        "created_at": rfc3339(value.created_at),
        "grants": [dict(part) for part in value.grants],
    } | ({"grant_id": value.grant_id} if value.grant_id else {})


def reservation(value: domain.Reservation) -> dict[str, Any]:
    return {
        "reservation_id": value.reservation_id,
        "tenant_id": value.tenant_id,
        "amount": value.amount,
        "captured_amount": value.captured_amount,
        "status": value.status,
        "description": value.description,
        "expires_at": rfc3339(value.expires_at),
        "created_at": rfc3339(value.created_at),
    }


def event(value: domain.Event) -> dict[str, Any]:
    return {
        "event_id": value.event_id,
        "type": value.type,
        "created_at": rfc3339(value.created_at),
        "data": value.data,
        "delivery": {"status": value.delivery_status, "attempts": value.attempts},
    }


def alert_settings(value: domain.AlertSettings) -> dict[str, Any]:
    return {
        "tenant_id": value.tenant_id,
        "thresholds": list(value.thresholds),
        "webhook_url": value.webhook_url,
        "webhook_secret_set": value.webhook_secret_set,
        "updated_at": rfc3339(value.updated_at) if value.updated_at else None,
    }
