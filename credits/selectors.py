"""Reads of the credits ledger. None of them writes: where holds or grants have expired but
are not yet settled, a read says so (``expiry_due``, or ``balance_cached`` answering None)
and the caller settles them through ``services.expire_due`` before it reads.
(CONTRACT §3: expired holds are released automatically; §3a: grants expire whether or not
anyone is looking.)"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import InterfaceError, OperationalError
from django.utils import timezone

from credits import chain, domain, grants, ledger, representations
from credits.cache import Snapshot, balances
from credits.exceptions import AccountNotFound, ReservationNotFound
from credits.models import Account, AlertSettings, AuditEntry, Event, Grant, LedgerEntry, Reservation
from shieldx import cursors, resilience
from shieldx.breaker import CLOSED, CircuitOpen
from shieldx.errors import InvalidRequest

GRANTS_LIMIT = 1000


def _account(tenant_id: str) -> Account:
    """The tenant's account (the caller resolved the tenant). A tenant made in the admin has
    none until first used: it reads as an empty one rather than as missing."""
    return Account.objects.filter(tenant_id=tenant_id).first() or Account(tenant_id=tenant_id)


def _live_grants(tenant_id: str) -> list[grants.Grant]:
    rows = Grant.objects.filter(account_id=tenant_id, spent=False).values_list(*ledger.GRANT_COLUMNS)
    return [ledger.grant_of(row) for row in rows]


def _due(account: Account, now: datetime) -> bool:
    return any(moment is not None and moment <= now for moment in (account.next_hold_expiry, account.next_grant_expiry))


def expiry_due(*, tenant_id: str) -> bool:
    """Whether some of the tenant's holds or grants have expired and wait to be settled."""
    markers = Account.objects.filter(tenant_id=tenant_id).values_list("next_hold_expiry", "next_grant_expiry").first()
    now = timezone.now()
    return markers is not None and any(moment is not None and moment <= now for moment in markers)


def balance(*, tenant_id: str) -> dict[str, Any]:
    return representations.balance(_account(tenant_id), _live_grants(tenant_id))


def grants_list(*, tenant_id: str, include_spent: bool = False, limit: int = GRANTS_LIMIT) -> list[dict[str, Any]]:
    """Live grants in drawing order; with ``include_spent``, then the spent ones, newest first."""
    live = [representations.grant(domain.Grant.of(g)) for g in grants.in_drawing_order(_live_grants(tenant_id))]
    if not include_spent or len(live) >= limit:
        return live[:limit]
    spent = Grant.objects.filter(account_id=tenant_id, spent=True).order_by("-id").values_list(*ledger.GRANT_COLUMNS)[: limit - len(live)]
    return live + [representations.grant(domain.Grant.of(ledger.grant_of(row))) for row in spent]


@dataclass(frozen=True)
class BalanceRead:
    body: dict[str, Any]
    tier: str  # "L1", "L2" or "L3"
    stale: bool = False


def balance_cached(*, tenant_id: str) -> BalanceRead | None:
    """L1 → L2 → L3; with the database down, any cached value, marked stale. None when
    expired holds wait to be released (release them, then read again)."""
    # The clock the services decide by, so a snapshot is due exactly when they say so.
    snapshot, tier = balances.read_cached(tenant_id, timezone.now().timestamp())
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
    if _due(account, timezone.now()):
        return None
    account.grant_list = _live_grants(tenant_id)
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


def alerts_get(*, tenant_id: str) -> domain.AlertSettings:
    wanted = Account.objects.filter(tenant_id=tenant_id).values_list("alerts", flat=True).first()
    return domain.AlertSettings.of(tenant_id, wanted, AlertSettings.objects.filter(account_id=tenant_id).first())


