"""The two dependencies every process guards: PostgreSQL and Redis.

A failing dependency opens its breaker after a few consecutive failures; calls are then
refused at once (503 with Retry-After for the database) instead of piling up on
timeouts, and a bounded number of probes closes it again when the dependency is back.
"""

from __future__ import annotations

import redis
from django.conf import settings
from django.db import InterfaceError, OperationalError

from shieldx.breaker import CircuitBreaker

_tuning = {
    "fail_max": settings.SHIELDX_BREAKER_FAIL_MAX,
    "reset_timeout": settings.SHIELDX_BREAKER_RESET_SECONDS,
    "half_open_max_calls": settings.SHIELDX_BREAKER_HALF_OPEN_CALLS,
}
# SQLSTATE classes that say the server is unreachable or unwell: connection exceptions,
# insufficient resources, operator intervention (shutdown, "cannot connect now"), system
# errors. A deadlock, serialization failure or lock timeout is an OperationalError too,
# but it is one transaction losing a race on a healthy server: counting it would let a
# burst of contention on one tenant's rows refuse every other tenant for a reset period.
OUTAGE_SQLSTATE_PREFIXES = ("08", "53", "57P", "58")


def is_database_outage(exc: BaseException) -> bool:
    if isinstance(exc, InterfaceError):
        return True
    if not isinstance(exc, OperationalError):
        return False
    sqlstate = getattr(exc.__cause__, "sqlstate", None)
    return sqlstate is None or sqlstate.startswith(OUTAGE_SQLSTATE_PREFIXES)


database = CircuitBreaker("postgresql", is_failure=is_database_outage, **_tuning)
cache = CircuitBreaker("redis", is_failure=lambda exc: isinstance(exc, (redis.ConnectionError, redis.TimeoutError, OSError)), **_tuning)
