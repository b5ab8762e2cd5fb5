from __future__ import annotations

import hashlib
import re

import pytest

from camouflage.envelope import generate_key, parse_keyring
from camouflage.fingerprint import Fingerprinter, canonical_value, fingerprint_version, new_token

KEY_1 = generate_key()
KEY_2 = generate_key()


def fingerprinter(spec: str, *, min_version: int | None = None) -> Fingerprinter:
    return Fingerprinter(parse_keyring(spec, min_version=min_version))


def test_fingerprint_is_deterministic_per_tenant():
    first = fingerprinter(f"1:{KEY_1}")
    second = fingerprinter(f"1:{KEY_1}")  # another process with the same keyring

    assert first.fingerprint("4111111111111111", tenant="acme") == second.fingerprint("4111111111111111", tenant="acme")


def test_fingerprint_differs_across_tenants_values_and_keys():
    fp = fingerprinter(f"1:{KEY_1}")

    assert fp.fingerprint("4111111111111111", tenant="acme") != fp.fingerprint("4111111111111111", tenant="globex")
    assert fp.fingerprint("4111111111111111", tenant="acme") != fp.fingerprint("4111111111111112", tenant="acme")
    assert fp.fingerprint("x", tenant="acme") != fingerprinter(f"1:{KEY_2}").fingerprint("x", tenant="acme")


def test_fingerprint_is_keyed_not_a_plain_hash():
    value = "4111111111111111"

    digest = fingerprinter(f"1:{KEY_1}").fingerprint(value, tenant="acme").split(":")[1]

    assert digest != hashlib.sha256(value.encode()).hexdigest()


def test_fingerprint_format_names_its_version():
    fingerprint = fingerprinter(f"1:{KEY_1},2:{KEY_2}").fingerprint("x", tenant="acme")

    assert re.fullmatch(r"v2:[0-9a-f]{64}", fingerprint)
    assert fingerprint_version(fingerprint) == 2


def test_a_value_tokenized_before_rotation_is_still_found_after_it():
    before = fingerprinter(f"1:{KEY_1}").fingerprint("4111111111111111", tenant="acme")
    after = fingerprinter(f"1:{KEY_1},2:{KEY_2}")

    candidates = after.candidates("4111111111111111", tenant="acme")

    assert candidates[0] == after.fingerprint("4111111111111111", tenant="acme")  # newest first
    assert before in candidates


def test_retiring_a_version_retires_its_fingerprints():
    before = fingerprinter(f"1:{KEY_1}").fingerprint("x", tenant="acme")

    retired = fingerprinter(f"1:{KEY_1},2:{KEY_2}", min_version=2)

    assert retired.candidates("x", tenant="acme") == [retired.fingerprint("x", tenant="acme")]
    assert before not in retired.candidates("x", tenant="acme")


def test_fingerprint_version_rejects_junk():
    with pytest.raises(ValueError):
        fingerprint_version("abc")


@pytest.mark.parametrize(
    ("value", "kind", "canonical"),
    [
        ("4111 1111-1111 1111", "card", "4111111111111111"),
        ("123-45-6789", "ssn", "123456789"),
        ("4111 1111 1111 1111", "generic", "4111 1111 1111 1111"),
        ("not a card", "card", "not a card"),
    ],
)
def test_canonical_value(value, kind, canonical):
    assert canonical_value(value, kind=kind) == canonical


def test_new_token_format_and_uniqueness():
    tokens = {new_token() for _ in range(10_000)}

    assert len(tokens) == 10_000
    assert all(re.fullmatch(r"tok_[A-Za-z0-9_-]{24}", token) for token in tokens)
