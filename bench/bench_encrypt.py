"""POST /camouflage/encrypt through gunicorn against the framework's floor (a constant DRF
GET with the same middleware, authentication and scope check), plus AES-GCM µs/op
in-process. Not part of the test suite.

    .venv/bin/python bench/bench_encrypt.py [--duration 15] [--connections 32]

Needs wrk. Uses its own database, shieldx_bench_encrypt, and Redis db 14.
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from bench.common import ROOT, WORKERS, bench_env, fresh_database, make_tenants, print_table, serve, stop, write_lua_table, wrk

DATABASE = "shieldx_bench_encrypt"


def in_process() -> tuple[float, float]:
    from camouflage.envelope import Envelope, parse_keyring

    envelope = Envelope(parse_keyring("1:" + base64.b64encode(os.urandom(32)).decode()))
    ciphertext = envelope.encrypt("4111111111111111", tenant="t1", context="checkout")
    n = 50_000
    enc = timeit.timeit(lambda: envelope.encrypt("4111111111111111", tenant="t1", context="checkout"), number=n) / n * 1e6
    dec = timeit.timeit(lambda: envelope.decrypt(ciphertext, tenant="t1", context="checkout"), number=n) / n * 1e6
    return enc, dec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    keyring = "1:" + base64.b64encode(os.urandom(32)).decode()
    env = bench_env(DATABASE, DJANGO_SETTINGS_MODULE="bench.settings_bench", SHIELDX_KEYRING=keyring)
    fresh_database(env, DATABASE)
    keys = make_tenants(env, [f"enc-{i:03d}" for i in range(100)], "camouflage:encrypt,credits:read")
    run_env = {**env, "BENCH_TENANTS_LUA": str(write_lua_table(ROOT / "var/bench_encrypt.lua", keys))}
    app = serve("shieldx.wsgi", 18021, env)
    try:
        for floor in ("1", "0"):
            wrk(18021, "wrk_encrypt.lua", 3, args.connections, {**run_env, "FLOOR": floor})  # warm-up
        floor = wrk(18021, "wrk_encrypt.lua", args.duration, args.connections, {**run_env, "FLOOR": "1"})
        encrypt = wrk(18021, "wrk_encrypt.lua", args.duration, args.connections, {**run_env, "FLOOR": "0"})
    finally:
        stop(app)
    print(f"camouflage encrypt, wrk -t2 -c{args.connections} -d{args.duration}s, gunicorn sync x{WORKERS}")
    print_table([("floor", floor), ("encrypt", encrypt)])
    print(f"  throughput encrypt/floor: {encrypt['rps'] / floor['rps']:.2f}")
    enc, dec = in_process()
    print(f"  AES-256-GCM in-process: encrypt {enc:.2f} µs/op, decrypt {dec:.2f} µs/op")


if __name__ == "__main__":
    main()
