"""A randomized model test of grants with time moving forward (CONTRACT §3a).

Random sequences of grants, purchases, consumes, holds, captures, releases, refunds and
jumps of the clock run against the API and against a small model written here from the
contract's words. After every step the balance equals Σ remaining of the live grants, and
each live grant's remaining and held equal the model's; at the end the audit chain (which
also checks the grants against the figures) verifies.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from credits import selectors
from shieldx.services import api_key_create, tenant_create

amounts = st.integers(min_value=1, max_value=120)
NO_EXPIRY = None


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


class GrantsModel(RuleBasedStateMachine):
    holds = Bundle("holds")
    charges = Bundle("charges")
    clock: Clock

    def __init__(self):
        super().__init__()
        from rest_framework.test import APIClient

        self.tenant = f"g-{uuid.uuid4().hex[:12]}"
        from credits import services

        _, key = api_key_create(tenant=tenant_create(tenant_id=self.tenant), scopes="*")
        services.account_open(tenant_id=self.tenant)
        self.client = APIClient()
        self.client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        self.grants: dict[str, dict] = {}  # id -> category, priority, expires, seq, remaining, held
        self.holds_state: dict[str, dict] = {}  # id -> amount, parts [(gid, n)], expires, status
        self.charges_state: dict[str, dict] = {}  # id -> parts [(gid, n)], refunded
        self.seq = 0

    # --- the model ---------------------------------------------------------------------

    def order(self):
        def key(item):
            _, g = item
            return (g["priority"], g["expires"] is None, g["expires"] or self.clock.now, g["category"] != "promotional", g["seq"])

        return [gid for gid, _ in sorted(self.grants.items(), key=key)]

    def expired(self, gid):
        expires = self.grants[gid]["expires"]
        return expires is not None and expires <= self.clock.now

    def settle(self):
        """What any touch of the account does first: expired holds end, expired grants lose their unheld part."""
        for hold in self.holds_state.values():
            if hold["status"] == "pending" and hold["expires"] <= self.clock.now:
                hold["status"] = "expired"
                for gid, n in hold["parts"]:
                    self.grants[gid]["held"] -= n
        for gid in self.grants:
            if self.expired(gid):
                self.grants[gid]["remaining"] = self.grants[gid]["held"]

    def available(self):
        return sum(g["remaining"] - g["held"] for g in self.grants.values())

    def take(self, amount, field):
        parts = []
        for gid in self.order():
            g = self.grants[gid]
            free = g["remaining"] - g["held"]
            if amount == 0 or self.expired(gid) or free <= 0:
                continue
            n = min(amount, free)
            g[field] = g[field] + n if field == "held" else g[field] - n
            parts.append((gid, n))
            amount -= n
        return parts

    def post(self, path, body):
        self.settle()
        return self.client.post(path, body, format="json")

    def stamp(self, delta):
        return None if delta is None else (self.clock.now + delta).isoformat()

    # --- rules -------------------------------------------------------------------------

    @rule(
        amount=amounts, category=st.sampled_from(["paid", "promotional"]), priority=st.sampled_from([0, 50, 90]),
        lifetime=st.sampled_from([NO_EXPIRY, timedelta(minutes=30), timedelta(hours=5), timedelta(days=2)]),
        purchase=st.booleans(),
    )  # fmt: skip
    def add(self, amount, category, priority, lifetime, purchase):
        body = {"tenant_id": self.tenant, "amount": amount, "priority": priority}
        if lifetime is not None:
            body["expires_at"] = self.stamp(lifetime)
        if not purchase:
            body["category"] = category
        response = self.post("/credits/purchase" if purchase else "/credits/grants", body)
        assert response.status_code == 201, response.json()
        self.seq += 1
        self.grants[response.json()["grant_id"]] = {
            "category": "paid" if purchase else category, "priority": priority, "seq": self.seq, "remaining": amount, "held": 0,
            "expires": None if lifetime is None else self.clock.now + lifetime,
        }  # fmt: skip

    @rule(target=charges, amount=amounts)
    def consume(self, amount):
        response = self.post("/credits/consume", {"tenant_id": self.tenant, "amount": amount})
        if amount > self.available():
            assert response.status_code == 402
            return "txn_none"
        assert response.status_code == 200, response.json()
        parts = self.take(amount, "remaining")
        assert [(p["grant_id"], p["amount"]) for p in response.json()["grants"]] == parts
        txn = response.json()["transaction_id"]
        self.charges_state[txn] = {"parts": parts, "refunded": 0}
        return txn

    @rule(target=holds, amount=amounts, ttl=st.sampled_from([600, 7200]))
    def reserve(self, amount, ttl):
        response = self.post("/credits/reserve", {"tenant_id": self.tenant, "amount": amount, "ttl_seconds": ttl})
        if amount > self.available():
            assert response.status_code == 402
            return "rsv_none"
        assert response.status_code == 201
        rid = response.json()["reservation_id"]
        self.holds_state[rid] = {"amount": amount, "parts": self.take(amount, "held"), "status": "pending",
                                 "expires": self.clock.now + timedelta(seconds=ttl)}  # fmt: skip
        return rid

    @rule(target=charges, rid=holds, part=st.one_of(st.none(), amounts))
    def capture(self, rid, part):
        response = self.post(f"/credits/reservations/{rid}/capture", {} if part is None else {"amount": part})
        hold = self.holds_state.get(rid)
        if hold is None or hold["status"] != "pending" or (part or 0) > hold["amount"]:
            assert response.status_code in (400, 404, 409)
            return "txn_none"
        assert response.status_code == 200
        hold["status"] = "captured"
        left, spent = hold["amount"] if part is None else part, []
        for gid, n in hold["parts"]:
            took = min(left, n)
            self.grants[gid]["held"] -= n
            self.grants[gid]["remaining"] -= took
            left -= took
            if took:
                spent.append((gid, took))
        self.settle()  # what went back to an expired grant expires at once
        txn = [t for t in self.client.get(f"/credits/transactions/{self.tenant}", {"limit": 5}).json()["results"] if t["type"] == "capture"][0]
        self.charges_state[txn["transaction_id"]] = {"parts": spent, "refunded": 0}
        return txn["transaction_id"]

    @rule(rid=holds)
    def release(self, rid):
        response = self.post(f"/credits/reservations/{rid}/release", {})
        hold = self.holds_state.get(rid)
        if hold is None or hold["status"] != "pending":
            assert response.status_code in (404, 409)
            return
        assert response.status_code == 200
        hold["status"] = "released"
        for gid, n in hold["parts"]:
            self.grants[gid]["held"] -= n

    @rule(txn=charges, part=st.one_of(st.none(), amounts))
    def refund(self, txn, part):
        response = self.post("/credits/refund", {"tenant_id": self.tenant, "transaction_id": txn} | ({} if part is None else {"amount": part}))
        charge = self.charges_state.get(txn)
        if charge is None:
            assert response.status_code == 404
            return
        total = sum(n for _, n in charge["parts"])
        wanted = total - charge["refunded"] if part is None else part
        if wanted == 0 or wanted > total - charge["refunded"]:
            assert response.status_code == 409
            return
        assert response.status_code == 201, response.json()
        # Unwind from the last part drawn, skipping what earlier refunds gave back.
        skip, left, homeless = charge["refunded"], wanted, 0
        for gid, n in reversed(charge["parts"]):
            back = max(0, min(left, n - skip))
            skip = max(0, skip - n)
            if back and self.expired(gid):
                homeless += back
            elif back:
                self.grants[gid]["remaining"] += back
            left -= back
        charge["refunded"] += wanted
        if homeless:
            new = [p for p in response.json()["grants"] if p["grant_id"] not in self.grants]
            assert len(new) == 1 and new[0]["amount"] == homeless
            self.seq += 1
            self.grants[new[0]["grant_id"]] = {"category": "paid", "priority": 50, "seq": self.seq, "remaining": homeless, "held": 0, "expires": None}

    @rule(jump=st.sampled_from([timedelta(minutes=1), timedelta(minutes=20), timedelta(hours=3), timedelta(days=1)]))
    def time_passes(self, jump):
        self.clock.now += jump

    @rule()
    def the_beat_runs(self):
        from credits import tasks

        tasks.expire_holds.delay().get()
        tasks.expire_grants.delay().get()
        self.settle()

    # --- what must always hold ---------------------------------------------------------

    @invariant()
    def balance_is_the_sum_of_live_grants_and_each_grant_is_the_models(self):
        self.settle()
        body = self.client.get(f"/credits/balance/{self.tenant}").json()
        live = [(gid, g["remaining"], g["held"]) for gid, g in ((gid, self.grants[gid]) for gid in self.order()) if g["remaining"] > 0]
        assert [(g["grant_id"], g["remaining"], g["held"]) for g in body["grants"]] == live
        assert body["balance"] == sum(g["remaining"] for g in body["grants"])
        assert body["reserved_funds"] == sum(g["held"] for g in body["grants"])
        assert body["available"] == self.available() >= 0

    def teardown(self):
        assert selectors.verify_chain(tenant_id=self.tenant)["valid"] is True


@pytest.mark.django_db
def test_grants_behave_like_the_model_as_time_moves_forward(monkeypatch):
    clock = Clock()
    monkeypatch.setattr("django.utils.timezone.now", clock)
    GrantsModel.clock = clock
    run_state_machine_as_test(
        GrantsModel,
        settings=settings(max_examples=20, stateful_step_count=35, deadline=None, suppress_health_check=list(HealthCheck)),
    )
