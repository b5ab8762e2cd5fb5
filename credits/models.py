"""The prepaid-credits ledger.

Invariants the database itself enforces (the services are the first line of defence,
these are the last): balance >= 0, 0 <= reserved_funds <= balance, and ledger and audit
rows never change once written (triggers in migration 0002).
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

MAX_AMOUNT = 10**12


class Account(models.Model):
    """One per tenant. Its row lock serialises every balance change of that tenant,
    and it carries the head of the tenant's audit chain, so appending to the chain
    needs no second lock (one global chain head would serialise every tenant)."""

    tenant = models.OneToOneField("shieldx.Tenant", on_delete=models.PROTECT, primary_key=True, related_name="credit_account")
    balance = models.BigIntegerField(default=0)
    reserved_funds = models.BigIntegerField(default=0)
    total_spent = models.BigIntegerField(default=0)
    total_purchased = models.BigIntegerField(default=0)
    audit_seq = models.BigIntegerField(default=0)
    audit_head = models.CharField(max_length=64, default="0" * 64)
    # Earliest expiry among pending holds: lets every write release expired holds
    # lazily without a query when there is nothing to release.
    next_hold_expiry = models.DateTimeField(null=True, blank=True)
    # Earliest moment a live grant has an unheld remainder to expire: lets the beat task
    # find due accounts by index, and a cached balance know it has gone stale.
    next_grant_expiry = models.DateTimeField(null=True, blank=True, db_index=True)
    updated_at = models.DateTimeField(default=timezone.now)
    # The tenant's balance alerts as the hot path needs them, read by the lock that every
    # change takes anyway: {"thresholds": [descending], "webhook": bool}, or NULL (no
    # alerts: a change costs nothing more). Written only by ``services.alerts_set``.
    alerts = models.JSONField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(balance__gte=0), name="account_balance_non_negative"),
            models.CheckConstraint(condition=Q(reserved_funds__gte=0), name="account_reserved_non_negative"),
            models.CheckConstraint(condition=Q(reserved_funds__lte=F("balance")), name="account_reserved_within_balance"),
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id}: {self.balance} ({self.reserved_funds} reserved)"

    @property
    def available(self) -> int:
        return self.balance - self.reserved_funds


class EntryType(models.TextChoices):
    PURCHASE = "purchase"
    GRANT = "grant"
    CONSUME = "consume"
    REFUND = "refund"
    RESERVE = "reserve"
    CAPTURE = "capture"
    RELEASE = "release"
    EXPIRE = "expire"


class LedgerEntry(models.Model):
    """An immutable record of one change, with the account's figures after it."""

    public_id = models.CharField(max_length=40, unique=True, editable=False)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="entries")
    type = models.CharField(max_length=16, choices=EntryType.choices)
    amount = models.BigIntegerField()
    balance_after = models.BigIntegerField()
    reserved_after = models.BigIntegerField()
    spent_after = models.BigIntegerField()
    purchased_after = models.BigIntegerField()
    description = models.CharField(max_length=500, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    # What this entry refunds (a consume/capture) or which hold it belongs to.
    reference = models.CharField(max_length=40, blank=True, db_index=True)
    external_ref = models.CharField(max_length=255, blank=True)
    actor = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)
    # The grants this entry moved credits into or out of: [{"grant_id", "amount"}].
    # Nullable so that adding it kept the append-only table (and its triggers) in place;
    # entries from before grants existed hold NULL.
    grants = models.JSONField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "ledger entries"
        indexes = [models.Index(fields=["account", "-id"], name="ledger_account_newest"), models.Index(fields=["account", "created_at"], name="ledger_account_time")]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="ledger_amount_positive")]

    def __str__(self) -> str:
        return f"{self.public_id} {self.type} {self.amount}"


class ReservationStatus(models.TextChoices):
    PENDING = "pending"
    CAPTURED = "captured"
    RELEASED = "released"
    EXPIRED = "expired"


class Reservation(models.Model):
    public_id = models.CharField(max_length=40, unique=True, editable=False)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="reservations")
    amount = models.BigIntegerField()
    captured_amount = models.BigIntegerField(default=0)
    status = models.CharField(max_length=16, choices=ReservationStatus.choices, default=ReservationStatus.PENDING)
    description = models.CharField(max_length=500, blank=True)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # What the hold holds of each grant, in drawing order: [{"grant_id", "amount"}].
    grants = models.JSONField(default=list, blank=True)

    class Meta:
        indexes = [models.Index(fields=["account", "status", "expires_at"], name="reservation_pending_expiry")]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="reservation_amount_positive"),
            models.CheckConstraint(condition=Q(captured_amount__gte=0, captured_amount__lte=F("amount")), name="reservation_capture_within_amount"),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.status} {self.amount}"


class GrantCategory(models.TextChoices):
    PAID = "paid"
    PROMOTIONAL = "promotional"


