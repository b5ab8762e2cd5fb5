"""System check: the keyring is validated when the process starts (`manage.py check`,
`migrate`, Celery workers), with messages that never hold key material."""

from __future__ import annotations

from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from . import keyring

GENERATE_HINT = "Generate a key with: python manage.py keyring generate"


@checks.register(checks.Tags.security)
def keyring_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    try:
        ring, development = keyring.load_keyring()
    except keyring.KeyringError as exc:
        return [checks.Error(f"SHIELDX_KEYRING is invalid: {exc}.", hint=GENERATE_HINT, id="camouflage.E001")]
    except ImproperlyConfigured:
        return [checks.Error(f"{keyring.MISSING_IN_PRODUCTION}.", hint=GENERATE_HINT, id="camouflage.E002")]
    if development:
        return [
            checks.Warning(
                "SHIELDX_KEYRING is not set: camouflage uses a development keyring derived from SECRET_KEY. "
                "Anything it encrypts or tokenizes is not protected.",
                hint=f"Set SHIELDX_KEYRING before storing real data. {GENERATE_HINT}",
                id="camouflage.W001",
            )
        ]
    return []
