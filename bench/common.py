"""Shared plumbing for the HTTP benchmarks: a throw-away database, tenants with keys,
gunicorn servers and wrk runs. Loopback only; every run is bounded in time."""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import subprocess
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = str(ROOT / ".venv/bin/python")
GUNICORN = str(ROOT / ".venv/bin/gunicorn")
PG = "postgres://postgres@127.0.0.1:5432"
WORKERS = multiprocessing.cpu_count() * 2 + 1

SETUP_TENANTS = """
import django, json, sys
django.setup()
from django.db import transaction
from shieldx.services import tenant_create, api_key_create
from credits import services
out = []
scopes = sys.argv[1]
for name in sys.argv[2:]:
    with transaction.atomic():
        t = tenant_create(tenant_id=name)
        services.account_open(tenant_id=name, initial_credits=10**11, actor="bench")
        out.append([name, api_key_create(tenant=t, scopes=scopes)[1]])
print(json.dumps(out))
"""


def bench_env(database: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": f"{PG}/{database}",
        "BASELINE_DSN": f"{PG}/{database}",
        "REDIS_URL": "redis://127.0.0.1:6379/15",
        "SHIELDX_CACHE_PREFIX": f"bench-{database}",
        "SHIELDX_RATE_LIMIT": "0",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "shieldx.settings",
        **extra,
    }


def fresh_database(env: dict[str, str], database: str) -> None:
    for sql in (f"DROP DATABASE IF EXISTS {database}", f"CREATE DATABASE {database}"):
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", sql], check=True, capture_output=True)
    subprocess.run(["redis-cli", "-n", "15", "FLUSHDB"], check=True, capture_output=True)
    subprocess.run([PY, "manage.py", "migrate", "-v0"], check=True, cwd=ROOT, env=env)


def make_tenants(env: dict[str, str], names: list[str], scopes: str, batch: int = 500) -> list[list[str]]:
    keys: list[list[str]] = []
    for i in range(0, len(names), batch):
        out = subprocess.run([PY, "-c", SETUP_TENANTS, scopes, *names[i : i + batch]], check=True, capture_output=True, text=True, cwd=ROOT, env=env)
        keys += json.loads(out.stdout.strip().splitlines()[-1])
    return keys


def write_lua_table(path: Path, rows: list[list[str]]) -> Path:
    path.parent.mkdir(exist_ok=True)
    path.write_text("return {" + ",".join(f'{{"{a}","{b}"}}' for a, b in rows) + "}")
    return path


def serve(app: str, port: int, env: dict[str, str], probe: str = "/health") -> subprocess.Popen:
    metrics_dir = ROOT / "var" / f"prom-{port}"
    subprocess.run(["rm", "-rf", str(metrics_dir)], check=True)
    metrics_dir.mkdir(parents=True)
    proc = subprocess.Popen(
        [GUNICORN, app, "--workers", str(WORKERS), "--worker-class", "sync", "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
         "--config", "python:bench.gunicorn_bench"],
        cwd=ROOT, env={**env, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}, stdout=subprocess.DEVNULL,
    )
    for _ in range(150):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}{probe}", timeout=1)  # noqa: S310 - loopback only
            return proc
        except Exception:  # noqa: BLE001
            time.sleep(0.2)
    proc.terminate()
    raise RuntimeError(f"{app} did not start on port {port}")


def stop(*procs: subprocess.Popen) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait(timeout=30)


def wrk(port: int, script: str, duration: int, connections: int, env: dict[str, str]) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "-s", str(ROOT / "bench" / script), f"http://127.0.0.1:{port}"],
        check=True, capture_output=True, text=True, env=env,
    ).stdout
    fields = dict(re.findall(r"(\w+)=(\d+)", out.split("RESULT", 1)[1]))
    seconds = int(fields["duration_us"]) / 1e6
    return {
        "rps": int(fields["requests"]) / seconds,
        "p50_ms": int(fields["p50_us"]) / 1000,
        "p99_ms": int(fields["p99_us"]) / 1000,
        "errors": int(fields["errors"]) + int(fields["non2xx"]),
    }


def print_table(rows: list[tuple[str, dict[str, float]]]) -> None:
    print(f"  {'':12} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for name, r in rows:
        print(f"  {name:12} {r['rps']:9.0f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} {r['errors']:7d}")


def wsgi_post(app, path: str, key: str, body: dict) -> str:
    """POST a JSON body straight into a WSGI application (no server, no socket); its status line."""
    import io

    raw = json.dumps(body).encode()
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80",
               "wsgi.url_scheme": "http", "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(raw)),
               "wsgi.input": io.BytesIO(raw), "HTTP_AUTHORIZATION": f"Bearer {key}"}  # fmt: skip
    status = []
    b"".join(app(environ, lambda s, h, *a: status.append(s)))
    return status[0]
