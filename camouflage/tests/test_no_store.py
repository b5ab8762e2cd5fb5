"""Answers that carry plaintext, tokens or fresh ciphertexts are never cached by a
browser or a proxy: ``Cache-Control: no-store`` (CONTRACT §1a), errors included."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def _post(client, route: str, body: dict):
    return client.post(f"/camouflage/{route}", body, format="json")


def test_encrypt_decrypt_tokenize_and_detokenize_answers_are_no_store(client_for):
    sealed = _post(client_for, "encrypt", {"plaintext": "4111 1111 1111 1111"})
    opened = _post(client_for, "decrypt", {"ciphertext": sealed.json()["ciphertext"]})
    token = _post(client_for, "tokenize", {"value": "123-45-6789", "type": "ssn"})
    value = _post(client_for, "detokenize", {"token": token.json()["token"]})
    for response in (sealed, opened, token, value):
        assert response.status_code == 200, response.content
        assert response["Cache-Control"] == "no-store"
    assert opened.json()["plaintext"] == "4111 1111 1111 1111"


def test_their_errors_are_no_store_too(client_for):
    for route, body in (("decrypt", {"ciphertext": "sx:v1:AAAA"}), ("detokenize", {"token": "tok_nothing"})):
        response = _post(client_for, route, body)
        assert response.status_code in (400, 404)
        assert response["Cache-Control"] == "no-store"


def test_masking_answers_keep_the_default_caching(client_for):
    response = _post(client_for, "mask", {"text": "nothing here"})
    assert response.status_code == 200 and "Cache-Control" not in response
