"""History is append-only and tamper-evident: triggers, the hash chain, verification."""

from __future__ import annotations

import hashlib
import json

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from credits import services
from credits.chain import GENESIS

pytestmark = pytest.mark.django_db
TENANT = "org-123"


def _recompute(entry: dict) -> str:
    """The contract's formula, written out independently of credits.chain."""
    body = {k: v for k, v in entry.items() if k != "hash"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")).hexdigest()


@pytest.mark.parametrize("sql", [
    "UPDATE credits_ledgerentry SET amount = amount + 1",
    "DELETE FROM credits_ledgerentry",
    "UPDATE credits_auditentry SET hash = 'x'",
    "DELETE FROM credits_auditentry",
])
def test_raw_sql_cannot_alter_history(tenant, sql):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)


def test_the_audit_export_recomputes_with_the_contracts_formula(client_for):
    client_for.post("/credits/consume", {"tenant_id": TENANT, "amount": 5, "description": "ünïcode"}, format="json")
    client_for.post("/credits/reserve", {"tenant_id": TENANT, "amount": 7}, format="json")
    entries, after = [], 0
    while after is not None:
        page = client_for.get(f"/credits/audit/{TENANT}", {"after_seq": after, "limit": 2}).json()
        entries += page["results"]
        after = page["next_after_seq"]
    assert [e["seq"] for e in entries] == [1, 2, 3]
    assert entries[0]["prev_hash"] == GENESIS == "0" * 64
    for previous, entry in zip([None, *entries], entries):
        assert entry["hash"] == _recompute(entry)
        if previous:
            assert entry["prev_hash"] == previous["hash"]
    assert {"seq", "prev_hash", "hash", "action", "amount", "balance_after", "reserved_after", "ref", "created_at"} <= set(entries[0])
    assert [e["action"] for e in entries] == ["grant", "consume", "reserve"]
    verify = client_for.get(f"/credits/audit/{TENANT}/verify").json()
    assert verify == {"tenant_id": TENANT, "valid": True, "length": 3, "head_hash": entries[-1]["hash"], "broken_at_seq": None}


def _tamper(sql: str) -> None:
    """As a superuser would: switch the trigger off, rewrite, switch it back on."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no deferred FK checks pending
        cursor.execute("ALTER TABLE credits_auditentry DISABLE TRIGGER credits_auditentry_append_only")
        cursor.execute(sql)
        cursor.execute("ALTER TABLE credits_auditentry ENABLE TRIGGER credits_auditentry_append_only")


def test_tampering_is_detected_by_the_endpoint_and_the_command_naming_the_first_broken_entry(client_for, capsys):
    for _ in range(4):
        services.consume(tenant_id=TENANT, amount=1, actor="t")
    _tamper("UPDATE credits_auditentry SET amount = 999 WHERE seq = 3")
    verify = client_for.get(f"/credits/audit/{TENANT}/verify").json()
    assert verify["valid"] is False and verify["broken_at_seq"] == 3
    with pytest.raises(CommandError) as failure:
        call_command("verify_audit_chain", "--tenant", TENANT)
    assert failure.value.returncode == 1
    assert f"{TENANT} at seq 3" in str(failure.value)
    assert "BROKEN" in capsys.readouterr().out


def test_verify_command_succeeds_when_every_chain_verifies(client_for, make_tenant, capsys):
    make_tenant("org-second", credits=5)
    call_command("verify_audit_chain")
    out = capsys.readouterr().out
    assert f"ok      {TENANT}" in out and "ok      org-second" in out


def test_a_deleted_tail_is_detected(client_for):
    services.consume(tenant_id=TENANT, amount=1, actor="t")
    _tamper("DELETE FROM credits_auditentry WHERE seq = 2")
    verify = client_for.get(f"/credits/audit/{TENANT}/verify").json()
    assert verify["valid"] is False and verify["broken_at_seq"] == 2


def test_operator_grant_goes_through_the_service_and_is_audited_with_the_operator(tenant, admin_client):
    from credits.models import AuditEntry

    response = admin_client.post(
        "/admin/credits/account/",
        {"action": "grant_credits", "_selected_action": [TENANT], "apply": "1", "amount": "250", "description": "goodwill"},
    )
    assert response.status_code == 302
    entry = AuditEntry.objects.filter(account_id=TENANT).order_by("-seq").first()
    assert entry.action == "grant" and entry.amount == 250 and entry.actor == "admin:admin"


def test_the_scheduled_verification_feeds_the_alert_metrics(client_for):
    from rest_framework.test import APIClient

    from credits import tasks

    assert tasks.verify_audit_chains.delay().get() == {"broken": []}
    _tamper("UPDATE credits_auditentry SET amount = 5 WHERE seq = 1")
    assert tasks.verify_audit_chains.delay().get() == {"broken": [{"tenant_id": TENANT, "broken_at_seq": 1}]}
    text = APIClient().get("/metrics").content.decode()
    assert "credits_audit_chain_broken_tenants 1.0" in text
    assert 'credits_audit_chain_verifications_total{result="valid"} 1.0' in text
    assert 'credits_audit_chain_verifications_total{result="broken"} 1.0' in text
