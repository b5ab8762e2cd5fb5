"""The one locking helper and the one writer of the credits ledger.

Every service locks the tenant's account row through ``lock`` (which also proves the
tenant exists and is active: no separate existence query), decides on the locked row,
and hands the change to ``record``, which writes the account's new figures, the ledger
entry and its audit link together. On PostgreSQL that is ONE statement (data-modifying
CTEs) and its result is not awaited, so inside a pipelined request (``shieldx.db``) it
travels to the server with the idempotency record and the COMMIT. Other databases (the
embedded SQLite default) run the same named statements one by one.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db import IntegrityError, connection, transaction

from credits import alerts, chain, grants, outbox
from credits.cache import Snapshot, balances
from credits.exceptions import AccountNotFound, FigureOutOfRange
from credits.models import Account, LedgerEntry
from shieldx.masking import mask_for_logs as mask_text
from shieldx.masking import mask_mapping  # keys like values; a key is the word before its value
from shieldx.timestamps import rfc3339

# Stored figures are PostgreSQL bigints: a change that would leave that range is refused.
MAX_FIGURE = 2**63 - 1

_ACCOUNT_FIELDS = (
    "balance", "reserved_funds", "total_spent", "total_purchased", "audit_seq", "audit_head", "next_hold_expiry", "next_grant_expiry",
    "updated_at", "alerts",
)  # fmt: skip
# Joining the tenant answers "does it exist, is it active" in the same round trip.
_LOCK_SQL = (
    f"SELECT t.is_active, {', '.join('a.' + name for name in _ACCOUNT_FIELDS)} FROM credits_account a "  # noqa: S608 - fixed column names
    "JOIN shieldx_tenant t ON t.tenant_id = a.tenant_id WHERE a.tenant_id = %(tenant_id)s"
)
_GRANT_FIELDS = ("row_id", "grant_id", "category", "priority", "amount", "remaining", "held", "expires_at", "created_at")
# The same columns by their ORM names, for reads of grants that are not live.
GRANT_COLUMNS = ("id", "public_id", "category", "priority", "amount", "remaining", "held", "expires_at", "created_at")
_LIVE_GRANTS_SQL = """
SELECT id, public_id, category, priority, amount, remaining, held, expires_at, created_at
  FROM credits_grant WHERE account_id = %(tenant_id)s AND NOT spent
"""

_ACCOUNT_SET = """
    balance = %(balance)s, reserved_funds = %(reserved_funds)s, total_spent = %(total_spent)s,
    total_purchased = %(total_purchased)s, audit_seq = %(seq)s, audit_head = %(hash)s,
    next_hold_expiry = %(next_hold_expiry)s, next_grant_expiry = %(next_grant_expiry)s, updated_at = %(now)s
"""
_LEDGER_COLUMNS = """(public_id, account_id, type, amount, balance_after, reserved_after, spent_after, purchased_after,
                      description, metadata, reference, external_ref, actor, created_at, grants)"""
_LEDGER_VALUES = """%(public_id)s, %(tenant_id)s, %(type)s, %(amount)s, %(balance)s, %(reserved_funds)s, %(total_spent)s,
                    %(total_purchased)s, %(description)s, %(metadata)s, %(reference)s, %(external_ref)s, %(actor)s, %(now)s,
                    %(grants)s"""
_GRANT_COLUMNS = "(public_id, account_id, category, priority, amount, remaining, held, expires_at, description, created_at)"
_AUDIT_COLUMNS = "(account_id, seq, prev_hash, hash, action, amount, balance_after, reserved_after, ref, actor, created_at)"
_AUDIT_VALUES = """%(tenant_id)s, %(seq)s, %(prev_hash)s, %(hash)s, %(type)s, %(amount)s, %(balance)s, %(reserved_funds)s,
                   %(public_id)s, %(actor)s, %(stamp)s"""

# The grants a change touched travel as two JSON arrays (new rows, new figures of old
# rows), so the statement stays one whatever the number of grants.
_PG_WRITE = f"""
WITH account AS (UPDATE credits_account SET {_ACCOUNT_SET} WHERE tenant_id = %(tenant_id)s RETURNING tenant_id),
     ledger AS (INSERT INTO credits_ledgerentry {_LEDGER_COLUMNS} SELECT {_LEDGER_VALUES} FROM account RETURNING 1),
     grants_changed AS (
       UPDATE credits_grant g SET remaining = v.remaining, held = v.held
         FROM json_to_recordset(%(grants_changed)s::json) AS v(public_id text, remaining bigint, held bigint)
        WHERE g.public_id = v.public_id),
     grants_new AS (
       INSERT INTO credits_grant {_GRANT_COLUMNS}
       SELECT v.public_id, %(tenant_id)s, v.category, v.priority, v.amount, v.remaining, v.held, v.expires_at, v.description, v.created_at
         FROM json_to_recordset(%(grants_new)s::json) AS v(public_id text, category text, priority smallint, amount bigint,
              remaining bigint, held bigint, expires_at timestamptz, description text, created_at timestamptz))
