"""Every change to a tenant's credits goes through these functions.

Each one locks the tenant's account row (through ``_lock_account``), decides on the
locked row, and writes the effect, the ledger entry and the audit link in the same
transaction; ``idempotency.run`` adds the stored response to that transaction when the
caller sent a key. Balance caches learn of the change only after commit.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Min, Sum
from django.utils import timezone

from credits import chain, idempotency, representations
from credits.cache import Snapshot, balances
from credits.exceptions import (
    AccountNotFound,
    CaptureExceedsReservation,
    InsufficientFunds,
    RefundExceedsConsume,
    ReservationNotFound,
    ReservationNotPending,
    TransactionNotFound,
)
from credits.models import Account, EntryType, LedgerEntry, Reservation, ReservationStatus
from credits.writes import save_change
from shieldx.masking import mask_for_logs

SYSTEM_ACTOR = "system"
# Free text from clients (descriptions, metadata, external references) is stored masked:
# a card number pasted into a description must not sit readable in the ledger (PCI DSS 3.5.1).


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


# --- the one locking helper and the one writer -----------------------------------------


def _select_for_update(tenant_id: str) -> Account | None:
    # Raw SQL: this runs on every write, and the ORM's query compiler costs more than the query.
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    return next(iter(Account.objects.raw(f"SELECT * FROM credits_account WHERE tenant_id = %s{lock}", [tenant_id])), None)  # noqa: S608


def _lock_account(tenant_id: str, *, now: datetime) -> Account:
    """Lock the tenant's account row for this transaction, creating it on first use,
    and release holds that expired before anything else looks at the figures."""
    account = _select_for_update(tenant_id)
    if account is None:
        try:
            with transaction.atomic():
                Account.objects.create(tenant_id=tenant_id)
        except IntegrityError:
            pass  # another request created it first, or the tenant does not exist
        account = _select_for_update(tenant_id)
        if account is None:
            raise AccountNotFound()
    if account.next_hold_expiry is not None and account.next_hold_expiry <= now:
        _expire_due_holds(account, now=now)
    return account


def _record(
    account: Account,
    *,
    type: str,
    amount: int,
    actor: str,
    now: datetime,
    balance_delta: int = 0,
    reserved_delta: int = 0,
    spent_delta: int = 0,
    purchased_delta: int = 0,
    description: str = "",
    metadata: dict[str, str] | None = None,
    reference: str = "",
    external_ref: str = "",
) -> LedgerEntry:
    """Apply deltas to the locked account and append the ledger entry and audit link."""
    account.balance += balance_delta
    account.reserved_funds += reserved_delta
    account.total_spent += spent_delta
    account.total_purchased += purchased_delta
    entry = LedgerEntry(
        public_id=_new_id("txn"),
        account=account,
        type=type,
        amount=amount,
        balance_after=account.balance,
        reserved_after=account.reserved_funds,
        spent_after=account.total_spent,
        purchased_after=account.total_purchased,
        description=mask_for_logs(description),
        metadata={name: mask_for_logs(value) for name, value in (metadata or {}).items()},
        reference=reference,
        external_ref=mask_for_logs(external_ref),
        actor=actor,
        created_at=now,
    )
    link = {
        "tenant_id": account.tenant_id,
        "seq": account.audit_seq + 1,
        "prev_hash": account.audit_head,
        "action": type,
        "amount": amount,
        "balance_after": account.balance,
        "reserved_after": account.reserved_funds,
        "ref": entry.public_id,
        "actor": actor,
        "created_at": representations.rfc3339(now),
    }
    link["hash"] = chain.entry_hash(link)
    account.audit_seq, account.audit_head, account.updated_at = link["seq"], link["hash"], now
    save_change(account, entry, link)
    # Caches learn of the change after commit, never before (a rollback must not leak).
    snapshot = Snapshot.of(account)
    transaction.on_commit(lambda tenant_id=account.tenant_id: balances.publish(tenant_id, snapshot))
    return entry


# --- holds -----------------------------------------------------------------------------


def _refresh_next_expiry(account: Account) -> None:
    account.next_hold_expiry = Reservation.objects.filter(account=account, status=ReservationStatus.PENDING).aggregate(
        m=Min("expires_at")
    )["m"]


def _end_hold(account: Account, hold: Reservation, *, status: str, captured: int, actor: str, now: datetime) -> LedgerEntry:
    hold.status, hold.captured_amount, hold.updated_at = status, captured, now
    hold.save(update_fields=["status", "captured_amount", "updated_at"])
    if account.next_hold_expiry is not None and hold.expires_at <= account.next_hold_expiry:
        _refresh_next_expiry(account)
    if status == ReservationStatus.CAPTURED:
        return _record(
            account, type=EntryType.CAPTURE, amount=captured, actor=actor, now=now, reference=hold.public_id,
            balance_delta=-captured, reserved_delta=-hold.amount, spent_delta=captured, description=hold.description,
        )
    entry_type = EntryType.EXPIRE if status == ReservationStatus.EXPIRED else EntryType.RELEASE
    return _record(account, type=entry_type, amount=hold.amount, actor=actor, now=now, reference=hold.public_id, reserved_delta=-hold.amount)


def _expire_due_holds(account: Account, *, now: datetime) -> int:
    due = list(Reservation.objects.filter(account=account, status=ReservationStatus.PENDING, expires_at__lte=now).order_by("expires_at", "pk"))
    for hold in due:
        _end_hold(account, hold, status=ReservationStatus.EXPIRED, captured=0, actor=SYSTEM_ACTOR, now=now)
    if not due:  # a stale marker: correct it so the next touch skips this query
        _refresh_next_expiry(account)
        Account.objects.filter(pk=account.pk).update(next_hold_expiry=account.next_hold_expiry)
    return len(due)


# --- public operations -------------------------------------------------------------------
# Each ``*_op`` returns (status, body) for idempotency.run; the wrappers below are the API.


def consume(
    *, tenant_id: str, amount: int, actor: str, description: str = "", metadata: dict[str, str] | None = None,
    idempotency_key: str | None = None, request_fingerprint: str = "",
) -> idempotency.Outcome:
    def perform() -> tuple[int, dict[str, Any]]:
        now = timezone.now()
        account = _lock_account(tenant_id, now=now)
        if account.available < amount:
            raise InsufficientFunds(details={"available": account.available, "requested": amount})
        entry = _record(
            account, type=EntryType.CONSUME, amount=amount, actor=actor, now=now,
            balance_delta=-amount, spent_delta=amount, description=description, metadata=metadata,
        )
        return 200, representations.transaction(entry, tenant_id)

    return idempotency.run(tenant_id=tenant_id, key=idempotency_key, request_fingerprint=request_fingerprint, perform=perform)


def purchase(
    *, tenant_id: str, amount: int, actor: str, description: str = "", external_ref: str = "",
    idempotency_key: str | None = None, request_fingerprint: str = "", entry_type: str = EntryType.PURCHASE,
) -> idempotency.Outcome:
    def perform() -> tuple[int, dict[str, Any]]:
        now = timezone.now()
        account = _lock_account(tenant_id, now=now)
        entry = _record(
            account, type=entry_type, amount=amount, actor=actor, now=now,
            balance_delta=amount, purchased_delta=amount, description=description, external_ref=external_ref,
        )
        return 201, representations.transaction(entry, tenant_id)

    return idempotency.run(tenant_id=tenant_id, key=idempotency_key, request_fingerprint=request_fingerprint, perform=perform)


def grant(*, tenant_id: str, amount: int, actor: str, description: str = "") -> dict[str, Any]:
    """Operator credit (admin action, create_tenant --credits): audited with the operator as actor."""
    return purchase(tenant_id=tenant_id, amount=amount, actor=actor, description=description or "operator grant", entry_type=EntryType.GRANT).body


def reserve(
    *, tenant_id: str, amount: int, ttl_seconds: int, actor: str, description: str = "",
    idempotency_key: str | None = None, request_fingerprint: str = "",
) -> idempotency.Outcome:
    def perform() -> tuple[int, dict[str, Any]]:
        now = timezone.now()
        account = _lock_account(tenant_id, now=now)
        if account.available < amount:
            raise InsufficientFunds(details={"available": account.available, "requested": amount})
        hold = Reservation.objects.create(
            public_id=_new_id("rsv"), account=account, amount=amount, description=mask_for_logs(description),
            expires_at=now + timedelta(seconds=ttl_seconds), created_at=now, updated_at=now,
        )
        if account.next_hold_expiry is None or hold.expires_at < account.next_hold_expiry:
            account.next_hold_expiry = hold.expires_at
        _record(account, type=EntryType.RESERVE, amount=amount, actor=actor, now=now, reserved_delta=amount, reference=hold.public_id, description=hold.description)
        return 201, representations.reservation(hold, tenant_id)

    return idempotency.run(tenant_id=tenant_id, key=idempotency_key, request_fingerprint=request_fingerprint, perform=perform)


def _locked_hold(tenant_id: str, reservation_id: str, now: datetime) -> tuple[Account, Reservation]:
    account = _lock_account(tenant_id, now=now)
    # Read after the account lock: every change to a hold happens under that lock.
    hold = Reservation.objects.filter(account=account, public_id=reservation_id).first()
    if hold is None:
        raise ReservationNotFound()
    if hold.status != ReservationStatus.PENDING:
        raise ReservationNotPending(f"The reservation is {hold.status}, not pending.", details={"status": hold.status})
    return account, hold


def capture(
    *, tenant_id: str, reservation_id: str, actor: str, amount: int | None = None,
    idempotency_key: str | None = None, request_fingerprint: str = "",
) -> idempotency.Outcome:
    def perform() -> tuple[int, dict[str, Any]]:
        now = timezone.now()
        account, hold = _locked_hold(tenant_id, reservation_id, now)
        captured = hold.amount if amount is None else amount
        if captured > hold.amount:
            raise CaptureExceedsReservation(details={"reserved": hold.amount, "requested": captured})
        _end_hold(account, hold, status=ReservationStatus.CAPTURED, captured=captured, actor=actor, now=now)
        return 200, representations.reservation(hold, tenant_id)

    return idempotency.run(tenant_id=tenant_id, key=idempotency_key, request_fingerprint=request_fingerprint, perform=perform)


def release(
    *, tenant_id: str, reservation_id: str, actor: str, idempotency_key: str | None = None, request_fingerprint: str = "",
) -> idempotency.Outcome:
    def perform() -> tuple[int, dict[str, Any]]:
        now = timezone.now()
        account, hold = _locked_hold(tenant_id, reservation_id, now)
        _end_hold(account, hold, status=ReservationStatus.RELEASED, captured=0, actor=actor, now=now)
        return 200, representations.reservation(hold, tenant_id)

    return idempotency.run(tenant_id=tenant_id, key=idempotency_key, request_fingerprint=request_fingerprint, perform=perform)


def refund(
    *, tenant_id: str, transaction_id: str, actor: str, amount: int | None = None,
    idempotency_key: str | None = None, request_fingerprint: str = "",
) -> idempotency.Outcome:
    def perform() -> tuple[int, dict[str, Any]]:
        now = timezone.now()
        account = _lock_account(tenant_id, now=now)
        original = LedgerEntry.objects.filter(
            account=account, public_id=transaction_id, type__in=[EntryType.CONSUME, EntryType.CAPTURE]
        ).first()
        if original is None:
            raise TransactionNotFound("No consume or capture with this id for this tenant.")
        refunded = LedgerEntry.objects.filter(account=account, type=EntryType.REFUND, reference=original.public_id).aggregate(s=Sum("amount"))["s"] or 0
        remaining = original.amount - refunded
        wanted = remaining if amount is None else amount
        if remaining == 0 or wanted > remaining:
            raise RefundExceedsConsume(details={"refundable": remaining, "requested": wanted})
        entry = _record(
            account, type=EntryType.REFUND, amount=wanted, actor=actor, now=now,
            balance_delta=wanted, spent_delta=-wanted, reference=original.public_id, description=f"refund of {original.public_id}",
        )
        return 201, representations.transaction(entry, tenant_id)

    return idempotency.run(tenant_id=tenant_id, key=idempotency_key, request_fingerprint=request_fingerprint, perform=perform)


def account_open(*, tenant_id: str, initial_credits: int = 0, actor: str = SYSTEM_ACTOR) -> None:
    """Create the tenant's account (idempotent) and grant its opening credits."""
    Account.objects.get_or_create(tenant_id=tenant_id)
    if initial_credits:
        grant(tenant_id=tenant_id, amount=initial_credits, actor=actor, description="opening credits")


@transaction.atomic
def release_expired_holds(*, tenant_id: str) -> Account:
    """Release the tenant's expired holds now (a read found some due); returns the fresh account."""
    return _lock_account(tenant_id, now=timezone.now())


def expire_due_holds(*, now: datetime | None = None) -> int:
    """Release every hold past its expiry (the beat task); each account in its own transaction."""
    now = now or timezone.now()
    released = 0
    for tenant_id in Account.objects.filter(next_hold_expiry__lte=now).values_list("tenant_id", flat=True):
        with transaction.atomic():
            account = Account.objects.select_for_update().get(tenant_id=tenant_id)
            if account.next_hold_expiry is not None and account.next_hold_expiry <= now:
                released += _expire_due_holds(account, now=now)
    return released
