"""The bank test's own classification of outcomes, against a server that dies mid-answer.

A gunicorn worker killed after its status line but before the end of its body is what
made the bank test report a purchase "no key accounts for": the client thread died on
``http.client.IncompleteRead`` (neither an OSError nor a ValueError), its call stayed
pending, was never settled, and its committed effect looked like a duplicate. Here the
dying worker is a socket that sends a chosen prefix of an answer and closes, so the case
happens every time instead of once in a few runs.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator

import pytest

from chaos import bank

TENANT = "chaos-0"
BODY = {"tenant_id": TENANT, "amount": 5, "idempotency_key": "chaos-k"}
STORED = {"transaction_id": "txn_stored", "tenant_id": TENANT, "type": "purchase", "amount": 5, "balance": 305}


def answer(status: str, body: dict, *, cut: bool = False, replayed: bool = False) -> bytes:
    """An HTTP answer; ``cut`` keeps the status line and headers and drops the body, as a
    worker killed between its two writes does."""
    data = json.dumps(body).encode()
    head = f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\nConnection: close\r\n"
    head += "Idempotent-Replayed: true\r\n" if replayed else ""
    return (head + "\r\n").encode() + (b"" if cut else data)


class ScriptedServer:
    """Answers the n-th request with the n-th scripted bytes, then closes the connection."""

    def __init__(self, answers: list[bytes]):
        self.answers = list(answers)
        self.requests: list[bytes] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.answers:
            conn, _ = self.sock.accept()
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, _, body = data.partition(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")), 0)
                while len(body) < length:
                    body += conn.recv(65536)
                self.requests.append(body)
                conn.sendall(self.answers.pop(0))

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def server() -> Iterator[callable]:
    made: list[ScriptedServer] = []

    def make(*answers: bytes) -> bank.Api:
        made.append(ScriptedServer(list(answers)))
        return bank.Api(made[-1].port, {TENANT: "sxk_test"}, timeout=5)

    yield make
    for s in made:
        s.close()


def test_a_success_whose_body_a_dying_worker_cut_short_is_no_answer(server):
    api = server(answer("201 Created", STORED, cut=True))
    status, body, note = api.exchange("POST", "/credits/purchase", TENANT, BODY)
    assert (status, body) == (None, None)
    assert note.startswith("201 cut short: IncompleteRead")


def test_a_refusal_cut_short_is_unknown_not_a_refusal(server):
    # Without its body a 409 cannot say whether the key was in use (unknown) or reused.
    api = server(answer("409 Conflict", {"error": {"code": "idempotency_key_in_use"}}, cut=True))
    call = bank.Call(op="purchase", tenant=TENANT, path="/credits/purchase", body=BODY)
    status, body, note = api.exchange("POST", call.path, TENANT, BODY)
    bank.record(call, status, body, bank.Ledger(), note=note)
    assert call.outcome == "unknown"


def test_a_cut_short_purchase_is_settled_by_its_key_and_counts_once(server):
    """The failing run, in order: the first answer is cut short, the client goes on, the
    settling replay gets the stored answer, and the purchase is acknowledged."""
    api = server(answer("201 Created", STORED, cut=True), answer("201 Created", STORED, replayed=True))
    ledger, stop = bank.Ledger(), threading.Event()
    stop.set()  # no back-off wait
    client = bank.Client(0, api, [TENANT], ledger, stop, seed=1)
    call = client.call("purchase", TENANT, "/credits/purchase", {"tenant_id": TENANT, "amount": 5})
    assert call.outcome == "unknown" and call.first_unknown == "201 cut short"
    assert bank.settle(api, ledger, deadline=float("inf"), threads=1) == []
    assert call.outcome == "ok" and call.answer["transaction_id"] == "txn_stored" and call.attempts == 2
    assert "replayed" in call.trail[-1]


def test_a_client_that_stops_fails_the_run_and_its_call_in_flight_is_settled(server):
    ledger = bank.Ledger()
    client = bank.Client(0, server(), [], ledger, threading.Event(), seed=1)  # no tenant to choose: it stops at once
    client.run()
    assert len(ledger.stopped_clients) == 1 and "client-0 stopped: IndexError" in ledger.stopped_clients[0]

    api = server(answer("201 Created", STORED, replayed=True))
    left = bank.Call(op="purchase", tenant=TENANT, path="/credits/purchase", body=BODY)  # outcome "pending"
    ledger.add(left)
    assert bank.settle(api, ledger, deadline=float("inf"), threads=1) == []
    assert left.outcome == "ok" and left.first_unknown == "its client stopped"


def test_a_violation_names_the_calls_that_may_explain_it_with_every_attempt(server):
    api = server(
        answer("503 Service Unavailable", {"error": {"code": "service_unavailable"}}), answer("409 Conflict", {"error": {"code": "x"}})
    )
    ledger = bank.Ledger()
    call = bank.Call(op="purchase", tenant=TENANT, path="/credits/purchase", body=BODY)
    for _ in range(2):
        status, body, note = api.exchange("POST", call.path, TENANT, BODY)
        bank.record(call, status, body, ledger, note=note)
    told = bank._suspects([call], "purchase", 5)
    assert "chaos-k" in told and "-> refused" in told
    assert " 503 service_unavailable" in told and " 409 x" in told
    assert bank._suspects([call], "purchase", 6) == " (no unacknowledged call of that kind)"