INSERT INTO credits_auditentry {_AUDIT_COLUMNS} SELECT {_AUDIT_VALUES} FROM ledger
"""  # noqa: S608 - fixed fragments, values are parameters
_PORTABLE_WRITE = (
    f"UPDATE credits_account SET {_ACCOUNT_SET} WHERE tenant_id = %(tenant_id)s",  # noqa: S608
    f"INSERT INTO credits_ledgerentry {_LEDGER_COLUMNS} VALUES ({_LEDGER_VALUES})",  # noqa: S608
    f"INSERT INTO credits_auditentry {_AUDIT_COLUMNS} VALUES ({_AUDIT_VALUES})",  # noqa: S608
)
_PORTABLE_GRANT_UPDATE = "UPDATE credits_grant SET remaining = %(remaining)s, held = %(held)s WHERE public_id = %(public_id)s"
_PORTABLE_GRANT_INSERT = f"""INSERT INTO credits_grant {_GRANT_COLUMNS} VALUES (%(public_id)s, %(tenant_id)s, %(category)s, %(priority)s,
    %(amount)s, %(remaining)s, %(held)s, %(expires_at)s, %(description)s, %(created_at)s)"""  # noqa: S608


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def _aware(value: datetime | str | None) -> datetime | None:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def grant_of(row) -> grants.Grant:
    values = dict(zip(_GRANT_FIELDS, row, strict=True))
    for name in ("expires_at", "created_at"):  # SQLite returns text
        values[name] = _aware(values[name])
    return grants.Grant(**values)


def _select_locked(tenant_id: str) -> Account | None:
    # SQLite's IMMEDIATE transactions already hold the database's write lock.
    sql = _LOCK_SQL + (" FOR UPDATE OF a" if connection.features.has_select_for_update_of else "")
    params = {"tenant_id": tenant_id}
    with connection.cursor() as lock_cursor, connection.cursor() as grants_cursor:
        lock_cursor.execute(sql, params)
        # Sent before the lock's answer is awaited: in a pipelined request both travel in
        # one round trip. The grants are a statement of their own, run once the lock is
        # granted, so they are read as the previous lock holder committed them (a column
        # of the locking SELECT would come from its older snapshot).
        grants_cursor.execute(_LIVE_GRANTS_SQL, params)
        row = lock_cursor.fetchone()
        grant_rows = grants_cursor.fetchall()
    if row is None:
        return None
    values = dict(zip(_ACCOUNT_FIELDS, row[1:], strict=True))
    for name in ("next_hold_expiry", "next_grant_expiry", "updated_at"):  # SQLite returns text; the ORM would convert it
        values[name] = _aware(values[name])
    if isinstance(values["alerts"], str):  # jsonb and SQLite's JSON both arrive as text
        values["alerts"] = json.loads(values["alerts"])
    account = Account(tenant_id=tenant_id, **values)
    account._state.adding = False
    account.tenant_active = row[0]
    account.grant_list = [grant_of(grant_row) for grant_row in grant_rows]
    return account


@dataclass
class _Batch:
    accounts: dict[str, Account]  # locked by this transaction, kept current by record()
    touched: set[str]  # accounts whose last balance is published after commit
    entries: list[dict]  # ledger entries and audit links not yet written
    events: list[dict] = field(default_factory=list)  # outbox rows not yet written


# Set inside ``batch()``.
_batch: ContextVar[_Batch | None] = ContextVar("credits_batch", default=None)


@contextmanager
def batch() -> Iterator[None]:
    """Many changes in one transaction (``services.batch``): an account locked once stays
    locked and in memory, so later operations on it need no round trip; the entries, the
    accounts' figures and the grants are written together (``flush``: one statement on
    PostgreSQL) when the batch ends or something must read them; caches hear of each
    account's last figures once, after commit."""
    state = _Batch({}, set(), [])
    token = _batch.set(state)
    try:
        yield
        flush()
    finally:
        _batch.reset(token)

    snapshots = {tenant_id: Snapshot.of(state.accounts[tenant_id]) for tenant_id in state.touched}

    def publish_all() -> None:
        for tenant_id, snapshot in snapshots.items():
            balances.publish(tenant_id, snapshot)

    transaction.on_commit(publish_all)


