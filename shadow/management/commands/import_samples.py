"""``manage.py import_samples --tenant T [--dataset NAME] FILE.jsonl`` (CONTRACT §2).

Streams the file through the same checks and the same all-or-nothing service as the
API: one transaction, rows written in chunks as they are read, a progress bar on
stderr. A bad line anywhere means nothing is imported, and every bad line is named.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from shadow import services
from shadow.parsers import JsonLines
from shieldx.errors import ApplicationError
from shieldx.models import Tenant

BAR_WIDTH = 30
REDRAW_SECONDS = 0.25


class ProgressReader:
    """A binary file that draws how much of it has been read, at most four times a second."""

    def __init__(self, handle, total: int, stream):
        self.handle, self.total, self.stream = handle, total, stream
        self.done = 0
        self.started = self.drawn = time.monotonic()
        self.interactive = stream.isatty()

    def read(self, size: int = -1) -> bytes:
        chunk = self.handle.read(size)
        self.done += len(chunk)
        now = time.monotonic()
        if now - self.drawn >= REDRAW_SECONDS or not chunk:
            self.drawn = now
            self.draw(final=not chunk)
        return chunk

    def draw(self, *, final: bool = False) -> None:
        share = self.done / self.total if self.total else 1.0
        filled = int(share * BAR_WIDTH)
        elapsed = time.monotonic() - self.started
        line = f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {share:6.1%} {self.done / 1048576:,.1f}/{self.total / 1048576:,.1f} MiB {elapsed:5.1f}s"
        # On a terminal the bar redraws in place; in a log, one line per redraw.
        self.stream.write(("\r" + line + ("\n" if final else "")) if self.interactive else line + "\n")
        self.stream.flush()


class Command(BaseCommand):
    help = "Import labeled samples (JSONL) into a tenant's dataset, all or nothing, streaming the file."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="tenant id")
        parser.add_argument("--dataset", default=services.DEFAULT_DATASET, help="dataset name (created when missing; default: default)")
        parser.add_argument("file", help="a JSONL file, one sample per line")

    def handle(self, *args, tenant: str, dataset: str, file: str, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"{file}: no such file")
        if not Tenant.objects.filter(tenant_id=tenant, is_active=True).exists():
            raise CommandError(f"tenant {tenant!r} not found")
        try:
            # One transaction: a refused file does not even leave a new, empty dataset behind.
            with transaction.atomic(), path.open("rb") as handle:
                dataset_id = services.dataset_get_or_create(tenant_id=tenant, name=dataset)
                reader = ProgressReader(handle, path.stat().st_size, sys.stderr)
                report = services.samples_import(tenant_id=tenant, dataset_id=dataset_id, records=JsonLines(reader))
        except ApplicationError as exc:
            lines = "".join(f"\n  line {e['line']}: {e['error']}" for e in exc.details.get("errors", []))
            raise CommandError(exc.message + lines) from None
        self.stdout.write(
            f"Imported {report['imported']} samples into {tenant}/{dataset} ({report['dataset_id']}): "
            f"{report['sample_count']} samples, version {report['version']}."
        )
