"""Payment card numbers: Luhn, brand detection, validation and masking.

Pure Python, no Django. Luhn and the mask live in the base (`shieldx.masking.cards`),
which the log filter uses too; brands and validation are camouflage's.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from shieldx.masking.cards import MAX_CARD_DIGITS, MIN_CARD_DIGITS, luhn_valid, mask_card

__all__ = ("MAX_CARD_DIGITS", "MIN_CARD_DIGITS", "CardInfo", "detect_brand", "luhn_valid", "mask_card", "validate")

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

_ASCII_DIGITS = frozenset("0123456789")


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
