"""Per-API-key rate limiting: a fixed one-minute window counted in the shared cache.

With Redis configured the count is one pipelined INCR+EXPIRE, shared by every worker.
If the cache is unreachable the limiter fails open: losing rate limiting for a moment
is better than refusing paying traffic because Redis blinked.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

from shieldx import resilience
from shieldx.breaker import CircuitOpen

logger = logging.getLogger(__name__)
WINDOW_SECONDS = 60


def _count_in_window(key: str) -> int:
    client = getattr(cache, "client", None)
    if client is not None and hasattr(client, "get_client"):  # django-redis
        redis = client.get_client(write=True)
        full_key = cache.make_key(key)
        pipe = redis.pipeline(transaction=False)
        pipe.incr(full_key)
        pipe.expire(full_key, WINDOW_SECONDS + 1, nx=True)
        count, _ = pipe.execute()
        return int(count)
    cache.add(key, 0, WINDOW_SECONDS + 1)
    return cache.incr(key)


class ApiKeyRateThrottle(BaseThrottle):
    def allow_request(self, request, view) -> bool:
        limit = settings.SHIELDX_RATE_LIMIT
        principal = request.user
        if limit == 0 or principal is None or not hasattr(principal, "key_id"):
            return True
        now = time.time()
        window = int(now // WINDOW_SECONDS)
        self._retry_after = WINDOW_SECONDS - int(now % WINDOW_SECONDS)
        try:
            with resilience.cache.guard():
                count = _count_in_window(f"ratelimit:{principal.key_id}:{window}")
        except CircuitOpen:
            return True
        except Exception as exc:  # noqa: BLE001 - any cache failure means "fail open"
            logger.warning("rate limiter unavailable, allowing request: %s", type(exc).__name__)
            return True
        return count <= limit

    def wait(self) -> float:
        return getattr(self, "_retry_after", WINDOW_SECONDS)
