"""Liveness, readiness and the dependency checks behind them."""

from __future__ import annotations

from functools import lru_cache

import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import api_view, authentication_classes, permission_classes, throttle_classes
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from shieldx import resilience
from shieldx.breaker import CircuitOpen
from shieldx.errors import json_error
from shieldx.openapi import errors


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


@lru_cache(maxsize=1)
def _redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)


def check_redis() -> None:
    with resilience.cache.guard():
        _redis_client(settings.REDIS_URL).ping()


def readiness() -> dict[str, str]:
    """Each dependency this process needs, 'ok' or the kind of failure (never a secret).

    Both checks pass their circuit breaker (the database's through the connection
    itself), so an open breaker makes this process unready, and a readiness probe
    doubles as the breaker's half-open probe once the reset timeout has passed."""
    checks = {settings.DATABASE_ENGINE: check_database}
    if settings.REDIS_URL:
        checks["redis"] = check_redis
    results = {}
    for name, check in checks.items():
        try:
            check()
            results[name] = "ok"
        except CircuitOpen:
            results[name] = "unavailable (circuit open)"
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
            results[name] = f"unavailable ({type(exc).__name__})"
    return results


@extend_schema(responses={200: OpenApiTypes.OBJECT}, auth=[])
@api_view(["GET"])
@authentication_classes([])
@permission_classes([AllowAny])
@throttle_classes([])
def health(request: Request) -> Response:
    return Response({"status": "ok"})


@extend_schema(responses={200: OpenApiTypes.OBJECT, 503: errors(503)[503]}, auth=[])
@api_view(["GET"])
@authentication_classes([])
@permission_classes([AllowAny])
@throttle_classes([])
def ready(request: Request) -> Response | JsonResponse:
    results = readiness()
    failed = sorted(name for name, state in results.items() if state != "ok")
    if failed:
        return json_error(
            503, "service_unavailable", f"Not ready: {', '.join(failed)} unavailable.", {"checks": results}, {"Retry-After": "5"}
        )
    return Response({"status": "ready", "checks": results})
