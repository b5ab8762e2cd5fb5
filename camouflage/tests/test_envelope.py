from __future__ import annotations

import base64
import string
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import given
from hypothesis import strategies as st

from camouflage.envelope import (
    NONCE_BYTES,
    TAG_BYTES,
    DecryptionFailed,
    Envelope,
    Keyring,
    KeyringError,
    RetiredKeyVersion,
    ciphertext_version,
    generate_key,
    parse_keyring,
)

KEY_1 = generate_key()
KEY_2 = generate_key()
KEY_3 = generate_key()


@pytest.fixture
def envelope() -> Envelope:
    return Envelope(parse_keyring(f"1:{KEY_1},2:{KEY_2}"))


def raw_body(ciphertext: str) -> bytes:
    body = ciphertext.split(":", 2)[2]
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))


# --- Round trip and format ------------------------------------------------------------


def test_round_trip_with_and_without_context(envelope):
    sealed = envelope.encrypt("4111111111111111", tenant="acme", context="card")

    assert envelope.decrypt(sealed, tenant="acme", context="card") == "4111111111111111"
    assert envelope.decrypt(envelope.encrypt("x", tenant="acme"), tenant="acme") == "x"


def test_bytes_round_trip(envelope):
    payload = bytes(range(256))

    assert envelope.decrypt_bytes(envelope.encrypt_bytes(payload, tenant="acme"), tenant="acme") == payload


def test_ciphertext_format_names_the_active_version(envelope):
    sealed = envelope.encrypt("hello", tenant="acme")

    prefix, version, body = sealed.split(":")
    assert (prefix, version) == ("sx", "v2")
    assert set(body) <= set(string.ascii_letters + string.digits + "-_")  # base64url, no padding
    assert len(raw_body(sealed)) == NONCE_BYTES + len(b"hello") + TAG_BYTES
    assert ciphertext_version(sealed) == envelope.active_version == 2


def test_no_two_encryptions_share_a_nonce_over_100000_calls(envelope):
    nonces = {raw_body(envelope.encrypt("same", tenant="acme"))[:NONCE_BYTES] for _ in range(100_000)}

    assert len(nonces) == 100_000


@given(plaintext=st.text(), tenant=st.text(min_size=1), context=st.text())
def test_round_trip_for_arbitrary_unicode(plaintext, tenant, context):
    envelope = Envelope(parse_keyring(f"1:{KEY_1}"))

    assert envelope.decrypt(envelope.encrypt(plaintext, tenant=tenant, context=context), tenant=tenant, context=context) == plaintext


def test_lone_surrogates_from_json_round_trip(envelope):
    # json.loads('"\\ud800"') gives a lone surrogate; it must not become a 500.
    sealed = envelope.encrypt("\ud800x", tenant="acme", context="\udfff")

    assert envelope.decrypt(sealed, tenant="acme", context="\udfff") == "\ud800x"


def test_a_small_cache_still_serves_many_tenants():
    envelope = Envelope(parse_keyring(f"1:{KEY_1}"), cache_size=2)
    sealed = {tenant: envelope.encrypt(tenant, tenant=tenant) for tenant in map(str, range(10))}

    assert all(envelope.decrypt(value, tenant=tenant) == tenant for tenant, value in sealed.items())


# --- Every failure is DecryptionFailed --------------------------------------------------


def assert_fails(envelope: Envelope, ciphertext, *, tenant: str = "acme", context: str = "ctx") -> None:
    with pytest.raises(DecryptionFailed) as caught:
        envelope.decrypt(ciphertext, tenant=tenant, context=context)
    assert str(caught.value) == "decryption failed"
    assert caught.value.__cause__ is None and caught.value.__suppress_context__ in (True, False)


def test_tampering_any_character_fails(envelope):
    sealed = envelope.encrypt("4111111111111111", tenant="acme", context="ctx")
    alphabet = string.ascii_letters + string.digits + "-_:=+/ ."

    for position, original in enumerate(sealed):
        for replacement in alphabet:
            if replacement != original:
                assert_fails(envelope, sealed[:position] + replacement + sealed[position + 1 :])


def test_flipping_any_bit_of_nonce_ciphertext_or_tag_fails(envelope):
    sealed = envelope.encrypt("4111111111111111", tenant="acme", context="ctx")
    raw = bytearray(raw_body(sealed))

    for index in range(len(raw)):
        for bit in range(8):
            raw[index] ^= 1 << bit
            body = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
            assert_fails(envelope, f"sx:v2:{body}")
            raw[index] ^= 1 << bit


