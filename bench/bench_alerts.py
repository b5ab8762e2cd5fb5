"""What balance alerts cost a consume (issue 15, item 2), in-process.

Calls the WSGI application directly against a throw-away PostgreSQL database and prints,
as medians over interleaved rounds, POST /credits/consume for a tenant without alerts
("plain") and for one with ten thresholds that the consumes never cross ("quiet"), with
the statements per request. The claim to check: the same statements, the same time.
``--plain-only`` measures the plain case alone, so the script also runs on code from
before alerts existed (compare the two checkouts run after one another). Not a test.

    .venv/bin/python bench/bench_alerts.py [--rounds 7] [--requests 300] [--plain-only]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATABASE = "shieldx_bench_alerts"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=300, help="consumes per case per round")
    parser.add_argument("--plain-only", action="store_true", help="only the tenant without alerts")
    args = parser.parse_args()

    from bench.common import bench_env, fresh_database, make_tenants, wsgi_post

    env = bench_env(DATABASE)
    fresh_database(env, DATABASE)
    (plain, key_plain), (quiet, key_quiet) = make_tenants(env, ["a-plain", "a-quiet"], "*")
    os.environ.update(env)

    import django

    django.setup()
    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connection

    cases = {"plain": (plain, key_plain)}
    if not args.plain_only:
        from credits import services

        # Ten thresholds far below the balance (10^11): every consume tests them, none crosses.
        services.alerts_set(tenant_id=quiet, thresholds=[10**6 * n for n in range(1, 11)], actor="bench")
        cases["quiet"] = (quiet, key_quiet)
    app = WSGIHandler()

    def call(key: str, body: dict) -> None:
        status = wsgi_post(app, "/credits/consume", key, body)
        if not status.startswith("200"):
            raise SystemExit(f"consume answered {status}")

    queries = [0]

    def count(execute, sql, params, many, context):
        queries[0] += 1
        return execute(sql, params, many, context)

    def consumes(tenant: str, key: str, n: int) -> tuple[float, float, float]:
        queries[0] = 0
        with connection.execute_wrapper(count):
            start, start_cpu = time.perf_counter(), time.process_time()
            for i in range(n):
                call(key, {"tenant_id": tenant, "amount": 1, "idempotency_key": f"c-{time.time_ns()}-{i}"})
            elapsed, elapsed_cpu = time.perf_counter() - start, time.process_time() - start_cpu
        return elapsed / n * 1000, elapsed_cpu / n * 1000, queries[0] / n

    for tenant, key in cases.values():
        consumes(tenant, key, 50)  # warm-up: connections, prepared statements, caches
    rows: dict[str, list[float]] = {name: [] for name in cases}
    cpu: dict[str, list[float]] = {name: [] for name in cases}
    statements: dict[str, float] = {}
    for _ in range(args.rounds):
        for name, (tenant, key) in cases.items():
            ms, cpu_ms, statements[name] = consumes(tenant, key, args.requests)
            rows[name].append(ms)
            cpu[name].append(cpu_ms)
    print(f"in-process WSGI, PostgreSQL, {args.rounds} interleaved rounds, load average {os.getloadavg()[0]:.2f} (medians)")
    for name, values in rows.items():
        print(
            f"  consume, {name:5}: {statistics.median(values):.3f} ms/request, this process's CPU {statistics.median(cpu[name]):.3f} ms"
            f"   ({statements[name]:.1f} statements/request)"
        )
    if "quiet" in rows:
        ratios = [q / p for q, p in zip(cpu["quiet"], cpu["plain"], strict=True)]
        print(f"  CPU quiet / plain: {statistics.median(ratios):.3f}   per round: " + " ".join(f"{r:.3f}" for r in ratios))


if __name__ == "__main__":
    main()
