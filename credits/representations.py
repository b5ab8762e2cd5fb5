"""The contract's JSON shapes (CONTRACT §3), rendered from domain values in one place."""

from __future__ import annotations

from typing import Any

from credits import domain
from credits.models import Account
from shieldx.timestamps import rfc3339


def balance(account: Account) -> dict[str, Any]:
    return {
        "tenant_id": account.tenant_id,
        "balance": account.balance,
        "reserved_funds": account.reserved_funds,
        "available": account.balance - account.reserved_funds,
        "total_spent": account.total_spent,
        "total_purchased": account.total_purchased,
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
    }


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
