"""Payment card numbers: Luhn, brand detection, validation and masking.

Pure Python, no Django: the API, the PII detector and the log filter all use it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

VISA = "visa"
MASTERCARD = "mastercard"
AMEX = "amex"
DISCOVER = "discover"
UNKNOWN = "unknown"

# Lengths each brand issues. `valid` needs the number's length in its brand's set.
BRAND_LENGTHS: dict[str, frozenset[int]] = {
    VISA: frozenset({13, 16, 19}),
    MASTERCARD: frozenset({16}),
    AMEX: frozenset({15}),
    DISCOVER: frozenset({16, 17, 18, 19}),
}

MIN_CARD_DIGITS = 13
MAX_CARD_DIGITS = 19

SEPARATORS = " -"

# Luhn: the value a digit contributes when it sits in a doubled position.
_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)
_ASCII_DIGITS = frozenset("0123456789")


def luhn_valid(digits: str) -> bool:
    """True when `digits` (ASCII digits only, no separators) passes the Luhn check."""
    if not digits or not _ASCII_DIGITS.issuperset(digits):
        return False
    total = 0
    # Walk from the right: odd positions (1st, 3rd, ...) as is, even ones doubled.
    for index, char in enumerate(reversed(digits)):
        digit = ord(char) - 48
        total += _DOUBLED[digit] if index & 1 else digit
    return total % 10 == 0


def detect_brand(digits: str) -> str:
    """Brand from the issuer prefix alone; the length is judged by `validate`."""
    if digits[:1] == "4":
        return VISA
    two = _prefix_int(digits, 2)
    if 51 <= two <= 55 or 2221 <= _prefix_int(digits, 4) <= 2720:
        return MASTERCARD
    if two in (34, 37):
        return AMEX
    if digits[:4] == "6011" or two == 65 or 644 <= _prefix_int(digits, 3) <= 649 or 622126 <= _prefix_int(digits, 6) <= 622925:
        return DISCOVER
    return UNKNOWN


def _prefix_int(digits: str, width: int) -> int:
    prefix = digits[:width]
    if len(prefix) < width or not _ASCII_DIGITS.issuperset(prefix):
        return -1
    return int(prefix)


def mask_card(text: str) -> str:
    """Every digit but the last four becomes `*`; separators and other characters stay.

    `4532-1234-5678-9010` -> `****-****-****-9010` (the contract's example). PCI DSS
    allows showing the last four; we do not keep the BIN, so a mask reveals no brand.
    """
    digit_count = sum(1 for char in text if char in _ASCII_DIGITS)
    to_hide = digit_count - 4
    if to_hide <= 0:
        # Four digits or fewer: showing them would show the whole number.
        return "".join("*" if char in _ASCII_DIGITS else char for char in text)
    out = []
    for char in text:
        if to_hide and char in _ASCII_DIGITS:
            out.append("*")
            to_hide -= 1
        else:
            out.append(char)
    return "".join(out)


@dataclass(frozen=True, slots=True)
class CardInfo:
    valid: bool
    luhn_valid: bool
    brand: str
    masked: str
    last4: str
    length: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def card_digits(number: str) -> str | None:
    """The digits of `number` when it is only digits, spaces and dashes, else None."""
    digits = number.strip().replace(" ", "").replace("-", "")
    if not digits or not _ASCII_DIGITS.issuperset(digits):
        return None
    return digits


def validate(number: str) -> CardInfo:
    """Check a card number as typed (spaces and dashes allowed between digits).

    Input with other characters is reported invalid with brand `unknown`; its digits
    are still masked so the answer never echoes the number.
    """
    digits = card_digits(number)
    masked = mask_card(number.strip())
    if digits is None:
        all_digits = "".join(char for char in number if char in _ASCII_DIGITS)
        return CardInfo(
            valid=False,
            luhn_valid=False,
            brand=UNKNOWN,
            masked=masked,
            last4=all_digits[-4:] if len(all_digits) > 4 else "",
            length=len(all_digits),
        )
    brand = detect_brand(digits)
    passes_luhn = luhn_valid(digits)
    length_fits = len(digits) in BRAND_LENGTHS.get(brand, ())
    return CardInfo(
        valid=passes_luhn and length_fits,
        luhn_valid=passes_luhn,
        brand=brand,
        masked=masked,
        # Numbers of four digits or fewer would be shown whole: no last4 then.
        last4=digits[-4:] if len(digits) > 4 else "",
        length=len(digits),
    )
