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

    class Meta:
        indexes = [models.Index(fields=["account"], condition=Q(remaining__gt=0), name="grant_live")]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="grant_amount_positive"),
            models.CheckConstraint(condition=Q(priority__gte=0, priority__lte=100), name="grant_priority_range"),
            models.CheckConstraint(condition=Q(held__gte=0, held__lte=F("remaining")), name="grant_held_within_remaining"),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.category} {self.remaining}/{self.amount}"


class IdempotencyRecord(models.Model):
    """The stored outcome of a keyed request, committed with its effect."""

    tenant = models.ForeignKey("shieldx.Tenant", on_delete=models.CASCADE)
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
