"""Every change to a tenant's credits: plain, typed, keyword-only domain functions.

Each one is one transaction (a savepoint inside a caller's, so a refusal raised after a
partial write undoes that write and nothing else): it locks the tenant's account row
through ``ledger.lock``, decides on the locked row, and writes through ``ledger.record``.
They return domain values (``credits.domain``) or raise domain errors, and know nothing of
HTTP or idempotency: the API's edge wraps them in ``credits.idempotency.once``, while
admin actions, commands and tasks call them directly.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Min, Sum
from django.utils import timezone

from credits import alerts, domain, grants, ledger, outbox, webhooks
from credits.exceptions import (
    CaptureExceedsReservation,
    GrantAlreadyExpired,
    InsufficientFunds,
    RefundExceedsConsume,
    ReservationNotFound,
    ReservationNotPending,
    TransactionNotFound,
    WebhookUrlRefused,
)
from credits.ledger import Change
from credits.models import Account, AlertSettings, EntryType, Grant, GrantCategory, LedgerEntry, Reservation, ReservationStatus
from shieldx.errors import ApplicationError, InvalidRequest
from shieldx.timestamps import rfc3339

logger = logging.getLogger(__name__)

SYSTEM_ACTOR = "system"
DEFAULT_PRIORITY = 50


def _locked(tenant_id: str, now: datetime) -> Account:
    """The tenant's locked account with holds and grants that expired before ``now``
    settled first, so every decision sees the figures as they stand."""
    account = ledger.lock(tenant_id)
    if account.next_hold_expiry is not None and account.next_hold_expiry <= now:
        _expire_due_holds(account, now=now)
    if account.next_grant_expiry is not None and account.next_grant_expiry <= now:
        _expire_due_grants(account, now=now)
    return account


def _expire_due_grants(account: Account, *, now: datetime) -> int:
    """Each expired grant's unspent, unheld remainder leaves the balance as an audited
    ``expire`` transaction. Decided on the grants loaded under the lock: no query."""
    by_id = {grant.grant_id: grant for grant in account.grant_list}
    gone = grants.expire_due(account.grant_list, now)
    for grant_id, amount in gone:
        change = Change(EntryType.EXPIRE, amount, balance=-amount, grants=[(grant_id, amount)])
        expired = by_id[grant_id]
        event = (alerts.GRANT_EXPIRED, {"grant_id": grant_id, "category": expired.category, "amount": amount, "expires_at": rfc3339(expired.expires_at)})
        ledger.record(account, change, actor=SYSTEM_ACTOR, now=now, reference=grant_id, description="grant expired", events=[event])
    if not gone and account.next_grant_expiry is not None and account.next_grant_expiry <= now:
        # A stale marker (the remainder became held before it expired): correct it.
        account.next_grant_expiry = grants.next_expiry(account.grant_list)
        ledger.save_expiry_markers(account)
    return len(gone)


def _require_available(account: Account, amount: int) -> None:
    if account.available < amount:
        raise InsufficientFunds(details={"available": account.available, "requested": amount})


# --- holds -----------------------------------------------------------------------------


def _refresh_next_expiry(account: Account) -> None:
    pending = Reservation.objects.filter(account=account, status=ReservationStatus.PENDING)
    account.next_hold_expiry = pending.aggregate(m=Min("expires_at"))["m"]


def _end_hold(account: Account, hold: Reservation, *, status: str, captured: int, actor: str, now: datetime) -> None:
    hold.status, hold.captured_amount, hold.updated_at = status, captured, now
    # An update whose row count nobody reads: pipelined, it costs no round trip. The
    # account lock guarantees the row is there and still pending.
    Reservation.objects.filter(pk=hold.pk).update(status=status, captured_amount=captured, updated_at=now)
    if account.next_hold_expiry is not None and hold.expires_at <= account.next_hold_expiry:
        _refresh_next_expiry(account)
    spent = grants.settle_hold(account.grant_list, [(part["grant_id"], part["amount"]) for part in hold.grants], captured)
    if status == ReservationStatus.CAPTURED:
        change = Change(EntryType.CAPTURE, captured, balance=-captured, reserved=-hold.amount, spent=captured, grants=spent)
        ledger.record(account, change, actor=actor, now=now, reference=hold.public_id, description=hold.description)
    else:
        entry_type = EntryType.EXPIRE if status == ReservationStatus.EXPIRED else EntryType.RELEASE
        ledger.record(account, Change(entry_type, hold.amount, reserved=-hold.amount), actor=actor, now=now, reference=hold.public_id)
    # What the hold gave back to grants that expired meanwhile expires now.
    _expire_due_grants(account, now=now)


def _expire_due_holds(account: Account, *, now: datetime) -> int:
    due = Reservation.objects.filter(account=account, status=ReservationStatus.PENDING, expires_at__lte=now).order_by("expires_at", "pk")
    released = 0
    for hold in due:
        _end_hold(account, hold, status=ReservationStatus.EXPIRED, captured=0, actor=SYSTEM_ACTOR, now=now)
        released += 1
    if not released:  # a stale marker: correct it so the next touch skips the query
        _refresh_next_expiry(account)
        ledger.save_expiry_markers(account)
    return released


def _locked_hold(tenant_id: str, reservation_id: str, now: datetime) -> tuple[Account, Reservation]:
    account = _locked(tenant_id, now)
    # Read after the account lock: every change to a hold happens under that lock.
    hold = Reservation.objects.filter(account=account, public_id=reservation_id).first()
    if hold is None:
        raise ReservationNotFound()
    if hold.status != ReservationStatus.PENDING:
        raise ReservationNotPending(f"The reservation is {hold.status}, not pending.", details={"status": hold.status})
    return account, hold


# --- operations ----------------------------------------------------------------------------


@transaction.atomic
def consume(*, tenant_id: str, amount: int, actor: str, description: str = "", metadata: dict[str, str] | None = None) -> domain.Transaction:
    now = timezone.now()
    account = _locked(tenant_id, now)
    _require_available(account, amount)
    change = Change(EntryType.CONSUME, amount, balance=-amount, spent=amount, grants=grants.draw(account.grant_list, amount, now))
    return domain.Transaction.of(ledger.record(account, change, actor=actor, now=now, description=description, metadata=metadata), tenant_id)


def _add_grant(
    account: Account, *, amount: int, category: str, priority: int, expires_at: datetime | None, description: str, now: datetime,
) -> grants.Grant:
    if expires_at is not None and expires_at <= now:
        raise GrantAlreadyExpired(details={"field": "expires_at"})
    grant = grants.Grant(
        grant_id=ledger.new_id("grt"), category=category, priority=priority, amount=amount, remaining=amount, held=0,
        expires_at=expires_at, created_at=now, description=ledger.mask_text(description), new=True,
    )  # fmt: skip
    account.grant_list.append(grant)
    return grant


def _credit(
    *, entry_type: str, tenant_id: str, amount: int, actor: str, category: str, priority: int, expires_at: datetime | None,
    description: str, external_ref: str = "",
) -> domain.Transaction:
    now = timezone.now()
    account = _locked(tenant_id, now)
    grant = _add_grant(account, amount=amount, category=category, priority=priority, expires_at=expires_at, description=description, now=now)
    change = Change(entry_type, amount, balance=amount, purchased=amount, grants=[(grant.grant_id, amount)])
    entry = ledger.record(account, change, actor=actor, now=now, description=description, external_ref=external_ref)
    return domain.Transaction.of(entry, tenant_id)


@transaction.atomic
def purchase(
    *, tenant_id: str, amount: int, actor: str, description: str = "", external_ref: str = "", priority: int = DEFAULT_PRIORITY,
    expires_at: datetime | None = None,
) -> domain.Transaction:
    """Bought credits: a ``paid`` grant (CONTRACT §3a)."""
    return _credit(
        entry_type=EntryType.PURCHASE, tenant_id=tenant_id, amount=amount, actor=actor, category=GrantCategory.PAID, priority=priority,
        expires_at=expires_at, description=description, external_ref=external_ref,
    )  # fmt: skip


@transaction.atomic
def grant(
    *, tenant_id: str, amount: int, actor: str, category: str = GrantCategory.PROMOTIONAL, priority: int = DEFAULT_PRIORITY,
    expires_at: datetime | None = None, description: str = "",
) -> domain.Transaction:
    """Credits given rather than bought (``POST /credits/grants``, admin action, opening credits)."""
    return _credit(
        entry_type=EntryType.GRANT, tenant_id=tenant_id, amount=amount, actor=actor, category=category, priority=priority,
        expires_at=expires_at, description=description or "grant",
    )  # fmt: skip


@transaction.atomic
def reserve(*, tenant_id: str, amount: int, ttl_seconds: int, actor: str, description: str = "") -> domain.Reservation:
    now = timezone.now()
    account = _locked(tenant_id, now)
    _require_available(account, amount)
    held = grants.hold(account.grant_list, amount, now)
    hold = Reservation.objects.create(
        public_id=ledger.new_id("rsv"), account=account, amount=amount, description=ledger.mask_text(description),
        expires_at=now + timedelta(seconds=ttl_seconds), created_at=now, updated_at=now,
        grants=[{"grant_id": grant_id, "amount": part} for grant_id, part in held],
    )  # fmt: skip
    if account.next_hold_expiry is None or hold.expires_at < account.next_hold_expiry:
        account.next_hold_expiry = hold.expires_at
    change = Change(EntryType.RESERVE, amount, reserved=amount)
    ledger.record(account, change, actor=actor, now=now, reference=hold.public_id, description=hold.description)
    return domain.Reservation.of(hold, tenant_id)


@transaction.atomic
def capture(*, tenant_id: str, reservation_id: str, actor: str, amount: int | None = None) -> domain.Reservation:
    now = timezone.now()
    account, hold = _locked_hold(tenant_id, reservation_id, now)
    captured = hold.amount if amount is None else amount
    if captured > hold.amount:
        raise CaptureExceedsReservation(details={"reserved": hold.amount, "requested": captured})
    _end_hold(account, hold, status=ReservationStatus.CAPTURED, captured=captured, actor=actor, now=now)
    return domain.Reservation.of(hold, tenant_id)


@transaction.atomic
def release(*, tenant_id: str, reservation_id: str, actor: str) -> domain.Reservation:
    now = timezone.now()
    account, hold = _locked_hold(tenant_id, reservation_id, now)
    _end_hold(account, hold, status=ReservationStatus.RELEASED, captured=0, actor=actor, now=now)
    return domain.Reservation.of(hold, tenant_id)


@transaction.atomic
def refund(*, tenant_id: str, transaction_id: str, actor: str, amount: int | None = None) -> domain.Transaction:
    now = timezone.now()
    account = _locked(tenant_id, now)
    ledger.flush()  # in a batch, the consume refunded may still be waiting to be written
    original = LedgerEntry.objects.filter(account=account, public_id=transaction_id, type__in=[EntryType.CONSUME, EntryType.CAPTURE]).first()
    if original is None:
        raise TransactionNotFound("No consume or capture with this id for this tenant.")
    refunded = LedgerEntry.objects.filter(account=account, type=EntryType.REFUND, reference=original.public_id).aggregate(s=Sum("amount"))["s"] or 0
    refundable = original.amount - refunded
    wanted = refundable if amount is None else amount
    if refundable == 0 or wanted > refundable:
        # "requested" is what the client asked for; a second full refund asked for all of it.
        raise RefundExceedsConsume(details={"refundable": refundable, "requested": original.amount if amount is None else amount})
    drawn = [(part["grant_id"], part["amount"]) for part in original.grants or ()]
    change = Change(EntryType.REFUND, wanted, balance=wanted, spent=-wanted, grants=_refund_into_grants(account, drawn, refunded, wanted, now))
    entry = ledger.record(account, change, actor=actor, now=now, reference=original.public_id, description=f"refund of {original.public_id}")
    return domain.Transaction.of(entry, tenant_id)


def _refund_into_grants(account: Account, drawn: list[grants.Part], refunded: int, amount: int, now: datetime) -> list[grants.Part]:
    """Credits go back to the grants they were drawn from while those have not expired;
    the rest (expired grants, or a consume from before grants) to one new non-expiring
    paid grant (CONTRACT §3a)."""
    sources = grants.refund_sources(drawn, refunded, amount)
    by_id = {grant.grant_id: grant for grant in account.grant_list}
    spent_ids = [grant_id for grant_id, _ in sources if grant_id and grant_id not in by_id]
    for row in Grant.objects.filter(account_id=account.tenant_id, public_id__in=spent_ids).values_list(*ledger.GRANT_COLUMNS):
        grant = ledger.grant_of(row)
        account.grant_list.append(grant)
        by_id[grant.grant_id] = grant
    returned: dict[str, int] = {}
    homeless = 0
    for grant_id, part in sources:
        grant = by_id.get(grant_id)
        if grant is None or grant.expired(now):
            homeless += part
            continue
        grant.add(remaining=part)
        returned[grant_id] = returned.get(grant_id, 0) + part
    if homeless:
        fresh = _add_grant(
            account, amount=homeless, category=GrantCategory.PAID, priority=DEFAULT_PRIORITY, expires_at=None, description="refund", now=now,
        )  # fmt: skip
        returned[fresh.grant_id] = homeless
    return list(returned.items())


@transaction.atomic
def account_open(*, tenant_id: str, initial_credits: int = 0, actor: str = SYSTEM_ACTOR) -> None:
    """Create the tenant's account (idempotent) and grant its opening credits."""
    Account.objects.get_or_create(tenant_id=tenant_id)
    if initial_credits:
        grant(tenant_id=tenant_id, amount=initial_credits, actor=actor, category=GrantCategory.PAID, description="opening credits")


