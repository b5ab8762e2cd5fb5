"""Fixtures shared by every app's tests: tenants, keys and authenticated clients."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.core.cache import cache
from django.db import connection
from rest_framework.test import APIClient

from credits import services as credits_services
from shieldx.services import api_key_create, tenant_create


@pytest.fixture(autouse=True)
def _clean_cache(request, monkeypatch):
    from credits.cache import balances

    cache.clear()
    balances.forget()  # after the previous test's last messages have arrived
    marker = request.node.get_closest_marker("django_db")
    if marker is None or not (marker.kwargs.get("transaction") or (marker.args and marker.args[0])):
        # These tests run inside one transaction that never commits, so on_commit work
        # (cache publication) would never run; run it at once instead. Tests marked
        # transaction=True keep the real commit semantics.
        monkeypatch.setattr("django.db.transaction.on_commit", lambda fn, using=None, robust=False: fn())
    yield
    # A test that trips a breaker (an outage test, a deadlock) must not refuse the calls
    # of the tests after it in this process.
    from shieldx import resilience

    resilience.database.reset()
    resilience.cache.reset()


@pytest.fixture
def make_tenant(db):
    def make(tenant_id: str = "org-test", credits: int = 0):
        tenant = tenant_create(tenant_id=tenant_id)
        credits_services.account_open(tenant_id=tenant_id, initial_credits=credits, actor="test")
        return tenant

    return make


@pytest.fixture
def make_client(db):
    """make_client(tenant or None for operator, scopes='*') -> APIClient with a Bearer key."""

    def make(tenant=None, scopes: str = "*", **key_kwargs):
        _, raw_key = api_key_create(tenant=tenant, scopes=scopes, **key_kwargs)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
        client.raw_key = raw_key
        return client

    return make


@pytest.fixture
def tenant(make_tenant):
    return make_tenant("org-123", credits=1000)


@pytest.fixture
def client_for(tenant, make_client):
    """An all-scopes client of the default tenant."""
    return make_client(tenant)


@pytest.fixture
def run_django():
    """Run Python code in a fresh process with its own environment (settings are read at start-up)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent
    keep = {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR"}

    def run(code: str, env: dict[str, str] | None = None, args: list[str] | None = None, timeout: int = 120):
        full_env = {k: v for k, v in os.environ.items() if k in keep}
        full_env.update({"PYTHONPATH": str(root), "DJANGO_SETTINGS_MODULE": "shieldx.settings"}, **(env or {}))
        command = [sys.executable, *(args or ["-c", code])]
        return subprocess.run(command, cwd=root, env=full_env, capture_output=True, text=True, timeout=timeout)

    return run


@pytest.fixture
def captured_logs():
    """Redirect every configured log handler's stream to a buffer, keeping its filters."""
    import io
    import logging

    from shieldx.logs import JsonFormatter

    buffer = io.StringIO()
    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in ("django", "django.request", "celery", "gunicorn.error"))]
    handlers = {h for lg in loggers for h in lg.handlers if isinstance(h.formatter, JsonFormatter)}
    previous = {h: h.setStream(buffer) for h in handlers}
    yield buffer
    for handler, stream in previous.items():
        handler.setStream(stream)


@pytest.fixture
def in_threads():
    """Run fn(i) in n real threads that start together; each thread has its own DB connection."""

    def run(n: int, fn: Callable[[int], object]) -> list[object]:
        barrier = threading.Barrier(n)
        results: list[object] = [None] * n

        def worker(i: int) -> None:
            try:
                barrier.wait()
                results[i] = fn(i)
            except Exception as exc:  # noqa: BLE001 - surfaced to the test as a result
                results[i] = exc
            finally:
                connection.close()

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        return results

    return run
