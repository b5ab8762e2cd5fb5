"""The contract's JSON shapes (CONTRACT §3), built from rows in one place.

Services return these dicts so the body an idempotent request stores is exactly the
body it answered with.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from credits.models import Account, LedgerEntry, Reservation


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def balance(account: Account) -> dict[str, Any]:
    return {
        "tenant_id": account.tenant_id,
        "balance": account.balance,
        "reserved_funds": account.reserved_funds,
        "available": account.balance - account.reserved_funds,
        "total_spent": account.total_spent,
        "total_purchased": account.total_purchased,
    }


def transaction(entry: LedgerEntry, tenant_id: str) -> dict[str, Any]:
    return {
        "transaction_id": entry.public_id,
        "tenant_id": tenant_id,
        "type": entry.type,
        "amount": entry.amount,
        "description": entry.description,
        "balance": entry.balance_after,
        "reserved_funds": entry.reserved_after,
        "available": entry.balance_after - entry.reserved_after,
        "reference": entry.reference or None,
        "metadata": entry.metadata,
        "created_at": rfc3339(entry.created_at),
    }


def reservation(hold: Reservation, tenant_id: str) -> dict[str, Any]:
    return {
        "reservation_id": hold.public_id,
        "tenant_id": tenant_id,
        "amount": hold.amount,
        "captured_amount": hold.captured_amount,
        "status": hold.status,
        "description": hold.description,
        "expires_at": rfc3339(hold.expires_at),
        "created_at": rfc3339(hold.created_at),
    }