@transaction.atomic
def expire_due(*, tenant_id: str) -> int:
    """Settle the tenant's holds and grants that are past their expiry (a read found some
    due: reads never write). Returns how many holds and grants expired."""
    now = timezone.now()
    account = ledger.lock(tenant_id)
    expired = 0
    if account.next_hold_expiry is not None and account.next_hold_expiry <= now:
        expired += _expire_due_holds(account, now=now)
    return expired + _expire_due_grants(account, now=now)


def holds_expire_all_due(*, now: datetime | None = None) -> int:
    """Release every hold past its expiry (the beat task); each account in its own transaction."""
    now = now or timezone.now()
    released = 0
    for tenant_id in Account.objects.filter(next_hold_expiry__lte=now).values_list("tenant_id", flat=True):
        with transaction.atomic():
            account = ledger.lock(tenant_id, active_only=False)  # a deactivated tenant's holds expire too
            if account.next_hold_expiry is not None and account.next_hold_expiry <= now:
                released += _expire_due_holds(account, now=now)
    return released


def grants_expire_all_due(*, now: datetime | None = None) -> int:
    """Expire every grant past its expiry whether or not anyone looks (the beat task);
    each account in its own transaction."""
    now = now or timezone.now()
    expired = 0
    for tenant_id in Account.objects.filter(next_grant_expiry__lte=now).values_list("tenant_id", flat=True):
        with transaction.atomic():
            account = ledger.lock(tenant_id, active_only=False)
            expired += _expire_due_grants(account, now=now)
    return expired


