"""Operator pages for tenants and API keys. A new key is shown once, on its own page."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse

from shieldx import scopes as scope_rules
from shieldx.models import ApiKey, Tenant
from shieldx.services import api_key_create, api_key_revoke


class ReadOnlyMixin:
    """For history and records: operators read them; changes go through the services."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ("tenant_id", "name", "is_active", "created_at")
    list_filter = ("is_active",)
    search_fields = ("tenant_id", "name")

    def get_readonly_fields(self, request, obj=None):
        return ("tenant_id", "created_at") if obj else ("created_at",)


class ApiKeyCreateForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=[(s, s) for s in (scope_rules.ALL, *scope_rules.SCOPES)], widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = ApiKey
        fields = ("tenant", "is_operator", "name", "scopes", "expires_at")

    def clean(self):
        data = super().clean()
        if bool(data.get("tenant")) == bool(data.get("is_operator")):
            raise forms.ValidationError("Choose a tenant, or tick 'is operator' for a key that acts on any tenant.")
        return data


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("prefix", "name", "tenant", "is_operator", "scopes", "created_at", "expires_at", "revoked_at", "last_used_at")
    list_filter = ("is_operator", "revoked_at")
    search_fields = ("prefix", "name", "tenant__tenant_id")
    readonly_fields = ("prefix", "tenant", "is_operator", "scopes", "created_at", "revoked_at", "last_used_at")
    fields = ("prefix", "name", "tenant", "is_operator", "scopes", "expires_at", "created_at", "revoked_at", "last_used_at")
    actions = ["revoke_keys"]

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = ApiKeyCreateForm
            kwargs["fields"] = ApiKeyCreateForm.Meta.fields
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj else ()

    def get_fields(self, request, obj=None):
        return self.fields if obj else ApiKeyCreateForm.Meta.fields

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        data = form.cleaned_data
        key, raw_key = api_key_create(
            tenant=data.get("tenant"), scopes=data["scopes"], name=data.get("name", ""), expires_at=data.get("expires_at")
        )
        obj.pk = key.pk
        request._shieldx_new_key = raw_key

    def response_add(self, request, obj, post_url_continue=None):
        # The raw key exists only in this response: nothing stores it, not even a message.
        return TemplateResponse(
            request,
            "admin/shieldx/apikey/created.html",
            {**self.admin_site.each_context(request), "key": ApiKey.objects.get(pk=obj.pk), "raw_key": request._shieldx_new_key, "opts": self.model._meta},
        )

    @admin.action(description="Revoke selected keys")
    def revoke_keys(self, request, queryset):
        for key in queryset:
            api_key_revoke(key=key)
        self.message_user(request, f"Revoked {queryset.count()} key(s).", messages.SUCCESS)
