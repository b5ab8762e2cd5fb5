"""Two test runs on one machine never share a database (shieldx/testrun.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import redis
from django.conf import settings
from django.db import connection

from shieldx import testrun
from shieldx.testing import ROOT, RedisServer

LEASE = """
import json, os
from shieldx import testrun
cache, aux = testrun.redis_urls(os.environ["SERVER"])
print(json.dumps({"cache": cache, "aux": aux, "db": testrun.database_name(), "slot": os.environ[testrun.SLOT_VARIABLE], "run": testrun.run_id()}))
"""


def _other_run(server: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG"}} | {"PYTHONPATH": str(ROOT), "SERVER": server}
    result = subprocess.run([sys.executable, "-c", LEASE], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_another_run_gets_other_redis_databases_and_another_test_database():
    server = settings.REDIS_URL.rsplit("/", 1)[0]
    other = _other_run(server)
    assert {other["cache"], other["aux"]}.isdisjoint({settings.REDIS_URL, settings.TEST_REDIS_AUX_URL})
    assert other["db"] != testrun.database_name()
    assert connection.creation._get_test_db_name() == f"test_shieldx_{os.environ[testrun.RUN_VARIABLE]}"
    # Its lease ended with it: the slot is free for the next run (which may already hold it).
    assert redis.Redis.from_url(f"{server}/0").get(f"shieldx:test-slot:{other['slot']}") != other["run"].encode()


def test_a_leased_slot_starts_empty_whatever_a_killed_run_left_there():
    server = RedisServer()  # a private one: other runs on this machine lease on the shared server
    try:
        redis.Redis.from_url(f"redis://127.0.0.1:{server.port}/2").rpush("celery", "a task of a run that was killed")
        leased = _other_run(f"redis://127.0.0.1:{server.port}")
        assert leased["slot"] == "1" and leased["aux"].endswith("/2")
        assert redis.Redis.from_url(leased["aux"]).llen("celery") == 0
    finally:
        server.close()
