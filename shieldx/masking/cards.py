"""Card numbers as the masker sees them: Luhn, the mask, and what makes a digit run a card.

Pure Python. camouflage's card validation (brands, lengths) builds on it.
"""

from __future__ import annotations

import re

# ISO/IEC 7812 allows primary account numbers of 12 to 19 digits. Twelve-digit ones
# (Maestro) are a card only next to a card word (CONTRACT §5a): alone, twelve digits are
# far more often an id, and one in ten of them passes Luhn.
MIN_CARD_DIGITS = 13
MIN_SHORT_CARD_DIGITS = 12
MAX_CARD_DIGITS = 19

# Luhn: the value a digit contributes when it sits in a doubled position.
_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)
_ASCII_DIGITS = frozenset("0123456789")

# A card word (CONTRACT §5a) may be glued to what follows in a key (`cardNumber`,
# `cc_num`, `pan=`) but not be the end of a longer word (`Japan`, `acc`).
CARD_WORD = re.compile(r"(?<![A-Za-z])(?i:cards?|cc|credit|debit|maestro|pan|visa|mastercard|amex)(?![a-z])")
CARD_WORD_REACH = 32


def card_word_before(text: str, start: int) -> bool:
    """A card word stands within 32 characters before `start`."""
    return CARD_WORD.search(text, max(0, start - CARD_WORD_REACH), start) is not None


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
