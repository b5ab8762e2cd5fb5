"""What the credits services return: plain values, no ORM rows, no HTTP.

Field names are the contract's (CONTRACT §3), so rendering one is a matter of formatting
its timestamps (``credits.representations``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from credits import models


@dataclass(frozen=True, slots=True)
class Transaction:
    transaction_id: str
    tenant_id: str
    type: str
    amount: int
    description: str
    balance: int
    reserved_funds: int
    reference: str | None
    metadata: dict[str, Any]
    created_at: datetime

    @property
    def available(self) -> int:
        return self.balance - self.reserved_funds

    @classmethod
    def of(cls, entry: models.LedgerEntry, tenant_id: str) -> Transaction:
        return cls(
            transaction_id=entry.public_id, tenant_id=tenant_id, type=entry.type, amount=entry.amount,
            description=entry.description, balance=entry.balance_after, reserved_funds=entry.reserved_after,
            reference=entry.reference or None, metadata=entry.metadata, created_at=entry.created_at,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Reservation:
    reservation_id: str
    tenant_id: str
    amount: int
    captured_amount: int
    status: str
    description: str
    expires_at: datetime
    created_at: datetime

    @classmethod
    def of(cls, hold: models.Reservation, tenant_id: str) -> Reservation:
        return cls(
            reservation_id=hold.public_id, tenant_id=tenant_id, amount=hold.amount, captured_amount=hold.captured_amount,
            status=hold.status, description=hold.description, expires_at=hold.expires_at, created_at=hold.created_at,
        )  # fmt: skip
