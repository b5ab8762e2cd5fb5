"""Keyed fingerprints and token ids for tokenization (the pure half; rows live in the DB).

A fingerprint is HMAC-SHA256 of the value under a per-tenant key derived by HKDF
from one keyring version, written `v<version>:<64 hex>`. PCI DSS 3.5.1.1 wants
hashes of card numbers keyed, and a per-tenant key keeps equal values in two
tenants from linking.

Rotation: fingerprints are versioned like ciphertexts instead of tied to one
"stable" key, because no single keyring version stays forever (retiring it would
silently change every fingerprint). So:

- a new token row stores `fingerprint(value)` (active version);
- a lookup asks for any of `candidates(value)`, one per version that can still
  decrypt, so a value tokenized before a rotation keeps its token;
- the rewrap job that moves a row's ciphertext to the active version also stores
  `fingerprint(value)` again;
- retiring a version retires its fingerprints with its ciphertexts: rows not
  rewrapped by then stop being found (and stop being decryptable).
"""

from __future__ import annotations

import functools
import hmac
import secrets

from .cards import card_digits
from .envelope import PURPOSE_FINGERPRINT, Keyring, derive_tenant_key

TOKEN_PREFIX = "tok_"  # noqa: S105 - an id prefix, not a secret


def new_token() -> str:
    """A random token id: `tok_` + 24 URL-safe characters (144 bits)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(18)


def canonical_value(value: str, *, kind: str = "generic") -> str:
    """The form a value is fingerprinted in, so `4111 1111 ...` and `4111-1111-...`
    get one token. Cards and SSNs drop spaces and dashes; anything else is exact."""
    if kind in ("card", "ssn"):
        digits = card_digits(value)
        if digits is not None:
            return digits
    return value


def fingerprint_version(fingerprint: str) -> int:
    """The keyring version a fingerprint was made with (for the rewrap job)."""
    prefix, _, _ = fingerprint.partition(":")
    if not prefix.startswith("v") or not prefix[1:].isdigit():
        raise ValueError("not a fingerprint")
    return int(prefix[1:])


class Fingerprinter:
    """Per-tenant HMAC fingerprints under a keyring. Safe to share between threads."""

    def __init__(self, keyring: Keyring, *, cache_size: int = 1024) -> None:
        self.keyring = keyring
        # HKDF per call would cost more than the HMAC itself.
        self._key = functools.lru_cache(maxsize=cache_size)(self._derive_key)

    def _derive_key(self, version: int, tenant: str) -> bytes:
        if not isinstance(tenant, str) or not tenant:
            raise ValueError("tenant must be a non-empty string")
        return derive_tenant_key(self.keyring.master_key(version), purpose=PURPOSE_FINGERPRINT, tenant=tenant)

    def _under(self, version: int, value: str, tenant: str) -> str:
        digest = hmac.digest(self._key(version, tenant), value.encode("utf-8", "surrogatepass"), "sha256")
        return f"v{version}:{digest.hex()}"

    def fingerprint(self, value: str, *, tenant: str) -> str:
        """The fingerprint to store for a new or rewrapped row (active version)."""
        return self._under(self.keyring.active_version, value, tenant)

    def candidates(self, value: str, *, tenant: str) -> list[str]:
        """Fingerprints to look a value up by: every decryptable version, newest first."""
        return [self._under(version, value, tenant) for version in self.keyring.decryptable_versions()]
