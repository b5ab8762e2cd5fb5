"""How one ledger change reaches the database.

On PostgreSQL the account update, the ledger entry and the audit link go in ONE
statement (data-modifying CTEs): a third of the round trips, and the three rows still
commit or fail together. Other databases (the embedded SQLite default) take the ORM path.
"""

from __future__ import annotations

import json

from django.db import connection

from credits.models import Account, AuditEntry, LedgerEntry

_PG_WRITE = """
WITH acct AS (
    UPDATE credits_account
       SET balance = %s, reserved_funds = %s, total_spent = %s, total_purchased = %s,
           audit_seq = %s, audit_head = %s, next_hold_expiry = %s, updated_at = %s
     WHERE tenant_id = %s
 RETURNING tenant_id
), ledger AS (
    INSERT INTO credits_ledgerentry (public_id, account_id, type, amount, balance_after, reserved_after, spent_after,
                                     purchased_after, description, metadata, reference, external_ref, actor, created_at)
    SELECT %s, tenant_id, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s, %s, %s FROM acct
 RETURNING id, account_id
), audit AS (
    INSERT INTO credits_auditentry (account_id, seq, prev_hash, hash, action, amount, balance_after, reserved_after, ref, actor, created_at)
    SELECT account_id, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s FROM ledger
 RETURNING 1
)
SELECT id FROM ledger
"""


def save_change(account: Account, entry: LedgerEntry, link: dict) -> None:
    """Persist the account's new figures, the entry and its audit link, all or nothing."""
    if connection.vendor != "postgresql":
        entry.save(force_insert=True)
        AuditEntry.objects.create(account=account, **{k: v for k, v in link.items() if k != "tenant_id"})
        Account.objects.filter(pk=account.pk).update(
            balance=account.balance, reserved_funds=account.reserved_funds, total_spent=account.total_spent,
            total_purchased=account.total_purchased, audit_seq=account.audit_seq, audit_head=account.audit_head,
            next_hold_expiry=account.next_hold_expiry, updated_at=account.updated_at,
        )
        return
    params = [
        account.balance, account.reserved_funds, account.total_spent, account.total_purchased,
        account.audit_seq, account.audit_head, account.next_hold_expiry, account.updated_at, account.tenant_id,
        entry.public_id, entry.type, entry.amount, entry.balance_after, entry.reserved_after, entry.spent_after,
        entry.purchased_after, entry.description, json.dumps(entry.metadata), entry.reference, entry.external_ref,
        entry.actor, entry.created_at,
        link["seq"], link["prev_hash"], link["hash"], link["action"], link["amount"], link["balance_after"],
        link["reserved_after"], link["ref"], link["actor"], link["created_at"],
    ]
    with connection.cursor() as cursor:
        cursor.execute(_PG_WRITE, params)
        row = cursor.fetchone()
    if row is None:
        raise Account.DoesNotExist(f"account {account.tenant_id} vanished under its lock")
    entry.pk = row[0]
