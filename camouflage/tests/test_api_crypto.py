"""POST /camouflage/encrypt, /decrypt and /rewrap: round trips, tenants, failures, batches."""

from __future__ import annotations

import base64
import re

import pytest

from camouflage.tests.conftest import KEY_1, KEY_2, KEY_3, post

pytestmark = pytest.mark.django_db
CARD = "4111 1111 1111 1111"


def encrypt(client, plaintext: str, **extra) -> dict:
    response = post(client, "encrypt", {"plaintext": plaintext, **extra})
    assert response.status_code == 200, response.content
    return response.json()


def decrypt(client, ciphertext: str, **extra):
    return post(client, "decrypt", {"ciphertext": ciphertext, **extra})


def without_request_id(response) -> dict:
    body = response.json()
    return {"error": {k: v for k, v in body["error"].items() if k != "request_id"}}


# --- round trips ---------------------------------------------------------------------------


def test_single_round_trip_with_and_without_context(client_for, keyring_v1):
    sealed = encrypt(client_for, CARD, context="card")

    assert re.fullmatch(r"sx:v1:[A-Za-z0-9_-]+", sealed["ciphertext"]) and sealed["key_version"] == 1
    assert decrypt(client_for, sealed["ciphertext"], context="card").json() == {"plaintext": CARD}
    assert decrypt(client_for, encrypt(client_for, "x")["ciphertext"]).json() == {"plaintext": "x"}


def test_batch_round_trip_keeps_order(client_for):
    plaintexts = [f"value {i} é 🙂" for i in range(50)]

    sealed = post(client_for, "encrypt", {"items": [{"plaintext": p, "context": f"c{i % 3}"} for i, p in enumerate(plaintexts)]}).json()
    opened = post(
        client_for, "decrypt", {"items": [{"ciphertext": s["ciphertext"], "context": f"c{i % 3}"} for i, s in enumerate(sealed["items"])]}
    ).json()

    assert [item["plaintext"] for item in opened["items"]] == plaintexts
    assert len({item["ciphertext"] for item in sealed["items"]}) == 50


def test_the_same_plaintext_encrypts_differently_each_time(client_for):
    assert encrypt(client_for, "same")["ciphertext"] != encrypt(client_for, "same")["ciphertext"]


def test_a_batch_of_a_thousand_is_accepted(client_for):
    response = post(client_for, "encrypt", {"items": [{"plaintext": str(i)} for i in range(1000)]})

    assert response.status_code == 200 and len(response.json()["items"]) == 1000


def test_plaintext_with_nul_and_whitespace_round_trips_exactly(client_for):
    text = "  a\x00b\n  "

    assert decrypt(client_for, encrypt(client_for, text)["ciphertext"]).json()["plaintext"] == text


# --- decryption failures: one answer whatever the cause ------------------------------------


def _tamper(ciphertext: str) -> str:
    head, body = ciphertext.rsplit(":", 1)
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw[15] ^= 0x01
    return f"{head}:{base64.urlsafe_b64encode(bytes(raw)).decode().rstrip('=')}"


def test_every_decryption_failure_is_the_same_400(client_for, other_client, use_keyring):
    use_keyring(f"1:{KEY_1}")
    under_v1 = encrypt(client_for, CARD, context="card")["ciphertext"]
    use_keyring(f"1:{KEY_1},2:{KEY_2},3:{KEY_3}", min_version=2)  # v1 retired, v3 encrypts
    sealed = encrypt(client_for, CARD, context="card")["ciphertext"]
    cases = {
        "tampered": _tamper(sealed),
        "truncated": sealed[:-6],
        "malformed": "not a ciphertext",
        "empty body": "sx:v3:",
        "other tenant": encrypt(other_client, CARD, context="card")["ciphertext"],
        "unknown version": sealed.replace("sx:v3:", "sx:v9:"),
        "retired version": under_v1,
        "a card number": CARD,
    }

    bodies = []
    for name, ciphertext in cases.items():
        response = decrypt(client_for, ciphertext, context="card")
        assert response.status_code == 400, name
        bodies.append(without_request_id(response))
    wrong_context = decrypt(client_for, sealed, context="other")

    assert wrong_context.status_code == 400
    assert all(body == without_request_id(wrong_context) for body in bodies)
    assert bodies[0] == {"error": {"code": "decryption_failed", "message": "Decryption failed.", "details": {}}}


def test_another_tenants_ciphertext_fails_even_under_the_same_version(client_for, other_client):
    sealed = encrypt(other_client, "secret")["ciphertext"]

    response = decrypt(client_for, sealed)

    assert response.status_code == 400 and response.json()["error"]["code"] == "decryption_failed"


def test_a_batch_answers_per_item_and_fails_whole_only_when_every_item_fails(client_for):
    good = encrypt(client_for, "ok")["ciphertext"]

    partial = post(client_for, "decrypt", {"items": [{"ciphertext": good}, {"ciphertext": _tamper(good)}, {"ciphertext": good, "context": "x"}]})
    all_bad = post(client_for, "decrypt", {"items": [{"ciphertext": _tamper(good)}, {"ciphertext": "junk"}]})

    failed = {"error": {"code": "decryption_failed", "message": "Decryption failed."}}
    assert partial.status_code == 200
    assert partial.json() == {"items": [{"plaintext": "ok"}, failed, failed]}
    assert all_bad.status_code == 400 and all_bad.json()["error"]["code"] == "decryption_failed"


