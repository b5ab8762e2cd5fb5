"""The console's own record: when an operator last verified a tenant's audit chain.

Verification is a read of credits (``credits.selectors.verify_chain``); remembering
that it happened is the console's business, so the dashboard can list the chains
nobody has verified in the last day.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class ChainCheck(models.Model):
    tenant = models.ForeignKey("shieldx.Tenant", on_delete=models.CASCADE, related_name="+")
    valid = models.BooleanField()
    length = models.BigIntegerField()
    head_hash = models.CharField(max_length=64)
    broken_at_seq = models.BigIntegerField(null=True, blank=True)
    actor = models.CharField(max_length=200)
    checked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["tenant", "-checked_at"], name="console_check_latest")]

    def __str__(self) -> str:
        return f"{self.tenant_id} {'valid' if self.valid else 'BROKEN'} at {self.checked_at:%Y-%m-%d %H:%M}"
