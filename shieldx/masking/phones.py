"""Phone numbers in free text, as Google's libphonenumber (the `phonenumbers` package) judges them.

CONTRACT §5a: a phone is a number libphonenumber finds valid for its country, written
with `+` and a country code (any country), or without one in one of the regions of
`SHIELDX_PHONE_REGIONS`; an extension (`x123`, `ext. 123`) belongs to it.

libphonenumber costs about 10 µs per (candidate, region) parse, and its own text
matcher 150-500 µs per region per line, so it never sees whole lines: a compiled
pattern picks digit groups laid out like a phone number, cheap rules drop what is
laid out like something else (dates, IPv4 addresses, decimals, SSNs, ids glued to
a word, bare digit runs with no phone word before them), and only what is left is
parsed, region by region, until one finds it valid.

Written without `+`, a number must also carry its trunk prefix where the country
writes one in national format (`030 1234567` in Germany, not `30 1234567`), and its
first group must end where a group of the national format ends: German and Swedish
numbering accepts so many lengths that `2026-11-27` and `1234 5678` would otherwise
be valid German and Swedish numbers, and Brazil almost any ten digits.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator

import phonenumbers
from phonenumbers import NumberParseException, PhoneMetadata, PhoneNumberFormat

DEFAULT_PHONE_REGIONS = ("US", "GB", "DE", "FR", "ES", "IT", "NL", "SE", "CH", "AU", "IN", "BR", "CA", "IL")
MIN_PHONE_DIGITS = 7
MAX_PHONE_DIGITS = 15  # ITU-T E.164, country code included

# Digit groups joined by one separator (space, dot, dash) or brackets around a group
# (`+44 (0)20 7946 0958`, `(08) 8747 6301`, `+31(0)83-4497869`), then an optional
# extension. Possessive, so a long run of digits and spaces is read once.
_CANDIDATE = re.compile(
    r"(?:\+ ?|\(\+?)?[0-9]++"
    r"(?:(?:[ .-]|\)[ .-]?|[ .-]?\(|\)[ .-]?\()[0-9]++)*+"
    r"\)?"
    r"(?P<ext>[ ,]{0,2}(?:[xX]|[eE][xX][tT](?:[eE][nN][sS][iI][oO][nN]|\.)?|#)[ .:]{0,2}[0-9]{1,6}(?![0-9]))?"
)
_DIGIT = re.compile(r"[0-9]")
_GROUPS = re.compile(r"[0-9]+")

# Shapes that are something else.
_DATE_FIRST = re.compile(r"\(?(?:[0-9]{4}[-./][0-9]{1,2}[-./][0-9]{1,2}|[0-9]{1,2}[-./][0-9]{1,2}[-./](?:1[89]|2[0-9])[0-9]{2})(?![0-9])")
_IPV4_FIRST = re.compile(r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}(?!\.?[0-9])")
_SSN_SHAPE = re.compile(r"[0-9]{3}([- ])[0-9]{2}\1[0-9]{4}")

# Bare digits (no `+`, no separator) are a phone number right after a phone word
# (`phone=4155552671`, `"mobile": "14155552671"`, `call 4155552671`): elsewhere a digit
# run is an id, an amount or a time...
_PHONE_WORD_BEFORE = re.compile(
    r"(?i:phone|tel|mobile|cell|sms|fax|call|whatsapp|telefon|t[ée]l[ée]phone|portable|handy|contact)"
    r"[^0-9\n]{0,16}$"
)

# ...or when written as dialled at home, a single trunk `0` then 8-10 digits
# (`0486352814`): ids and amounts seldom start with one zero.
_TRUNK_DIALLED = re.compile(r"0[1-9][0-9]{7,10}")

# The North American layouts (`(415) 555-2671`, `415-555-2671`, `415.555.2671`,
# `415 555 2671`, with
# `1-` or `1 ` before): nothing else is written so.
_NANP_LAYOUT = re.compile(r"(?:1[ .-]?)?(?:\([0-9]{3}\) ?[0-9]{3}-|[0-9]{3}-[0-9]{3}-|[0-9]{3}\.[0-9]{3}\.|[0-9]{3} [0-9]{3} )[0-9]{4}")

_regions: tuple[str, ...] = DEFAULT_PHONE_REGIONS


def parse_phone_regions(value: str | None) -> tuple[str, ...]:
    """`SHIELDX_PHONE_REGIONS` (`US,GB,...`; unset means the default) as region codes.

    Raises ValueError naming an unknown code: a typo would otherwise silently stop
    finding a whole country's numbers.
    """
    if value is None or not value.strip():
        return DEFAULT_PHONE_REGIONS
    regions = tuple(dict.fromkeys(code.strip().upper() for code in value.split(",") if code.strip()))
    unknown = [code for code in regions if code not in phonenumbers.SUPPORTED_REGIONS]
    if unknown:
        raise ValueError(f"unknown region code(s): {', '.join(unknown)} (ISO 3166-1 alpha-2, e.g. US,GB,DE)")
    return regions


def set_phone_regions(regions: Iterable[str]) -> None:
    """The regions whose national formats (no `+`) are recognised; settings apply it at start-up."""
    global _regions
    _regions = tuple(regions)
    _valid_national.cache_clear()
    _possible_national.cache_clear()


def phone_regions() -> tuple[str, ...]:
    return _regions


def find_phones(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of every phone number in `text`, extension included."""
    for match in _CANDIDATE.finditer(text):
        start, end = match.span()
        if text[start] == "(" and text[start + 1] != "+" and text.count(")", start, end) == 0:
            start += 1  # an opening bracket that closes nowhere is the sentence's
        extension = match.group("ext") is not None
        number_end = match.start("ext") if extension else end
        found = _phone_span(text, start, number_end, extension_end=end if extension else None)
        if found is None:
            continue
        number_start, number_stop = found
        if number_stop == number_end and extension:
            number_stop = end
        yield number_start, number_stop