# --- rotation through the API ----------------------------------------------------------------


def test_rotation_old_ciphertexts_decrypt_rewrap_moves_them_retiring_fails_the_rest(client_for, use_keyring):
    use_keyring(f"1:{KEY_1}")
    first = encrypt(client_for, "pan", context="card")["ciphertext"]
    second = encrypt(client_for, "ssn", context="card")["ciphertext"]

    use_keyring(f"1:{KEY_1},2:{KEY_2}")
    assert encrypt(client_for, "new")["key_version"] == 2
    assert decrypt(client_for, first, context="card").json() == {"plaintext": "pan"}
    rewrapped = post(client_for, "rewrap", {"ciphertext": first, "context": "card"}).json()
    assert rewrapped["key_version"] == 2 and rewrapped["ciphertext"].startswith("sx:v2:")
    batch = post(client_for, "rewrap", {"items": [{"ciphertext": second, "context": "card"}, {"ciphertext": "junk"}]}).json()
    assert batch["items"][0]["key_version"] == 2 and batch["items"][1]["error"]["code"] == "decryption_failed"

    use_keyring(f"1:{KEY_1},2:{KEY_2}", min_version=2)
    assert decrypt(client_for, rewrapped["ciphertext"], context="card").json() == {"plaintext": "pan"}
    assert decrypt(client_for, batch["items"][0]["ciphertext"], context="card").json() == {"plaintext": "ssn"}
    retired = decrypt(client_for, first, context="card")
    assert retired.status_code == 400 and retired.json()["error"]["code"] == "decryption_failed"


def test_rewrap_needs_the_right_context_and_never_returns_plaintext(client_for):
    sealed = encrypt(client_for, "pan", context="card")["ciphertext"]

    assert post(client_for, "rewrap", {"ciphertext": sealed}).status_code == 400
    body = post(client_for, "rewrap", {"ciphertext": sealed, "context": "card"}).json()
    assert set(body) == {"ciphertext", "key_version"}


# --- tenants and scopes -----------------------------------------------------------------------


def test_an_operator_must_name_the_tenant_and_then_acts_for_it(operator, client_for):
    missing = post(operator, "encrypt", {"plaintext": "x"})
    assert missing.status_code == 400
    assert missing.json()["error"]["details"] == {"field": "tenant_id"}

    sealed = post(operator, "encrypt", {"tenant_id": "org-123", "plaintext": "x"}).json()["ciphertext"]
    assert decrypt(client_for, sealed).json() == {"plaintext": "x"}
    assert post(operator, "encrypt", {"tenant_id": "org-ghost", "plaintext": "x"}).status_code == 404


def test_a_tenant_key_naming_another_tenant_gets_404(client_for, other_tenant):
    response = post(client_for, "encrypt", {"tenant_id": "org-other", "plaintext": "x"})

    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert post(client_for, "encrypt", {"tenant_id": "org-123", "plaintext": "x"}).status_code == 200


@pytest.mark.parametrize(
    ("path", "scope", "body"),
    [
        ("encrypt", "camouflage:encrypt", {"plaintext": "x"}),
        ("rewrap", "camouflage:encrypt", {"ciphertext": "junk"}),
        ("decrypt", "camouflage:decrypt", {"ciphertext": "junk"}),
        ("tokenize", "camouflage:tokenize", {"value": "x"}),
        ("detokenize", "camouflage:detokenize", {"token": "tok_x"}),
    ],
)
def test_each_route_needs_its_own_scope(make_client, tenant, path, scope, body):
    others = [s for s in ("camouflage:mask", "camouflage:encrypt", "camouflage:decrypt", "camouflage:tokenize", "camouflage:detokenize") if s != scope]
    refused = post(make_client(tenant, scopes=",".join(others)), path, body)

    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert post(make_client(tenant, scopes=scope), path, body).status_code != 403


def test_operations_are_counted_by_outcome_with_no_value_in_any_label(client_for):
    from prometheus_client import REGISTRY

    def count(op, result):
        return REGISTRY.get_sample_value("camouflage_operations_total", {"op": op, "result": result}) or 0.0

    before = count("encrypt", "success"), count("decrypt", "decryption_failed"), count("decrypt", "partial")
    sealed = encrypt(client_for, CARD)["ciphertext"]
    decrypt(client_for, "junk")
    post(client_for, "decrypt", {"items": [{"ciphertext": sealed}, {"ciphertext": "junk"}]})

    assert (count("encrypt", "success"), count("decrypt", "decryption_failed"), count("decrypt", "partial")) == tuple(n + 1 for n in before)
    metrics = client_for.get("/metrics").content.decode()
    # Names and labels only: sample values (timestamps of *_created) may hold any digits.
    names_and_labels = " ".join(line.rsplit(" ", 1)[0] for line in metrics.splitlines() if line and not line.startswith("#"))
    assert "camouflage_operations_total" in names_and_labels and "4111" not in names_and_labels
