"""Readiness (CONTRACT §6a): PostgreSQL is hard, Redis is soft; checks bounded and cached.

Outages are real: a private redis-server the test stops, PostgreSQL reached through a
TCP proxy the test cuts, and a listener that accepts connections but never answers.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid

import pytest
from django.conf import settings
from django.db import connection
from rest_framework.test import APIClient

from shieldx import health
from shieldx.services import api_key_create
from shieldx.testing import LiveApp, RedisServer, TcpProxy

TENANT = "org-ready"
READY_SCRIPT = """
import django, json, time
django.setup()
from django.test import Client
Client().get("/health")  # the first request imports the URLconf and views: not the probe's time
answers = []
for _ in range(int({calls})):
    started = time.monotonic()
    response = Client().get("/ready")
    answers.append({{"status": response.status_code, "body": response.json(), "retry": response.get("Retry-After"),
                    "seconds": time.monotonic() - started}})
print(json.dumps(answers))
"""


class SilentServer:
    """Accepts TCP connections and never says a word: a dependency that hangs."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                self.accepted.append(self.listener.accept()[0])
            except OSError:
                return

    def close(self) -> None:
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        for conn in self.accepted:
            conn.close()


@pytest.fixture
def silent_server():
    server = SilentServer()
    yield server
    server.close()


