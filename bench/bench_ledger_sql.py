"""Why the ledger's hot statements are raw (named) SQL: one consume through
``credits.services.consume`` against the same consume written with the ORM's plain
pattern (select_for_update, save, two creates), in-process on PostgreSQL, interleaved
rounds, median time per consume and statements per consume. Not part of the tests.

    .venv/bin/python bench/bench_ledger_sql.py [--rounds 5] [--consumes 500]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import bench_env, fresh_database, make_tenants

DATABASE = "shieldx_bench_sql"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--consumes", type=int, default=500)
    args = parser.parse_args()
    env = bench_env(DATABASE)
    fresh_database(env, DATABASE)
    (tenant, _), = make_tenants(env, ["sql-tenant"], "*")
    os.environ.update(env)

    import django

    django.setup()
    from django.db import connection, transaction
    from django.utils import timezone

    from credits import chain, services
    from credits.models import Account, AuditEntry, LedgerEntry
    from credits.representations import rfc3339

    @transaction.atomic
    def orm_consume(*, tenant_id: str, amount: int, actor: str) -> None:
        now = timezone.now()
        account = Account.objects.select_for_update().select_related("tenant").get(tenant_id=tenant_id, tenant__is_active=True)
        if account.available < amount:
            raise RuntimeError("insufficient")
        account.balance -= amount
        account.total_spent += amount
        entry = LedgerEntry.objects.create(
            public_id=f"txn_orm{time.time_ns()}", account=account, type="consume", amount=amount, balance_after=account.balance,
            reserved_after=account.reserved_funds, spent_after=account.total_spent, purchased_after=account.total_purchased,
            actor=actor, created_at=now,
        )
        link = {"tenant_id": tenant_id, "seq": account.audit_seq + 1, "prev_hash": account.audit_head, "action": "consume", "amount": amount,
                "balance_after": account.balance, "reserved_after": account.reserved_funds, "ref": entry.public_id, "actor": actor,
                "created_at": rfc3339(now)}
        link["hash"] = chain.entry_hash(link)
        AuditEntry.objects.create(account=account, **{k: v for k, v in link.items() if k != "tenant_id"})
        account.audit_seq, account.audit_head, account.updated_at = link["seq"], link["hash"], now
        account.save(update_fields=["balance", "total_spent", "audit_seq", "audit_head", "updated_at"])

    variants = {
        "ledger SQL": lambda: services.consume(tenant_id=tenant, amount=1, actor="bench"),
        "ORM": lambda: orm_consume(tenant_id=tenant, amount=1, actor="bench"),
    }
    statements = {}
    for name, run in variants.items():
        run()
        seen = []
        with connection.execute_wrapper(lambda execute, sql, params, many, context: seen.append(sql) or execute(sql, params, many, context)):
            run()
        statements[name] = len(seen)
    timings: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, run in variants.items():
            started = time.perf_counter()
            for _ in range(args.consumes):
                run()
            timings[name].append((time.perf_counter() - started) / args.consumes * 1e3)
    print(f"one consume in-process, {args.rounds} interleaved rounds of {args.consumes}, load average {os.getloadavg()[0]:.2f} (medians)")
    base = statistics.median(timings["ORM"])
    for name, values in timings.items():
        ms = statistics.median(values)
        print(f"  {name:11} {ms:6.3f} ms   {statements[name]} statements + BEGIN/COMMIT   {base / ms:4.2f}x the ORM's speed")


if __name__ == "__main__":
    main()
