"""PostgreSQL backend that reports to the database circuit breaker.

Every new connection and every query passes the breaker: while it is open they fail at
once with CircuitOpen instead of waiting on a connect timeout.
"""

import time

from django.conf import settings
from django_prometheus.db.backends.postgresql.base import DatabaseWrapper as PrometheusDatabaseWrapper

from shieldx.resilience import database as breaker

# Django's health check costs a SELECT 1 round trip at the start of every request. A
# connection that answered a query less than this long ago is taken as alive: if the
# server went away meanwhile, that request fails with a retriable 503 and Django drops the
# connection at its end, the next one reconnects; idle connections are still checked.
HEALTH_CHECK_IDLE_SECONDS = 1.0


def _guarded_execute(execute, sql, params, many, context):
    with breaker.guard():
        result = execute(sql, params, many, context)
    context["connection"].last_answered = time.monotonic()
    return result


class DatabaseWrapper(PrometheusDatabaseWrapper):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.execute_wrappers.append(_guarded_execute)
        self.last_answered = 0.0

    def close_if_health_check_failed(self):
        if time.monotonic() - self.last_answered < HEALTH_CHECK_IDLE_SECONDS:
            self.health_check_done = True
            return
        super().close_if_health_check_failed()

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
