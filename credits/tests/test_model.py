"""A randomized model test: the whole API against an in-memory model of the ledger."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from credits import selectors
from shieldx.services import api_key_create, tenant_create

amounts = st.integers(min_value=1, max_value=400)


class LedgerModel(RuleBasedStateMachine):
    holds = Bundle("holds")
    charges = Bundle("charges")

    def __init__(self):
        super().__init__()
        from rest_framework.test import APIClient

        from credits import services

        self.tenant = f"m-{uuid.uuid4().hex[:12]}"
        tenant = tenant_create(tenant_id=self.tenant)
        services.account_open(tenant_id=self.tenant, initial_credits=500, actor="model")
        _, key = api_key_create(tenant=tenant, scopes="*")
        self.client = APIClient()
        self.client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        self.balance, self.reserved, self.spent, self.purchased = 500, 0, 0, 500
        self.hold_state: dict[str, tuple[int, str]] = {}
        self.charge_state: dict[str, tuple[int, int]] = {}
        self.keyed: dict[str, tuple[int, dict]] = {}

    def post(self, path, body):
        return self.client.post(path, body, format="json")

    @rule(target=charges, amount=amounts)
    def consume(self, amount):
        response = self.post("/credits/consume", {"tenant_id": self.tenant, "amount": amount})
        if amount > self.balance - self.reserved:
            assert response.status_code == 402
            return "txn_none"
        assert response.status_code == 200
        self.balance -= amount
        self.spent += amount
        txn = response.json()["transaction_id"]
        self.charge_state[txn] = (amount, 0)
        return txn

    @rule(amount=amounts)
    def purchase(self, amount):
        assert self.post("/credits/purchase", {"tenant_id": self.tenant, "amount": amount}).status_code == 201
        self.balance += amount
        self.purchased += amount

    @rule(target=holds, amount=amounts)
    def reserve(self, amount):
        response = self.post("/credits/reserve", {"tenant_id": self.tenant, "amount": amount, "ttl_seconds": 3600})
        if amount > self.balance - self.reserved:
            assert response.status_code == 402
            return "rsv_none"
        assert response.status_code == 201
        self.reserved += amount
        rid = response.json()["reservation_id"]
        self.hold_state[rid] = (amount, "pending")
        return rid

    @rule(target=charges, rid=holds, part=st.one_of(st.none(), amounts))
    def capture(self, rid, part):
        response = self.post(f"/credits/reservations/{rid}/capture", {} if part is None else {"amount": part})
        if rid not in self.hold_state:
            assert response.status_code == 404
            return "txn_none"
        amount, status = self.hold_state[rid]
        if status != "pending":
            assert response.status_code == 409
            return "txn_none"
        taken = amount if part is None else part
        if taken > amount:
            assert response.status_code == 400
            return "txn_none"
        assert response.status_code == 200 and response.json()["captured_amount"] == taken
        self.hold_state[rid] = (amount, "captured")
        self.balance -= taken
        self.reserved -= amount
        self.spent += taken
        capture_txn = self.client.get(f"/credits/transactions/{self.tenant}", {"limit": 1}).json()["results"][0]
        assert capture_txn["type"] == "capture"
        self.charge_state[capture_txn["transaction_id"]] = (taken, 0)
        return capture_txn["transaction_id"]

    @rule(rid=holds)
    def release(self, rid):
        response = self.post(f"/credits/reservations/{rid}/release", {})
        if rid not in self.hold_state:
            assert response.status_code == 404
            return
        amount, status = self.hold_state[rid]
        if status != "pending":
            assert response.status_code == 409
            return
        assert response.status_code == 200
        self.hold_state[rid] = (amount, "released")
        self.reserved -= amount

    @rule(txn=charges, part=st.one_of(st.none(), amounts))
    def refund(self, txn, part):
        response = self.post("/credits/refund", {"tenant_id": self.tenant, "transaction_id": txn} | ({} if part is None else {"amount": part}))
        if txn not in self.charge_state:
            assert response.status_code == 404
            return
        original, refunded = self.charge_state[txn]
        wanted = original - refunded if part is None else part
        if original == refunded or wanted > original - refunded:
            assert response.status_code == 409
            return
        assert response.status_code == 201
        self.charge_state[txn] = (original, refunded + wanted)
        self.balance += wanted
        self.spent -= wanted

    @rule(key=st.sampled_from(["k1", "k2", "k3"]), amount=st.integers(min_value=1, max_value=3))
    def keyed_consume(self, key, amount):
        response = self.post("/credits/consume", {"tenant_id": self.tenant, "amount": amount, "idempotency_key": key})
        if key in self.keyed:
            first_amount, first_body = self.keyed[key]
            if first_amount == amount:
                assert response.status_code in (200, 402) and response.json() == first_body
                assert response["Idempotent-Replayed"] == "true"
            else:
                assert response.status_code == 422
            return
        if amount > self.balance - self.reserved:
            assert response.status_code == 402
        else:
            assert response.status_code == 200
            self.balance -= amount
            self.spent += amount
        self.keyed[key] = (amount, response.json())

    @invariant()
    def figures_match_the_model(self):
        body = self.client.get(f"/credits/balance/{self.tenant}").json()
        assert (body["balance"], body["reserved_funds"], body["total_spent"], body["total_purchased"]) == (
            self.balance, self.reserved, self.spent, self.purchased,
        )
        assert body["available"] == self.balance - self.reserved >= 0

    def teardown(self):
        assert selectors.verify_chain(tenant_id=self.tenant)["valid"] is True


@pytest.mark.django_db
def test_the_api_behaves_like_the_model():
    run_state_machine_as_test(
        LedgerModel,
        settings=settings(max_examples=15, stateful_step_count=30, deadline=None, suppress_health_check=list(HealthCheck)),
    )
