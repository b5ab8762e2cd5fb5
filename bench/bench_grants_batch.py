"""Grants and batches on the write path (issue 15, item 5), in-process.

Calls the WSGI application directly (no HTTP server) against a throw-away PostgreSQL
database and prints, as medians over interleaved rounds:
- POST /credits/consume for a tenant with one live grant and for one with five (the
  drawing order, the grants read with the lock and the grants written with the change
  must keep it within 10% of one grant), with the statements per request and this
  process's CPU time per request (less sensitive to other load than wall time);
- one POST /credits/batch of 1,000 consumes against one POST /credits/consume (the
  target: under 20x).
Rounds alternate the cases so drifting machine load hits them alike; the load average is
printed beside the figures. Not part of the tests.

    .venv/bin/python bench/bench_grants_batch.py [--rounds 7] [--requests 300] [--batches 3]
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
DATABASE = "shieldx_bench_grants"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=300, help="consumes per case per round")
    parser.add_argument("--batches", type=int, default=3, help="1,000-operation batches per round")
    args = parser.parse_args()

    from bench.common import bench_env, fresh_database, make_tenants, wsgi_post

    env = bench_env(DATABASE)
    fresh_database(env, DATABASE)
    (one, key_one), (five, key_five), (bulk, key_bulk) = make_tenants(env, ["g-one", "g-five", "g-bulk"], "*")
    os.environ.update(env)

    import django

    django.setup()
    from datetime import timedelta

    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connection
    from django.utils import timezone

    from credits import services

    # Four more live grants, none of them first in the drawing order, so each consume
    # loads and orders five grants and draws from the same one as the one-grant tenant.
    for priority, days in ((60, 30), (70, None), (80, 90), (90, None)):
        expires = timezone.now() + timedelta(days=days) if days else None
        services.grant(tenant_id=five, amount=10**9, actor="bench", priority=priority, expires_at=expires)
    app = WSGIHandler()

    def call(path: str, key: str, body: dict) -> None:
        status = wsgi_post(app, path, key, body)
        if not status.startswith("200"):
            raise SystemExit(f"{path} answered {status}")

    queries = [0]

    def count(execute, sql, params, many, context):
        queries[0] += 1
        return execute(sql, params, many, context)

    cpu = {"one": [], "five": []}

    def consumes(tenant: str, key: str, n: int, case: str = "") -> tuple[float, float]:
        queries[0] = 0
        with connection.execute_wrapper(count):
            start, start_cpu = time.perf_counter(), time.process_time()
            for i in range(n):
                call("/credits/consume", key, {"tenant_id": tenant, "amount": 1, "idempotency_key": f"c-{time.time_ns()}-{i}"})
            elapsed, elapsed_cpu = time.perf_counter() - start, time.process_time() - start_cpu
        if case:
            cpu[case].append(elapsed_cpu / n * 1000)
        return elapsed / n * 1000, queries[0] / n

    batch_body = [{"op": "consume", "tenant_id": bulk, "amount": 1}] * 1000

    def batches(n: int) -> float:
        start = time.perf_counter()
        for i in range(n):
            call("/credits/batch", key_bulk, {"operations": batch_body, "idempotency_key": f"b-{time.time_ns()}-{i}"})
        return (time.perf_counter() - start) / n * 1000

    consumes(one, key_one, 50), consumes(five, key_five, 50), batches(1)  # warm-up: connections, prepared statements, caches
    rows: dict[str, list[float]] = {"one": [], "five": [], "single": [], "batch": []}
    statements = {}
    for _ in range(args.rounds):
        ms, statements["one"] = consumes(one, key_one, args.requests, "one")
        rows["one"].append(ms)
        ms, statements["five"] = consumes(five, key_five, args.requests, "five")
        rows["five"].append(ms)
        rows["single"].append(consumes(bulk, key_bulk, 100)[0])
        rows["batch"].append(batches(args.batches))
    med = {name: statistics.median(values) for name, values in rows.items()}
    print(f"in-process WSGI, PostgreSQL, {args.rounds} interleaved rounds, load average {os.getloadavg()[0]:.2f} (medians)")
    print(f"  consume, 1 live grant:   {med['one']:.3f} ms/request   ({statements['one']:.1f} statements/request)")
    print(f"  consume, 5 live grants:  {med['five']:.3f} ms/request   ({statements['five']:.1f} statements/request)")
    print(f"  5 grants / 1 grant:      {med['five'] / med['one']:.3f}   per round: " + " ".join(f"{f / o:.3f}" for f, o in zip(rows["five"], rows["one"], strict=True)))
    cpu_one, cpu_five = statistics.median(cpu["one"]), statistics.median(cpu["five"])
    print(f"  this process's CPU per consume: 1 grant {cpu_one:.3f} ms, 5 grants {cpu_five:.3f} ms, ratio {cpu_five / cpu_one:.3f}")
    print(f"  batch of 1,000 consumes: {med['batch']:.1f} ms   single consume: {med['single']:.3f} ms   ratio {med['batch'] / med['single']:.1f}x")
    print("  per round batch/single:  " + " ".join(f"{b / s:.1f}x" for b, s in zip(rows["batch"], rows["single"], strict=True)))


if __name__ == "__main__":
    main()
