"""Stored tokens: the value only encrypted, found again by a keyed, versioned fingerprint."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class TokenType(models.TextChoices):
    CARD = "card"
    SSN = "ssn", "SSN"
    GENERIC = "generic"


class Token(models.Model):
    """One tokenized value of one tenant.

    `fingerprint` (`v<n>:<hmac hex>`) and `ciphertext` (`sx:v<n>:…`, context
    `token:<token>`) are always written together under one keyring version,
    `key_version`, so the rewrap job finds what it still has to move with one index.
    The unique (tenant, fingerprint) constraint decides races between concurrent
    tokenizations of one value.
    """

    tenant = models.ForeignKey("shieldx.Tenant", on_delete=models.PROTECT, related_name="camouflage_tokens")
    token = models.CharField(max_length=40, unique=True, editable=False)
    fingerprint = models.CharField(max_length=80, editable=False)
    ciphertext = models.TextField(editable=False)
    key_version = models.PositiveIntegerField()
    type = models.CharField(max_length=8, choices=TokenType.choices)
    last4 = models.CharField(max_length=4, blank=True)
    brand = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "fingerprint"], name="camouflage_token_tenant_fingerprint")]
        indexes = [models.Index(fields=["key_version", "id"], name="camouflage_token_rewrap")]

    def __str__(self) -> str:
        return self.token
