"""The write path on a real server: every request in its own transaction on a persistent
connection (no test transaction around it), as in production."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connection

from shieldx.services import api_key_create
from shieldx.testing import LiveApp

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
TENANT = "org-live-writes"


def test_keyed_writes_in_a_row_on_one_connection_each_answer_once_and_replay(make_tenant):
    tenant = make_tenant(TENANT, credits=1000)
    key = api_key_create(tenant=tenant, scopes="*")[1]
    db = connection.settings_dict
    app = LiveApp({"DATABASE_URL": f"postgres://postgres@127.0.0.1:{db['PORT'] or 5432}/{db['NAME']}", "REDIS_URL": settings.REDIS_URL}, workers=1)
    try:
        answers = [app.request("POST", "/credits/consume", {"tenant_id": TENANT, "amount": 1, "idempotency_key": f"k{i}"}, key=key) for i in range(30)]
        assert [status for status, _, _ in answers] == [200] * 30
        replays = [app.request("POST", "/credits/consume", {"tenant_id": TENANT, "amount": 1, "idempotency_key": f"k{i}"}, key=key) for i in range(30)]
        assert all(status == 200 and headers.get("Idempotent-Replayed") == "true" for status, headers, _ in replays)
        assert [body for _, _, body in replays] == [body for _, _, body in answers]
        refused = app.request("POST", "/credits/consume", {"tenant_id": TENANT, "amount": 10**6, "idempotency_key": "big"}, key=key)
        again = app.request("POST", "/credits/consume", {"tenant_id": TENANT, "amount": 10**6, "idempotency_key": "big"}, key=key)
        assert refused[0] == again[0] == 402 and again[1].get("Idempotent-Replayed") == "true"
        hold = app.request("POST", "/credits/reserve", {"tenant_id": TENANT, "amount": 100, "idempotency_key": "h"}, key=key)[2]
        captured = app.request("POST", f"/credits/reservations/{hold['reservation_id']}/capture", {"amount": 40}, key=key)
        assert captured[0] == 200 and captured[2]["status"] == "captured"
        balance = app.request("GET", f"/credits/balance/{TENANT}", key=key)[2]
        assert balance["balance"] == 1000 - 30 - 40 and balance["reserved_funds"] == 0
        verify = app.request("GET", f"/credits/audit/{TENANT}/verify", key=key)[2]
        assert verify["valid"] is True and verify["length"] == 1 + 30 + 2
    finally:
        app.close()
