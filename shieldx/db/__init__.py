"""Database helpers the apps share."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import connection


@contextmanager
def pipelined() -> Iterator[None]:
    """Run the block in psycopg's pipeline mode on PostgreSQL: statements whose results
    nobody reads (inserts, savepoints) are not awaited but travel with the next statement
    that is, or with the pipeline's closing sync. A write request then costs fewer round
    trips; errors of such statements surface at that later point (at the latest when the
    block ends, before COMMIT), so the transaction still commits all or nothing. Elsewhere (SQLite) it does nothing."""
    options = connection.settings_dict.get("OPTIONS", {})
    if connection.vendor != "postgresql" or not options.get("server_side_binding") or not settings.DATABASE_PIPELINE:
        yield
        return
    connection.ensure_connection()
    # The per-request health check's SELECT 1 must not land inside the pipeline, where
    # nobody would read its result.
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    # An error of an unawaited statement (a unique violation, a lost connection) is raised
    # by psycopg when the pipeline closes, outside every Django cursor: wrapped here, it
    # reaches callers as Django's IntegrityError or OperationalError like any other (the
    # idempotency unit replays a concurrent winner on the first; the API answers 503 on the
    # second), never as psycopg's own class, which nothing above expects (a 500).
    with connection.wrap_database_errors, connection.connection.pipeline():
        yield
