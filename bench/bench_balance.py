"""Credits read path: GET /credits/balance under a Zipf-like popularity, with consumes mixed
in, against the framework's floor (a constant DRF GET with the same middleware, auth and
scope check), through gunicorn with several workers. Prints req/s and p99 for both, the
ratio, the hit rate per tier (from /metrics), and an in-process L1 hit micro-benchmark.

    .venv/bin/python bench/bench_balance.py [--tenants 10000] [--duration 15] [--connections 32]

Needs wrk. Uses its own database, shieldx_bench_balance, and Redis db 14.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere
import os
import re
import subprocess
import urllib.request

from bench.common import PY, ROOT, WORKERS, bench_env, fresh_database, make_tenants, print_table, serve, stop, write_lua_table, wrk

DATABASE = "shieldx_bench_balance"

MICRO = """
import django, time
django.setup()
from credits.cache import Snapshot, balances
snapshot = Snapshot(1, {"tenant_id": "t", "balance": 1, "reserved_funds": 0, "available": 1, "total_spent": 0, "total_purchased": 1}, None)
assert balances.changes.wait_connected(5)
balances.l1.offer("t", snapshot)
now = time.time()
n = 200_000
start = time.perf_counter()
for _ in range(n):
    balances.read_cached("t", now)
per_hit = (time.perf_counter() - start) / n * 1e6
print(f"{per_hit:.2f}")
"""


def metric(text: str, name: str) -> float:
    match = re.search(rf"^{name} ([0-9.e+-]+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tenants", type=int, default=10_000)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--zipf-s", default="1.1")
    parser.add_argument("--consume-share", default="0.1")
    parser.add_argument("--cold", action="store_true", help="empty L2 before the measured run (opening accounts fills it)")
    args = parser.parse_args()
    env = bench_env(DATABASE, DJANGO_SETTINGS_MODULE="bench.settings_bench")
    fresh_database(env, DATABASE)
    keys = make_tenants(env, [f"t{i:05d}" for i in range(args.tenants)], "credits:read,credits:consume")
    lua = write_lua_table(ROOT / "var/bench_balance.lua", keys)
    run_env = {**env, "BENCH_TENANTS_LUA": str(lua), "ZIPF_S": args.zipf_s, "CONSUME_SHARE": args.consume_share}
    app = serve("shieldx.wsgi", 18011, env)
    try:
        wrk(18011, "wrk_balance.lua", 3, args.connections, {**run_env, "FLOOR": "1"})  # warm-up
        floor = wrk(18011, "wrk_balance.lua", args.duration, args.connections, {**run_env, "FLOOR": "1"})
        if args.cold:
            subprocess.run(["redis-cli", "-n", "14", "FLUSHDB"], check=True, capture_output=True)
        before = urllib.request.urlopen("http://127.0.0.1:18011/metrics").read().decode()  # noqa: S310
        mixed = wrk(18011, "wrk_balance.lua", args.duration, args.connections, run_env)
        after = urllib.request.urlopen("http://127.0.0.1:18011/metrics").read().decode()  # noqa: S310
    finally:
        stop(app)
    tiers = {name: metric(after, name) - metric(before, name) for name in ("credits_cache_l1_hits", "credits_cache_l2_hits", "credits_cache_l3_reads")}
    reads = sum(tiers.values()) or 1
    print(f"{'cold' if args.cold else 'warm'} L2; balance reads, {args.tenants:,} tenants, Zipf s={args.zipf_s}, {float(args.consume_share):.0%} consumes, "
          f"wrk -t2 -c{args.connections} -d{args.duration}s, gunicorn sync x{WORKERS}")
    print_table([("floor", floor), ("balance mix", mixed)])
    print(f"  throughput balance-mix/floor: {mixed['rps'] / floor['rps']:.2f}   p99 ratio: {mixed['p99_ms'] / floor['p99_ms']:.2f}")
    print(f"  hit rate: L1 {tiers['credits_cache_l1_hits'] / reads:.1%}, L2 {tiers['credits_cache_l2_hits'] / reads:.1%}, "
          f"L3 {tiers['credits_cache_l3_reads'] / reads:.1%}; overall {(reads - tiers['credits_cache_l3_reads']) / reads:.1%}")
    micro = subprocess.run([PY, "-c", MICRO], check=True, capture_output=True, text=True, cwd=ROOT, env={**env, **os.environ, **env}).stdout.strip()
    print(f"  L1 hit in-process (read_cached): {micro} µs")


if __name__ == "__main__":
    main()
