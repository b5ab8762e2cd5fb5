"""Reads of the token vault."""

from __future__ import annotations

import logging
from typing import Any

from django.db.models import Count

from camouflage import keyring, metrics
from camouflage.envelope import DecryptionFailed as SealBroken
from camouflage.envelope import RetiredKeyVersion
from camouflage.exceptions import TokenNotFound
from camouflage.models import Token
from camouflage.services import token_context

logger = logging.getLogger(__name__)


def detokenize(*, tenant_id: str, token: str) -> dict[str, Any]:
    """The stored value of the tenant's token; another tenant's token is 404 like an unknown one."""
    row = Token.objects.filter(tenant_id=tenant_id, token=token).only("token", "ciphertext", "type", "key_version").first()
    if row is None:
        raise TokenNotFound()
    try:
        value = keyring.envelope().decrypt(row.ciphertext, tenant=tenant_id, context=token_context(row.token))
    except SealBroken as exc:
        # Its key version was retired before rewrap_tokens moved it: the value is gone
        # (crypto-shredded) as far as any client can tell, so the token is too.
        if isinstance(exc, RetiredKeyVersion):
            metrics.retired_key_decryptions.inc()
        logger.warning("token %s no longer decrypts (key version %d); run rewrap_tokens before retiring a version", row.token, row.key_version)
        raise TokenNotFound() from None
    return {"value": value, "type": row.type}


def tokens_below_version(version: int) -> int:
    """Rows the rewrap job still has to move to `version`."""
    return Token.objects.filter(key_version__lt=version).count()


def tokens_by_key_version() -> dict[int, int]:
    rows = Token.objects.values("key_version").annotate(n=Count("id")).order_by("key_version")
    return {row["key_version"]: row["n"] for row in rows}
