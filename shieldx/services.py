"""Writes for tenants and API keys."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from shieldx import scopes as scope_rules
from shieldx.errors import Conflict, InvalidRequest
from shieldx.models import ApiKey, Tenant

KEY_PREFIX = "sxk_"
_PREFIX_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"


def hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def split_key(raw_key: str) -> str | None:
    """The public lookup prefix of a well-formed key, else None."""
    if not raw_key.startswith(KEY_PREFIX):
        return None
    prefix, sep, secret = raw_key[len(KEY_PREFIX):].partition("_")
    if not sep or len(prefix) != 10 or len(secret) < 32:
        return None
    return prefix


@transaction.atomic
def tenant_create(*, tenant_id: str, name: str = "") -> Tenant:
    tenant = Tenant(tenant_id=tenant_id, name=name or tenant_id)
    try:
        tenant.full_clean(validate_unique=False)
    except ValidationError:
        raise InvalidRequest(
            "tenant_id must match ^[a-z0-9][a-z0-9._-]{0,62}$", details={"field": "tenant_id"}
        ) from None
    try:
        with transaction.atomic():
            tenant.save(force_insert=True)
    except IntegrityError:
        raise Conflict(f"Tenant {tenant_id!r} already exists.") from None
    return tenant


def api_key_create(
    *,
    tenant: Tenant | None,
    scopes: list[str] | str,
    name: str = "",
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """Create a key; returns the row and the raw key, which is never stored or shown again.

    ``tenant=None`` makes an operator key.
    """
    try:
        parsed = scope_rules.parse(scopes)
    except ValueError as exc:
        raise InvalidRequest(str(exc), details={"field": "scopes"}) from None
    while True:
        prefix = "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(10))
        raw_key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
        try:
            with transaction.atomic():
                key = ApiKey.objects.create(
                    tenant=tenant,
                    is_operator=tenant is None,
                    name=name,
                    prefix=prefix,
                    key_hash=hash_key(raw_key),
                    scopes=parsed,
                    expires_at=expires_at,
                )
            return key, raw_key
        except IntegrityError:  # prefix collision: astronomically rare, just draw again
            continue


def api_key_revoke(*, key: ApiKey) -> ApiKey:
    from shieldx.auth import keys_changed

    ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    transaction.on_commit(keys_changed)  # every process forgets the key it verified
    key.refresh_from_db()
    return key
