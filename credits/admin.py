"""Operator pages: accounts with balances; ledger and audit strictly read-only.

"Grant credits" and "Verify audit chain" go through the services, so a grant is audited
with the operator as its actor, exactly like an API call; so does an event's "Retry
delivery now". Alert settings show on the account without the webhook secret, which no
page shows (only whether one is set).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.shortcuts import render

from credits import outbox, representations, selectors, services
from credits.models import MAX_AMOUNT, Account, AuditEntry, Event, Grant, GrantCategory, LedgerEntry, Reservation
from shieldx.admin import ReadOnlyMixin
from shieldx.errors import ApplicationError


class ReadOnlyAdmin(ReadOnlyMixin, admin.ModelAdmin):
    pass


class GrantForm(forms.Form):
    amount = forms.IntegerField(min_value=1, max_value=MAX_AMOUNT)
    category = forms.ChoiceField(choices=GrantCategory.choices, initial=GrantCategory.PROMOTIONAL, required=False)
    priority = forms.IntegerField(min_value=0, max_value=100, initial=50, required=False)
    expires_at = forms.DateTimeField(required=False, help_text="Empty: never expires.")
    description = forms.CharField(max_length=500, required=False)


class GrantInline(admin.TabularInline):
    """The account's grants, read-only: grants change only through the services."""

    model = Grant
    fields = ("public_id", "category", "priority", "amount", "remaining", "held", "expires_at", "created_at")
    readonly_fields = fields
    ordering = ("-remaining", "priority", "expires_at")
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ("tenant", "balance", "reserved_funds", "available", "total_spent", "total_purchased", "audit_seq", "updated_at")
    search_fields = ("tenant__tenant_id", "tenant__name")
    actions = ["grant_credits", "verify_audit_chain"]
    inlines = [GrantInline]
    # The alerts column is shown through alerts_summary, with the webhook next to it.
    exclude = ("alerts",)
    readonly_fields = ("alerts_summary",)

    @admin.display(description="Alert settings")
    def alerts_summary(self, obj: Account) -> str:
        shown = representations.alert_settings(selectors.alerts_get(tenant_id=obj.tenant_id))
        thresholds = ", ".join(str(t) for t in shown["thresholds"]) or "none"
        secret = "set" if shown["webhook_secret_set"] else "not set"
        return f"thresholds: {thresholds}; webhook: {shown['webhook_url'] or 'none'} (secret {secret})"

    @admin.action(description="Grant credits")
    def grant_credits(self, request, queryset):
        if "apply" in request.POST:
            form = GrantForm(request.POST)
            if form.is_valid():
                actor = f"admin:{request.user.get_username()}"
                for account in queryset:
                    data = form.cleaned_data
                    try:
                        services.grant(
                            tenant_id=account.tenant_id, amount=data["amount"], actor=actor, category=data["category"] or GrantCategory.PROMOTIONAL,
                            priority=50 if data["priority"] is None else data["priority"], expires_at=data["expires_at"], description=data["description"],
                        )  # fmt: skip
                    except ApplicationError as exc:
                        self.message_user(request, f"{account.tenant_id}: {exc.message}", messages.ERROR)
                        return None
                self.message_user(request, f"Granted {form.cleaned_data['amount']} credits to {queryset.count()} account(s).", messages.SUCCESS)
                return None
        else:
            form = GrantForm()
        return render(
            request,
            "admin/credits/grant.html",
            {**self.admin_site.each_context(request), "form": form, "accounts": queryset, "opts": self.model._meta, "action": "grant_credits"},
        )

    @admin.action(description="Verify audit chain")
    def verify_audit_chain(self, request, queryset):
        for account in queryset:
            report = selectors.verify_chain(tenant_id=account.tenant_id)
            if report["valid"]:
                self.message_user(request, f"{account.tenant_id}: chain of {report['length']} entries verifies.", messages.SUCCESS)
            else:
                self.message_user(request, f"{account.tenant_id}: chain BROKEN at seq {report['broken_at_seq']}.", messages.ERROR)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ("public_id", "account", "type", "amount", "balance_after", "reserved_after", "actor", "created_at")
    list_filter = ("type",)
    search_fields = ("public_id", "account__tenant__tenant_id", "reference")
    date_hierarchy = "created_at"


@admin.register(Reservation)
class ReservationAdmin(ReadOnlyAdmin):
    list_display = ("public_id", "account", "amount", "captured_amount", "status", "expires_at", "created_at")
    list_filter = ("status",)
    search_fields = ("public_id", "account__tenant__tenant_id")


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ("account", "seq", "action", "amount", "balance_after", "actor", "hash", "created_at")
    list_filter = ("action",)
    search_fields = ("account__tenant__tenant_id", "ref", "hash")


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    """The outbox with each event's delivery; "Retry delivery now" goes through the service."""

    list_display = ("public_id", "account", "type", "created_at", "delivery_status", "attempts", "last_status", "last_error", "next_attempt_at")
    list_filter = ("delivery_status", "type")
    search_fields = ("public_id", "account__tenant__tenant_id")
    date_hierarchy = "created_at"
    actions = ["retry_delivery_now"]

    @admin.action(description="Retry delivery now")
    def retry_delivery_now(self, request, queryset):
        actor = f"admin:{request.user.get_username()}"
        retried = 0
        for event_id in queryset.values_list("public_id", flat=True):
            try:
                outbox.retry_now(event_id=event_id, actor=actor)
                retried += 1
            except ApplicationError as exc:
                self.message_user(request, f"{event_id}: {exc.message}", messages.WARNING)
        if retried:
            self.message_user(request, f"Queued {retried} event(s) for delivery now.", messages.SUCCESS)