def _ready_in_process(run_django, env: dict[str, str], calls: int = 1) -> list[dict]:
    result = run_django(READY_SCRIPT.format(calls=calls), env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def _wait_until(predicate, timeout: float = 15.0, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(step)
    raise AssertionError("condition not met in time")


# --- in this process -------------------------------------------------------------------


@pytest.mark.django_db
def test_ready_is_ready_when_postgresql_and_redis_answer():
    health.forget()
    response = APIClient().get("/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"postgresql": "ok", "redis": "ok"}}


# --- in a fresh process, against dependencies that are down ------------------------------


def test_ready_is_503_naming_postgresql_when_it_does_not_answer(run_django):
    [answer] = _ready_in_process(run_django, {"DATABASE_URL": "postgres://postgres:hunter2@127.0.0.1:9/shieldx", "REDIS_URL": settings.REDIS_URL})
    assert answer["status"] == 503
    error = answer["body"]["error"]
    assert error["code"] == "service_unavailable"
    assert "postgresql" in error["message"] and "redis" not in error["message"]
    assert error["details"]["checks"] == {"postgresql": "down", "redis": "ok"}
    assert answer["retry"]
    assert "hunter2" not in json.dumps(answer)


def test_redis_alone_down_is_degraded_not_unready(run_django):
    [answer] = _ready_in_process(run_django, {"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres", "REDIS_URL": "redis://127.0.0.1:9/0"})
    assert answer["status"] == 200
    assert answer["body"]["status"] == "degraded"
    assert answer["body"]["checks"] == {"postgresql": "ok", "redis": "down"}
    assert answer["body"]["reasons"]["redis"]


def test_a_worker_role_needs_its_broker_so_redis_down_is_503_there(run_django):
    env = {"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres", "REDIS_URL": "redis://127.0.0.1:9/0", "SHIELDX_ROLE": "worker"}
    [answer] = _ready_in_process(run_django, env)
    assert answer["status"] == 503
    assert "redis" in answer["body"]["error"]["message"]


def test_a_hanging_postgresql_is_answered_within_the_bound_and_checked_once_while_it_hangs(run_django, silent_server):
    # libpq would wait its connect timeout (10 s here) for the server's first word; the
    # probe waits 0.5 s (the margin is for a loaded machine). Twenty probes in a row open
    # one connection: the answer is cached for a second, and no second check starts while
    # the first still hangs.
    env = {
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{silent_server.port}/shieldx",
        "DATABASE_CONNECT_TIMEOUT": "10",
        "REDIS_URL": settings.REDIS_URL,
    }
    answers = _ready_in_process(run_django, env, calls=20)
    assert {a["status"] for a in answers} == {503}
    assert answers[0]["body"]["error"]["details"]["reasons"]["postgresql"] == "no answer within 0.5 s"
    assert max(a["seconds"] for a in answers) < 2.0, [a["seconds"] for a in answers]
    assert len(silent_server.accepted) == 1


def test_a_hanging_redis_is_answered_within_the_bound_and_readiness_stays_up(run_django, silent_server):
    env = {"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres", "REDIS_URL": f"redis://127.0.0.1:{silent_server.port}/0"}
    answers = _ready_in_process(run_django, env, calls=5)
    assert {a["status"] for a in answers} == {200}
    assert answers[0]["body"]["status"] == "degraded"
    assert max(a["seconds"] for a in answers) < 2.0, [a["seconds"] for a in answers]


# --- gunicorn serving the project; the outages happen while it runs ----------------------

live = pytest.mark.django_db(transaction=True)


@pytest.fixture
def key(make_tenant):
    return api_key_create(tenant=make_tenant(TENANT, credits=1000), scopes="*")[1]


def _app(database_port: int, redis_url: str) -> LiveApp:
    return LiveApp(
        {
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:{database_port}/{connection.settings_dict['NAME']}",
            "REDIS_URL": redis_url,
            "SHIELDX_CACHE_PREFIX": f"ready-{uuid.uuid4().hex[:8]}",
            "SHIELDX_BREAKER_RESET_SECONDS": "1",
            "DATABASE_CONNECT_TIMEOUT": "2",
        },
        workers=1,
    )


@live
@pytest.mark.slow
def test_redis_stopped_keeps_the_pod_ready_degraded_and_the_api_answering_then_ready_again(key):
    redis_server = RedisServer()
    app = _app(5432, redis_server.url)
    try:
        assert app.request("GET", "/ready")[2] == {"status": "ready", "checks": {"postgresql": "ok", "redis": "ok"}}
        redis_server.stop()

        status, _, body = _wait_until(lambda: (r := app.request("GET", "/ready"))[2].get("status") == "degraded" and r)
        assert status == 200 and body["checks"] == {"postgresql": "ok", "redis": "down"}
        calls = [
            ("POST", "/credits/consume", {"tenant_id": TENANT, "amount": 5}),
            ("GET", f"/credits/balance/{TENANT}", None),
            ("POST", "/camouflage/encrypt", {"plaintext": "4111 1111 1111 1111", "context": "ready-test"}),
            ("POST", "/camouflage/mask", {"text": "card 4111 1111 1111 1111"}),
        ]
        answers = [app.request(method, path, payload, key=key) for method, path, payload in calls]
        assert [a[0] for a in answers] == [200, 200, 200, 200], [a[2] for a in answers]
        assert answers[1][2]["balance"] == 995
        assert answers[2][2]["ciphertext"].startswith("sx:v")
        assert answers[3][2]["masked"] == "card **** **** **** 1111"
        assert app.request("GET", "/ready")[0] == 200  # still in rotation after serving through the outage

        redis_server.start()  # same port, same process of the app: no restart
        _wait_until(lambda: app.request("GET", "/ready")[2].get("status") == "ready")
    finally:
        app.close()
        redis_server.close()


@live
@pytest.mark.slow
def test_postgresql_cut_makes_the_pod_unready_and_it_comes_back_when_restored(key):
    proxy = TcpProxy(5432)
    app = _app(proxy.port, settings.REDIS_URL)
    try:
        assert app.request("GET", "/ready")[2]["status"] == "ready"
        proxy.cut()
        status, headers, body = _wait_until(lambda: (r := app.request("GET", "/ready"))[0] == 503 and r)
        assert body["error"]["code"] == "service_unavailable"
        assert body["error"]["details"]["checks"] == {"postgresql": "down", "redis": "ok"}
        assert "postgresql" in body["error"]["message"] and headers["Retry-After"]
        proxy.restore()
        _wait_until(lambda: app.request("GET", "/ready")[0] == 200)
    finally:
        app.close()
        proxy.cut()