_PG_FLUSH = f"""
WITH entries AS (SELECT e, n FROM json_array_elements(%(entries)s::json) WITH ORDINALITY AS x(e, n)),
     ledger AS (
       INSERT INTO credits_ledgerentry {_LEDGER_COLUMNS}
       SELECT e->>'public_id', e->>'tenant_id', e->>'type', (e->>'amount')::bigint, (e->>'balance')::bigint,
              (e->>'reserved_funds')::bigint, (e->>'total_spent')::bigint, (e->>'total_purchased')::bigint, e->>'description',
              (e->'metadata')::jsonb, e->>'reference', e->>'external_ref', e->>'actor', (e->>'now')::timestamptz, (e->'grants')::jsonb
         FROM entries ORDER BY n),
     audit AS (
       INSERT INTO credits_auditentry {_AUDIT_COLUMNS}
       SELECT e->>'tenant_id', (e->>'seq')::bigint, e->>'prev_hash', e->>'hash', e->>'type', (e->>'amount')::bigint,
              (e->>'balance')::bigint, (e->>'reserved_funds')::bigint, e->>'public_id', e->>'actor', e->>'stamp'
         FROM entries ORDER BY n),
     accounts AS (
       UPDATE credits_account a SET balance = v.balance, reserved_funds = v.reserved_funds, total_spent = v.total_spent,
              total_purchased = v.total_purchased, audit_seq = v.seq, audit_head = v.hash, next_hold_expiry = v.next_hold_expiry,
              next_grant_expiry = v.next_grant_expiry, updated_at = v.now
         FROM json_to_recordset(%(accounts)s::json) AS v(tenant_id text, balance bigint, reserved_funds bigint, total_spent bigint,
              total_purchased bigint, seq bigint, hash text, next_hold_expiry timestamptz, next_grant_expiry timestamptz, now timestamptz)
        WHERE a.tenant_id = v.tenant_id),
     grants_changed AS (
       UPDATE credits_grant g SET remaining = v.remaining, held = v.held
         FROM json_to_recordset(%(grants_changed)s::json) AS v(public_id text, remaining bigint, held bigint)
        WHERE g.public_id = v.public_id)
INSERT INTO credits_grant {_GRANT_COLUMNS}
SELECT v.public_id, v.tenant_id, v.category, v.priority, v.amount, v.remaining, v.held, v.expires_at, v.description, v.created_at
  FROM json_to_recordset(%(grants_new)s::json) AS v(public_id text, tenant_id text, category text, priority smallint, amount bigint,
       remaining bigint, held bigint, expires_at timestamptz, description text, created_at timestamptz)
"""  # noqa: S608 - fixed fragments, values are parameters