def test_changing_the_version_prefix_fails(envelope):
    sealed = envelope.encrypt("secret", tenant="acme", context="ctx")
    body = sealed.split(":", 2)[2]

    for prefix in ("sx:v1:", "sx:v3:", "sx:v02:", "sx:v0:", "sx:V2:", "SX:v2:", "sx:2:", "xs:v2:", "sx:v2::"):
        assert_fails(envelope, prefix + body)


def test_truncated_extended_and_malformed_ciphertexts_fail(envelope):
    sealed = envelope.encrypt("secret", tenant="acme", context="ctx")

    for length in range(len(sealed)):
        assert_fails(envelope, sealed[:length])
    for junk in (sealed + "A", sealed + "AA", sealed + "=", " " + sealed, sealed + "\n", "", "sx:v2:", None, 42, b"sx:v2:AAAA"):
        assert_fails(envelope, junk)


def test_wrong_tenant_fails(envelope):
    sealed = envelope.encrypt("secret", tenant="acme", context="ctx")

    assert_fails(envelope, sealed, tenant="globex")
    assert_fails(envelope, sealed, tenant="acme ")


def test_wrong_context_fails(envelope):
    sealed = envelope.encrypt("secret", tenant="acme", context="ctx")

    assert_fails(envelope, sealed, context="other")
    assert_fails(envelope, sealed, context="")


def test_tenant_and_context_are_bound_unambiguously(envelope):
    sealed = envelope.encrypt("secret", tenant="ab", context="c")

    assert_fails(envelope, sealed, tenant="a", context="bc")
    assert_fails(envelope, sealed, tenant="abc", context="")


def test_another_keyring_cannot_decrypt():
    sealed = Envelope(parse_keyring(f"1:{KEY_1}")).encrypt("secret", tenant="acme", context="ctx")

    assert_fails(Envelope(parse_keyring(f"1:{KEY_2}")), sealed)


def test_bytes_that_are_not_utf8_do_not_decrypt_as_text(envelope):
    sealed = envelope.encrypt_bytes(b"\xff\xfe", tenant="acme", context="ctx")

    assert_fails(envelope, sealed)


def test_empty_tenant_is_a_programming_error(envelope):
    with pytest.raises(ValueError):
        envelope.encrypt("x", tenant="")


# --- Rotation ----------------------------------------------------------------------------


def test_rotation_rewrap_and_retirement():
    old = Envelope(parse_keyring(f"1:{KEY_1}"))
    sealed_v1 = old.encrypt("4111111111111111", tenant="acme", context="card")
    rotated = Envelope(parse_keyring(f"1:{KEY_1},2:{KEY_2}"))

    # Old ciphertexts keep decrypting once a new version is active.
    assert rotated.decrypt(sealed_v1, tenant="acme", context="card") == "4111111111111111"
    assert ciphertext_version(rotated.encrypt("x", tenant="acme")) == 2

    rewrapped = rotated.rewrap(sealed_v1, tenant="acme", context="card")
    assert ciphertext_version(rewrapped) == 2
    assert rotated.decrypt(rewrapped, tenant="acme", context="card") == "4111111111111111"

    # Retiring version 1 makes what was not rewrapped fail, with the same message.
    retired = Envelope(parse_keyring(f"1:{KEY_1},2:{KEY_2}", min_version=2))
    with pytest.raises(RetiredKeyVersion) as caught:
        retired.decrypt(sealed_v1, tenant="acme", context="card")
    assert isinstance(caught.value, DecryptionFailed)
    assert str(caught.value) == "decryption failed"
    assert retired.decrypt(rewrapped, tenant="acme", context="card") == "4111111111111111"


def test_removing_a_version_from_the_keyring_also_fails_its_ciphertexts():
    sealed_v1 = Envelope(parse_keyring(f"1:{KEY_1}")).encrypt("x", tenant="acme", context="ctx")

    assert_fails(Envelope(parse_keyring(f"2:{KEY_2}")), sealed_v1)


def test_rewrap_of_a_tampered_ciphertext_fails(envelope):
    sealed = envelope.encrypt("x", tenant="acme")

    with pytest.raises(DecryptionFailed):
        envelope.rewrap(sealed[:-2] + ("AA" if sealed[-2:] != "AA" else "BA"), tenant="acme")


