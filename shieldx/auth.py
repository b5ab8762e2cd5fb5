"""Bearer API-key authentication, scope permission and tenant resolution.

Every API view uses these three pieces, so tenant isolation is decided in one place.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import InterfaceError, OperationalError
from django.utils import timezone
from rest_framework import authentication, exceptions, permissions

from shieldx import broadcast
from shieldx import scopes as scope_rules
from shieldx.breaker import CircuitOpen
from shieldx.errors import NotFound, outage
from shieldx.lru import LRU
from shieldx.models import ApiKey, Tenant
from shieldx.services import hash_key, split_key

# Writing last_used_at on every request would turn each read into a write.
LAST_USED_GRANULARITY = timedelta(seconds=60)
_DUMMY_HASH = hash_key("sxk_dummy")
# While PostgreSQL is down, keys and tenants seen recently still authenticate, so cached
# balances can be served (marked stale). A revocation cannot happen during the outage.
OUTAGE_GRACE_SECONDS = 600
_recent_principals: LRU[tuple[Principal, float]] = LRU(10_000)
# Verified keys, so the hot path needs no key query. An entry is trusted only while this
# process hears invalidations (a key or tenant saved or revoked anywhere flushes every
# process's cache through Redis pub/sub), and for at most KEY_CACHE_SECONDS even so, in
# case a message were lost: that is the bound on how long a revoked key can still work.
KEY_CACHE_SECONDS = 30.0
_verified_keys: LRU[_VerifiedKey] = LRU(10_000)
_recent_tenants: LRU[float] = LRU(10_000)
_OUTAGES = (CircuitOpen, OperationalError, InterfaceError)


def _recent(cache: LRU, key) -> object | None:
    entry = cache.get(key)
    if entry is None:
        return None
    value, seen = entry if isinstance(entry, tuple) else (True, entry)
    return value if time.monotonic() - seen < OUTAGE_GRACE_SECONDS else None


@dataclass(frozen=True)
class Principal:
    """Who is calling: the facts a view needs, with no ORM object attached."""

    key_id: int
    key_prefix: str
    tenant_id: str | None
    is_operator: bool
    scopes: tuple[str, ...]

    is_authenticated = True

    @property
    def actor(self) -> str:
        return f"apikey:{self.key_prefix}"

    def has_scope(self, scope: str) -> bool:
        return scope_rules.grants(list(self.scopes), scope)


@dataclass
class _VerifiedKey:
    principal: Principal
    cached_at: float  # monotonic
    expires_at: datetime | None
    last_used_at: datetime | None


def _flush_verified_keys(_message: str = "") -> None:
    _verified_keys.clear()


key_changes = broadcast.Channel("apikeys", on_message=_flush_verified_keys, on_reset=_flush_verified_keys)


def keys_changed() -> None:
    """A key or tenant changed: forget verified keys here at once and in every other process."""
    _flush_verified_keys()
    key_changes.publish("flush")


def _touch(entry: _VerifiedKey, now: datetime) -> None:
    if entry.last_used_at is None or now - entry.last_used_at > LAST_USED_GRANULARITY:
        ApiKey.objects.filter(pk=entry.principal.key_id).update(last_used_at=now)
        entry.last_used_at = now


# A cache miss runs this query: raw SQL costs a third of the ORM's select_related here.
_KEY_SQL = (
    "SELECT k.*, t.is_active AS tenant_active FROM shieldx_apikey k "
    "LEFT JOIN shieldx_tenant t ON t.tenant_id = k.tenant_id WHERE k.prefix = %s"
)


def _key_by_prefix(prefix: str) -> ApiKey | None:
    return next(iter(ApiKey.objects.raw(_KEY_SQL, [prefix])), None)


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"
    _failure = "Invalid, expired or revoked API key."

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, raw_key = header.partition(" ")
        if scheme.lower() != "bearer" or not raw_key.strip():
            raise exceptions.AuthenticationFailed("Authorization must be 'Bearer <api key>'.")
        raw_key = raw_key.strip()
        presented_hash = hash_key(raw_key)
        now = timezone.now()
        cached = _verified_keys.get(presented_hash) if key_changes.connected() else None
        if cached is not None and time.monotonic() - cached.cached_at < KEY_CACHE_SECONDS and (cached.expires_at is None or cached.expires_at > now):
            _touch(cached, now)
            return cached.principal, cached.principal
        prefix = split_key(raw_key)
        try:
            key = _key_by_prefix(prefix) if prefix else None
        except _OUTAGES as exc:
            cached = _recent(_recent_principals, presented_hash)
            if cached is None:
                raise outage(exc) from exc
            return cached, cached
        # Compare even when nothing was found, so timing says nothing about prefixes.
        matches = hmac.compare_digest(key.key_hash if key else _DUMMY_HASH, presented_hash)
        if key is None or not matches or not key.is_usable(now) or key.tenant_active is False:
            raise exceptions.AuthenticationFailed(self._failure)
        principal = Principal(
            key_id=key.pk,
            key_prefix=key.prefix,
            tenant_id=key.tenant_id,
            is_operator=key.is_operator,
            scopes=tuple(key.scopes),
        )
        _recent_principals.put(presented_hash, (principal, time.monotonic()))
        verified = _VerifiedKey(principal, time.monotonic(), key.expires_at, key.last_used_at)
        _touch(verified, now)
        _verified_keys.put(presented_hash, verified)
        return principal, principal

    def authenticate_header(self, request) -> str:
        return self.keyword


class HasScope(permissions.BasePermission):
    """Grants access when the key holds the view's scope for this method.

    Views declare ``required_scopes = {"GET": "credits:read", ...}``; a view that
    declares nothing is closed to every key (fail closed).
    """

    message = "This API key lacks the scope this route needs."

    def has_permission(self, request, view) -> bool:
        principal = request.user
        if not isinstance(principal, Principal):
            return False
        if request.method == "OPTIONS" or not hasattr(view, request.method.lower()):
            return True  # nothing to reach: DRF answers with metadata or 405
        scopes = getattr(view, "required_scopes", {})
        # HEAD is GET without the body (Django's View serves it with get): the same scope.
        needed = scopes.get(request.method) or (scopes.get("GET") if request.method == "HEAD" else None)
        if needed is None:
            return False
        if not principal.has_scope(needed):
            self.message = f"This API key lacks the scope {needed!r}."
            return False
        return True


def _tenant_not_found() -> NotFound:
    return NotFound("Tenant not found.")


def resolve_tenant(principal: Principal, tenant_id: object, *, missing: Callable[[], Exception] = _tenant_not_found) -> str:
    """The tenant id the caller may act on, or a 404: another tenant's data is never revealed.

    ``missing`` makes that 404. A view that resolves the owner of an object it looked up
    by id passes the exception it raises when that object does not exist (e.g.
    ``missing=DatasetNotFound``), so another tenant's object answers byte for byte like a
    missing one of the same kind (CONTRACT §1a), not "Tenant not found.".
    """
    if not isinstance(tenant_id, str) or not tenant_id:
        raise missing()
    if not principal.is_operator:
        # The key's own tenant was checked active when the key authenticated.
        if principal.tenant_id != tenant_id:
            raise missing()
        return tenant_id
    try:
        exists = Tenant.objects.filter(tenant_id=tenant_id, is_active=True).exists()
    except _OUTAGES as exc:
        if _recent(_recent_tenants, tenant_id) is None:
            raise outage(exc) from exc
        return tenant_id
    if not exists:
        raise missing()
    _recent_tenants.put(tenant_id, time.monotonic())
    return tenant_id
