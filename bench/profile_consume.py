"""Where one POST /credits/consume spends its time, in-process (no HTTP server, no wrk).

Calls the WSGI application directly N times against a throw-away PostgreSQL database,
prints the mean time per request, PostgreSQL round trips per request, and the top of a
cProfile (cumulative) so a benchmark figure can be explained. Not part of the tests.

    .venv/bin/python bench/profile_consume.py [--requests 3000] [--top 40] [--path /credits/consume]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATABASE = "shieldx_profile"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--balance", action="store_true", help="profile GET /credits/balance instead")
    parser.add_argument("--sort", default="cumulative", help="pstats order: cumulative, tottime, ncalls")
    parser.add_argument("--cpu", action="store_true", help="profile this process's CPU time only (time spent waiting on PostgreSQL and Redis drops out)")
    parser.add_argument("--dump", help="also write the raw cProfile stats to this file")
    parser.add_argument("--versus-floor", action="store_true", help="also time the raw-psycopg floor in the same process, interleaved")
    args = parser.parse_args()

    from bench.common import bench_env, fresh_database, make_tenants

    env = bench_env(DATABASE)
    fresh_database(env, DATABASE)
    (tenant, key), = make_tenants(env, ["prof-tenant"], "*")
    os.environ.update(env)

    import django

    django.setup()
    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connection

    app = WSGIHandler()

    def environ(i: int) -> dict:
        if args.balance:
            return {"REQUEST_METHOD": "GET", "PATH_INFO": f"/credits/balance/{tenant}", "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1",
                    "SERVER_PORT": "80", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(b""), "HTTP_AUTHORIZATION": f"Bearer {key}"}
        body = json.dumps({"tenant_id": tenant, "amount": 1, "idempotency_key": f"p-{time.time_ns()}-{i}"}).encode()
        return {"REQUEST_METHOD": "POST", "PATH_INFO": "/credits/consume", "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1",
                "SERVER_PORT": "80", "wsgi.url_scheme": "http", "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)),
                "wsgi.input": io.BytesIO(body), "HTTP_AUTHORIZATION": f"Bearer {key}"}

    def call(i: int) -> None:
        status = []
        out = app(environ(i), lambda s, h, *a: status.append(s))
        b"".join(out)
        if not status[0].startswith("20"):
            raise SystemExit(f"request failed: {status[0]} {b''.join(out)!r}")

    for i in range(200):  # warm-up: connections, prepared statements, caches
        call(i)
    queries = []
    with connection.execute_wrapper(lambda execute, sql, params, many, context: queries.append(sql) or execute(sql, params, many, context)):
        call(-1)
    started = time.perf_counter()
    for i in range(args.requests):
        call(i)
    elapsed = time.perf_counter() - started
    print(f"{args.requests} requests: {elapsed / args.requests * 1e3:.3f} ms each (load average {os.getloadavg()[0]:.2f})")
    if args.versus_floor:
        os.environ["BASELINE_DSN"] = env["BASELINE_DSN"]
        from bench import credits_baseline_app

        def floor_call(i: int) -> None:
            out = credits_baseline_app.application(environ(i), lambda s, h, *a: None)
            b"".join(out)

        rounds: dict[str, list[float]] = {"django": [], "floor": []}
        cpu: dict[str, list[float]] = {"django": [], "floor": []}
        per_round = args.requests // 5
        for _ in range(5):
            for name, fn in (("django", call), ("floor", floor_call)):
                started, started_cpu = time.perf_counter(), time.process_time()
                for i in range(per_round):
                    fn(i)
                rounds[name].append((time.perf_counter() - started) / per_round * 1e3)
                cpu[name].append((time.process_time() - started_cpu) / per_round * 1e3)
        django_ms, floor_ms = (sorted(rounds[n])[2] for n in ("django", "floor"))
        django_cpu, floor_cpu = (sorted(cpu[n])[2] for n in ("django", "floor"))
        print(f"one client, interleaved: django {django_ms:.3f} ms, raw floor {floor_ms:.3f} ms per consume: {floor_ms / django_ms:.2f}x the floor's rate")
        print(f"  of which this process's CPU: django {django_cpu:.3f} ms, raw floor {floor_cpu:.3f} ms (the rest waits on PostgreSQL and Redis)")
    print(f"SQL statements through Django per request: {len(queries)} (+ BEGIN/COMMIT when in a transaction)")
    for sql in queries:
        print("   ", " ".join(sql.split())[:140])
    profile = cProfile.Profile(time.process_time) if args.cpu else cProfile.Profile()
    profile.enable()
    for i in range(args.requests):
        call(i)
    profile.disable()
    if args.dump:
        profile.dump_stats(args.dump)
    text = io.StringIO()
    pstats.Stats(profile, stream=text).sort_stats(args.sort).print_stats(args.top)
    print(text.getvalue())


if __name__ == "__main__":
    main()
