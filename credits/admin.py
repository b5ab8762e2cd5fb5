"""Operator pages: accounts with balances; ledger and audit strictly read-only.

"Grant credits" and "Verify audit chain" go through the services, so a grant is audited
with the operator as its actor, exactly like an API call.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.shortcuts import render

from credits import selectors, services
from credits.models import MAX_AMOUNT, Account, AuditEntry, LedgerEntry, Reservation
from shieldx.admin import ReadOnlyMixin


class ReadOnlyAdmin(ReadOnlyMixin, admin.ModelAdmin):
    pass


class GrantForm(forms.Form):
    amount = forms.IntegerField(min_value=1, max_value=MAX_AMOUNT)
    description = forms.CharField(max_length=500, required=False)


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ("tenant", "balance", "reserved_funds", "available", "total_spent", "total_purchased", "audit_seq", "updated_at")
    search_fields = ("tenant__tenant_id", "tenant__name")
    actions = ["grant_credits", "verify_audit_chain"]

    @admin.action(description="Grant credits")
    def grant_credits(self, request, queryset):
        if "apply" in request.POST:
            form = GrantForm(request.POST)
            if form.is_valid():
                actor = f"admin:{request.user.get_username()}"
                for account in queryset:
                    services.grant(tenant_id=account.tenant_id, amount=form.cleaned_data["amount"], actor=actor, description=form.cleaned_data["description"])
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
