from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum import luhn as stdnum_luhn

from camouflage.cards import detect_brand, luhn_valid, mask_card, validate


def card(prefix: str, length: int) -> str:
    """A Luhn-valid number with `prefix`, padded with zeros; stdnum is the oracle."""
    body = prefix + "0" * (length - len(prefix) - 1)
    return body + stdnum_luhn.calc_check_digit(body)


def test_seed_example_is_masked_exactly_and_fails_luhn():
    info = validate("4532-1234-5678-9010")

    assert info.masked == "****-****-****-9010"
    assert info.luhn_valid is False
    assert info.valid is False
    assert info.brand == "visa"
    assert info.last4 == "9010"
    assert info.length == 16


def test_card_info_serialises_with_the_contract_field_names():
    assert set(validate("4111111111111111").as_dict()) == {"valid", "luhn_valid", "brand", "masked", "last4", "length"}


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("4111111111111111", True),
        ("4012888888881881", True),
        ("5555555555554444", True),
        ("378282246310005", True),
        ("6011111111111117", True),
        ("4222222222222", True),
        ("0", True),
        ("4111111111111112", False),
        ("4532123456789010", False),
        ("", False),
        ("4111-1111-1111-1111", False),  # separators are the caller's job
        ("411111111111111١", False),  # a non-ASCII digit is not a digit here
    ],
)
def test_luhn_table(number, expected):
    assert luhn_valid(number) is expected


@given(st.text(alphabet="0123456789", min_size=1, max_size=40))
def test_luhn_agrees_with_python_stdnum(digits):
    assert luhn_valid(digits) == stdnum_luhn.is_valid(digits)


@pytest.mark.parametrize(
    ("prefix", "length", "brand", "valid"),
    [
        # Visa: 4, 13/16/19 digits.
        ("4", 13, "visa", True),
        ("4", 16, "visa", True),
        ("4", 19, "visa", True),
        ("4", 15, "visa", False),
        ("4", 18, "visa", False),
        # Mastercard: 51-55 and the 2-series 2221-2720, 16 digits.
        ("51", 16, "mastercard", True),
        ("55", 16, "mastercard", True),
        ("2221", 16, "mastercard", True),
        ("2720", 16, "mastercard", True),
        ("2500", 16, "mastercard", True),
        ("55", 19, "mastercard", False),
        ("50", 16, "unknown", False),
        ("56", 16, "unknown", False),
        ("2220", 16, "unknown", False),
        ("2721", 16, "unknown", False),
        # Amex: 34/37, 15 digits.
        ("34", 15, "amex", True),
        ("37", 15, "amex", True),
        ("37", 16, "amex", False),
        ("35", 15, "unknown", False),
        # Discover: 6011, 622126-622925, 644-649, 65; 16-19 digits.
        ("6011", 16, "discover", True),
        ("6011", 19, "discover", True),
        ("6011", 15, "discover", False),
        ("622126", 16, "discover", True),
        ("622925", 17, "discover", True),
        ("622125", 16, "unknown", False),
        ("622926", 16, "unknown", False),
        ("644", 16, "discover", True),
        ("649", 18, "discover", True),
        ("643", 16, "unknown", False),
        ("650", 16, "discover", True),
        ("65", 19, "discover", True),
        ("6010", 16, "unknown", False),
        # Luhn-valid but no brand: never `valid`.
        ("9", 16, "unknown", False),
        ("1", 13, "unknown", False),
    ],
)
def test_brand_and_validity_table(prefix, length, brand, valid):
    number = card(prefix, length)

    info = validate(number)

    assert info.brand == brand
    assert info.luhn_valid is True
    assert info.valid is valid
    assert info.length == length
    assert info.last4 == number[-4:]


def test_a_brand_length_with_a_bad_check_digit_is_invalid():
    number = card("4", 16)
    tampered = number[:-1] + str((int(number[-1]) + 1) % 10)

    info = validate(tampered)

    assert (info.brand, info.luhn_valid, info.valid) == ("visa", False, False)


def test_spaces_and_dashes_are_accepted_and_kept_in_the_mask():
    info = validate("3782 822463 10005")

    assert info.valid is True
    assert info.brand == "amex"
    assert info.masked == "**** ****** *0005"


def test_input_with_letters_is_invalid_and_never_echoed():
    info = validate("4111x1111111111111")

    assert (info.valid, info.luhn_valid, info.brand) == (False, False, "unknown")
    assert info.masked == "****x*********1111"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("4532-1234-5678-9010", "****-****-****-9010"),
        ("4111111111111111", "************1111"),
        ("1234", "****"),  # four digits or fewer: showing them shows everything
        ("12", "**"),
        ("", ""),
    ],
)
def test_mask_card(text, masked):
    assert mask_card(text) == masked


def test_detect_brand_tolerates_short_and_odd_input():
    assert detect_brand("") == "unknown"
    assert detect_brand("22") == "unknown"
    assert detect_brand("²²²²") == "unknown"


@given(st.text(alphabet="0123456789 -", max_size=40))
def test_mask_keeps_shape_and_at_most_four_digits(text):
    masked = mask_card(text)

    assert len(masked) == len(text)
    assert sum(char.isdigit() for char in masked) <= 4
    assert [c for c in masked if c in " -"] == [c for c in text if c in " -"]
