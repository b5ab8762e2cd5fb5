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
database = CircuitBreaker("postgresql", is_failure=lambda exc: isinstance(exc, (OperationalError, InterfaceError)), **_tuning)
cache = CircuitBreaker("redis", is_failure=lambda exc: isinstance(exc, (redis.ConnectionError, redis.TimeoutError, OSError)), **_tuning)
