"""shieldx.db.pipelined: what an unawaited statement's error looks like when it surfaces."""

from __future__ import annotations

import pytest
from django.db import DataError, OperationalError, connection, transaction

from shieldx.db import pipelined
from shieldx.errors import outage

pytestmark = [pytest.mark.postgresql, pytest.mark.django_db(transaction=True)]


def _unawaited(sql: str, reached: list[str]) -> None:
    """Run ``sql`` without reading its result inside a pipelined transaction, noting that
    the block's end was reached: the error, if any, surfaced when the pipeline closed."""
    with transaction.atomic(), pipelined():
        with connection.cursor() as cursor:
            cursor.execute(sql)
        reached.append("end of block")


def test_an_error_surfacing_when_the_pipeline_closes_is_djangos_class():
    # psycopg raises it at the pipeline's closing sync, outside every Django cursor; its own
    # class (psycopg.errors.DivisionByZero) is caught by nothing that expects Django's.
    reached: list[str] = []
    with pytest.raises(DataError) as raised:
        _unawaited("SELECT 1 / 0", reached)
    assert reached and raised.value.__cause__.sqlstate == "22012"
    with connection.cursor() as cursor:  # the connection is usable again
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


def test_a_connection_lost_before_the_pipeline_closes_is_an_outage_not_a_500():
    reached: list[str] = []
    with pytest.raises(OperationalError) as raised:
        _unawaited("SELECT pg_terminate_backend(pg_backend_pid())", reached)
    assert reached and outage(raised.value).http_status == 503
    connection.close()