def grants_warn_expiring(*, now: datetime | None = None) -> int:
    """Write a ``grant.expiring`` event for each live grant that expires within 24 h and
    has not had one (the beat task); each account in its own transaction, under its lock,
    so a grant is announced once however many beat runs overlap."""
    now = now or timezone.now()
    window = {"spent": False, "expiring_sent": False, "expires_at__gt": now, "expires_at__lte": now + alerts.EXPIRING_NOTICE}
    written = 0
    for tenant_id in sorted(set(Grant.objects.filter(**window).values_list("account_id", flat=True))):
        with transaction.atomic():
            account = ledger.lock(tenant_id, active_only=False)
            due = list(Grant.objects.filter(account_id=tenant_id, **window).order_by("expires_at", "id"))
            events = [
                (alerts.GRANT_EXPIRING, {"grant_id": g.public_id, "category": g.category, "remaining": g.remaining, "held": g.held,
                                         "expires_at": rfc3339(g.expires_at)})
                for g in due
            ]  # fmt: skip
            Grant.objects.filter(pk__in=[g.pk for g in due]).update(expiring_sent=True)
            outbox.write(outbox.rows(account, account.available, events, now=now))
            written += len(events)
    return written


# --- alerts -----------------------------------------------------------------------------


def alerts_set(
    *, tenant_id: str, thresholds: Sequence[int], webhook_url: str | None = None, webhook_secret: str | None = None, actor: str,
) -> domain.AlertSettings:
    """Replace the tenant's alert settings (``PUT /credits/alerts``). A webhook URL needs a
    secret the first time; later, a URL given without one keeps the stored secret. The URL
    is checked (and resolved) before the account is locked: a slow DNS answer must not
    hold up the tenant's consumes."""
    if webhook_secret is not None and not webhook_url:
        raise InvalidRequest("webhook_secret needs a webhook_url.", details={"field": "webhook_secret"})
    if webhook_url:
        try:
            webhooks.check(webhook_url, allow_private=settings.SHIELDX_WEBHOOK_ALLOW_PRIVATE)
        except webhooks.UrlRefused as exc:
            raise WebhookUrlRefused(str(exc), details={"field": "webhook_url"}) from None
    sealed = outbox.seal_secret(tenant_id=tenant_id, secret=webhook_secret) if webhook_secret else None
    return _alerts_store(tenant_id=tenant_id, thresholds=alerts.normalized(thresholds), webhook_url=webhook_url or "", sealed=sealed, actor=actor)


