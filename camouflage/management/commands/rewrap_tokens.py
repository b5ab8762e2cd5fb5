"""Move stored token values and fingerprints to the active keyring version.

Resumable and safe while the service serves: each batch is its own transaction and
only rows below the active version are picked, so a killed run loses at most one
uncommitted batch and the next run continues where the work is.
"""

from __future__ import annotations

import sys
import time

from django.core.management.base import BaseCommand, CommandError

from camouflage import keyring, selectors, services


class ProgressBar:
    """A one-line bar on stderr (a new line per update when stderr is not a terminal)."""

    def __init__(self, total: int, stream=None, width: int = 30):
        self.total, self.width, self.stream = total, width, stream or sys.stderr
        self.started = time.monotonic()
        self.tty = getattr(self.stream, "isatty", lambda: False)()

    def update(self, done: int) -> None:
        share = min(1.0, done / self.total) if self.total else 1.0
        filled = int(share * self.width)
        rate = done / max(time.monotonic() - self.started, 1e-6)
        line = f"[{'#' * filled}{'.' * (self.width - filled)}] {done}/{self.total} tokens ({share:.0%}, {rate:.0f}/s)"
        self.stream.write(("\r" + line) if self.tty else (line + "\n"))
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")


class Command(BaseCommand):
    help = "Re-encrypt stored token values (and re-key their fingerprints) under the active keyring version."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500, help="rows per transaction (default 500)")

    def handle(self, *args, batch_size: int = 500, **options):
        if not 1 <= batch_size <= 10_000:
            raise CommandError("--batch-size must be from 1 to 10000")
        active = keyring.crypto().keyring.active_version
        total = selectors.tokens_below_version(active)
        bar = ProgressBar(total, stream=self.stderr._out)
        after_id, rewrapped, failed = 0, 0, 0
        bar.update(0)
        while True:
            progress = services.rewrap_tokens_batch(after_id=after_id, batch_size=batch_size)
            if progress.last_id is None:
                break
            after_id = progress.last_id
            rewrapped += progress.rewrapped
            failed += progress.failed
            bar.update(rewrapped + failed)
        bar.close()
        self.stdout.write(f"rewrapped {rewrapped} token(s) to key version {active}; {failed} could not be decrypted")
        if failed:
            raise CommandError(
                f"{failed} token(s) no longer decrypt (their key version is retired or unknown); they cannot be rewrapped",
                returncode=1,
            )