def flush() -> None:
    """Write what the batch has recorded so far. Called when the batch ends, and by any
    operation that must read the ledger (a refund looks up the consume it refunds)."""
    state = _batch.get()
    if state is None or not state.entries:
        return
    entries, state.entries = state.entries, []
    events, state.events = state.events, []
    touched = {entry["tenant_id"] for entry in entries}
    accounts = []
    created, altered = [], []
    for tenant_id in touched:
        account = state.accounts[tenant_id]
        accounts.append({
            "tenant_id": tenant_id, "balance": account.balance, "reserved_funds": account.reserved_funds,
            "total_spent": account.total_spent, "total_purchased": account.total_purchased, "seq": account.audit_seq,
            "hash": account.audit_head, "next_hold_expiry": account.next_hold_expiry, "next_grant_expiry": account.next_grant_expiry,
            "now": account.updated_at,
        })  # fmt: skip
        new_rows, old_rows = _touched_grants(account)
        created += [{**row, "tenant_id": tenant_id} for row in new_rows]
        altered += old_rows
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            rows = {"entries": entries, "accounts": accounts, "grants_new": created, "grants_changed": altered}
            cursor.execute(_PG_FLUSH, {name: json.dumps(value, default=datetime.isoformat) for name, value in rows.items()})
            outbox.write(events)
            return
        for entry in entries:
            for statement in _PORTABLE_WRITE[1:]:
                cursor.execute(statement, {**entry, "metadata": json.dumps(entry["metadata"]), "grants": json.dumps(entry["grants"])})
        for row in accounts:
            cursor.execute(_PORTABLE_WRITE[0], row)
        for row in created:
            cursor.execute(_PORTABLE_GRANT_INSERT, row)
        for row in altered:
            cursor.execute(_PORTABLE_GRANT_UPDATE, row)
    outbox.write(events)


def lock(tenant_id: str, *, active_only: bool = True) -> Account:
    """Lock the tenant's account row for the rest of this transaction, opening it on first
    use. A missing (or, for clients, deactivated) tenant is AccountNotFound, whose 404
    reads exactly like another tenant's (CONTRACT §1a)."""
    state = _batch.get()
    if state is not None and tenant_id in state.accounts:
        return state.accounts[tenant_id]
    account = _select_locked(tenant_id)
    if account is None:
        try:
            with transaction.atomic():
                Account.objects.create(tenant_id=tenant_id)
        except IntegrityError:
            pass  # another request opened it first, or the tenant does not exist
        account = _select_locked(tenant_id)
    if account is None or (active_only and not account.tenant_active):
        raise AccountNotFound()
    if state is not None:
        state.accounts[tenant_id] = account
    return account


@dataclass(frozen=True)
class Change:
    """What one ledger entry does to the account's figures."""

    type: str
    amount: int
    balance: int = 0
    reserved: int = 0
    spent: int = 0
    purchased: int = 0
    grants: tuple[grants.Part, ...] | list[grants.Part] = ()