def _phone_span(text: str, start: int, end: int, *, extension_end: int | None) -> tuple[int, int] | None:
    """The phone number within text[start:end], trailing or leading groups dropped when
    the whole does not parse (`+1 415 555 2671 200`: the status code joined it)."""
    extension = extension_end is not None
    if _glued(text, start, end if extension_end is None else extension_end):
        return None
    candidate = text[start:end].rstrip(" .-(")
    end = start + len(candidate)
    if _is_phone(text, start, candidate, extension=extension):
        return start, end
    # A neighbouring number joined by a space: try without the last or the first group.
    last_space = candidate.rfind(" ")
    if last_space > 0 and _is_phone(text, start, candidate[:last_space].rstrip(" .-("), extension=False):
        return start, start + len(candidate[:last_space].rstrip(" .-("))
    first_space = candidate.find(" ")
    if first_space > 0 and candidate[0] != "+":
        rest = candidate[first_space + 1 :]
        if _is_phone(text, start + first_space + 1, rest, extension=extension):
            return start + first_space + 1, end
    return None


def _glued(text: str, start: int, end: int) -> bool:
    """Part of a longer token: `ORD-2024-123456`, `v1.2.3`, `/users/12345678`, `12.5x`."""
    if start:
        before = text[start - 1]
        if before.isalnum() or before in "_/\\+" or (before in ".-" and start >= 2 and text[start - 2].isalnum()):
            return True
    if end < len(text):
        after = text[end]
        if after.isalnum() or after in "_/\\" or (after in ".-" and end + 1 < len(text) and text[end + 1].isalnum()):
            return True
    return False


def _is_phone(text: str, start: int, candidate: str, *, extension: bool) -> bool:
    digits = "".join(_DIGIT.findall(candidate))
    if not MIN_PHONE_DIGITS <= len(digits) <= MAX_PHONE_DIGITS + 2:  # `00` and a trunk `0` are not counted by E.164
        return False
    international = candidate.startswith(("+", "(+"))
    if not international:
        if _DATE_FIRST.match(candidate) or _IPV4_FIRST.match(candidate) or _SSN_SHAPE.fullmatch(candidate):
            return False
        if candidate.count(".") and (candidate.count(".") < 2 or " " in candidate):
            return False  # `1234567.89` is a decimal, `10.0.0.1 5432` an address and a port
        if candidate.isdigit() and not (_TRUNK_DIALLED.fullmatch(candidate) or _PHONE_WORD_BEFORE.search(text, max(0, start - 28), start)):
            return False
    if international or digits.startswith("00"):
        first_group = _GROUPS.search(candidate).group()
        country = first_group if international else first_group[2:]
        # A short first group is the country code (`+44 20 …`, `0044 20 …`): `0096-0852`
        # is no country's (96 is none), whatever the digits after it could be.
        return _international_phone("+" + (digits if international else digits[2:]), country if len(country) <= 3 else "")
    if _valid_national(digits, candidate):
        return True
    # Laid out unmistakably as a phone number: a length libphonenumber finds possible is enough.
    if extension or _NANP_LAYOUT.fullmatch(candidate):
        return _possible_national(candidate)
    return False


