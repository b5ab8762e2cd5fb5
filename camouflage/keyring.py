"""The process-wide keyring, envelope and fingerprinter, built lazily from settings.

`SHIELDX_KEYRING` (or `SHIELDX_KEYRING_FILE`) and `SHIELDX_KEYRING_MIN_VERSION` are
read in settings. Outside production an unset keyring falls back to a development
keyring derived from SECRET_KEY: deterministic, so a restart still decrypts, and
worthless as protection (the system check says so). In production it is an error.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

from .envelope import Envelope, Keyring, KeyringError, parse_keyring
from .fingerprint import Fingerprinter

_DEV_KEY_LABEL = b"shieldx/camouflage/dev-keyring/v1\x00"
MISSING_IN_PRODUCTION = "SHIELDX_KEYRING (or SHIELDX_KEYRING_FILE) must be set in production"
_SETTINGS = frozenset({"SHIELDX_KEYRING", "SHIELDX_KEYRING_MIN_VERSION", "SECRET_KEY", "PRODUCTION"})


@dataclass(frozen=True)
class Crypto:
    keyring: Keyring
    envelope: Envelope
    fingerprinter: Fingerprinter
    development: bool


_lock = threading.Lock()
_crypto: Crypto | None = None


def development_keyring(secret_key: str, *, min_version: int | None = None) -> Keyring:
    """Version 1 = SHA-256 of a label and SECRET_KEY: the same in every process of a dev setup."""
    return Keyring({1: hashlib.sha256(_DEV_KEY_LABEL + secret_key.encode()).digest()}, min_version=min_version)


def load_keyring() -> tuple[Keyring, bool]:
    """(keyring, is_development) from settings. `KeyringError` for a malformed keyring,
    `ImproperlyConfigured` for a missing one in production; no message holds key material."""
    min_version = settings.SHIELDX_KEYRING_MIN_VERSION or None
    spec = settings.SHIELDX_KEYRING
    if spec.strip():
        return parse_keyring(spec, min_version=min_version), False
    if settings.PRODUCTION:
        raise ImproperlyConfigured(f"{MISSING_IN_PRODUCTION}; generate a key with: python manage.py keyring generate")
    return development_keyring(settings.SECRET_KEY, min_version=min_version), True


def crypto() -> Crypto:
    global _crypto
    current = _crypto
    if current is None:
        with _lock:
            if _crypto is None:
                keyring, development = load_keyring()
                _crypto = Crypto(keyring, Envelope(keyring), Fingerprinter(keyring), development)
            current = _crypto
    return current


def envelope() -> Envelope:
    return crypto().envelope


def fingerprinter() -> Fingerprinter:
    return crypto().fingerprinter


def reset() -> None:
    """Forget the built keyring; the next use reads settings again (tests, reloads)."""
    global _crypto
    with _lock:
        _crypto = None


@receiver(setting_changed)
def _settings_changed(*, setting: str, **kwargs) -> None:
    if setting in _SETTINGS:
        reset()


__all__ = ["Crypto", "KeyringError", "crypto", "development_keyring", "envelope", "fingerprinter", "load_keyring", "reset"]
