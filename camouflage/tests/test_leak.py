"""THE leak test: card numbers, SSNs and emails sent through every route of the project
(found from the URL configuration, so routes added later are covered), in valid and
invalid requests and forced exceptions. No log line the process writes and no response
body may hold one, in any grouping, raw or URL-encoded.

Bodies whose purpose is to hand back what the caller stored are exempt: decrypt and
detokenize. Credits stores free text masked, so its answers are checked like any other.
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote, unquote_plus

import pytest
from django.apps import apps
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from camouflage.tests.conftest import client_with

pytestmark = pytest.mark.django_db

CARDS = [
    "4111111111111111",
    "4111 1111 1111 1111",
    "5555-5555-5555-4444",
    "2221 0000 0000 0009",  # Mastercard 2-series
    "3782 822463 10005",  # Amex
    "4532-1234-5678-9010",  # the seed's card, fails Luhn: the log filter masks it all the same
    "4111.1111.1111.1111",  # CONTRACT §5a: dots between groups
]
LUHN_CARDS = [card for card in CARDS if card != "4532-1234-5678-9010"]
SSNS = ["123-45-6789", "078-05-1120", "219-09-9999", "219 09 9998"]
# CONTRACT §5a forms that are PII only after their word: sent only with it.
MAESTRO = "630427373398"
BARE_SSN = "219099997"
WORDED = f"card {MAESTRO} and cc {MAESTRO[:4]} {MAESTRO[4:8]} {MAESTRO[8:]}, ssn {BARE_SSN}"
EMAILS = ["leaky.person@example.org", "Jane.Roe+cards@mail.example.com"]
PII = CARDS + SSNS + EMAILS
TEXT = f"card {CARDS[1]} ssn {SSNS[0]} mail {EMAILS[0]} amex {CARDS[4]} mc {CARDS[3]} dots {CARDS[6]} spaced {SSNS[3]} {WORDED}"
# Free text masks only cards that pass Luhn (CONTRACT §5), so the seed's card goes where
# only logs and error bodies could carry it; both mask every card-shaped run.
LOG_TEXT = f"{TEXT} seed {CARDS[5]}"


def _digits_pattern(number: str) -> re.Pattern[str]:
    """The digits of `number` in any grouping: any run of spaces, dashes, dots or `+` between them."""
    digits = re.sub(r"\D", "", number)
    return re.compile(r"[ .+\-]*".join(digits))


DIGIT_PATTERNS = {number: _digits_pattern(number) for number in CARDS + SSNS + [MAESTRO, BARE_SSN]}
EMAIL_PARTS = [part for email in EMAILS for part in (email.lower(), email.split("@")[0].lower())]


def leaks(text: str, *, numbers=tuple(CARDS + SSNS + [MAESTRO, BARE_SSN])) -> list[str]:
    found = []
    for candidate in {text, unquote_plus(text), unquote_plus(unquote_plus(text))}:
        found += [number for number in numbers if DIGIT_PATTERNS[number].search(candidate)]
        lowered = candidate.lower()
        found += [part for part in EMAIL_PARTS if part in lowered]
    return sorted(set(found))


def routes() -> list[str]:
    """Every API and operations route, with `<conv:name>` still in it (admin aside)."""

    def walk(patterns, prefix: str = ""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                if str(pattern.pattern).startswith(("admin", "^admin")):
                    continue
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                yield prefix + str(pattern.pattern)

    return sorted(set(walk(get_resolver().url_patterns)))


PARAM = re.compile(r"<(?:\w+:)?(\w+)>")


def concrete_paths(route: str) -> list[str]:
    """The route with valid-looking parameters, and with each PII kind in them."""
    if not PARAM.search(route):
        return [f"/{route}"]
    fill = {"tenant_id": "org-123"}
    paths = ["/" + PARAM.sub(lambda m: fill.get(m.group(1), "x_1"), route)]
    for value in (CARDS[0], CARDS[1], SSNS[0], EMAILS[0]):
        paths.append("/" + PARAM.sub(value, route))
    return paths


# Every field name the project's bodies use, each holding PII of the kind it could carry.
KITCHEN_SINK = {
    "tenant_id": CARDS[0],
    "amount": CARDS[0],
    "description": LOG_TEXT,
    "metadata": {"card": CARDS[1], "ssn": SSNS[0], "email": EMAILS[0], CARDS[6]: SSNS[3], "pan": MAESTRO, "ssn_bare": BARE_SSN},
    "external_ref": CARDS[2],
    "idempotency_key": SSNS[1],
    "transaction_id": CARDS[3],
    "name": EMAILS[1],
    "text": 4111111111111111,
    "fields": {"card": 4111111111111111},
    "number": ["4111 1111 1111 1111"],
    "plaintext": {"v": SSNS[0]},
    "ciphertext": CARDS[1],
    "context": 5,
    "value": None,
    "type": CARDS[1],
    "token": CARDS[0],
    "items": [{"plaintext": CARDS[0], "x": EMAILS[0]}],
    "rule_config": {"pattern": CARDS[0]},
    "samples": [{"body": LOG_TEXT}],
    CARDS[1]: SSNS[0],
    EMAILS[0]: CARDS[0],
}


class Recorder:
    """Sends requests and keeps every response body that must be free of PII."""

    def __init__(self):
        self.checked: list[tuple[str, str]] = []

    def send(self, client: APIClient, method: str, path: str, body=None, *, check: bool = True, **extra):
        kwargs = {"format": "json"} if body is not None else {}
        response = getattr(client, method)(path, body, **kwargs, **extra) if body is not None else getattr(client, method)(path, **extra)
        content = b"".join(response.streaming_content) if response.streaming else response.content
        if check:
            self.checked.append((f"{method.upper()} {path} -> {response.status_code}", content.decode("utf-8", "replace")))
        return response


@pytest.fixture
def recorder():
    return Recorder()


def _every_route_with_pii(recorder: Recorder, authed: APIClient) -> int:
    anonymous, bad_key = APIClient(), client_with(f"sxk_{CARDS[0]}_{SSNS[0]}")
    sent = 0
    for route in routes():
        for path in concrete_paths(route):
            for client in (authed, anonymous, bad_key):
                recorder.send(
                    client, "get", path, None,
                    QUERY_STRING=f"q={CARDS[1]}&ssn={SSNS[0]}&email={EMAILS[0]}&at={CARDS[0]}&card={quote(quote(CARDS[1]))}&pan={MAESTRO}",
                )
                recorder.send(client, "post", f"{path}?card={CARDS[3].replace(' ', '%20')}", KITCHEN_SINK, HTTP_X_REQUEST_ID=CARDS[0])
                sent += 2
            recorder.send(authed, "put", path, {"card": CARDS[0]})
            recorder.send(authed, "delete", path)
            sent += 2
    for path in (f"/nowhere/{CARDS[0]}", f"/nowhere/{CARDS[1]}/{SSNS[0]}", f"/{EMAILS[0]}", f"/credits/{CARDS[2]}"):
        recorder.send(authed, "get", path, None, QUERY_STRING=f"pan={CARDS[4]}")
        recorder.send(authed, "post", path, KITCHEN_SINK)
        sent += 2
    for path in (f"/admin/{CARDS[0]}", "/admin/camouflage/token/?q=" + CARDS[0]):
        recorder.send(APIClient(), "get", path)
    return sent


def _valid_requests_with_pii(recorder: Recorder, authed: APIClient) -> None:
    send = recorder.send
    send(authed, "post", "/camouflage/mask", {"text": TEXT})
    send(authed, "post", "/camouflage/mask", {"fields": {"card": CARDS[5], "ssn": SSNS[0], "email": EMAILS[1], "note": TEXT}})
    for number in CARDS + SSNS + EMAILS:
        send(authed, "post", "/camouflage/cards/validate", {"number": number})
    sealed = send(authed, "post", "/camouflage/encrypt", {"plaintext": TEXT, "context": f"ctx {CARDS[0]}"}).json()["ciphertext"]
    batch = send(authed, "post", "/camouflage/encrypt", {"items": [{"plaintext": value} for value in PII]}).json()["items"]
    send(authed, "post", "/camouflage/decrypt", {"ciphertext": sealed, "context": f"ctx {CARDS[0]}"}, check=False)  # returns it by design
    send(authed, "post", "/camouflage/decrypt", {"ciphertext": sealed, "context": CARDS[1]})  # wrong context: 400
    send(authed, "post", "/camouflage/decrypt", {"items": [{"ciphertext": batch[0]["ciphertext"], "context": SSNS[0]}] * 2})
    send(authed, "post", "/camouflage/rewrap", {"items": [{"ciphertext": item["ciphertext"]} for item in batch] + [{"ciphertext": CARDS[0]}]})
    tokens = []
    for number in [card for card in LUHN_CARDS if "." not in card]:  # tokenize takes spaces and dashes only
        tokens.append(send(authed, "post", "/camouflage/tokenize", {"value": number, "type": "card"}).json()["token"])
    tokens.append(send(authed, "post", "/camouflage/tokenize", {"value": SSNS[0], "type": "ssn"}).json()["token"])
    send(authed, "post", "/camouflage/tokenize", {"items": [{"value": value} for value in PII]})
    send(authed, "post", "/camouflage/tokenize", {"value": EMAILS[0], "type": "card"})  # not a card: 400
    for token in tokens:
        send(authed, "post", "/camouflage/detokenize", {"token": token}, check=False)  # returns it by design
    # Credits: valid writes carrying PII in free text; it is stored and answered masked.
    send(authed, "post", "/credits/consume", {"tenant_id": "org-123", "amount": 1, "description": LOG_TEXT, "metadata": {"email": EMAILS[0]}})
    metadata = {CARDS[1]: EMAILS[0], CARDS[6]: "dots", f"ssn {SSNS[3]}": "key", "pan": MAESTRO, "ssn": BARE_SSN, "note": WORDED}
    send(authed, "post", "/credits/consume", {"tenant_id": "org-123", "amount": 1, "description": WORDED, "metadata": metadata})
    send(authed, "post", "/credits/purchase", {"tenant_id": "org-123", "amount": 5, "description": WORDED, "metadata": metadata})
    send(authed, "post", "/credits/purchase", {"tenant_id": "org-123", "amount": 5, "external_ref": CARDS[1]})
    send(authed, "post", "/credits/reserve", {"tenant_id": "org-123", "amount": 2, "description": SSNS[0]})
    send(authed, "post", "/credits/consume", {"tenant_id": "org-123", "amount": 10**9, "description": LOG_TEXT})  # 402
    send(authed, "post", "/credits/consume", {"tenant_id": "org-123", "amount": 1, "idempotency_key": CARDS[0]}, check=False)
    send(authed, "post", "/credits/consume", {"tenant_id": "org-123", "amount": 2, "idempotency_key": CARDS[0]})  # 422


def _forced_exceptions(recorder: Recorder, authed: APIClient, monkeypatch) -> None:
    def explode(*args, **kwargs):
        raise RuntimeError(f"boom for {CARDS[1]} / {SSNS[0]} / {EMAILS[0]} / {CARDS[5]}")

    for target in ("camouflage.services.encrypt", "camouflage.services.tokenize", "camouflage.services.mask_text",
                   "camouflage.selectors.detokenize", "credits.services.consume", "credits.selectors.balance_cached"):
        monkeypatch.setattr(target, explode)
    send = recorder.send
    assert send(authed, "post", "/camouflage/encrypt", {"plaintext": CARDS[0]}).status_code == 500
    assert send(authed, "post", "/camouflage/tokenize", {"value": CARDS[0]}).status_code == 500
    assert send(authed, "post", "/camouflage/mask", {"text": TEXT}).status_code == 500
    assert send(authed, "post", "/camouflage/detokenize", {"token": "tok_x"}).status_code == 500
    assert send(authed, "post", "/credits/consume", {"tenant_id": "org-123", "amount": 1, "description": LOG_TEXT}).status_code == 500
    assert send(authed, "get", "/credits/balance/org-123").status_code == 500


def test_no_route_logs_or_answers_a_card_number_ssn_or_email(client_for, operator, recorder, captured_logs, monkeypatch):
    sent = _every_route_with_pii(recorder, client_for)
    _every_route_with_pii(recorder, operator)
    _valid_requests_with_pii(recorder, client_for)
    _forced_exceptions(recorder, client_for, monkeypatch)
    recorder.send(APIClient(), "get", "/metrics")  # no PII in any metric label either

    assert sent > 100 and len(recorder.checked) > 2 * sent
    leaked_bodies = [(what, found) for what, body in recorder.checked if (found := leaks(body))]
    assert leaked_bodies == []
    log = captured_logs.getvalue()
    assert "unhandled error in" in log and "boom for" in log and "Not Found" in log  # the logs were captured
    leaked_lines = [line[:300] for line in log.splitlines() if leaks(line)]
    assert leaked_lines == []
    assert stored_rows_with_pii() == []


# Tables whose rows hold a value on purpose, only encrypted (and keyed hashes of it).
VAULT_TABLES = {"camouflage_token"}


def stored_rows_with_pii() -> list[tuple[str, list[str]]]:
    """Every row of every table, as JSON, scanned like a log line."""
    found = []
    for model in apps.get_models():
        if model._meta.db_table in VAULT_TABLES:
            continue
        for row in model.objects.all().values():
            if leaked := leaks(json.dumps(row, default=str, ensure_ascii=False)):
                found.append((model._meta.db_table, leaked))
    return found


def test_the_leak_check_itself_finds_pii_in_any_grouping():
    assert leaks("x 4111-1111-1111-1111 y") == ["4111 1111 1111 1111", "4111.1111.1111.1111", "4111111111111111"]
    assert leaks("q=4111%25201111%25201111%25201111") != []  # twice encoded
    assert leaks(f"card {MAESTRO[:6]} {MAESTRO[6:]}") == [MAESTRO]
    assert leaks("card=4111%201111%201111%201111") != []
    assert leaks("s 123 45 6789") == ["123-45-6789"]
    assert leaks("to LEAKY.person@example.org") == ["leaky.person", "leaky.person@example.org"]
    assert leaks("**** **** **** 1111 ***-**-**** le***@example.org") == []


def test_credits_answers_do_not_echo_pii_from_free_text_fields(client_for):
    response = client_for.post("/credits/consume", {"tenant_id": "org-123", "amount": 1, "description": TEXT}, format="json")

    assert response.status_code == 200
    assert leaks(response.content.decode()) == []
