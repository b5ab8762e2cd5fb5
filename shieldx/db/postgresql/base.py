"""PostgreSQL backend that reports to the database circuit breaker.

Every new connection and every query passes the breaker: while it is open they fail at
once with CircuitOpen instead of waiting on a connect timeout.
"""

from django_prometheus.db.backends.postgresql.base import DatabaseWrapper as PrometheusDatabaseWrapper

from shieldx.resilience import database as breaker


def _guarded_execute(execute, sql, params, many, context):
    with breaker.guard():
        return execute(sql, params, many, context)


class DatabaseWrapper(PrometheusDatabaseWrapper):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.execute_wrappers.append(_guarded_execute)

    def ensure_connection(self):
        if self.connection is not None:
            return
        with breaker.guard():
            super().ensure_connection()
