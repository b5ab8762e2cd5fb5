"""Webhook delivery against a real HTTP receiver on 127.0.0.1 (CONTRACT §3a): signed as
the README's snippet verifies, retried with backoff, never twice after a 2xx (also with
two workers racing), swept up when its queueing was lost, failed after 24 h, checked
against SSRF again at delivery, and the secret shown nowhere. Threshold crossings under
concurrent consumes in real threads. PostgreSQL only (row locks, threads)."""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.utils import timezone

from credits import alerts, outbox, services, tasks, webhooks
from credits.exceptions import EventNotRetryable
from credits.models import AlertSettings, Event

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgresql]
TENANT = "org-hooks"
SECRET = "whsec_" + "s3cr3t" * 7
README = Path(__file__).resolve().parents[2] / "README.md"


class Receiver:
    """Records each POST; answers with the queued statuses (then 200), after ``delay``."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes, str]] = []
        self.statuses: list[int] = []
        self.delay = 0.0
        self.lock = threading.Lock()
        self.url = ""


@pytest.fixture
def receiver():
    rec = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with rec.lock:
                rec.requests.append((dict(self.headers), body, self.path))
                status = rec.statuses.pop(0) if rec.statuses else 200
            time.sleep(rec.delay)
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", f"{rec.url}/moved")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    rec.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield rec
    server.shutdown()
    server.server_close()


@pytest.fixture
def hooked(make_tenant, make_client, receiver, settings):
    """A tenant with 1,000 credits, a threshold of 500 and the receiver as its webhook."""
    settings.SHIELDX_WEBHOOK_ALLOW_PRIVATE = True
    client = make_client(make_tenant(TENANT, credits=1000))
    response = client.put(
        f"/credits/alerts/{TENANT}", {"thresholds": [500], "webhook_url": f"{receiver.url}/hook", "webhook_secret": SECRET}, format="json"
    )
    assert response.status_code == 200, response.json()
    return client


@pytest.fixture
def unqueued(monkeypatch):
    """The after-commit queueing is lost (a crash right after commit, the broker down)."""
    monkeypatch.setattr(outbox, "_queue", lambda event_ids: None)


def cross(client) -> str:
    """Consume 600 of 1,000: crosses 500; the crossing event's id."""
    assert client.post("/credits/consume", {"tenant_id": TENANT, "amount": 600}, format="json").status_code == 200
    return Event.objects.get(account_id=TENANT, type=alerts.THRESHOLD_CROSSED).public_id


def readme_verify():
    """The receiver snippet as the README shows it."""
    block = re.search(r"<!-- webhook-receiver -->\s*```python\n(.*?)```", README.read_text(), re.S)
    namespace: dict = {}
    exec(compile(block.group(1), "README.md", "exec"), namespace)  # noqa: S102 - our own documentation
    return namespace["verify"]


def test_the_readme_snippet_verifies_a_real_delivery_and_refuses_forgeries(hooked, receiver):
    event_id = cross(hooked)
    ((headers, body, path),) = receiver.requests  # delivered after commit, once
    verify = readme_verify()
    signature = headers["ShieldX-Signature"]
    assert path == "/hook" and verify(SECRET, signature, body)
    sent = json.loads(body)
    assert sent["event_id"] == event_id and sent["tenant_id"] == TENANT and sent["type"] == "balance.threshold_crossed"
    assert sent["data"]["threshold"] == 500 and set(sent) == {"event_id", "type", "created_at", "tenant_id", "data"}
    assert not verify(SECRET, signature, body.replace(b"500", b"501"))  # tampered body
    assert not verify("whsec_" + "x" * 40, signature, body)  # another secret
    old = int(time.time()) - 3600  # a correct signature, but an hour old: a replay
    assert not verify(SECRET, alerts.signature(SECRET, old, body), body)
    assert verify(SECRET, alerts.signature(SECRET, int(time.time()), body), body)
    event = Event.objects.get(public_id=event_id)
    assert (event.delivery_status, event.attempts, event.last_status) == ("delivered", 1, 200)
    page = hooked.get(f"/credits/events/{TENANT}").json()["results"]
    assert page[0]["delivery"] == {"status": "delivered", "attempts": 1}