@functools.lru_cache(maxsize=4096)
def _international_phone(number: str, written_country: str) -> bool:
    """`+` and a country code: of a possible length for that country (a `+` before
    7-15 digits is a phone number's own layout), the country code written apart when
    it is (`written_country`, or empty)."""
    try:
        parsed = phonenumbers.parse(number, None)
    except NumberParseException:
        return False
    if written_country and str(parsed.country_code) != written_country:
        return False
    return phonenumbers.is_possible_number(parsed)


@functools.lru_cache(maxsize=4096)
def _possible_national(candidate: str) -> bool:
    for region in _regions:
        try:
            if phonenumbers.is_possible_number(phonenumbers.parse(candidate, region)):
                return True
        except NumberParseException:
            continue
    return False


@functools.lru_cache(maxsize=4096)
def _valid_national(digits: str, candidate: str) -> bool:
    for region in _regions:
        try:
            parsed = phonenumbers.parse(candidate, region)
        except NumberParseException:
            continue
        if not phonenumbers.is_valid_number(parsed) or not _trunk_prefix_written(digits, parsed, region):
            continue
        if digits[0] == "0" or _first_group_aligned(candidate, parsed):
            return True
    return False


def _first_group_aligned(candidate: str, parsed: phonenumbers.PhoneNumber) -> bool:
    """For a number written without a trunk `0`: the written first group ends where a
    group of the country's national format ends, counted from the right (so a `1`
    written before a North American number does not matter). `123-456-7890` is not
    Brazil's `(12) 3456-7890`: Brazil takes almost any ten digits with an area code as
    valid, and its area code is what a person writes apart."""
    groups = _GROUPS.findall(candidate)
    if len(groups) < 2:
        return True
    remainder = sum(len(group) for group in groups[1:])
    counted = 0
    for group in reversed(_GROUPS.findall(phonenumbers.format_number(parsed, PhoneNumberFormat.NATIONAL))):
        counted += len(group)
        if counted == remainder:
            return True
    return False


def _trunk_prefix_written(digits: str, parsed: phonenumbers.PhoneNumber, region: str) -> bool:
    """A country that writes a trunk prefix in national format (`0` in most of Europe)
    must have it written; one that does not (US `1`, Brazil) need not."""
    prefix = PhoneMetadata.metadata_for_region(region).national_prefix
    if not prefix or digits.startswith(prefix):
        return True
    national = phonenumbers.format_number(parsed, PhoneNumberFormat.NATIONAL)
    first_digits = _GROUPS.search(national)
    return first_digits is None or not first_digits.group().startswith(prefix)


_EXTENSION_TAIL = re.compile(r"(?:[xX#]|[eE][xX][tT])[^0-9]*[0-9]+$")


def mask_phone(text: str) -> str:
    """Every digit but the number's last two becomes `*`, an extension all of its digits;
    `+`, brackets and separators stay (`+1 (415) 555-2671 x12` -> `+* (***) ***-**71 x**`)."""
    extension_at = _EXTENSION_TAIL.search(text)
    split = extension_at.start() if extension_at else len(text)
    number, extension = text[:split], text[split:]
    hide = sum(char.isdigit() for char in number) - 2
    out = []
    for char in number:
        if hide > 0 and char.isdigit():
            out.append("*")
            hide -= 1
        else:
            out.append(char)
    out.extend("*" if char.isdigit() else char for char in extension)
    return "".join(out)
