"""A test run's own PostgreSQL and Redis databases, so two runs on one machine never meet.

Two checkouts running `make test` at once used to share `test_shieldx` and Redis db 15:
one run's `cache.clear()` (FLUSHDB) and database teardown broke the other. Each run now
names its test database after a run id and leases a pair of Redis databases (cache and
an auxiliary one for brokers of real workers) with `SET NX EX` in db 0, the slot lease
released at exit. Children that a test starts inherit the run through the environment.
Pure of Django: settings import it before Django is set up.
"""

from __future__ import annotations

import atexit
import os
import secrets
import threading
from urllib.parse import urlsplit, urlunsplit

RUN_VARIABLE = "SHIELDX_TEST_RUN"
SLOT_VARIABLE = "SHIELDX_TEST_REDIS_SLOT"
SLOTS = range(1, 8)  # slot n holds Redis databases 2n-1 (cache) and 2n (auxiliary); 15 stays for benchmarks
# Short, and renewed while the run lives: a run that is killed (no atexit) frees its slot
# within minutes, and a long run (a debugger session) never loses it.
LEASE_SECONDS = 600
RENEW_SECONDS = 120


def run_id() -> str:
    return os.environ.setdefault(RUN_VARIABLE, secrets.token_hex(4))


def database_name() -> str:
    return f"test_shieldx_{run_id()}"


def _with_db(url: str, db: int) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{db}"))


def _lease_slot(server_url: str) -> int:
    """The first free slot, leased in db 0; slot 1 when Redis cannot be asked (tests then fail on their own)."""
    import redis

    client = redis.Redis.from_url(_with_db(server_url, 0), socket_connect_timeout=0.5, socket_timeout=0.5)
    owner = run_id()
    try:
        for slot in SLOTS:
            key = f"shieldx:test-slot:{slot}"
            if client.set(key, owner, nx=True, ex=LEASE_SECONDS):
                atexit.register(_release, client, key, owner)
                _keep_renewing(client, key)
                # A killed run may have left keys or queued Celery tasks behind: start empty.
                for db in (2 * slot - 1, 2 * slot):
                    redis.Redis.from_url(_with_db(server_url, db), socket_connect_timeout=0.5, socket_timeout=5).flushdb()
                return slot
    except redis.RedisError:
        return SLOTS[0]
    raise RuntimeError(f"all {len(SLOTS)} Redis test slots are leased by other runs; wait for one to end or delete shieldx:test-slot:* in db 0")


def _keep_renewing(client, key: str) -> None:
    def renew() -> None:
        while not stop.wait(RENEW_SECONDS):
            try:
                client.expire(key, LEASE_SECONDS)
            except Exception:  # noqa: BLE001, S112 - Redis blinked (an outage test); the next round renews
                continue

    stop = threading.Event()
    threading.Thread(target=renew, name="test-slot-lease", daemon=True).start()
    atexit.register(stop.set)


def _release(client, key: str, owner: str) -> None:
    try:
        if client.get(key) == owner.encode():
            client.delete(key)
    except Exception:  # noqa: BLE001, S110 - best effort at exit; the lease expires anyway
        pass


def redis_urls(server_url: str = "redis://127.0.0.1:6379") -> tuple[str, str]:
    """(cache URL, auxiliary URL) of this run's slot."""
    slot = os.environ.get(SLOT_VARIABLE)
    if slot is None:
        slot = str(_lease_slot(server_url))
        os.environ[SLOT_VARIABLE] = slot
    n = int(slot)
    return _with_db(server_url, 2 * n - 1), _with_db(server_url, 2 * n)
