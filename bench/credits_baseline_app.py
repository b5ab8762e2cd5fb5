"""The credits benchmark's baseline: the consume transaction in raw psycopg behind a bare
WSGI app. It does the whole transaction the Django endpoint does (lock, update, ledger
row, audit row with its hash, idempotency row) on the same tables, and nothing else."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from datetime import UTC, datetime, timedelta

import psycopg

_conn: psycopg.Connection | None = None


def _connection() -> psycopg.Connection:
    global _conn
    if _conn is None or _conn.closed:
        _conn = psycopg.connect(os.environ["BASELINE_DSN"], prepare_threshold=1)
    return _conn


def _canonical(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def consume(tenant_id: str, amount: int, key: str | None) -> tuple[str, dict]:
    conn = _connection()
    now = datetime.now(UTC)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    with conn.transaction():
        row = conn.execute(
            "SELECT balance, reserved_funds, total_spent, total_purchased, audit_seq, audit_head "
            "FROM credits_account WHERE tenant_id = %s FOR UPDATE",
            (tenant_id,),
        ).fetchone()
        balance, reserved, spent, purchased, seq, head = row
        if balance - reserved < amount:
            return "402 Payment Required", {"error": {"code": "insufficient_funds"}}
        balance, spent = balance - amount, spent + amount
        txn = f"txn_{secrets.token_hex(12)}"
        link = {
            "tenant_id": tenant_id, "seq": seq + 1, "prev_hash": head, "action": "consume", "amount": amount,
            "balance_after": balance, "reserved_after": reserved, "ref": txn, "actor": "baseline", "created_at": stamp,
        }
        digest = hashlib.sha256(_canonical(link)).hexdigest()
        conn.execute(
            "INSERT INTO credits_ledgerentry (public_id, account_id, type, amount, balance_after, reserved_after, spent_after, "
            "purchased_after, description, metadata, reference, external_ref, actor, created_at) "
            "VALUES (%s, %s, 'consume', %s, %s, %s, %s, %s, '', '{}', '', '', 'baseline', %s)",
            (txn, tenant_id, amount, balance, reserved, spent, purchased, now),
        )
        conn.execute(
            "INSERT INTO credits_auditentry (account_id, seq, prev_hash, hash, action, amount, balance_after, reserved_after, ref, actor, created_at) "
            "VALUES (%s, %s, %s, %s, 'consume', %s, %s, %s, %s, 'baseline', %s)",
            (tenant_id, seq + 1, head, digest, amount, balance, reserved, txn, stamp),
        )
        conn.execute(
            "UPDATE credits_account SET balance = %s, total_spent = %s, audit_seq = %s, audit_head = %s, updated_at = %s WHERE tenant_id = %s",
            (balance, spent, seq + 1, digest, now, tenant_id),
        )
        body = {"transaction_id": txn, "tenant_id": tenant_id, "type": "consume", "amount": amount, "balance": balance,
                "reserved_funds": reserved, "available": balance - reserved, "created_at": stamp}
        if key:
            conn.execute(
                "INSERT INTO credits_idempotencyrecord (tenant_id, key, fingerprint, status_code, response_body, created_at, expires_at) "
                "VALUES (%s, %s, %s, 200, %s, %s, %s)",
                (tenant_id, key, hashlib.sha256(_canonical({"amount": amount})).hexdigest(), json.dumps(body), now, now + timedelta(hours=24)),
            )
    return "200 OK", body


def application(environ, start_response):
    if environ["REQUEST_METHOD"] == "GET":  # the readiness probe of the bench runner
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]
    length = int(environ.get("CONTENT_LENGTH") or 0)
    payload = json.loads(environ["wsgi.input"].read(length))
    status, body = consume(payload["tenant_id"], payload["amount"], payload.get("idempotency_key"))
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]
