"""AES-256-GCM envelopes under a versioned keyring, with per-tenant derived keys.

Keyring: `SHIELDX_KEYRING="1:<base64 32 bytes>,2:<base64 32 bytes>"`. The highest
version encrypts; every version from `min_version` up decrypts; versions below it
are retired (their ciphertexts fail as if tampered with until rewrapped).

Ciphertext: `sx:v<version>:<base64url, no padding, of nonce(12) || ciphertext || tag(16)>`.

- Each (version, tenant) gets its own AES key, HKDF-SHA256 of the version's master
  key with the tenant id and purpose in `info`: one tenant's key says nothing about
  another's, and a ciphertext moved to another tenant cannot decrypt.
- The associated data binds the version, the tenant id and the caller's `context`,
  each length-prefixed, so ("ab", "c") and ("a", "bc") never collide.
- Nonces are 96 random bits from `os.urandom` per message. With one key per tenant
  and version, the NIST limit of 2^32 messages per key is far away; rotate the
  keyring well before any tenant approaches it.
- Every decryption failure raises `DecryptionFailed`, with the same message whatever
  the cause, so the API cannot be used as an oracle.
"""

from __future__ import annotations

import base64
import binascii
import functools
import os
import re
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
MAX_VERSION = 999_999_999

# Fixed HKDF salt: names the derivation scheme, so a future scheme can change it.
_HKDF_SALT = b"shieldx/keyring/v1"
_AAD_LABEL = b"shieldx/envelope/v1"
_CIPHERTEXT = re.compile(r"sx:v([1-9][0-9]{0,8}):([A-Za-z0-9_-]+)")

PURPOSE_DATA_KEY = b"aes-256-gcm data key"
PURPOSE_FINGERPRINT = b"hmac-sha256 fingerprint key"


class KeyringError(ValueError):
    """A malformed keyring. Messages name entries and versions, never key material."""


class DecryptionFailed(Exception):
    """The only error decryption raises; it never says why."""

    def __init__(self) -> None:
        super().__init__("decryption failed")


class RetiredKeyVersion(DecryptionFailed):
    """A ciphertext under a retired version. Same public face as `DecryptionFailed`;
    the subclass only lets the service count these apart (rewrap backlog)."""


def generate_key() -> str:
    """A new master key for the keyring: base64 of 32 random bytes."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii")


class Keyring:
    """Master keys by version. Immutable; repr shows versions only."""

    __slots__ = ("_decryptable", "_keys", "active_version", "min_version")

    def __init__(self, keys: Mapping[int, bytes], *, min_version: int | None = None) -> None:
        if not keys:
            raise KeyringError("the keyring has no keys")
        for version, key in keys.items():
            if not isinstance(version, int) or not 1 <= version <= MAX_VERSION:
                raise KeyringError(f"key versions must be integers from 1 to {MAX_VERSION}")
            if not isinstance(key, bytes) or len(key) != KEY_BYTES:
                raise KeyringError(f"key version {version} must be {KEY_BYTES} bytes")
        self._keys = dict(keys)
        self.active_version = max(self._keys)
        self.min_version = min(self._keys) if min_version is None else min_version
        if not 1 <= self.min_version <= self.active_version:
            # Retiring the active version would leave nothing to encrypt with.
            raise KeyringError(
                f"the minimum decryption version ({self.min_version}) must be between 1 and the active version ({self.active_version})"
            )
        self._decryptable = tuple(v for v in sorted(self._keys, reverse=True) if v >= self.min_version)

    @property
    def versions(self) -> tuple[int, ...]:
        return tuple(sorted(self._keys))

    def decryptable_versions(self) -> tuple[int, ...]:
        """Versions that may still decrypt, newest first."""
        return self._decryptable

    def __contains__(self, version: object) -> bool:
        return version in self._keys

    def is_retired(self, version: int) -> bool:
        return version < self.min_version

    def master_key(self, version: int) -> bytes:
        """The raw master key; `KeyError` when the version is unknown."""
        return self._keys[version]

    def __repr__(self) -> str:
        return f"Keyring(versions={list(self.versions)}, active_version={self.active_version}, min_version={self.min_version})"


def parse_keyring(spec: str, *, min_version: int | None = None) -> Keyring:
    """Parse `1:<base64>,2:<base64>`; whitespace around entries and parts is ignored.

    Keys may use the standard or URL-safe base64 alphabet, with or without padding.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise KeyringError("the keyring is empty; expected '1:<base64 of 32 bytes>[,2:...]'")
    keys: dict[int, bytes] = {}
    for position, raw_entry in enumerate(spec.split(","), start=1):
        entry = raw_entry.strip()
        if not entry:
            raise KeyringError(f"keyring entry {position} is empty (stray comma?)")
        version_text, colon, key_text = entry.partition(":")
        version_text = version_text.strip()
        if not colon:
            raise KeyringError(f"keyring entry {position} has no ':'; expected '<version>:<base64 key>'")
        # The version text is not echoed: a swapped entry would put the key there.
        if not (version_text.isascii() and version_text.isdigit()) or version_text.startswith("0"):
            raise KeyringError(f"keyring entry {position}: the version must be a positive integer")
        version = int(version_text)
        if version > MAX_VERSION:
            raise KeyringError(f"keyring entry {position}: the version must be at most {MAX_VERSION}")
        if version in keys:
            raise KeyringError(f"keyring version {version} appears more than once")
        keys[version] = _decode_key(key_text.strip(), version)
    _refuse_shared_keys(keys)
    return Keyring(keys, min_version=min_version)