def test_rewrap_always_produces_a_fresh_ciphertext(envelope):
    sealed = envelope.encrypt("x", tenant="acme")

    assert envelope.rewrap(sealed, tenant="acme") != sealed


# --- Keyring parsing -----------------------------------------------------------------------


def test_keyring_tolerates_whitespace_and_both_base64_alphabets():
    url_safe_unpadded = base64.urlsafe_b64encode(base64.b64decode(KEY_2)).rstrip(b"=").decode()

    keyring = parse_keyring(f"  1 : {KEY_1} ,\n\t2:{url_safe_unpadded}\n")

    assert keyring.versions == (1, 2)
    assert keyring.active_version == 2
    assert keyring.min_version == 1
    assert keyring.master_key(2) == base64.b64decode(KEY_2)


def test_highest_version_encrypts_whatever_the_order():
    assert parse_keyring(f"3:{KEY_3},1:{KEY_1}").active_version == 3


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        (f"{KEY_1}", "no ':'"),
        (f"x:{KEY_1}", "positive integer"),
        (f"0:{KEY_1}", "positive integer"),
        (f"-1:{KEY_1}", "positive integer"),
        (f"01:{KEY_1}", "positive integer"),
        (f"1000000000:{KEY_1}", "at most"),
        (f"1:{KEY_1},1:{KEY_2}", "appears more than once"),
        (f"1:{KEY_1},", "entry 2 is empty"),
        (f"1:{KEY_1},,2:{KEY_2}", "entry 2 is empty"),
        ("1:not base64!", "not valid base64"),
        (f"1:{KEY_1[:10]} {KEY_1[10:]}", "not valid base64"),
        ("1:" + base64.b64encode(b"k" * 16).decode(), "16 bytes; expected 32"),
        ("1:" + base64.b64encode(b"k" * 31).decode(), "31 bytes"),
        ("1:" + base64.b64encode(b"k" * 33).decode(), "33 bytes"),
        (f"1:{KEY_1},2:{KEY_1}", "versions 1 and 2 have the same key"),
    ],
)
def test_keyring_errors_are_clear_and_never_show_key_material(spec, message):
    with pytest.raises(KeyringError) as caught:
        parse_keyring(spec)

    assert message in str(caught.value)
    for key in (KEY_1, KEY_2, KEY_1[:10], KEY_1[10:]):
        assert key not in str(caught.value)


def test_a_swapped_entry_does_not_echo_the_key():
    with pytest.raises(KeyringError) as caught:
        parse_keyring(f"{KEY_1}:1")

    assert KEY_1 not in str(caught.value)


@pytest.mark.parametrize("min_version", [0, 3])
def test_min_version_must_leave_the_active_version_usable(min_version):
    with pytest.raises(KeyringError, match="minimum decryption version"):
        parse_keyring(f"1:{KEY_1},2:{KEY_2}", min_version=min_version)


def test_keyring_repr_shows_versions_only():
    keyring = parse_keyring(f"1:{KEY_1},2:{KEY_2}", min_version=2)

    assert repr(keyring) == "Keyring(versions=[1, 2], active_version=2, min_version=2)"
    assert keyring.decryptable_versions() == (2,)


def test_keyring_constructor_checks_key_lengths():
    with pytest.raises(KeyringError):
        Keyring({1: b"short"})
    with pytest.raises(KeyringError):
        Keyring({})


def test_generate_key_is_base64_of_32_random_bytes():
    keys = {generate_key() for _ in range(100)}

    assert len(keys) == 100
    assert all(len(base64.b64decode(key, validate=True)) == 32 for key in keys)
    parse_keyring(",".join(f"{n}:{key}" for n, key in enumerate(sorted(keys), start=1)))


def test_one_envelope_shared_by_threads_with_a_churning_cache():
    envelope = Envelope(parse_keyring(f"1:{KEY_1},2:{KEY_2}"), cache_size=3)

    def work(worker: int) -> bool:
        for round_ in range(300):
            tenant = f"t{(worker + round_) % 7}"
            sealed = envelope.encrypt(f"{worker}-{round_}", tenant=tenant, context="c")
            if envelope.decrypt(sealed, tenant=tenant, context="c") != f"{worker}-{round_}":
                return False
        return True

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert all(pool.map(work, range(8)))
