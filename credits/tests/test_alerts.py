"""CONTRACT §3a alerts and events: the settings route, the events each change writes with
itself (thresholds crossed once and re-armed, depletion, grant expiry), the events page,
and the refusals (bad bodies, SSRF, other tenants). Runs on PostgreSQL and, as a credits
contract test, on SQLite; delivery to a real receiver is in test_webhooks.py."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from credits import services, tasks
from credits.models import Account, AlertSettings, Event, Grant

pytestmark = pytest.mark.django_db
TENANT = "org-alerts"
SECRET = "whsec_" + "k" * 40
PUBLIC_URL = "https://93.184.215.14/hooks/shieldx"  # a public address literal: accepted without DNS


@pytest.fixture
def client(make_tenant, make_client):
    return make_client(make_tenant(TENANT, credits=1000))


def put_alerts(client, tenant_id=TENANT, **body):
    return client.put(f"/credits/alerts/{tenant_id}", body, format="json")


def consume(client, amount):
    response = client.post("/credits/consume", {"tenant_id": TENANT, "amount": amount}, format="json")
    assert response.status_code == 200, response.json()
    return response.json()


def purchase(client, amount):
    assert client.post("/credits/purchase", {"tenant_id": TENANT, "amount": amount}, format="json").status_code == 201


def events(client, **query):
    response = client.get(f"/credits/events/{TENANT}", query)
    assert response.status_code == 200, response.json()
    return response.json()["results"]


def crossed(client):
    return [
        (e["data"]["threshold"], e["data"]["previous_available"], e["data"]["available"])
        for e in events(client)
        if e["type"] == "balance.threshold_crossed"
    ]


def test_put_stores_the_settings_and_get_reads_them_without_the_secret(client):
    assert client.get(f"/credits/alerts/{TENANT}").json() == {
        "tenant_id": TENANT, "thresholds": [], "webhook_url": None, "webhook_secret_set": False, "updated_at": None,
    }  # fmt: skip
    response = put_alerts(client, thresholds=[100, 500, 100, 0], webhook_url=PUBLIC_URL, webhook_secret=SECRET)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["thresholds"], body["webhook_url"], body["webhook_secret_set"]) == ([500, 100, 0], PUBLIC_URL, True)
    assert client.get(f"/credits/alerts/{TENANT}").json() == body
    assert SECRET not in response.content.decode() and SECRET not in client.get(f"/credits/alerts/{TENANT}").content.decode()
    # Stored sealed: the row holds a ciphertext, not the secret.
    sealed = AlertSettings.objects.get(account_id=TENANT).webhook_secret_sealed
    assert sealed.startswith("sx:v") and SECRET not in sealed
    # A new URL without a secret keeps the stored one; no URL drops both.
    again = put_alerts(client, thresholds=[50], webhook_url=PUBLIC_URL + "/v2").json()
    assert (again["thresholds"], again["webhook_url"], again["webhook_secret_set"]) == ([50], PUBLIC_URL + "/v2", True)
    assert AlertSettings.objects.get(account_id=TENANT).webhook_secret_sealed == sealed
    cleared = put_alerts(client, thresholds=[]).json()
    assert (cleared["thresholds"], cleared["webhook_url"], cleared["webhook_secret_set"]) == ([], None, False)
    assert Account.objects.get(tenant_id=TENANT).alerts is None and not AlertSettings.objects.filter(account_id=TENANT).exists()


def test_a_threshold_fires_once_per_downward_crossing_and_rearms_only_at_or_above_it(client):
    put_alerts(client, thresholds=[500, 200])
    consume(client, 400)  # 1000 -> 600: nothing
    assert crossed(client) == []
    consume(client, 150)  # 600 -> 450: crosses 500
    consume(client, 10)  # 450 -> 440: still below, no second event
    assert crossed(client) == [(500, 600, 450)]
    purchase(client, 59)  # 499: below 500, not re-armed
    consume(client, 1)
    assert crossed(client) == [(500, 600, 450)]
    purchase(client, 2)  # 500: at the threshold again, re-armed
    consume(client, 1)  # 500 -> 499
    assert crossed(client) == [(500, 600, 450), (500, 500, 499)]
    consume(client, 499)  # one change crossing 200 and reaching 0: each event once, highest threshold first
    assert crossed(client)[2:] == [(200, 499, 0)]
    last = events(client)[-2:]
    assert [e["type"] for e in last] == ["balance.threshold_crossed", "balance.depleted"]
    assert last[1]["data"]["previous_available"] == 499 and last[1]["data"]["available"] == 0
    assert all(e["delivery"] == {"status": "none", "attempts": 0} for e in events(client))  # no webhook_url


def test_holds_move_available_too_and_depletion_fires_without_any_alert_settings(client):
    hold = client.post("/credits/reserve", {"tenant_id": TENANT, "amount": 1000}, format="json").json()
    (depleted,) = events(client)
    assert (depleted["type"], depleted["data"]["previous_available"], depleted["data"]["available"]) == ("balance.depleted", 1000, 0)
    assert depleted["event_id"].startswith("evt_") and depleted["data"]["transaction_id"].startswith("txn_")
    client.post(f"/credits/reservations/{hold['reservation_id']}/release", {}, format="json")
    put_alerts(client, thresholds=[300])
    client.post("/credits/reserve", {"tenant_id": TENANT, "amount": 800}, format="json")
    assert crossed(client) == [(300, 1000, 200)]


def test_a_change_that_rolls_back_leaves_no_event(client):
    put_alerts(client, thresholds=[500])
    with pytest.raises(RuntimeError), transaction.atomic():
        services.consume(tenant_id=TENANT, amount=600, actor="test")  # crosses 500, depletes nothing
        assert Event.objects.filter(account_id=TENANT).count() == 1  # written with the change...
        raise RuntimeError("the caller's transaction fails after the consume")
    assert Event.objects.filter(account_id=TENANT).count() == 0  # ...and gone with it
    # A batch refused at its second operation undoes the first one's event too.
    operations = [{"op": "consume", "tenant_id": TENANT, "amount": 600}, {"op": "consume", "tenant_id": TENANT, "amount": 10_000}]
    assert client.post("/credits/batch", {"operations": operations}, format="json").status_code == 402
    assert Event.objects.filter(account_id=TENANT).count() == 0 and Account.objects.get(tenant_id=TENANT).balance == 1000
    # And a batch that commits writes each operation's crossing.
    operations = [{"op": "consume", "tenant_id": TENANT, "amount": 600}, {"op": "grant", "tenant_id": TENANT, "amount": 200},
                  {"op": "consume", "tenant_id": TENANT, "amount": 200}]  # fmt: skip
    assert client.post("/credits/batch", {"operations": operations}, format="json").status_code == 200
    assert crossed(client) == [(500, 1000, 400), (500, 600, 400)]


def test_a_consume_without_alerts_or_crossing_costs_no_statement_more(make_tenant, client):
    make_tenant("org-plain", credits=1000)
    put_alerts(client, thresholds=[100])

    def statements(tenant_id, amount):
        with CaptureQueriesContext(connection) as queries:
            services.consume(tenant_id=tenant_id, amount=amount, actor="test")
        return [q["sql"] for q in queries.captured_queries]

    statements("org-plain", 1), statements(TENANT, 1)  # both accounts opened and warm
    plain, quiet = statements("org-plain", 10), statements(TENANT, 10)
    assert len(plain) == len(quiet)
    assert not any("credits_event" in sql or "credits_alertsettings" in sql for sql in plain + quiet)
    crossing = statements(TENANT, 900)  # 979 -> 79: crosses 100
    assert len(crossing) == len(quiet) + 1 and sum("INSERT INTO credits_event" in sql for sql in crossing) == 1


def test_grant_expiry_writes_grant_expired_and_the_beat_task_announces_expiry_a_day_ahead_once(client):
    soon = timezone.now() + timedelta(hours=2)
    later = timezone.now() + timedelta(days=3)
    short = services.grant(tenant_id=TENANT, amount=30, actor="test", expires_at=soon).grant_id
    lasting = services.grant(tenant_id=TENANT, amount=40, actor="test", expires_at=later).grant_id
    assert tasks.expire_grants.delay().get() == 0
    assert tasks.expire_grants.delay().get() == 0  # a second beat run announces nothing again
    (expiring,) = [e for e in events(client) if e["type"] == "grant.expiring"]
    assert expiring["data"]["grant_id"] == short and expiring["data"]["remaining"] == 30
    assert datetime.fromisoformat(expiring["data"]["expires_at"]) == soon
    assert Grant.objects.get(public_id=short).expiring_sent and not Grant.objects.get(public_id=lasting).expiring_sent
    # Two days on, the other one is within a day of its expiry.
    assert services.grants_warn_expiring(now=timezone.now() + timedelta(days=2, hours=1)) == 1
    assert services.grants_warn_expiring(now=timezone.now() + timedelta(days=2, hours=2)) == 0
    # The short grant expires: one grant.expired with its transaction.
    Grant.objects.filter(public_id=short).update(expires_at=timezone.now() - timedelta(seconds=1))
    Account.objects.filter(tenant_id=TENANT).update(next_grant_expiry=timezone.now() - timedelta(seconds=1))
    assert tasks.expire_grants.delay().get() == 1
    (expired,) = [e for e in events(client) if e["type"] == "grant.expired"]
    assert (expired["data"]["grant_id"], expired["data"]["amount"], expired["data"]["category"]) == (short, 30, "promotional")
    assert expired["data"]["transaction_id"].startswith("txn_")
    assert [e["type"] for e in events(client)] == ["grant.expiring", "grant.expiring", "grant.expired"]


def test_the_events_page_is_oldest_first_with_a_cursor_or_an_event_id(client):
    put_alerts(client, thresholds=[900, 800, 700, 600, 500])
    consume(client, 550)  # five crossings
    everything = events(client)
    assert [e["data"]["threshold"] for e in everything] == [900, 800, 700, 600, 500]
    first = client.get(f"/credits/events/{TENANT}", {"limit": 2}).json()
    second = client.get(f"/credits/events/{TENANT}", {"limit": 2, "after": first["next_cursor"]}).json()
    third = client.get(f"/credits/events/{TENANT}", {"limit": 2, "after": second["next_cursor"]}).json()
    assert first["results"] + second["results"] + third["results"] == everything and third["next_cursor"] is None
    assert events(client, after=everything[2]["event_id"]) == everything[3:]


def test_another_tenants_alerts_and_events_are_404_like_a_missing_tenant(client, make_tenant, make_client):
    other = make_client(make_tenant("org-other"))
    for path in (f"/credits/alerts/{TENANT}", f"/credits/events/{TENANT}", "/credits/alerts/org-nobody", "/credits/events/org-nobody"):
        response = other.get(path)
        assert response.status_code == 404 and response.json()["error"]["message"] == "Tenant not found."
    refused = put_alerts(other, thresholds=[1])
    missing = put_alerts(other, "org-nobody", thresholds=[1])
    assert (
        (refused.status_code, refused.json()["error"]["message"])
        == (missing.status_code, missing.json()["error"]["message"])
        == (404, "Tenant not found.")
    )
    assert Account.objects.get(tenant_id=TENANT).alerts is None
    # An event id of another tenant reads like a missing one.
    put_alerts(client, thresholds=[999])
    consume(client, 5)
    theirs = events(client)[0]["event_id"]
    mine_missing = other.get("/credits/events/org-other", {"after": "evt_000000000000000000000000"}).json()
    mine_theirs = other.get("/credits/events/org-other", {"after": theirs}).json()
    assert mine_missing["error"]["message"] == mine_theirs["error"]["message"] and mine_theirs["error"]["details"] == {"field": "after"}


def test_the_routes_need_their_scopes(make_tenant, make_client):
    tenant = make_tenant(TENANT)
    reader = make_client(tenant, scopes="credits:read")
    assert reader.get(f"/credits/alerts/{TENANT}").status_code == 200 and reader.get(f"/credits/events/{TENANT}").status_code == 200
    assert put_alerts(reader, thresholds=[1]).status_code == 403
    assert put_alerts(make_client(tenant, scopes="credits:purchase"), thresholds=[1]).status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"thresholds": [-1]}, "thresholds"),
        ({"thresholds": list(range(11))}, "thresholds"),
        ({"thresholds": [2**63]}, "thresholds"),
        ({"thresholds": [True]}, "thresholds"),
        ({"thresholds": ["100"]}, "thresholds"),
        ({"thresholds": [1.5]}, "thresholds"),
        ({"thresholds": "100"}, "thresholds"),
        ({}, "thresholds"),
        ({"thresholds": [1], "extra": 1}, "extra"),
        ({"thresholds": [1], "webhook_url": PUBLIC_URL, "webhook_secret": "short"}, "webhook_secret"),
        ({"thresholds": [1], "webhook_url": PUBLIC_URL, "webhook_secret": "a" * 31}, "webhook_secret"),
        ({"thresholds": [1], "webhook_url": PUBLIC_URL, "webhook_secret": "a" * 257}, "webhook_secret"),
        ({"thresholds": [1], "webhook_url": PUBLIC_URL, "webhook_secret": "a" * 31 + "\x00"}, "webhook_secret"),
        ({"thresholds": [1], "webhook_url": PUBLIC_URL, "webhook_secret": "a" * 31 + " b"}, "webhook_secret"),
        ({"thresholds": [1], "webhook_url": PUBLIC_URL}, "webhook_secret"),  # the first URL needs a secret
        ({"thresholds": [1], "webhook_secret": SECRET}, "webhook_secret"),  # a secret needs a URL
        ({"thresholds": [1], "webhook_url": PUBLIC_URL + "/\x00", "webhook_secret": SECRET}, "webhook_url"),
        ({"thresholds": [1], "webhook_url": "https://" + "a" * 2050, "webhook_secret": SECRET}, "webhook_url"),
        ({"thresholds": [1], "webhook_url": 5, "webhook_secret": SECRET}, "webhook_url"),
        ({"thresholds": [1], "webhook_url": "not a url", "webhook_secret": SECRET}, "webhook_url"),
    ],
)
def test_bad_alert_bodies_are_400_and_change_nothing(client, body, field):
    response = put_alerts(client, **body)
    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert error["code"] == "invalid_request" and field in str(error["details"])
    assert SECRET not in response.content.decode()
    assert Account.objects.get(tenant_id=TENANT).alerts is None and not AlertSettings.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://127.1/hook",  # another spelling of loopback
        "https://localhost/hook",  # a name that resolves to 127.0.0.1
        "https://10.1.2.3/hook",
        "https://172.16.0.1/hook",
        "https://192.168.1.10/hook",
        "https://169.254.169.254/latest/meta-data",  # link-local: cloud metadata
        "https://100.64.0.1/hook",  # shared address space
        "https://0.0.0.0/hook",
        "https://[::1]/hook",
        "https://[fe80::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://[fd00::1]/hook",
        "https://224.0.0.1/hook",
        "http://93.184.215.14/hook",  # public, but not https
        "ftp://93.184.215.14/hook",
        "https://user:password@93.184.215.14/hook",
        "https://no-such-host.invalid/hook",
        "https:///hook",
    ],
)
def test_webhook_urls_that_could_reach_our_own_network_are_refused(client, url):
    response = put_alerts(client, thresholds=[1], webhook_url=url, webhook_secret=SECRET)
    assert response.status_code == 400, response.json()
    assert response.json()["error"]["details"] == {"field": "webhook_url"}
    assert "password" not in response.content.decode()


def test_allow_private_lifts_both_rules(client, settings):
    settings.SHIELDX_WEBHOOK_ALLOW_PRIVATE = True
    for url in ("http://127.0.0.1:9/hook", "https://localhost/hook", "http://10.0.0.5/hook", "http://[::1]:8080/hook"):
        response = put_alerts(client, thresholds=[1], webhook_url=url, webhook_secret=SECRET)
        assert response.status_code == 200, (url, response.json())
    # Still a URL, still no credentials in it.
    assert put_alerts(client, thresholds=[1], webhook_url="ftp://127.0.0.1/x", webhook_secret=SECRET).status_code == 400
    assert put_alerts(client, thresholds=[1], webhook_url="http://u:p@127.0.0.1/x", webhook_secret=SECRET).status_code == 400


@pytest.mark.parametrize(
    "query", [{"after": ""}, {"after": "bm9wZQ"}, {"after": "evt_nope"}, {"limit": 0}, {"limit": 501}, {"limit": "x"}, {"after": "a\x00b"}]
)
def test_bad_event_queries_are_400_naming_the_parameter(client, query):
    response = client.get(f"/credits/events/{TENANT}", query)
    assert response.status_code == 400, response.json()
    assert response.json()["error"]["details"]["field"] == next(iter(query))