def _decode_key(text: str, version: int) -> bytes:
    padded = text.replace("-", "+").replace("_", "/") + "=" * (-len(text) % 4)
    try:
        key = base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        raise KeyringError(f"keyring version {version}: the key is not valid base64") from None
    if len(key) != KEY_BYTES:
        raise KeyringError(
            f"keyring version {version}: the key is {len(key)} bytes; expected {KEY_BYTES} "
            "(base64 of 32 random bytes, as `keyring generate` prints)"
        )
    return key


def _refuse_shared_keys(keys: Mapping[int, bytes]) -> None:
    # A copy-paste that reuses a key under a new version would make rotation a no-op.
    seen: dict[bytes, int] = {}
    for version in sorted(keys):
        if keys[version] in seen:
            raise KeyringError(f"keyring versions {seen[keys[version]]} and {version} have the same key")
        seen[keys[version]] = version


def _length_prefixed(*parts: bytes) -> bytes:
    return b"".join(len(part).to_bytes(4, "big") + part for part in parts)


def _utf8(text: str) -> bytes:
    # `surrogatepass`: JSON may carry lone surrogates (`"\ud800"`); they must round-trip
    # rather than turn a request into a server error.
    return text.encode("utf-8", "surrogatepass")


def _with_context(aad_head: bytes, context: str) -> bytes:
    # The per-call part of the associated data; inlined because a generic
    # length-prefix helper cost more than the AES-GCM call itself.
    encoded = _utf8(context)
    return aad_head + len(encoded).to_bytes(4, "big") + encoded


def derive_tenant_key(master_key: bytes, *, purpose: bytes, tenant: str) -> bytes:
    """HKDF-SHA256: one 32-byte key per (master key, purpose, tenant)."""
    info = _length_prefixed(purpose, _utf8(tenant))
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=_HKDF_SALT, info=info).derive(master_key)


def _check_tenant(tenant: str) -> None:
    if not isinstance(tenant, str) or not tenant:
        raise ValueError("tenant must be a non-empty string")


def ciphertext_version(ciphertext: str) -> int:
    """The key version a ciphertext names; `DecryptionFailed` when it is malformed."""
    match = _CIPHERTEXT.fullmatch(ciphertext) if isinstance(ciphertext, str) else None
    if match is None:
        raise DecryptionFailed()
    return int(match.group(1))


