"""Tenants and their API keys (CONTRACT §2)."""

from __future__ import annotations

from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

TENANT_ID_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,62}$"


class Tenant(models.Model):
    tenant_id = models.CharField(primary_key=True, max_length=63, validators=[RegexValidator(TENANT_ID_PATTERN)])
    name = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["tenant_id"]

    def __str__(self) -> str:
        return self.tenant_id


class ApiKey(models.Model):
    """An API key. Only a SHA-256 of the key is kept; the prefix finds the row.

    The key carries 256 bits of randomness, so a fast hash is enough: there is no
    dictionary to attack, and the hot path stays a single indexed lookup.
    """

    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.CASCADE, related_name="api_keys")
    is_operator = models.BooleanField(default=False, help_text="Operator keys act on any tenant.")
    name = models.CharField(max_length=200, blank=True)
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(is_operator=True, tenant__isnull=True) | models.Q(is_operator=False, tenant__isnull=False),
                name="apikey_operator_xor_tenant",
            )
        ]

    def __str__(self) -> str:
        owner = "operator" if self.is_operator else self.tenant_id
        return f"{self.prefix}… ({owner})"

    def is_usable(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)
