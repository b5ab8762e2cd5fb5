"""The console's writes: recording audit-chain verifications."""

from __future__ import annotations

from typing import Any

from console.models import ChainCheck
from credits import selectors as credits_selectors


def chain_verify(*, tenant_id: str, actor: str) -> dict[str, Any]:
    """Verify the tenant's chain now (the API's ``/verify`` figures) and remember the result."""
    report = credits_selectors.verify_chain(tenant_id=tenant_id)
    ChainCheck.objects.create(
        tenant_id=tenant_id, valid=report["valid"], length=report["length"], head_hash=report["head_hash"] or "",
        broken_at_seq=report["broken_at_seq"], actor=actor,
    )  # fmt: skip
    return report
