"""Credits write path under load: Django consume vs a raw-psycopg baseline.

Serves both with gunicorn (same settings: sync workers, 2 x cores + 1) against PostgreSQL
and drives POST /credits/consume with wrk over (a) 1,000 tenants and (b) one hot tenant,
each request with a fresh idempotency key. Prints req/s, p50 and p99 for both, and the
ratios. Not part of the test suite.

    .venv/bin/python bench/bench_credits.py [--duration 15] [--connections 32]

Needs wrk (Debian package `wrk`). Uses its own database, shieldx_bench, and Redis db 14.
Rate limiting is off for the run (SHIELDX_RATE_LIMIT=0): one hot key would otherwise be
throttled, which is the limiter working, not the ledger.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from bench.common import ROOT, WORKERS, bench_env, fresh_database, make_tenants, print_table, serve, stop, write_lua_table, wrk

DATABASE = "shieldx_bench"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--tenants", type=int, default=1000)
    args = parser.parse_args()
    env = bench_env(DATABASE)
    fresh_database(env, DATABASE)
    keys = make_tenants(env, [f"bench-{i:04d}" for i in range(args.tenants)] + ["hot-tenant"], "credits:consume")
    many = write_lua_table(ROOT / "var/bench_many.lua", keys[:-1])
    hot = write_lua_table(ROOT / "var/bench_hot.lua", keys[-1:])
    django = serve("shieldx.wsgi", 18001, env)
    baseline = serve("bench.credits_baseline_app", 18002, env)
    try:
        print(f"credits consume, wrk -t2 -c{args.connections} -d{args.duration}s, gunicorn sync x{WORKERS}")
        for label, lua in ((f"{args.tenants:,} tenants", many), ("one hot tenant", hot)):
            run_env = {**env, "BENCH_TENANTS_LUA": str(lua)}
            for port in (18001, 18002):
                wrk(port, "wrk_consume.lua", 3, args.connections, run_env)  # warm-up
            d = wrk(18001, "wrk_consume.lua", args.duration, args.connections, run_env)
            b = wrk(18002, "wrk_consume.lua", args.duration, args.connections, run_env)
            print(f"\n({label})")
            print_table([("django", d), ("baseline", b)])
            print(f"  throughput django/baseline: {d['rps'] / b['rps']:.2f}   p99 django/baseline: {d['p99_ms'] / b['p99_ms']:.2f}")
    finally:
        stop(django, baseline)


if __name__ == "__main__":
    main()
