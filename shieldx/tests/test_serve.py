"""`make run` (scripts/serve.sh): bind first, then rotate the demo key; say which port."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from django.db import connection

from shieldx.models import ApiKey
from shieldx.services import api_key_create, tenant_create
from shieldx.testing import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _env(port: int) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "TMPDIR"}}
    return {
        **keep,
        "PORT": str(port),
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{connection.settings_dict['NAME']}",
        "GUNICORN_WORKERS": "1",
        "PROMETHEUS_MULTIPROC_DIR": f"/tmp/shieldx-serve-test-{port}",
        "LOG_LEVEL": "WARNING",
    }


@pytest.fixture
def demo_key():
    tenant = tenant_create(tenant_id="org-123")
    return api_key_create(tenant=tenant, scopes="*", name="demo")[0]


def test_a_busy_port_stops_make_run_before_the_running_servers_demo_key_is_revoked(demo_key):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = subprocess.run(["scripts/serve.sh"], cwd=ROOT, env=_env(port), capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"127.0.0.1:{port} is already in use" in result.stderr
    assert "make run PORT=" in result.stderr
    demo_key.refresh_from_db()
    assert demo_key.revoked_at is None
    assert ApiKey.objects.filter(name="demo").count() == 1


def test_make_run_prints_a_new_key_and_an_example_on_its_own_port(demo_key):
    port = free_port()
    proc = subprocess.Popen(["scripts/serve.sh"], cwd=ROOT, env=_env(port), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            start_new_session=True)
    try:
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(line.startswith("      curl") for line in lines):
            lines.append(proc.stdout.readline())
        output = "".join(lines)
        key = re.search(r"KEY=(sxk_\S+)", output).group(1)
        assert f"http://127.0.0.1:{port}/credits/balance/org-123" in output
        demo_key.refresh_from_db()
        assert demo_key.revoked_at is not None  # the old one, once the new server held its port
        request = urllib.request.Request(f"http://127.0.0.1:{port}/credits/balance/org-123", headers={"Authorization": f"Bearer {key}"})
        with urllib.request.urlopen(request, timeout=10) as response:  # the printed example works
            assert response.status == 200 and json.load(response)["tenant_id"] == "org-123"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
