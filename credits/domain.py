"""What the credits services return: plain values, no ORM rows, no HTTP.

Field names are the contract's (CONTRACT §3), so rendering one is a matter of formatting
its timestamps (``credits.representations``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from credits import grants, models


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
    # The grants it moved credits into or out of: ({"grant_id", "amount"}, ...).
    grants: tuple[dict[str, Any], ...] = ()

    @property
    def available(self) -> int:
        return self.balance - self.reserved_funds

    @property
    def grant_id(self) -> str | None:
        """The grant a purchase or grant created."""
        if self.type in (models.EntryType.PURCHASE, models.EntryType.GRANT) and self.grants:
            return self.grants[0]["grant_id"]
        return None

    @classmethod
    def of(cls, entry: models.LedgerEntry, tenant_id: str) -> Transaction:
        return cls(
            transaction_id=entry.public_id, tenant_id=tenant_id, type=entry.type, amount=entry.amount,
            description=entry.description, balance=entry.balance_after, reserved_funds=entry.reserved_after,
            reference=entry.reference or None, metadata=entry.metadata, created_at=entry.created_at,
            grants=tuple(entry.grants or ()),
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


@dataclass(frozen=True, slots=True)
class Grant:
    grant_id: str
    category: str
    priority: int
    amount: int
    remaining: int
    held: int
    expires_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, grant: grants.Grant) -> Grant:
        return cls(
            grant_id=grant.grant_id, category=grant.category, priority=grant.priority, amount=grant.amount,
            remaining=grant.remaining, held=grant.held, expires_at=grant.expires_at, created_at=grant.created_at,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Operation:
    """One operation of a batch: the service to run (``op``), its tenant, and the
    service's other keyword arguments."""

    op: str
    tenant_id: str
    arguments: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Event:
    """An outbox event with its delivery state (CONTRACT §3a)."""

    event_id: str
    type: str
    created_at: datetime
    data: dict[str, Any]
    delivery_status: str
    attempts: int

    @classmethod
    def of(cls, row: models.Event) -> Event:
        return cls(
            event_id=row.public_id, type=row.type, created_at=row.created_at, data=row.data, delivery_status=row.delivery_status,
            attempts=row.attempts,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class AlertSettings:
    """What ``GET /credits/alerts`` answers: never the secret, only whether one is set."""

    tenant_id: str
    thresholds: tuple[int, ...]
    webhook_url: str | None
    webhook_secret_set: bool
    updated_at: datetime | None

    @classmethod
    def of(cls, tenant_id: str, alerts: dict[str, Any] | None, stored: models.AlertSettings | None) -> AlertSettings:
        """From the account's ``alerts`` column (thresholds) and the settings row (webhook)."""
        return cls(
            tenant_id=tenant_id, thresholds=tuple((alerts or {}).get("thresholds", ())),
            webhook_url=(stored.webhook_url or None) if stored else None,
            webhook_secret_set=bool(stored and stored.webhook_secret_sealed), updated_at=stored.updated_at if stored else None,
        )  # fmt: skip
