"""Operator pages for stored tokens: read-only, and never the value (not even encrypted)."""

from __future__ import annotations

from django.contrib import admin

from camouflage.models import Token
from shieldx.admin import ReadOnlyMixin


@admin.register(Token)
class TokenAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("token", "tenant", "type", "last4", "brand", "key_version", "created_at")
    list_filter = ("type", "brand", "key_version")
    # Searching by value would need the value in a form field and a log line: by token or tenant only.
    search_fields = ("token", "tenant__tenant_id")
    fields = list_display
    readonly_fields = list_display
    date_hierarchy = "created_at"

