"""Reads of the credits ledger. None of them writes: where holds have expired but are not
yet released, a read says so (``holds_due``, or ``balance_cached`` answering None) and the
caller releases them through ``services.holds_expire_due`` before it reads.
(CONTRACT §3: expired holds are released automatically.)"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import InterfaceError, OperationalError
from django.utils import timezone

from credits import chain, domain, representations
from credits.cache import Snapshot, balances
from credits.exceptions import AccountNotFound, ReservationNotFound
from credits.models import Account, AuditEntry, LedgerEntry, Reservation
from shieldx import cursors, resilience
from shieldx.breaker import CLOSED, CircuitOpen


def _account(tenant_id: str) -> Account:
    """The tenant's account (the caller resolved the tenant). A tenant made in the admin has
    none until first used: it reads as an empty one rather than as missing."""
    return Account.objects.filter(tenant_id=tenant_id).first() or Account(tenant_id=tenant_id)


def holds_due(*, tenant_id: str) -> bool:
    """Whether some of the tenant's holds have expired and wait to be released."""
    expiry = Account.objects.filter(tenant_id=tenant_id).values_list("next_hold_expiry", flat=True).first()
    return expiry is not None and expiry <= timezone.now()


def balance(*, tenant_id: str) -> dict[str, Any]:
    return representations.balance(_account(tenant_id))


@dataclass(frozen=True)
class BalanceRead:
    body: dict[str, Any]
    tier: str  # "L1", "L2" or "L3"
    stale: bool = False


def balance_cached(*, tenant_id: str) -> BalanceRead | None:
    """L1 → L2 → L3; with the database down, any cached value, marked stale. None when
    expired holds wait to be released (release them, then read again)."""
    snapshot, tier = balances.read_cached(tenant_id, time.time())
    if snapshot is not None:
        # While the database is failing nothing can confirm the value: say so.
        return BalanceRead(snapshot.body, tier, stale=resilience.database.state != CLOSED)
    try:
        account = _account(tenant_id)
    except (CircuitOpen, OperationalError, InterfaceError):
        snapshot, tier = balances.read_stale(tenant_id)
        if snapshot is None:
            raise
        return BalanceRead(snapshot.body, tier, stale=True)
    if account.next_hold_expiry is not None and account.next_hold_expiry <= timezone.now():
        return None
    snapshot = Snapshot.of(account)
    if not account._state.adding:  # an account not yet opened is not cached
        balances.store(tenant_id, snapshot)
    return BalanceRead(snapshot.body, "L3")


def balance_at(*, tenant_id: str, at: datetime) -> dict[str, Any]:
    """The balance as it stood at ``at``, from the ledger (zeros before the first entry)."""
    entry = LedgerEntry.objects.filter(account_id=tenant_id, created_at__lte=at).order_by("-created_at", "-id").first()
    figures = (entry.balance_after, entry.reserved_after, entry.spent_after, entry.purchased_after) if entry else (0, 0, 0, 0)
    body = representations.balance(Account(tenant_id=tenant_id, balance=figures[0], reserved_funds=figures[1], total_spent=figures[2], total_purchased=figures[3]))
    body["at"] = representations.rfc3339(at)
    return body


def reservation(*, tenant_id: str, reservation_id: str) -> domain.Reservation:
    hold = Reservation.objects.filter(account_id=tenant_id, public_id=reservation_id).first()
    if hold is None:
        raise ReservationNotFound()
    return domain.Reservation.of(hold, tenant_id)


def reservation_tenant(*, reservation_id: str) -> str | None:
    return Reservation.objects.filter(public_id=reservation_id).values_list("account_id", flat=True).first()


def transactions(*, tenant_id: str, limit: int, cursor: str | None) -> dict[str, Any]:
    """Newest first; the cursor is opaque to clients."""
    rows = LedgerEntry.objects.filter(account_id=tenant_id).order_by("-id")
    if cursor:
        rows = rows.filter(id__lt=cursors.decode(cursor, "c", 1)[0])
    page = list(rows[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return {
        "results": [representations.transaction(domain.Transaction.of(entry, tenant_id)) for entry in page],
        "next_cursor": cursors.encode("c", page[-1].id) if more else None,
    }


def _audit_dict(row: AuditEntry, tenant_id: str) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "seq": row.seq,
        "prev_hash": row.prev_hash,
        "hash": row.hash,
        "action": row.action,
        "amount": row.amount,
        "balance_after": row.balance_after,
        "reserved_after": row.reserved_after,
        "ref": row.ref,
        "actor": row.actor,
        "created_at": row.created_at,
    }


def audit_page(*, tenant_id: str, after_seq: int, limit: int) -> dict[str, Any]:
    """Oldest first, exactly the fields the hash covers, so anyone can recompute the chain."""
    page = list(AuditEntry.objects.filter(account_id=tenant_id, seq__gt=after_seq).order_by("seq")[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return {"results": [_audit_dict(row, tenant_id) for row in page], "next_after_seq": page[-1].seq if more else None}


def _audit_stream(tenant_id: str) -> Iterator[dict[str, Any]]:
    for row in AuditEntry.objects.filter(account_id=tenant_id).order_by("seq").iterator(chunk_size=2000):
        yield _audit_dict(row, tenant_id)


def verify_chain(*, tenant_id: str) -> dict[str, Any]:
    """Recompute the chain; the account's head must match too, so a deleted tail is caught."""
    account = Account.objects.filter(tenant_id=tenant_id).first()
    if account is None:
        raise AccountNotFound()
    report = chain.verify(_audit_stream(tenant_id))
    broken_at = report.broken_at_seq
    if report.valid and (report.length != account.audit_seq or report.head_hash != account.audit_head):
        broken_at = report.length + 1 if report.length < account.audit_seq else report.length
    return {
        "tenant_id": tenant_id,
        "valid": broken_at is None,
        "length": report.length,
        "head_hash": report.head_hash,
        "broken_at_seq": broken_at,
    }


def tenants_with_accounts() -> list[str]:
    return list(Account.objects.order_by("tenant_id").values_list("tenant_id", flat=True))
