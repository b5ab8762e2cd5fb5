"""Liveness, readiness and the dependency checks behind them (CONTRACT §6, §6a).

PostgreSQL is a hard dependency of a web pod, Redis a soft one: credits keep serving from
PostgreSQL while Redis is down (cache tiers and breakers), so a Redis outage must not
take every pod out of its Service. `/ready` answers 503 only when a hard dependency
fails, and 200 with `status: "degraded"` when only a soft one does. Worker and beat
processes cannot work without their broker: for those roles Redis is hard too.

Each check runs in a thread of its own and is waited for at most CHECK_TIMEOUT: a
connection that hangs (a blackholed route, a full accept queue) cannot hold a probe past
the kubelet's timeout, and while a hung check is still running no second one is started
for it. Results are cached for CACHE_SECONDS per process, so a probe storm costs each
dependency at most one check a second per process.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from functools import lru_cache

import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view, authentication_classes, permission_classes, throttle_classes
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from shieldx import resilience
from shieldx.breaker import CircuitOpen
from shieldx.errors import json_error
from shieldx.openapi import errors

CHECK_TIMEOUT = 0.5
CACHE_SECONDS = 1.0
OK, DOWN = "ok", "down"


def check_database() -> None:
    """A fresh connection each time, through the database breaker: it proves what a new
    worker would meet (a server refusing new clients is not ready, even if this process
    still holds an old connection), and leaves nothing open in the probe's thread."""
    try:
        connection.close_if_unusable_or_obsolete()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        connection.close()


@lru_cache(maxsize=1)
def _redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=CHECK_TIMEOUT, socket_timeout=CHECK_TIMEOUT)


def check_redis() -> None:
    with resilience.cache.guard():
        _redis_client(settings.REDIS_URL).ping()


class Probe:
    """One dependency's check: bounded by `timeout`, cached for `ttl`, never two at once."""

    def __init__(self, name: str, check: Callable[[], None], *, timeout: float = CHECK_TIMEOUT, ttl: float = CACHE_SECONDS):
        self.name, self.check, self.timeout, self.ttl = name, check, timeout, ttl
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._pid = 0
        self._running: Future | None = None
        self._state: tuple[str, str | None] | None = None
        self._checked_at = 0.0

    def _run(self) -> tuple[str, str | None]:
        try:
            self.check()
        except CircuitOpen:
            return DOWN, "circuit open"
        except Exception as exc:  # noqa: BLE001 - any failure means "down"; only the class name, never a message that could hold a secret
            return DOWN, type(exc).__name__
        return OK, None

    def start(self) -> None:
        """Start a check unless a fresh result is cached or one is still running."""
        with self._lock:
            if self._fresh():
                return
            if self._executor is None or self._pid != os.getpid():
                # A thread pool does not survive fork (gunicorn preloading): one per process.
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"ready-{self.name}")
                self._pid, self._running = os.getpid(), None
            if self._running is None or self._running.done():
                self._running = self._executor.submit(self._run)

    def state(self, deadline: float | None = None) -> tuple[str, str | None]:
        """(OK or DOWN, the reason when down), waiting for the check start() began until `deadline` (monotonic)."""
        with self._lock:
            if self._fresh():
                return self._state
            running = self._running
        if running is None or self._pid != os.getpid():
            self.start()
            running = self._running
        if deadline is None:
            deadline = time.monotonic() + self.timeout
        try:
            state = running.result(timeout=max(0.0, deadline - time.monotonic()))
        except FutureTimeout:
            state = (DOWN, f"no answer within {self.timeout:g} s")
        with self._lock:
            self._state, self._checked_at = state, time.monotonic()
        return state

    def _fresh(self) -> bool:
        return self._state is not None and time.monotonic() - self._checked_at < self.ttl

    def forget(self) -> None:
        """Drop the cached result (tests)."""
        with self._lock:
            self._state = None


database_probe = Probe(settings.DATABASE_ENGINE, check_database)
redis_probe = Probe("redis", check_redis)


def hard_dependencies() -> set[str]:
    if settings.SHIELDX_ROLE in ("worker", "beat"):
        return {settings.DATABASE_ENGINE, "redis"}
    return {settings.DATABASE_ENGINE}


def readiness() -> tuple[dict[str, str], dict[str, str]]:
    """(checks: each dependency 'ok' or 'down', reasons: why each down one is down).

    The probes run at the same time, so the whole answer is bounded by one timeout.
    Both pass their circuit breaker (the database's through the connection itself): an
    open breaker reads as down, and a readiness probe doubles as the breaker's half-open
    probe once its reset timeout has passed."""
    probes = [database_probe]
    if settings.REDIS_URL:
        probes.append(redis_probe)
    for probe in probes:
        probe.start()
    deadline = time.monotonic() + CHECK_TIMEOUT
    states = {probe.name: probe.state(deadline) for probe in probes}
    checks = {name: state for name, (state, _) in states.items()}
    reasons = {name: reason for name, (state, reason) in states.items() if state != OK and reason}
    return checks, reasons


def forget() -> None:
    database_probe.forget()
    redis_probe.forget()


_ReadySerializer = inline_serializer(
    "Readiness",
    {
        "status": serializers.ChoiceField(choices=["ready", "degraded"]),
        "checks": serializers.DictField(child=serializers.ChoiceField(choices=[OK, DOWN])),
        "reasons": serializers.DictField(child=serializers.CharField(), required=False),
    },
)
_HealthSerializer = inline_serializer("Health", {"status": serializers.ChoiceField(choices=["ok"])})


@extend_schema(responses={200: _HealthSerializer}, auth=[], summary="Liveness: the process answers (no dependency is asked)")
@api_view(["GET"])
@authentication_classes([])
@permission_classes([AllowAny])
@throttle_classes([])
def health(request: Request) -> Response:
    return Response({"status": "ok"})


@extend_schema(
    responses={
        200: OpenApiResponse(_ReadySerializer, description="Serving: `ready`, or `degraded` when only Redis is down (CONTRACT §6a)."),
        503: OpenApiResponse(errors(503)[503].response, description="PostgreSQL does not answer: take this pod out of rotation."),
    },
    auth=[],
    summary="Readiness: PostgreSQL is required, Redis is not (checks bounded to 0.5 s, cached 1 s)",
)
@api_view(["GET"])
@authentication_classes([])
@permission_classes([AllowAny])
@throttle_classes([])
def ready(request: Request) -> Response | JsonResponse:
    checks, reasons = readiness()
    down = sorted(name for name, state in checks.items() if state != OK)
    hard_down = [name for name in down if name in hard_dependencies()]
    details = {"checks": checks, **({"reasons": reasons} if reasons else {})}
    if hard_down:
        return json_error(503, "service_unavailable", f"Not ready: {', '.join(hard_down)} unavailable.", details, {"Retry-After": "5"})
    return Response({"status": "degraded" if down else "ready", **details})
