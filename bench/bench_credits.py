"""Credits write path under load: Django's POST /credits/consume against a raw-psycopg
floor doing the same whole transaction (bench/credits_baseline_app.py).

Both served by gunicorn (sync workers, 2 x cores + 1), wrk -t2 -c32, 20 tenants, a fresh
idempotency key per request. Rounds alternate Django / floor so drifting machine load
hits both alike; the medians and their ratios are printed with the load average.
Not part of the test suite.

    .venv/bin/python bench/bench_credits.py [--rounds 5] [--duration 10] [--connections 32] [--tenants 20]

Needs wrk (Debian package `wrk`). Uses its own database, shieldx_bench, and Redis db 14.
Rate limiting is off for the run (SHIELDX_RATE_LIMIT=0): it is the limiter's cost, not the ledger's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from bench.common import ROOT, WORKERS, bench_env, fresh_database, make_tenants, print_table, serve, stop, write_lua_table, wrk

DATABASE = "shieldx_bench"


def median_of(runs: list[dict[str, float]]) -> dict[str, float]:
    return {name: statistics.median(run[name] for run in runs) for name in runs[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--tenants", type=int, default=20)
    args = parser.parse_args()
    env = bench_env(DATABASE)
    fresh_database(env, DATABASE)
    keys = make_tenants(env, [f"bench-{i:04d}" for i in range(args.tenants)], "credits:consume")
    run_env = {**env, "BENCH_TENANTS_LUA": str(write_lua_table(ROOT / "var/bench_tenants.lua", keys))}
    django = serve("shieldx.wsgi", 18001, env)
    floor = serve("bench.credits_baseline_app", 18002, env)
    try:
        for port in (18001, 18002):
            wrk(port, "wrk_consume.lua", 3, args.connections, run_env)  # warm-up: connections, prepared statements, key caches
        runs: dict[str, list[dict[str, float]]] = {"django": [], "floor": []}
        for _ in range(args.rounds):
            runs["django"].append(wrk(18001, "wrk_consume.lua", args.duration, args.connections, run_env))
            runs["floor"].append(wrk(18002, "wrk_consume.lua", args.duration, args.connections, run_env))
        d, f = median_of(runs["django"]), median_of(runs["floor"])
        print(f"credits consume, {args.tenants} tenants, wrk -t2 -c{args.connections}, {args.rounds} interleaved rounds of {args.duration}s, "
              f"gunicorn sync x{WORKERS}, load average {os.getloadavg()[0]:.2f} (medians)")
        print_table([("django", d), ("raw floor", f)])
        print(f"  throughput django/floor: {d['rps'] / f['rps']:.2f}   p99 django/floor: {d['p99_ms'] / f['p99_ms']:.2f}")
        ratios = [dj["rps"] / fl["rps"] for dj, fl in zip(runs["django"], runs["floor"], strict=True)]
        print("  per-round throughput ratios: " + " ".join(f"{r:.2f}" for r in ratios))
    finally:
        stop(django, floor)


if __name__ == "__main__":
    main()