def events_page(*, tenant_id: str, after: str | None, limit: int) -> dict[str, Any]:
    """Oldest first. ``after`` is a ``next_cursor`` this route gave, or an event id of the
    tenant's (so a receiver can resume after the last event it handled)."""
    rows = Event.objects.filter(account_id=tenant_id).order_by("id")
    if after and after.startswith("evt_"):
        after_id = rows.filter(public_id=after).values_list("id", flat=True).first()
        if after_id is None:  # another tenant's event reads exactly like a missing one
            raise InvalidRequest("after names no event of this tenant.", details={"field": "after"})
        rows = rows.filter(id__gt=after_id)
    elif after:
        try:
            rows = rows.filter(id__gt=cursors.decode(after, "e", 1)[0])
        except InvalidRequest as exc:
            exc.details = {"field": "after"}
            raise
    page = list(rows[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return {
        "results": [representations.event(domain.Event.of(row)) for row in page],
        "next_cursor": cursors.encode("e", page[-1].id) if more else None,
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
    if broken_at is None and not _grants_agree(account):
        broken_at = account.audit_seq  # the figures as they stand (the head) disagree with the grants
    return {
        "tenant_id": tenant_id,
        "valid": broken_at is None,
        "length": report.length,
        "head_hash": report.head_hash,
        "broken_at_seq": broken_at,
    }


def _grants_agree(account: Account) -> bool:
    """balance = Σ remaining of live grants, reserved funds = Σ held, and each grant's held
    part is exactly what pending holds hold of it (CONTRACT §3a)."""
    live = _live_grants(account.tenant_id)
    if grants.totals(live) != (account.balance, account.reserved_funds):
        return False
    held: dict[str, int] = {}
    for parts in Reservation.objects.filter(account_id=account.tenant_id, status="pending").values_list("grants", flat=True):
        for part in parts:
            held[part["grant_id"]] = held.get(part["grant_id"], 0) + part["amount"]
    return held == {g.grant_id: g.held for g in live if g.held}


def tenants_with_accounts() -> list[str]:
    return list(Account.objects.order_by("tenant_id").values_list("tenant_id", flat=True))


# --- operator console reads (issue 14) ---------------------------------------------------
# Read-only, for the console's pages; they reuse the representations above, so every
# figure a page shows is the API's figure.

CONSOLE_SERIES_POINTS = 240


def accounts_overview(*, limit: int = 200) -> list[dict[str, Any]]:
    """Every account's balance (the API's shape) with its last activity, most recent first."""
    rows = Account.objects.order_by("-updated_at", "tenant_id")[:limit]
    return [{**representations.balance(row), "last_activity": representations.rfc3339(row.updated_at)} for row in rows]


def balance_series(*, tenant_id: str, max_points: int = CONSOLE_SERIES_POINTS) -> dict[str, Any]:
    """Balance and available after each ledger entry, oldest first.

    Up to ``max_points`` changes every change is a point. A longer history is cut into
    ``max_points`` equal stretches of time, each shown by the figures as they stood at
    its end (what ``balance_at`` answers for that moment): one indexed lookup per
    stretch, so a tenant with a million entries costs ``max_points`` small queries.
    """
    entries = LedgerEntry.objects.filter(account_id=tenant_id)
    total = entries.count()
    fields = ("created_at", "balance_after", "reserved_after")
    if total <= max_points:
        rows = list(entries.order_by("created_at", "id").values_list(*fields))
        bucketed = False
    else:
        first = entries.order_by("created_at", "id").values_list("created_at", flat=True).first()
        last = entries.order_by("-created_at", "-id").values_list("created_at", flat=True).first()
        step = (last - first) / max_points
        rows = []
        for n in range(1, max_points + 1):
            edge = last if n == max_points else first + step * n
            row = entries.filter(created_at__lte=edge).order_by("-created_at", "-id").values_list(*fields).first()
            if row is not None and (not rows or row != rows[-1]):
                rows.append(row)
        bucketed = True
    points = [{"at": representations.rfc3339(at), "balance": bal, "available": bal - held} for at, bal, held in rows]
    return {"tenant_id": tenant_id, "entries": total, "bucketed": bucketed, "points": points}


def reservations_pending(*, tenant_id: str, limit: int = 100) -> list[dict[str, Any]]:
    """Pending holds, soonest expiry first (release expired ones first: see expiry_due)."""
    rows = Reservation.objects.filter(account_id=tenant_id, status="pending").order_by("expires_at", "id")[:limit]
    return [representations.reservation(domain.Reservation.of(row, tenant_id)) for row in rows]