class Envelope:
    """Encrypt, decrypt and rewrap with one keyring. Safe to share between threads."""

    def __init__(self, keyring: Keyring, *, cache_size: int = 1024) -> None:
        self.keyring = keyring
        # Building an AESGCM (and the HKDF before it) costs more than encrypting a
        # short value, so keep one per (version, tenant). lru_cache is thread-safe.
        self._tenant_state = functools.lru_cache(maxsize=cache_size)(self._build_tenant_state)

    @property
    def active_version(self) -> int:
        return self.keyring.active_version

    def _build_tenant_state(self, version: int, tenant: str) -> tuple[AESGCM, bytes]:
        """The tenant's AEAD for `version` and the constant head of its associated data."""
        _check_tenant(tenant)
        key = derive_tenant_key(self.keyring.master_key(version), purpose=PURPOSE_DATA_KEY, tenant=tenant)
        aad_head = _AAD_LABEL + _length_prefixed(str(version).encode("ascii"), _utf8(tenant))
        return AESGCM(key), aad_head

    def encrypt_bytes(self, plaintext: bytes, *, tenant: str, context: str = "") -> str:
        version = self.keyring.active_version
        aead, aad_head = self._tenant_state(version, tenant)
        nonce = os.urandom(NONCE_BYTES)
        sealed = aead.encrypt(nonce, plaintext, _with_context(aad_head, context))
        return f"sx:v{version}:{_encode_body(nonce + sealed)}"

    def encrypt(self, plaintext: str, *, tenant: str, context: str = "") -> str:
        return self.encrypt_bytes(_utf8(plaintext), tenant=tenant, context=context)

    def decrypt_bytes(self, ciphertext: str, *, tenant: str, context: str = "") -> bytes:
        match = _CIPHERTEXT.fullmatch(ciphertext) if isinstance(ciphertext, str) else None
        if match is None:
            raise DecryptionFailed()
        version = int(match.group(1))
        raw = _decode_body(match.group(2))
        if version not in self.keyring:
            raise DecryptionFailed()
        if self.keyring.is_retired(version):
            raise RetiredKeyVersion()
        aead, aad_head = self._tenant_state(version, tenant)
        try:
            return aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _with_context(aad_head, context))
        except InvalidTag:
            raise DecryptionFailed() from None

    def decrypt(self, ciphertext: str, *, tenant: str, context: str = "") -> str:
        plaintext = self.decrypt_bytes(ciphertext, tenant=tenant, context=context)
        try:
            return plaintext.decode("utf-8", "surrogatepass")
        except UnicodeDecodeError:  # sealed with encrypt_bytes: not text
            raise DecryptionFailed() from None

    def rewrap(self, ciphertext: str, *, tenant: str, context: str = "") -> str:
        """The same plaintext under the active version (always a fresh nonce)."""
        plaintext = self.decrypt_bytes(ciphertext, tenant=tenant, context=context)
        return self.encrypt_bytes(plaintext, tenant=tenant, context=context)


_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")
_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")
# Base64 leaves spare bits in the last character when the length is not a multiple
# of 3. Unless they are zero, two strings would decode to the same bytes and a
# tampered ciphertext could still decrypt; these are the characters allowed last.
_CANONICAL_LAST = {2: frozenset("AQgw"), 3: frozenset("AEIMQUYcgkosw048")}


def _encode_body(raw: bytes) -> str:
    return binascii.b2a_base64(raw, newline=False).translate(_TO_URLSAFE).rstrip(b"=").decode("ascii")


def _decode_body(body: str) -> bytes:
    remainder = len(body) % 4
    if remainder == 1 or (remainder and body[-1] not in _CANONICAL_LAST[remainder]):
        raise DecryptionFailed()
    try:
        padded = body.encode("ascii").translate(_FROM_URLSAFE) + b"=" * (-len(body) % 4)
        raw = binascii.a2b_base64(padded, strict_mode=True)
    except (binascii.Error, ValueError):
        raise DecryptionFailed() from None
    if len(raw) < NONCE_BYTES + TAG_BYTES:
        raise DecryptionFailed()
    return raw