def test_a_500_is_retried_with_growing_jittered_backoff_then_delivered_once(hooked, receiver):
    receiver.statuses = [500, 503, 502]
    event_id = cross(hooked)
    delays = []
    for attempt in (1, 2, 3):
        event = Event.objects.get(public_id=event_id)
        assert (event.delivery_status, event.attempts, event.last_status) == ("pending", attempt, [500, 503, 502][attempt - 1])
        delay = (event.next_attempt_at - event.last_attempt_at).total_seconds()
        base = alerts.BACKOFF_FIRST_SECONDS * 2 ** (attempt - 1)
        assert base / 2 <= delay <= base, (attempt, delay)
        delays.append(delay)
        # Not due yet: neither a direct attempt nor the sweep touches it.
        assert outbox.deliver(event_id=event_id, now=event.last_attempt_at) is None
        assert outbox.due(now=event.last_attempt_at) == []
        assert outbox.deliver(event_id=event_id, now=event.next_attempt_at) in ("pending", "delivered")
    assert delays == sorted(delays)
    event = Event.objects.get(public_id=event_id)
    assert (event.delivery_status, event.attempts, event.last_status) == ("delivered", 4, 200)
    assert [json.loads(body)["event_id"] for _, body, _ in receiver.requests] == [event_id] * 4
    # Delivered: later sweeps, direct attempts and a retry never POST it again.
    far = timezone.now() + timedelta(days=3)
    assert outbox.deliver(event_id=event_id, now=far) is None and outbox.due(now=far) == []
    with pytest.raises(EventNotRetryable):
        outbox.retry_now(event_id=event_id, actor="test")
    assert tasks.deliver_due_events.delay().get() == 0
    assert len(receiver.requests) == 4


def test_two_workers_given_the_same_event_post_it_once(hooked, receiver, unqueued, in_threads):
    event_id = cross(hooked)
    assert receiver.requests == []
    receiver.delay = 0.5  # the first worker is still waiting for the answer when the second looks
    outcomes = in_threads(4, lambda i: outbox.deliver(event_id=event_id))
    assert (outcomes.count("delivered"), outcomes.count(None)) == (1, 3), outcomes
    assert len(receiver.requests) == 1
    assert Event.objects.get(public_id=event_id).attempts == 1


def test_an_event_whose_queueing_was_lost_is_delivered_by_the_sweep(hooked, receiver, unqueued):
    event_id = cross(hooked)
    assert receiver.requests == [] and Event.objects.get(public_id=event_id).delivery_status == "pending"
    assert tasks.deliver_due_events.delay().get() == 1
    assert [json.loads(body)["event_id"] for _, body, _ in receiver.requests] == [event_id]
    assert Event.objects.get(public_id=event_id).delivery_status == "delivered"
    assert tasks.deliver_due_events.delay().get() == 0


def test_after_24_hours_of_failures_an_event_is_failed_and_retry_now_gives_it_one_more_attempt(hooked, receiver, admin_client):
    receiver.statuses = [500] * 100
    event_id = cross(hooked)
    event = Event.objects.get(public_id=event_id)
    deadline = event.created_at + alerts.RETRY_FOR
    moment = event.next_attempt_at
    while Event.objects.get(public_id=event_id).delivery_status == "pending":
        assert outbox.deliver(event_id=event_id, now=moment) is not None
        event = Event.objects.get(public_id=event_id)
        assert event.next_attempt_at is None or event.next_attempt_at <= deadline
        moment = event.next_attempt_at or moment
    assert event.delivery_status == "failed" and event.last_attempt_at == deadline
    assert 20 < event.attempts < 60  # doubling, then capped at an hour, over a day
    assert hooked.get(f"/credits/events/{TENANT}").json()["results"][0]["delivery"] == {"status": "failed", "attempts": event.attempts}
    assert outbox.due(now=deadline + timedelta(days=1)) == []
    # The operator retries it from the admin: through the service, one attempt, now answered.
    receiver.statuses = []
    sent = len(receiver.requests)
    response = admin_client.post("/admin/credits/event/", {"action": "retry_delivery_now", "_selected_action": [event.pk]})
    assert response.status_code == 302
    assert len(receiver.requests) == sent + 1
    assert Event.objects.get(public_id=event_id).delivery_status == "delivered"
    page = admin_client.get("/admin/credits/event/").content.decode()
    assert event_id in page and "delivered" in page


def test_a_timeout_a_redirect_and_a_refused_connection_are_failed_attempts(hooked, receiver, monkeypatch):
    monkeypatch.setattr(webhooks, "READ_TIMEOUT", 0.3)
    receiver.delay = 1.0
    started = time.monotonic()
    assert webhooks.post(f"{receiver.url}/slow", b"{}", {}, allow_private=True) == webhooks.Outcome(None, "timeout")
    assert time.monotonic() - started < 1.0
    # A receiver that trickles: the whole attempt is bounded too.
    monkeypatch.setattr(webhooks, "READ_TIMEOUT", 5.0)
    monkeypatch.setattr(webhooks, "TOTAL_TIMEOUT", 0.4)
    started = time.monotonic()
    assert webhooks.post(f"{receiver.url}/slow", b"{}", {}, allow_private=True) == webhooks.Outcome(None, "timeout")
    assert time.monotonic() - started < 0.9
    receiver.delay = 0.0
    receiver.statuses = [302]
    before = len(receiver.requests)
    outcome = webhooks.post(f"{receiver.url}/moving", b"{}", {}, allow_private=True)
    assert outcome == webhooks.Outcome(302) and not outcome.delivered
    assert [path for _, _, path in receiver.requests[before:]] == ["/moving"]  # the redirect was not followed
    closed = receiver.url.rsplit(":", 1)[0] + ":9"  # nothing listens on the discard port
    assert webhooks.post(f"{closed}/x", b"{}", {}, allow_private=True) == webhooks.Outcome(None, "connection_error")