class Grant(models.Model):
    """Credits enter the balance as grants (CONTRACT §3a). ``remaining`` counts what is
    left of the grant, ``held`` the part of it that pending holds keep; a grant is live
    while something remains. Rows change only under the account's lock, so the account
    lock orders every change to them."""

    public_id = models.CharField(max_length=40, unique=True, editable=False)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="grants")
    category = models.CharField(max_length=16, choices=GrantCategory.choices)
    priority = models.SmallIntegerField(default=50)
    amount = models.BigIntegerField()
    remaining = models.BigIntegerField()
    held = models.BigIntegerField(default=0)
    expires_at = models.DateTimeField(null=True, blank=True)
    description = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Set when its grant.expiring event was written (once, 24 h before expires_at). A
    # database default, because the ledger's CTE inserts grants without naming it.
    expiring_sent = models.BooleanField(db_default=False)
    # Computed by the database from ``remaining``; the live-grant indexes name this column,
    # never ``remaining`` itself. Every consume rewrites a grant's ``remaining``: were it
    # in an index predicate, no such update could be HOT, and each would leave a dead
    # tuple and new entries in every index (the bench's consume rate fell 40 % in a
    # minute as they piled up). ``spent`` changes only when a grant runs dry.
    spent = models.GeneratedField(expression=Q(remaining=0), output_field=models.BooleanField(), db_persist=True)

    class Meta:
        indexes = [
            models.Index(fields=["account"], condition=Q(spent=False), name="grant_live"),
            models.Index(fields=["expires_at"], condition=Q(spent=False, expiring_sent=False), name="grant_expiring_unsent"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="grant_amount_positive"),
            models.CheckConstraint(condition=Q(priority__gte=0, priority__lte=100), name="grant_priority_range"),
            models.CheckConstraint(condition=Q(held__gte=0, held__lte=F("remaining")), name="grant_held_within_remaining"),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.category} {self.remaining}/{self.amount}"


class IdempotencyRecord(models.Model):
    """The stored outcome of a keyed request, committed with its effect."""

    # No index of its own: the unique (tenant, key) index serves every lookup by tenant.
    # With a tenant-only index beside it, PostgreSQL's generic plan for the prepared
    # lookup (cached per connection, chosen while the table was small) scanned all of a
    # tenant's records and filtered the key: each keyed write grew slower with the
    # tenant's history (0.6 ms a lookup at 2,000 records).
    tenant = models.ForeignKey("shieldx.Tenant", on_delete=models.CASCADE, db_index=False)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response_body = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "key"], name="idempotency_tenant_key")]


class AuditEntry(models.Model):
    """One link of a tenant's hash chain (CONTRACT §3)."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="audit_entries")
    seq = models.BigIntegerField()
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)
    action = models.CharField(max_length=16)
    amount = models.BigIntegerField()
    balance_after = models.BigIntegerField()
    reserved_after = models.BigIntegerField()
    ref = models.CharField(max_length=40)
    actor = models.CharField(max_length=200)
    created_at = models.CharField(max_length=32)  # RFC 3339 text, exactly as hashed

    class Meta:
        verbose_name_plural = "audit entries"
        constraints = [models.UniqueConstraint(fields=["account", "seq"], name="audit_account_seq")]
        ordering = ["account", "seq"]

    def __str__(self) -> str:
        return f"{self.account_id}#{self.seq} {self.action}"


class AlertSettings(models.Model):
    """Where a tenant's events are POSTed. The thresholds live on the account row (the
    hot path reads them with its lock); this row holds what only delivery needs. The
    signing secret is stored sealed (the keyring's envelope, ``credits.outbox``): it can
    sign, but no page, log or answer can show it."""

    account = models.OneToOneField(Account, on_delete=models.CASCADE, primary_key=True, related_name="alert_settings")
    webhook_url = models.CharField(max_length=2048, blank=True)
    webhook_secret_sealed = models.CharField(max_length=600, blank=True, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "alert settings"

    def __str__(self) -> str:
        return f"{self.account_id}: {self.webhook_url or 'no webhook'}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    NONE = "none"  # no webhook_url when the event happened (or since)


class Event(models.Model):
    """The outbox (CONTRACT §3a): written in the same transaction as the change that
    caused it; delivery only ever updates the delivery columns."""

    public_id = models.CharField(max_length=40, unique=True, editable=False)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="events")
    type = models.CharField(max_length=40)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    delivery_status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.NONE)
    attempts = models.IntegerField(default=0)
    # When the next attempt is due (pending events only): the sweep's index.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    # The last answer's HTTP status, or a fixed word for what went wrong (never the
    # receiver's text, which could carry anything).
    last_status = models.IntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=40, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["account", "id"], name="event_account_order"),
            models.Index(fields=["next_attempt_at"], condition=Q(delivery_status="pending"), name="event_delivery_due"),
        ]
        constraints = [models.CheckConstraint(condition=Q(attempts__gte=0), name="event_attempts_non_negative")]

    def __str__(self) -> str:
        return f"{self.public_id} {self.type} ({self.delivery_status})"
