"""Database helpers the apps share."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection


@contextmanager
def pipelined() -> Iterator[None]:
    """Run the block in psycopg's pipeline mode on PostgreSQL: statements whose results
    nobody reads (inserts, savepoints) are not awaited but travel with the next statement
    that is, or with the COMMIT. A write request then costs fewer round trips; errors of
    such statements surface at that later point (at the latest at COMMIT), so the
    transaction still commits all or nothing. Elsewhere (SQLite) it does nothing."""
    if connection.vendor != "postgresql" or not connection.settings_dict.get("OPTIONS", {}).get("server_side_binding"):
        yield
        return
    connection.ensure_connection()
    with connection.connection.pipeline():
        yield
