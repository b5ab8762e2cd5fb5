"""POST /camouflage/tokenize and /detokenize, the stored rows, the race, the admin."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model

from camouflage.models import Token
from camouflage.tests.conftest import client_with, post

CARD = "4111 1111 1111 1111"
SSN = "123-45-6789"


def tokenize(client, value: str, **extra) -> dict:
    response = post(client, "tokenize", {"value": value, **extra})
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.django_db
def test_a_card_token_carries_last4_and_brand_only(client_for):
    body = tokenize(client_for, CARD, type="card")

    assert set(body) == {"token", "last4", "brand"}
    assert re.fullmatch(r"tok_[A-Za-z0-9_-]{24}", body["token"])
    assert (body["last4"], body["brand"]) == ("1111", "visa")
    assert set(tokenize(client_for, SSN, type="ssn")) == {"token"}
    assert set(tokenize(client_for, "jane@example.com")) == {"token"}


@pytest.mark.django_db
def test_tokenize_is_deterministic_per_tenant_and_differs_across_tenants(client_for, other_client):
    first = tokenize(client_for, CARD, type="card")["token"]

    assert tokenize(client_for, CARD, type="card")["token"] == first
    assert tokenize(client_for, "4111-1111-1111-1111", type="card")["token"] == first  # same digits
    assert tokenize(other_client, CARD, type="card")["token"] != first
    assert tokenize(client_for, CARD)["token"] != first  # generic: another type, another token
    assert Token.objects.filter(tenant_id="org-123").count() == 2


@pytest.mark.django_db
def test_detokenize_returns_the_value_cards_and_ssns_as_digits(client_for):
    card = tokenize(client_for, CARD, type="card")["token"]
    ssn = tokenize(client_for, SSN, type="ssn")["token"]
    text = tokenize(client_for, "  Jane Doe\x00 ")["token"]

    assert post(client_for, "detokenize", {"token": card}).json() == {"value": "4111111111111111", "type": "card"}
    assert post(client_for, "detokenize", {"token": ssn}).json() == {"value": "123456789", "type": "ssn"}
    assert post(client_for, "detokenize", {"token": text}).json() == {"value": "  Jane Doe\x00 ", "type": "generic"}


@pytest.mark.django_db
def test_another_tenants_token_and_an_unknown_token_are_the_same_404(client_for, other_client):
    theirs = tokenize(other_client, CARD, type="card")["token"]

    for token in (theirs, "tok_doesnotexist00000000000", "4111111111111111"):
        response = post(client_for, "detokenize", {"token": token})
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
        assert response.json()["error"]["message"] == "Token not found."


@pytest.mark.django_db
def test_an_operator_detokenizes_for_the_tenant_it_names(client_for, operator, other_tenant):
    token = tokenize(client_for, CARD, type="card")["token"]

    assert post(operator, "detokenize", {"token": token}).status_code == 400  # no tenant_id
    assert post(operator, "detokenize", {"token": token, "tenant_id": "org-other"}).status_code == 404
    assert post(operator, "detokenize", {"token": token, "tenant_id": "org-123"}).json()["value"] == "4111111111111111"


@pytest.mark.django_db
def test_a_batch_tokenizes_in_order_and_repeats_give_one_token(client_for):
    items = [{"value": CARD, "type": "card"}, {"value": SSN, "type": "ssn"}, {"value": "4111-1111-1111-1111", "type": "card"}, {"value": "x"}]

    body = post(client_for, "tokenize", {"items": items}).json()

    tokens = [item["token"] for item in body["items"]]
    assert tokens[0] == tokens[2] and len(set(tokens)) == 3
    assert body["items"][0]["last4"] == "1111" and "last4" not in body["items"][1]
    assert tokenize(client_for, SSN, type="ssn")["token"] == tokens[1]
    assert Token.objects.count() == 3


@pytest.mark.django_db
def test_a_thousand_item_batch_of_new_values(client_for):
    items = [{"value": f"customer-{i}"} for i in range(1000)]

    body = post(client_for, "tokenize", {"items": items}).json()

    assert len({item["token"] for item in body["items"]}) == 1000
    assert Token.objects.count() == 1000


@pytest.mark.django_db
def test_the_value_is_stored_only_encrypted(client_for):
    tokenize(client_for, CARD, type="card")
    tokenize(client_for, "jane.doe@example.com")

    for row in Token.objects.all():
        stored = " ".join(str(getattr(row, field.attname)) for field in Token._meta.fields)
        assert "4111111111111111" not in stored and "jane.doe" not in stored
        assert row.ciphertext.startswith("sx:v") and re.fullmatch(r"v\d+:[0-9a-f]{64}", row.fingerprint)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("value", "kind"),
    [("4111 1111 1111", "card"), ("4111 1111 1111 1111 1111", "card"), ("card 4111111111111111", "card"), ("12-345-678", "ssn"), ("123-45-67890", "ssn")],
)
def test_values_that_do_not_fit_their_type_are_400(client_for, value, kind):
    response = post(client_for, "tokenize", {"value": value, "type": kind})

    assert response.status_code == 400
    assert list(response.json()["error"]["details"]["fields"]) == ["value"]
    assert value not in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_concurrent_tokenize_of_one_value_makes_one_token(make_tenant, make_client, in_threads):
    raw_key = make_client(make_tenant("org-race")).raw_key

    def call(i):
        return client_with(raw_key).post("/camouflage/tokenize", {"value": CARD, "type": "card"}, format="json").json()["token"]

    for _ in range(3):  # a few rounds: each is a fresh race on a new value for the first request
        tokens = in_threads(12, call)
        assert len(set(tokens)) == 1, tokens
        Token.objects.all().delete()


@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_sharing_values_agree_on_every_token(make_tenant, make_client, in_threads):
    raw_key = make_client(make_tenant("org-race")).raw_key
    values = [f"value-{i}" for i in range(40)]

    def call(i):
        items = [{"value": v} for v in (values if i % 2 else list(reversed(values)))]
        body = client_with(raw_key).post("/camouflage/tokenize", {"items": items}, format="json").json()
        tokens = [item["token"] for item in body["items"]]
        return tokens if i % 2 else list(reversed(tokens))

    results = in_threads(8, call)

    assert all(result == results[0] for result in results), results
    assert Token.objects.count() == 40


@pytest.mark.django_db
def test_admin_lists_tokens_read_only_without_values(client_for, admin_client):
    token = tokenize(client_for, CARD, type="card")["token"]
    row = Token.objects.get(token=token)

    listing = admin_client.get("/admin/camouflage/token/").content.decode()
    page = admin_client.get(f"/admin/camouflage/token/{row.pk}/change/").content.decode()

    assert token in listing and "1111" in listing and "visa" in listing
    for html in (listing, page):
        assert "4111111111111111" not in html and row.ciphertext not in html and row.fingerprint not in html
    assert admin_client.get("/admin/camouflage/token/add/").status_code == 403
    assert admin_client.post(f"/admin/camouflage/token/{row.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Token.objects.filter(pk=row.pk).exists()
    assert get_user_model().objects.filter(is_superuser=True).exists()


@pytest.mark.django_db
def test_losing_the_insert_race_returns_the_winners_token(client_for, monkeypatch):
    from camouflage import services

    winner = tokenize(client_for, CARD, type="card")["token"]
    real_find = services._find_tokens
    calls = []

    def first_lookup_misses(tenant_id, candidates):
        calls.append(tenant_id)
        return {} if len(calls) == 1 else real_find(tenant_id, candidates)  # as if the winner committed just after

    monkeypatch.setattr(services, "_find_tokens", first_lookup_misses)

    assert tokenize(client_for, CARD, type="card")["token"] == winner
    assert len(calls) == 2 and Token.objects.count() == 1
