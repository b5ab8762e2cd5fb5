"""`keyring generate` prints a new key and the SHIELDX_KEYRING entry to add; `keyring status`
shows versions and the rewrap backlog. Neither ever prints an existing key."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from camouflage import keyring, selectors
from camouflage.envelope import MAX_VERSION, generate_key


class Command(BaseCommand):
    help = "Manage the camouflage keyring: `generate` a new key, or show its `status`."
    # `generate` must work while the keyring is missing or broken: that is when it is needed.
    requires_system_checks = []

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        generate = sub.add_parser("generate", help="print a new base64 key and the SHIELDX_KEYRING entry for it")
        generate.add_argument("--version", type=int, dest="key_version", help="version for the new key (default: the next one)")
        sub.add_parser("status", help="versions, the active one, the minimum, and tokens per key version")

    def handle(self, *args, action: str, key_version: int | None = None, **options):
        if action == "generate":
            self.generate(key_version)
        else:
            self.status()

    def _configured(self):
        try:
            ring, development = keyring.load_keyring()
        except (keyring.KeyringError, ImproperlyConfigured):
            return None
        return None if development else ring

    def generate(self, key_version: int | None) -> None:
        ring = self._configured()
        version = key_version or (ring.active_version + 1 if ring else 1)
        if not 1 <= version <= MAX_VERSION:
            raise CommandError(f"--version must be from 1 to {MAX_VERSION}")
        if ring and version in ring:
            raise CommandError(f"version {version} is already in SHIELDX_KEYRING")
        key = generate_key()
        entry = f"{version}:{key}"
        self.stdout.write(key)
        if ring:
            self.stdout.write(f'SHIELDX_KEYRING="${{SHIELDX_KEYRING}},{entry}"')
            self.stderr.write(
                f"Append {version}:<key> to SHIELDX_KEYRING (the line above does it in a shell). Version {version} "
                "encrypts once every process has it; then run `manage.py rewrap_tokens`, and only after that "
                "raise SHIELDX_KEYRING_MIN_VERSION to retire the old versions."
            )
        else:
            self.stdout.write(f"SHIELDX_KEYRING={entry}")
            self.stderr.write("Keep the key secret (a secret manager or SHIELDX_KEYRING_FILE); it is shown once.")

    def status(self) -> None:
        try:
            ring, development = keyring.load_keyring()
        except (keyring.KeyringError, ImproperlyConfigured) as exc:
            raise CommandError(str(exc)) from None
        source = "development keyring derived from SECRET_KEY (not for real data)" if development else "SHIELDX_KEYRING"
        self.stdout.write(f"source          {source}")
        self.stdout.write(f"versions        {', '.join(str(v) for v in ring.versions)}")
        self.stdout.write(f"active          {ring.active_version}")
        self.stdout.write(f"min (decrypts)  {ring.min_version}")
        for version, count in selectors.tokens_by_key_version().items():
            state = "active" if version == ring.active_version else ("retired" if ring.is_retired(version) else "to rewrap")
            self.stdout.write(f"tokens v{version:<7} {count} ({state})")
