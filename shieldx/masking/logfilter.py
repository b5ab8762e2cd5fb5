"""The log mask: what runs on every log line, error body and stored free text.

Stricter than free-text detection, because a log line is not read by a person who
can tell an id from a card: every card-shaped run is masked whether or not it passes
Luhn (where data may be a card number, we mask), every SSN shape without the SSA
checks, emails and IBANs. Phones and IP addresses stay (they are what operators
debug with). Percent-encoding is decoded up to three times first (CONTRACT §5a): a
request's repr holds its raw query, and a client may have encoded a value twice.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_plus

from .cards import CARD_WORD, mask_card
from .text import (
    SSN_WORD,
    Finding,
    apply_masks,
    find_cards,
    find_emails,
    find_ibans,
    find_ssns,
    resolve_overlaps,
)

_DECODE_ROUNDS = 3
# What decoding would change where it matters: a percent escape, or a `+` standing for a
# space between digits (`pan=4111+1111+1111+1111`); `+00:00` or `+1 415` are not encoded.
_ENCODED = re.compile(r"%[0-9A-Fa-f]{2}|[0-9]\+[0-9]")

# Precheck: spans of digits and separators that could hold nine digits (an SSN) or more.
_NUMBERS = re.compile(r"[0-9][0-9 .-]{7,}+")
_IBAN_HEAD = re.compile(r"[A-Z]{2}[0-9]{2}")

# 13-19 digits glued to a word (`pan_4111111111111111`): free-text detection leaves such
# runs alone to keep ids readable; a log line masks them too. Not the digits of a
# decimal number (`0.004063599999994949s` is a duration).
_GLUED_RUN = re.compile(r"(?<![0-9])(?<![0-9]\.)[0-9]{13,19}(?![0-9])(?!\.[0-9])")


def mask_for_logs(text: str) -> str:
    """`text` with every card-shaped run, SSN shape, email and IBAN masked, also where
    they were percent-encoded (once, twice or three times): then the decoded text is
    what comes back, masked. A text with nothing to mask comes back as the same object."""
    decoded = text
    for _ in range(_DECODE_ROUNDS):
        if not _ENCODED.search(decoded):
            break
        decoded = unquote_plus(decoded)
    if decoded is not text:
        # Masked decoded, never half-decoded: in `4111%25201111…` the `20` of an escape
        # would join the digits and shift what a card mask leaves readable.
        masked = _mask_plain(decoded)
        if masked is not decoded:
            return masked
    return _mask_plain(text)


def mask_value(value: Any) -> Any:
    """A JSON-like value (dicts, lists, strings, numbers) with every string masked, keys
    included, and integers that hold a card number or SSN turned into their mask."""
    if isinstance(value, str):
        return mask_for_logs(value)
    if isinstance(value, Mapping):
        return mask_mapping(value)
    if isinstance(value, (list, tuple)):
        return [mask_value(item) for item in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return _mask_number(value, key=None)
    return value


def mask_mapping(mapping: Mapping[Any, Any]) -> dict[Any, Any]:
    """Keys and values masked alike, recursively (ledger metadata, log extras, error
    details). A key is the word before its value, so `{"ssn": "123456789"}` and
    `{"pan": "630427373398"}` are masked as an SSN and a card. Keys that become equal
    once masked (two card numbers ending alike) are told apart by ` #2`, ` #3`: no
    entry is lost."""
    result: dict[Any, Any] = {}
    for key, value in mapping.items():
        masked_key = mask_for_logs(key) if isinstance(key, str) else key
        if masked_key in result:
            suffix = 2
            while f"{masked_key} #{suffix}" in result:
                suffix += 1
            masked_key = f"{masked_key} #{suffix}"
        context = key if isinstance(key, str) and (CARD_WORD.search(key) or SSN_WORD.search(key)) else None
        if isinstance(value, str) and context is not None:
            result[masked_key] = _mask_after_key(context, value)
        elif isinstance(value, int) and not isinstance(value, bool):
            result[masked_key] = _mask_number(value, key=context)
        else:
            result[masked_key] = mask_value(value)
    return result


def _mask_after_key(key: str, value: str) -> str:
    """Mask `value` as if it followed `key: ` in a line, so the key's card or SSN word counts."""
    prefix = f"{key}: "
    masked = mask_for_logs(prefix + value)
    if masked.startswith(prefix):
        return masked[len(prefix) :]
    return mask_for_logs(value)  # the key itself was masked or decoded: look at the value alone


def _mask_number(value: int, *, key: str | None) -> int | str:
    text = str(value)
    masked = _mask_after_key(key, text) if key is not None else mask_for_logs(text)
    return value if masked == text else masked


def _mask_plain(text: str) -> str:
    masked = _mask_once(text)
    return _GLUED_RUN.sub(lambda m: mask_card(m.group()), masked) if _GLUED_RUN.search(masked) else masked


def _may_hold_card_or_ssn(text: str) -> bool:
    for match in _NUMBERS.finditer(text):
        digits = sum(char.isdigit() for char in match.group())
        if digits >= 9:
            return True
    return False


def _mask_once(text: str) -> str:
    """Each kind is looked for only when a cheap precheck (an `@`, a long enough digit
    span, an IBAN's first four characters) allows it, so a line with none of them comes
    back as the same object.

    Overlapping findings keep only the longer one, whose mask may leave the other's
    digits readable (`4111111111111111 123-45-6789`: the card window ends inside the
    SSN, and a card mask shows its last four). So every digit of a finding that lost
    is hidden first; the winner's mask then shows at most what is left of its own."""
    has_at = "@" in text
    has_numbers = _may_hold_card_or_ssn(text)
    has_iban = _IBAN_HEAD.search(text) is not None
    if not (has_at or has_numbers or has_iban):
        return text
    candidates: list[Finding] = []
    if has_numbers:
        candidates.extend(find_cards(text, luhn=False))
        candidates.extend(find_ssns(text, validate=False))
    if has_iban:
        candidates.extend(find_ibans(text))
    if has_at:
        candidates.extend(find_emails(text))
    if not candidates:
        return text
    kept = resolve_overlaps(list(candidates))
    if len(kept) < len(candidates):
        chars = list(text)
        for finding in set(candidates) - set(kept):
            for index in range(finding.start, finding.end):
                if chars[index].isdigit():
                    chars[index] = "*"
        text = "".join(chars)  # same length: the kept findings' offsets still hold
    return apply_masks(text, kept)