@transaction.atomic
def _alerts_store(*, tenant_id: str, thresholds: list[int], webhook_url: str, sealed: str | None, actor: str) -> domain.AlertSettings:
    # Under the account lock: a change either ran before and saw the old thresholds, or
    # runs after and sees the new ones; never a mix.
    account = ledger.lock(tenant_id)
    stored = AlertSettings.objects.filter(account_id=tenant_id).first()
    if webhook_url and sealed is None:
        if stored is None or not stored.webhook_secret_sealed:
            raise InvalidRequest("A webhook_url needs a webhook_secret (at least 32 characters).", details={"field": "webhook_secret"})
        sealed = stored.webhook_secret_sealed
    now = timezone.now()
    account.alerts = {"thresholds": thresholds, "webhook": bool(webhook_url)} if thresholds or webhook_url else None
    Account.objects.filter(pk=tenant_id).update(alerts=account.alerts)
    stored = None
    if account.alerts is None:
        AlertSettings.objects.filter(account_id=tenant_id).delete()
    else:
        stored, _ = AlertSettings.objects.update_or_create(
            account_id=tenant_id, defaults={"webhook_url": webhook_url, "webhook_secret_sealed": sealed or "", "updated_at": now}
        )
    logger.info("alert settings changed", extra={"tenant_id": tenant_id, "actor": actor, "thresholds": len(thresholds), "webhook": bool(webhook_url)})
    return domain.AlertSettings.of(tenant_id, account.alerts, stored)