def record(
    account: Account,
    change: Change,
    *,
    actor: str,
    now: datetime,
    description: str = "",
    metadata: dict[str, str] | None = None,
    reference: str = "",
    external_ref: str = "",
    events: Sequence[alerts.Event] = (),
) -> LedgerEntry:
    """Apply the change to the locked account and write it with its ledger entry and audit
    link, and with its events (``events``, plus the thresholds it crossed: ``outbox``).
    Client text is stored masked: ledger rows can never be edited or purged, so a
    card number, SSN or email must never reach them (PCI DSS 3.5.1)."""
    available_before = account.available
    figures = {
        "balance": account.balance + change.balance,
        "reserved_funds": account.reserved_funds + change.reserved,
        "total_spent": account.total_spent + change.spent,
        "total_purchased": account.total_purchased + change.purchased,
    }
    if any(value > MAX_FIGURE for value in figures.values()):
        raise FigureOutOfRange(details={"limit": MAX_FIGURE})
    for name, value in figures.items():
        setattr(account, name, value)
    entry = LedgerEntry(
        public_id=new_id("txn"), account=account, type=change.type, amount=change.amount,
        balance_after=account.balance, reserved_after=account.reserved_funds, spent_after=account.total_spent,
        purchased_after=account.total_purchased, description=mask_text(description), metadata=mask_mapping(metadata or {}),
        reference=reference, external_ref=mask_text(external_ref), actor=actor, created_at=now,
        grants=[{"grant_id": grant_id, "amount": amount} for grant_id, amount in change.grants],
    )  # fmt: skip
    stamp = rfc3339(now)
    link = {
        "tenant_id": account.tenant_id, "seq": account.audit_seq + 1, "prev_hash": account.audit_head, "action": change.type,
        "amount": change.amount, "balance_after": account.balance, "reserved_after": account.reserved_funds,
        "ref": entry.public_id, "actor": actor, "created_at": stamp,
    }  # fmt: skip
    link["hash"] = chain.entry_hash(link)
    account.audit_seq, account.audit_head, account.updated_at = link["seq"], link["hash"], now
    account.next_grant_expiry = grants.next_expiry(account.grant_list)
    params = {
        **figures, "tenant_id": account.tenant_id, "seq": link["seq"], "prev_hash": link["prev_hash"], "hash": link["hash"],
        "next_hold_expiry": account.next_hold_expiry, "next_grant_expiry": account.next_grant_expiry, "now": now, "stamp": stamp,
        "public_id": entry.public_id, "type": change.type, "amount": change.amount, "description": entry.description,
        "metadata": entry.metadata, "reference": reference, "external_ref": entry.external_ref, "actor": actor, "grants": entry.grants,
    }  # fmt: skip
    event_rows = outbox.rows(account, available_before, events, now=now, transaction_id=entry.public_id)
    state = _batch.get()
    if state is not None:
        # Written by flush(), with the account's last figures and the grants as they end.
        state.entries.append(params)
        state.events += event_rows
        state.touched.add(account.tenant_id)
        return entry
    snapshot = Snapshot.of(account)
    touched_new, touched_old = _touched_grants(account)
    params.update(metadata=json.dumps(entry.metadata), grants=json.dumps(entry.grants))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            grant_rows = {"grants_new": json.dumps(touched_new, default=datetime.isoformat), "grants_changed": json.dumps(touched_old)}
            cursor.execute(_PG_WRITE, {**params, **grant_rows})
        else:
            for statement in _PORTABLE_WRITE:
                cursor.execute(statement, params)
            for row in touched_new:
                cursor.execute(_PORTABLE_GRANT_INSERT, {**row, "tenant_id": account.tenant_id})
            for row in touched_old:
                cursor.execute(_PORTABLE_GRANT_UPDATE, row)
    outbox.write(event_rows)
    # Caches learn of the change after commit, never before (a rollback must not leak).
    transaction.on_commit(lambda tenant_id=account.tenant_id: balances.publish(tenant_id, snapshot))
    return entry


def _touched_grants(account: Account) -> tuple[list[dict], list[dict]]:
    """The grants this change created or altered, as rows to write; they count as written."""
    created, altered = [], []
    for grant in account.grant_list:
        if grant.new:
            created.append({
                "public_id": grant.grant_id, "category": grant.category, "priority": grant.priority, "amount": grant.amount,
                "remaining": grant.remaining, "held": grant.held, "description": grant.description,
                "expires_at": grant.expires_at, "created_at": grant.created_at,
            })  # fmt: skip
        elif grant.changed:
            altered.append({"public_id": grant.grant_id, "remaining": grant.remaining, "held": grant.held})
        grant.new = grant.changed = False
    return created, altered


def save_expiry_markers(account: Account) -> None:
    """Persist corrected earliest-expiry markers when no ledger change carries them."""
    Account.objects.filter(pk=account.pk).update(next_hold_expiry=account.next_hold_expiry, next_grant_expiry=account.next_grant_expiry)
