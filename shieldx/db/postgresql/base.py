"""PostgreSQL backend that reports to the database circuit breaker.

Every new connection and every query passes the breaker: while it is open they fail at
once with CircuitOpen instead of waiting on a connect timeout.
"""

from django.conf import settings
from django_prometheus.db.backends.postgresql.base import DatabaseWrapper as PrometheusDatabaseWrapper

from shieldx.resilience import database as breaker


def _guarded_execute(execute, sql, params, many, context):
    with breaker.guard():
        return execute(sql, params, many, context)


class DatabaseWrapper(PrometheusDatabaseWrapper):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.execute_wrappers.append(_guarded_execute)

    def get_new_connection(self, conn_params):
        connection = super().get_new_connection(conn_params)
        if not settings.SHIELDX_DB_QUERY_METRICS:
            # django-prometheus wraps every cursor to time and count each query: ~5-10 %
            # of a fast write request here, for series no alert or dashboard reads.
            # Connection counts (and connection errors, which an alert reads) stay.
            connection.cursor_factory = connection.cursor_factory.__bases__[0]
        return connection

    def ensure_connection(self):
        if self.connection is not None:
            return
        with breaker.guard():
            super().ensure_connection()
