"""Credits write path under load: Django consume vs a raw-psycopg baseline.

Serves both with gunicorn (same settings: sync workers, 2 x cores + 1) against PostgreSQL
and drives POST /credits/consume with wrk over (a) 1,000 tenants and (b) one hot tenant.
Prints req/s, p50 and p99 for both, and the ratio. Not part of the test suite.

    .venv/bin/python bench/bench_credits.py [--duration 15] [--connections 32]

Needs wrk (Debian package `wrk`). Uses its own database, shieldx_bench, and Redis db 14.
Rate limiting is off for the run (SHIELDX_RATE_LIMIT=0): one hot key would otherwise be
throttled, which is the limiter working, not the ledger.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = str(ROOT / ".venv/bin/python")
GUNICORN = str(ROOT / ".venv/bin/gunicorn")
DB = "shieldx_bench"
PG = "postgres://postgres@127.0.0.1:5432"

SETUP = """
import django, json, sys
django.setup()
from shieldx.services import tenant_create, api_key_create
from credits import services
out = []
for name in sys.argv[1:]:
    t = tenant_create(tenant_id=name)
    services.account_open(tenant_id=name, initial_credits=10**11, actor="bench")
    out.append([name, api_key_create(tenant=t, scopes="credits:consume")[1]])
print(json.dumps(out))
"""


def env() -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": f"{PG}/{DB}",
        "REDIS_URL": "redis://127.0.0.1:6379/14",
        "SHIELDX_RATE_LIMIT": "0",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "shieldx.settings",
        "BASELINE_DSN": f"{PG}/{DB}",
    }


def sh(*args: str, **kwargs) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True, cwd=ROOT, env=env(), **kwargs).stdout


def prepare(tenants: int) -> tuple[Path, Path]:
    import json

    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f"DROP DATABASE IF EXISTS {DB}"], check=True)
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f"CREATE DATABASE {DB}"], check=True)
    sh(PY, "manage.py", "migrate", "-v0")
    names = [f"bench-{i:04d}" for i in range(tenants)]
    keys = json.loads(sh(PY, "-c", SETUP, *names, "hot-tenant").strip().splitlines()[-1])
    var = ROOT / "var"
    var.mkdir(exist_ok=True)
    many, hot = var / "bench_many.lua", var / "bench_hot.lua"
    many.write_text("return {" + ",".join(f'{{"{n}","{k}"}}' for n, k in keys[:-1]) + "}")
    hot.write_text("return {" + f'{{"{keys[-1][0]}","{keys[-1][1]}"}}' + "}")
    return many, hot


def serve(app: str, port: int) -> subprocess.Popen:
    workers = str(multiprocessing.cpu_count() * 2 + 1)
    proc = subprocess.Popen(
        [GUNICORN, app, "--workers", workers, "--worker-class", "sync", "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
         "--config", "python:bench.gunicorn_bench"],
        cwd=ROOT, env=env(), stdout=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)  # noqa: S310 - loopback only
            break
        except Exception:  # noqa: BLE001
            time.sleep(0.2)
    return proc


def drive(port: int, tenants_lua: Path, duration: int, connections: int) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "-s", str(ROOT / "bench/wrk_consume.lua"), f"http://127.0.0.1:{port}"],
        check=True, capture_output=True, text=True, env={**env(), "BENCH_TENANTS_LUA": str(tenants_lua)},
    ).stdout
    fields = dict(re.findall(r"(\w+)=(\d+)", out.split("RESULT", 1)[1]))
    seconds = int(fields["duration_us"]) / 1e6
    return {
        "rps": int(fields["requests"]) / seconds,
        "p50_ms": int(fields["p50_us"]) / 1000,
        "p99_ms": int(fields["p99_us"]) / 1000,
        "errors": int(fields["errors"]) + int(fields["non2xx"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--tenants", type=int, default=1000)
    args = parser.parse_args()
    many, hot = prepare(args.tenants)
    django = serve("shieldx.wsgi", 18001)
    baseline = serve("bench.credits_baseline_app", 18002)
    try:
        print(f"credits consume, wrk -t2 -c{args.connections} -d{args.duration}s, gunicorn sync x{multiprocessing.cpu_count() * 2 + 1}")
        for label, lua in (("1,000 tenants", many), ("one hot tenant", hot)):
            drive(18001, lua, 3, args.connections)  # warm-up
            drive(18002, lua, 3, args.connections)
            d = drive(18001, lua, args.duration, args.connections)
            b = drive(18002, lua, args.duration, args.connections)
            print(f"\n({label})")
            print(f"  {'':10} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
            for name, r in (("django", d), ("baseline", b)):
                print(f"  {name:10} {r['rps']:9.0f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} {r['errors']:7d}")
            print(f"  throughput ratio django/baseline: {d['rps'] / b['rps']:.2f}   p99 ratio: {d['p99_ms'] / b['p99_ms']:.2f}")
    finally:
        for proc in (django, baseline):
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