# --- batches ----------------------------------------------------------------------------

BATCH_LIMIT = 1000


@transaction.atomic
def batch(*, operations: Sequence[domain.Operation], actor: str) -> list[domain.Transaction | domain.Reservation]:
    """Apply the operations in order, all or nothing (CONTRACT §3a). A refusal is raised
    with ``details.index``, the failing operation's position, and the savepoint undoes
    the operations before it.

    Every tenant's account is locked first, in tenant-id order: two batches touching the
    same tenants in opposite orders then wait for each other at the first common tenant,
    never in a cycle (Saleor's lock_objects). The locked accounts stay in memory for the
    rest of the batch (``ledger.batch``), so an operation costs no lock round trip."""
    services = {
        "consume": consume, "purchase": purchase, "grant": grant, "reserve": reserve, "capture": capture, "release": release,
        "refund": refund,
    }  # fmt: skip
    # The batch's own savepoint undoes everything on a refusal, so each operation runs
    # without its own (two statements fewer per operation).
    services = {name: service.__wrapped__ for name, service in services.items()}
    first_of = {}
    for index, operation in enumerate(operations):
        first_of.setdefault(operation.tenant_id, index)
    with ledger.batch():
        for tenant_id in sorted(first_of):
            _at(first_of[tenant_id], ledger.lock, tenant_id)
        return [
            _at(index, services[operation.op], tenant_id=operation.tenant_id, actor=actor, **operation.arguments)
            for index, operation in enumerate(operations)
        ]


def _at(index: int, fn, *args, **kwargs):
    """Run one step of a batch; a refusal names the operation it came from."""
    try:
        return fn(*args, **kwargs)
    except ApplicationError as exc:
        exc.details = {**exc.details, "index": index}
        raise