def test_the_address_is_checked_again_at_delivery_and_the_post_goes_to_the_checked_one(hooked, receiver, unqueued, settings):
    port = int(receiver.url.rsplit(":", 1)[1])
    # DNS rebinding: the name resolved to a public address when it was set, now to loopback.
    answers = iter([["93.184.215.14"], ["127.0.0.1"]])
    target = webhooks.check("https://hooks.example.test/x", allow_private=False, resolver=lambda host, p: next(answers))
    assert target.addresses == ("93.184.215.14",)
    assert webhooks.post("https://hooks.example.test/x", b"{}", {}, allow_private=False, resolver=lambda host, p: next(answers)) == (
        webhooks.Outcome(None, "address_refused")
    )
    # The connection goes to the address that was checked, with the URL's name as Host.
    outcome = webhooks.post(
        f"http://hooks.example.test:{port}/pinned", b"{}", {}, allow_private=True, resolver=lambda host, p: ["127.0.0.1"]
    )
    assert outcome.delivered and receiver.requests[-1][0]["Host"] == f"hooks.example.test:{port}"
    # End to end: a URL accepted while private addresses were allowed is refused at
    # delivery once they are not, and nothing is sent.
    sent = len(receiver.requests)
    event_id = cross(hooked)
    settings.SHIELDX_WEBHOOK_ALLOW_PRIVATE = False
    assert outbox.deliver(event_id=event_id) == "pending"
    event = Event.objects.get(public_id=event_id)
    assert (event.attempts, event.last_status, event.last_error) == (1, None, "address_refused")
    assert len(receiver.requests) == sent


def test_a_removed_webhook_leaves_pending_events_undelivered_as_none(hooked, receiver, unqueued):
    event_id = cross(hooked)
    assert hooked.put(f"/credits/alerts/{TENANT}", {"thresholds": [500]}, format="json").status_code == 200
    assert outbox.deliver(event_id=event_id) == "none"
    assert receiver.requests == []


def test_the_secret_is_in_no_answer_log_or_admin_page(hooked, receiver, admin_client, captured_logs):
    event_id = cross(hooked)
    answers = [
        hooked.put(
            f"/credits/alerts/{TENANT}",
            {"thresholds": [500], "webhook_url": f"{receiver.url}/hook", "webhook_secret": SECRET},
            format="json",
        ),
        hooked.get(f"/credits/alerts/{TENANT}"),
        hooked.get(f"/credits/events/{TENANT}"),
        admin_client.get(f"/admin/credits/account/{TENANT}/change/"),
        admin_client.get("/admin/credits/event/"),
        admin_client.get(f"/admin/credits/event/{Event.objects.get(public_id=event_id).pk}/change/"),
    ]
    assert all(response.status_code == 200 for response in answers)
    account_page = answers[3].content.decode()
    assert f"{receiver.url}/hook" in account_page and "secret set" in account_page and "thresholds: 500" in account_page
    ciphertext = AlertSettings.objects.get(account_id=TENANT).webhook_secret_sealed  # not shown either
    for text in [response.content.decode() for response in answers] + [captured_logs.getvalue()]:
        assert SECRET not in text and ciphertext not in text
    assert admin_client.get("/admin/credits/alertsettings/").status_code == 404  # not registered at all
    assert len(receiver.requests) == 1 and SECRET.encode() not in receiver.requests[0][1]


def test_concurrent_consumes_cross_each_threshold_exactly_once_and_rearm_after_a_top_up(make_tenant, make_client, in_threads):
    make_tenant(TENANT, credits=1000)
    services.alerts_set(tenant_id=TENANT, thresholds=[500, 250], actor="test")

    def round_of_consumes() -> None:
        # 20 consumes of 45 in real threads: 1000 -> 100, past 500 and 250.
        outcomes = in_threads(20, lambda i: services.consume(tenant_id=TENANT, amount=45, actor="test"))
        assert not [o for o in outcomes if isinstance(o, Exception)], outcomes

    round_of_consumes()
    crossings = Event.objects.filter(account_id=TENANT, type=alerts.THRESHOLD_CROSSED).order_by("id")
    assert sorted(e.data["threshold"] for e in crossings) == [250, 500]
    assert all(e.data["previous_available"] >= e.data["threshold"] > e.data["available"] for e in crossings)
    services.purchase(tenant_id=TENANT, amount=900, actor="test")  # back to 1000: both re-armed
    round_of_consumes()
    assert sorted(e.data["threshold"] for e in crossings.all()) == [250, 250, 500, 500]
    assert all(e.delivery_status == "none" for e in crossings.all())
