"""Find and mask PII in free text, in form fields and in log records.

Findings are `(type, start, end)` with offsets into the original string (Python
`str` indices, i.e. code points). Types are the contract's: `credit_card`, `us_ssn`,
`email`, `phone`, `iban`, `ip_address`.

Masks (the first three are fixed by the contract):

- card: every digit but the last four becomes `*`, separators stay
  (`4532-1234-5678-9010` -> `****-****-****-9010`);
- SSN: every digit becomes `*` (`123-45-6789` -> `***-**-****`);
- email: the first two characters of the local part, `***`, then the domain
  (`user@email.com` -> `us***@email.com`); a local part of two characters or fewer
  keeps one character fewer than it has, so no mask shows a whole local part;
- phone: every digit but the last two becomes `*`, `+`, brackets and separators stay
  (`+1 (415) 555-2671` -> `+* (***) ***-**71`): the country and area codes locate a
  person, two digits are enough for "is this my number?";
- IBAN: country code, check digits and the last four characters stay
  (`DE89 3704 0044 0532 0130 00` -> `DE89 **** **** **** **30 00`), as banks show it;
- IP: IPv4 keeps the last octet (`192.168.1.10` -> `***.***.***.10`); IPv6 keeps the
  last group (`2001:db8::8a2e:370:7334` -> `****:****::****:****:7334`). Each hidden
  part becomes a fixed-width run of `*` so the mask does not tell its length.

Detection rules worth knowing:

- cards: in free text, 13-19 digits, optionally grouped by single spaces or dashes,
  that pass Luhn and are not part of a longer token (`ORD-20241127-000123`, `v1.2`,
  `abc4111...`) and not preceded by `+` (that is a phone). Groups before the last must
  have 3+ digits, so `2024 11 27 18 12 39 123` is not a card. Thirteen bare digits
  starting with 1 are epoch milliseconds, not a card. Overlapping Luhn-valid windows
  of one run are one finding, so the mask hides them all;
- SSN: `ddd-dd-dddd` only, with area 000/666/900-999, group 00 and serial 0000
  refused. The published "famous" numbers (123-45-6789, 078-05-1120) are masked all
  the same: they are real-looking data in a log. Nine bare digits are not an SSN in
  free text (too many ids, amounts and phone fragments look like that);
- phone: `+` (or `00`) international numbers of 8-15 digits with a real country
  code, North American formats with separators (`(415) 555-2671`, `415-555-2671`,
  `1-800-555-0199`) and national numbers with a trunk `0` and separators
  (`020 7946 0958`). Ten bare digits only right after a phone key
  (`phone=4155552671`); dates, times, versions and dashed ids never qualify;
- IBAN: upper-case, compact or in groups of four, checked by python-stdnum (mod 97
  and the country's format);
- IP: dotted quads with valid octets and IPv6 as `ipaddress` parses them. A dotted
  quad right after `version`/`ver`/`release`/`build` is a version, not an address.

Where two findings overlap, the longer wins, then card > SSN > IBAN > email > IP >
phone.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from bisect import bisect_right
from collections.abc import Callable, Iterator, Mapping
from itertools import pairwise
from typing import NamedTuple
from urllib.parse import unquote_plus

from stdnum import iban as stdnum_iban
from stdnum import numdb
from stdnum.util import get_cc_module

from .cards import MAX_CARD_DIGITS, MIN_CARD_DIGITS, luhn_valid, mask_card

CREDIT_CARD = "credit_card"
US_SSN = "us_ssn"
EMAIL = "email"
PHONE = "phone"
IBAN = "iban"
IP_ADDRESS = "ip_address"
FINDING_TYPES = (CREDIT_CARD, US_SSN, EMAIL, PHONE, IBAN, IP_ADDRESS)


class Finding(NamedTuple):
    type: str
    start: int
    end: int


# --- Patterns -------------------------------------------------------------------
# Compiled once. Repetition is possessive (`++`, `*+`) or bounded, so no pattern
# backtracks far. Patterns start with a character class, not a look-behind, which
# lets `re` skip quickly to where a match can begin (look-behinds first made the
# detector three times slower); whether a match is glued to a neighbouring word is
# checked in Python on the few candidates.

# Spans of digits with space/dash separators long enough to hold a card (13+
# digits); the exact runs are then split out of each span.
_CARD_SPAN = re.compile(r"[0-9][0-9 -]{11,}+")
# A maximal run of digit groups joined by single spaces or dashes.
_DIGIT_RUN = re.compile(r"[0-9]++(?:[ -][0-9]++)*+")
_DIGITS = re.compile(r"[0-9]+")

_SSN = re.compile(r"([0-9]{3})-([0-9]{2})-([0-9]{4})")

# The local part excludes `=`, `:`, quotes and `/` so a `key=` or `key:` before an
# address is never part of it; the look-behind keeps matches from starting mid-word.
# `\w` is Unicode: `josé@exemple.fr` and `user@bücher.de` are addresses too.
_EMAIL = re.compile(
    r"(?<![\w%+.-])"
    r"(?P<local>[\w%+-]++(?:\.[\w%+-]++)*+)"
    r"@(?P<domain>[\w-]++(?:\.[\w-]++)++)"
)

# International: `+` or `00`, then digit groups, brackets allowed around a group
# (`+1 (415) 555-2671`, `+44 (0)20 7946 0958`); a compact E.164 number
# (`+14155552671`) ends at its last digit.
_PHONE_INTERNATIONAL = re.compile(
    r"(?:\+|(?<![0-9])00(?=[1-9]))"
    r"(?:[0-9]{8,15}+|[0-9]{1,7}+(?:(?:[ .-]\(?|\(|\)[ .-]?)[0-9]++)*+\)?)"
    r"(?!\w)(?![.-]?[0-9])"
)
# National numbers are looked for only inside spans of phone characters.
_PHONE_SPAN = re.compile(r"[(0-9][0-9 ().-]{9,}+")
_PHONE_NATIONAL = re.compile(
    r"(?<![\w+.-])(?<![0-9] )(?:"
    # North American: (415) 555-2671, 415-555-2671, 1-800-555-0199 (same separator).
    r"(?:1[ .-]?)?(?:\([2-9][0-9]{2}\)[ -]?[2-9][0-9]{2}[ .-][0-9]{4}"
    r"|[2-9][0-9]{2}(?P<sep>[ .-])[2-9][0-9]{2}(?P=sep)[0-9]{4})"
    # With a trunk 0: 020 7946 0958, (0151) 234 5678, 07700 900123.
    r"|(?P<trunk>(?:\(0[1-9][0-9]{1,3}\)|0[1-9][0-9]{1,3})[ -][0-9]{3,4}[ -]?[0-9]{3,4})"
    r")(?!\w)(?![.-]?[0-9])"
)

# Ten bare digits are a phone number only right after a phone key (`phone=4155552671`,
# `"mobile": "14155552671"`): elsewhere they are ids, amounts and epoch seconds.
_PHONE_BARE = re.compile(r"1?[2-9][0-9]{2}[2-9][0-9]{6}")
_PHONE_KEY_BEFORE = re.compile(r"(?i:phone|tel|mobile|cell|sms|fax)[\w-]{0,12}[\s\"':=]{1,4}$")

# Country code and check digits; the rest is read by `_IBAN_BODY` from there. Only
# these four characters are consumed, so a failed candidate does not swallow a
# real IBAN right after it (`REF AB12 DE89 3704 ...`).
_IBAN_HEAD = re.compile(r"[A-Z]{2}[0-9]{2}")
# Up to 30 more characters, optionally in groups; bounded so no attempt scans far.
_IBAN_BODY = re.compile(r"(?: ?[A-Z0-9]){11,30}+")

_IPV4 = re.compile(r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}")
# `version 1.2.3.4`, `agent_version=…`, `appVersion: …`, `"build": "…"`; not `server 10.0.0.1`.
_VERSION_BEFORE = re.compile(r"(?:(?<![A-Za-z])(?i:version|ver|release|build)|(?<=[a-z])(?:Version|Ver|Release|Build))[\s\"':=]*$")
_IPV6 = re.compile(
    r"(?<![\w:.])[0-9A-Fa-f]{0,4}+:[0-9A-Fa-f]{0,4}+:[0-9A-Fa-f:.]*+"
    r"(?:%[0-9A-Za-z_.-]++)?(?![\w%])"
)

# Log filter precheck: spans of digits and separators long enough for an SSN; each
# is then asked whether it holds 13 digits or an SSN shape.
_LOG_NUMBERS = re.compile(r"[0-9][0-9 -]{10,}+")


# --- Validators -----------------------------------------------------------------


def ssn_valid(area: str, group: str, serial: str) -> bool:
    """SSA rules: no area 000, 666 or 900-999, no group 00, no serial 0000."""
    return area != "000" and area != "666" and area[0] != "9" and group != "00" and serial != "0000"


_IBAN_REGISTRY = numdb.get("iban")
_IBAN_LETTERS = str.maketrans({chr(c): str(c - 55) for c in range(ord("A"), ord("Z") + 1)})
_BBAN_CLASSES = {"n": "[0-9]", "a": "[A-Z]", "c": "[A-Za-z0-9]"}


@functools.cache
def _iban_format(country: str) -> tuple[int, re.Pattern[str], bool] | None:
    """(IBAN length, BBAN pattern, has national checks) from python-stdnum's copy of
    the SWIFT registry. Cached: stdnum's registry lookup costs ~100 µs an IBAN."""
    bban = _IBAN_REGISTRY.info(country)[0][1].get("bban")
    if not bban:
        return None
    parts = re.findall(r"([0-9]+)!([nac])", bban)
    pattern = re.compile("".join(f"{_BBAN_CLASSES[kind]}{{{size}}}" for size, kind in parts))
    national = get_cc_module(country.lower(), "iban") is not None
    return 4 + sum(int(size) for size, _ in parts), pattern, national


def iban_length(country: str) -> int | None:
    """The length of the country's IBANs, None for a country without IBANs."""
    found = _iban_format(country)
    return found[0] if found else None


def iban_valid(compact: str) -> bool:
    """ISO 7064 mod 97-10 and the country's BBAN format, as python-stdnum checks them;
    stdnum itself for the countries with national check digits (BE, ES, ME, NO)."""
    found = _iban_format(compact[:2])
    if found is None:
        return False
    length, bban_pattern, national = found
    if len(compact) != length or not bban_pattern.fullmatch(compact, 4):
        return False
    if int((compact[4:] + compact[:4]).translate(_IBAN_LETTERS)) % 97 != 1:
        return False
    return stdnum_iban.is_valid(compact) if national else True


def _email_domain_valid(domain: str) -> bool:
    labels = domain.split(".")
    tld = labels[-1]
    if not (2 <= len(tld) <= 63 and tld.isalpha()):
        return False
    return "_" not in domain and all(0 < len(label) <= 63 and label[0] != "-" and label[-1] != "-" for label in labels)


# --- Finders --------------------------------------------------------------------


def _is_word_char(char: str) -> bool:
    return char.isalnum() or char == "_"


def _glued_before(text: str, start: int, *, plus: bool) -> bool:
    """The run continues a word or a dotted/dashed token (`ORD-2024`, `1.5`, `x9`)."""
    if start == 0:
        return False
    before = text[start - 1]
    if _is_word_char(before) or (plus and before == "+"):
        return True
    return before in ".-" and start >= 2 and _is_word_char(text[start - 2])


def _glued_after(text: str, end: int) -> bool:
    if end == len(text):
        return False
    after = text[end]
    if _is_word_char(after):
        return True
    return after in ".-" and end + 1 < len(text) and _is_word_char(text[end + 1])


def _usable_groups(run: str, groups: list[tuple[int, int]], *, glued_before: bool, glued_after: bool) -> range:
    """Groups that may belong to a card. A group glued to a word is part of that
    token, and so is every group joined to it by dashes (`ORD-20241127-000123`);
    a space ends the token (`ORD-2024 4111 1111 1111 1111` still holds a card)."""
    low, high = 0, len(groups) - 1
    if glued_before:
        low = 1
        while low <= high and run[groups[low][0] - 1] == "-":
            low += 1
    if glued_after:
        high -= 1
        while high >= low and run[groups[high][1]] == "-":
            high -= 1
    return range(low, high + 1)


def _luhn_windows(run: str, groups: list[tuple[int, int]], usable: range) -> Iterator[tuple[int, int]]:
    """Every window of whole groups with 13-19 digits that passes Luhn."""
    for i in usable:
        count = 0
        for j in range(i, usable.stop):
            count += groups[j][1] - groups[j][0]
            if count > MAX_CARD_DIGITS:
                break
            # Only a window's last group may be short (`4222 2222 2222 2`):
            # `2024 11 27 ...` or `qty 2 ...` does not start a card.
            if j > i and groups[j - 1][1] - groups[j - 1][0] < 3:
                break
            if count < MIN_CARD_DIGITS:
                continue
            digits = _strip_separators(run[groups[i][0] : groups[j][1]])
            if j == i and _is_epoch_millis(digits):
                continue
            if luhn_valid(digits):
                yield groups[i][0], groups[j][1]


def _is_epoch_millis(digits: str) -> bool:
    """Thirteen bare digits starting with 1 are a Unix time in milliseconds (2001-2033),
    common in logs; no issuer makes 13-digit cards outside Visa's 4. One in ten passes
    Luhn, so in free text they would be false cards (Presidio skips them too)."""
    return len(digits) == MIN_CARD_DIGITS and digits[0] == "1"


def _shaped_windows(groups: list[tuple[int, int]], usable: range) -> Iterator[tuple[int, int]]:
    """For each start group, the longest window of 13-19 digits (no Luhn).

    Two pointers keep this linear: a run of a million one-digit groups must not
    cost a million times nineteen steps on every log record.
    """
    end = usable.start  # exclusive
    count = 0
    for i in usable:
        if end < i:
            end, count = i, 0
        while end < usable.stop and count + groups[end][1] - groups[end][0] <= MAX_CARD_DIGITS:
            count += groups[end][1] - groups[end][0]
            end += 1
        if count >= MIN_CARD_DIGITS:
            yield groups[i][0], groups[end - 1][1]
        if end > i:
            count -= groups[i][1] - groups[i][0]


def _merged(spans: Iterator[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    """Union of spans given in order of start. Overlapping card windows become one
    finding so its mask hides all of them (`1234 4111 1111 1111 1111` where both
    16-digit windows pass Luhn must not leave either readable)."""
    current: tuple[int, int] | None = None
    for start, end in spans:
        if current is not None and start < current[1]:
            current = (current[0], max(current[1], end))
            continue
        if current is not None:
            yield current
        current = (start, end)
    if current is not None:
        yield current


def _strip_separators(text: str) -> str:
    return text.replace(" ", "").replace("-", "")


def _find_cards(text: str, *, luhn: bool) -> Iterator[Finding]:
    """Cards in free text (`luhn=True`) or card-shaped runs for the log filter."""
    for span in _CARD_SPAN.finditer(text):
        for match in _DIGIT_RUN.finditer(text, span.start(), span.end()):
            run = match.group()
            if len(run) < MIN_CARD_DIGITS:
                continue
            start, end = match.span()
            groups = [(0, len(run))] if run.isdigit() else [m.span() for m in _DIGITS.finditer(run)]
            usable = _usable_groups(
                run,
                groups,
                # Logs mask `+`-prefixed runs too: where data may be a card number, we mask.
                glued_before=_glued_before(text, start, plus=luhn),
                glued_after=_glued_after(text, end),
            )
            windows = _luhn_windows(run, groups, usable) if luhn else _shaped_windows(groups, usable)
            for window_start, window_end in _merged(windows):
                yield Finding(CREDIT_CARD, start + window_start, start + window_end)


def _find_ssns(text: str, *, validate: bool) -> Iterator[Finding]:
    """`validate=True` (free text): SSA rules, and not part of a longer token
    (`1-123-45-6789`, `123-45-6789-1`). `validate=False` (logs): the shape anywhere,
    glued to a card-shaped run (`4111111111111111-123-45-6789`) included."""
    for match in _SSN.finditer(text):
        start, end = match.span()
        if not validate:
            yield Finding(US_SSN, start, end)
        elif not (_glued_before(text, start, plus=True) or _glued_after(text, end)) and ssn_valid(*match.groups()):
            yield Finding(US_SSN, start, end)


def _find_emails(text: str) -> Iterator[Finding]:
    if "@" not in text:
        return
    for match in _EMAIL.finditer(text):
        if _email_domain_valid(match.group("domain")):
            yield Finding(EMAIL, match.start(), match.end())


def _find_phones(text: str) -> Iterator[Finding]:
    if "+" in text or "00" in text:
        for match in _PHONE_INTERNATIONAL.finditer(text):
            if _international_phone_ok(text, match):
                yield Finding(PHONE, match.start(), match.end())
    for match in _PHONE_BARE.finditer(text):
        start, end = match.span()
        if not _glued_before(text, start, plus=True) and not _glued_after(text, end):
            if _PHONE_KEY_BEFORE.search(text, max(0, start - 24), start):
                yield Finding(PHONE, start, end)
    for span in _PHONE_SPAN.finditer(text):
        # Two characters past the span let the trailing look-aheads see what follows.
        for match in _PHONE_NATIONAL.finditer(text, span.start(), span.end() + 2):
            if match.group("trunk") is None or 10 <= _count_digits(match.group()) <= 11:
                yield Finding(PHONE, match.start(), match.end())


# ITU-T E.164 country codes: all of zones 1 and 7, then the two- and three-digit ones.
_COUNTRY_CODES = frozenset(
    "1 7 20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 "
    "60 61 62 63 64 65 66 81 82 84 86 90 91 92 93 94 95 98 "
    "211 212 213 216 218 220 221 222 223 224 225 226 227 228 229 230 231 232 233 234 "
    "235 236 237 238 239 240 241 242 243 244 245 246 247 248 249 250 251 252 253 254 "
    "255 256 257 258 260 261 262 263 264 265 266 267 268 269 290 291 297 298 299 "
    "350 351 352 353 354 355 356 357 358 359 370 371 372 373 374 375 376 377 378 379 "
    "380 381 382 383 385 386 387 389 420 421 423 500 501 502 503 504 505 506 507 508 "
    "509 590 591 592 593 594 595 596 597 598 599 670 672 673 674 675 676 677 678 679 "
    "680 681 682 683 685 686 687 688 689 690 691 692 800 808 850 852 853 855 856 870 "
    "878 880 881 882 883 886 888 960 961 962 963 964 965 966 967 968 970 971 972 973 "
    "974 975 976 977 979 992 993 994 995 996 998".split()
)


def _country_code_ok(first_group: str) -> bool:
    """A grouped number's first group is its country code (`+44 20 ...`,
    `0044 20 ...`); a longer first group must at least start with one."""
    if len(first_group) <= 3:
        return first_group in _COUNTRY_CODES
    return any(first_group[:size] in _COUNTRY_CODES for size in (1, 2, 3))


def _international_phone_ok(text: str, match: re.Match[str]) -> bool:
    start = match.start()
    if start and (_is_word_char(text[start - 1]) or text[start - 1] in "+.-"):
        return False
    candidate = match.group()
    if candidate.count("(") != candidate.count(")") or candidate.count("(") > 1:
        return False
    digits = _count_digits(candidate)
    if candidate.startswith("00"):
        # `00` must be followed by grouped digits: `0012345678` is an id.
        if " " not in candidate and "-" not in candidate:
            return False
        digits -= 2
    first_group = _DIGITS.match(candidate, 2 if candidate.startswith("00") else 1)
    if first_group is None or not _country_code_ok(first_group.group()):
        return False  # `ref 0096-0852-5678`: no country has code 96
    return 8 <= digits <= 15


def _count_digits(text: str) -> int:
    return sum(char.isdigit() for char in text)


def _find_ibans(text: str) -> Iterator[Finding]:
    for match in _IBAN_HEAD.finditer(text):
        start = match.start()
        if start and text[start - 1].isalnum():
            continue
        body = _IBAN_BODY.match(text, match.end())
        if body is None:
            continue
        end = _iban_end(text, start, text[start : body.end()])
        if end is not None:
            yield Finding(IBAN, start, end)


def _iban_end(text: str, start: int, candidate: str) -> int | None:
    """Where the IBAN starting at `start` ends, or None when there is none.

    The pattern is greedy and may run into a following word (`... 0130 00 EUR`), so
    cut the candidate at the country's length, which must end a group.
    """
    length = iban_length(candidate[:2])
    if length is None:
        return None
    seen = 0
    for offset, char in enumerate(candidate):
        if char != " ":
            seen += 1
            if seen == length:
                end = start + offset + 1
                break
    else:
        return None  # shorter than the country's IBANs
    if end < len(text) and text[end].isalnum():
        return None  # would end inside a word
    return end if iban_valid(text[start:end].replace(" ", "")) else None


def _find_ips(text: str) -> Iterator[Finding]:
    if "." in text:
        yield from _find_ipv4s(text)
    if "::" in text or text.count(":") >= 7:
        yield from _find_ipv6s(text)


def _find_ipv4s(text: str) -> Iterator[Finding]:
    for match in _IPV4.finditer(text):
        start, end = match.span()
        if start and (_is_word_char(text[start - 1]) or text[start - 1] == "."):
            continue  # `v1.2.3.4`, `1.1.2.3.4`
        after = text[end : end + 2]
        if after and (_is_word_char(after[0]) or (after[0] == "." and after[1:].isdigit())):
            continue  # `1.2.3.4x`, `1.2.3.4.5`
        if _VERSION_BEFORE.search(text, max(0, start - 16), start):
            continue
        try:
            ipaddress.IPv4Address(match.group())  # octets <= 255, no leading zeros
        except ValueError:
            continue
        yield Finding(IP_ADDRESS, start, end)


def _find_ipv6s(text: str) -> Iterator[Finding]:
    for match in _IPV6.finditer(text):
        candidate = match.group()
        # Sentence punctuation may stick to the end: `... from 2001:db8::1.`
        for trimmed in dict.fromkeys((candidate, candidate.rstrip(".:"))):
            if _is_ipv6(trimmed):
                yield Finding(IP_ADDRESS, match.start(), match.start() + len(trimmed))
                break


def _is_ipv6(candidate: str) -> bool:
    if not any(char not in ":." for char in candidate.split("%", 1)[0]):
        return False  # `::` alone is more often punctuation or code than an address
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return False
    return True


# --- Overlaps -------------------------------------------------------------------

_PRIORITY = {CREDIT_CARD: 0, US_SSN: 1, IBAN: 2, EMAIL: 3, IP_ADDRESS: 4, PHONE: 5}


def _resolve_overlaps(candidates: list[Finding]) -> list[Finding]:
    """Keep non-overlapping findings: longer first, then by type priority."""
    candidates.sort(key=lambda f: f.start)
    if all(a.end <= b.start for a, b in pairwise(candidates)):
        return candidates
    starts: list[int] = []
    kept: list[Finding] = []
    for finding in sorted(candidates, key=lambda f: (f.start - f.end, _PRIORITY[f.type])):
        index = bisect_right(starts, finding.start)
        if index and kept[index - 1].end > finding.start:
            continue
        if index < len(kept) and kept[index].start < finding.end:
            continue
        starts.insert(index, finding.start)
        kept.insert(index, finding)
    return kept


# --- Masks ----------------------------------------------------------------------


def mask_ssn(text: str) -> str:
    return "".join("*" if char.isdigit() else char for char in text)


def mask_email(text: str) -> str:
    local, _, domain = text.rpartition("@")
    keep = min(2, len(local) - 1)
    return f"{local[:keep]}***@{domain}"


def mask_phone(text: str) -> str:
    hide = _count_digits(text) - 2
    out = []
    for char in text:
        if hide > 0 and char.isdigit():
            out.append("*")
            hide -= 1
        else:
            out.append(char)
    return "".join(out)


def mask_iban(text: str) -> str:
    positions = [i for i, char in enumerate(text) if char.isalnum()]
    hidden = set(positions[4:-4])
    return "".join("*" if i in hidden else char for i, char in enumerate(text))


_HEX_GROUP = re.compile(r"[0-9A-Fa-f]+")


def mask_ip(text: str) -> str:
    address, percent, zone = text.partition("%")  # an IPv6 zone names an interface
    if ":" not in address:
        return "***.***.***." + address.rsplit(".", 1)[1]
    head, _, tail = address.rpartition(":")
    if "." in tail:  # IPv4 tail of an IPv6 address (`::ffff:192.0.2.1`)
        tail = mask_ip(tail)
    return f"{_HEX_GROUP.sub('****', head)}:{tail}{percent}{zone}"


MASKERS: dict[str, Callable[[str], str]] = {
    CREDIT_CARD: mask_card,
    US_SSN: mask_ssn,
    EMAIL: mask_email,
    PHONE: mask_phone,
    IBAN: mask_iban,
    IP_ADDRESS: mask_ip,
}


def _apply_masks(text: str, findings: list[Finding]) -> str:
    pieces = []
    position = 0
    for finding in findings:
        pieces.append(text[position : finding.start])
        pieces.append(MASKERS[finding.type](text[finding.start : finding.end]))
        position = finding.end
    pieces.append(text[position:])
    return "".join(pieces)


# --- Public API -----------------------------------------------------------------


def find_pii(text: str) -> list[Finding]:
    """All PII findings in free text, non-overlapping, ordered by start."""
    candidates: list[Finding] = [
        *_find_cards(text, luhn=True),
        *_find_ssns(text, validate=True),
        *_find_emails(text),
        *_find_phones(text),
        *_find_ibans(text),
        *_find_ips(text),
    ]
    return _resolve_overlaps(candidates)


def mask_text(text: str) -> tuple[str, list[Finding]]:
    """Mask the PII in free text; findings carry offsets into `text`."""
    findings = find_pii(text)
    return _apply_masks(text, findings), findings


_CARD_SHAPE = re.compile(r"[0-9]++(?:[ -][0-9]++)*+")
_SSN_SHAPE = re.compile(r"[0-9]{3}-[0-9]{2}-[0-9]{4}")


def _mask_field(value: str) -> tuple[str, list[str]]:
    # A field that holds only a card-shaped (or SSN-shaped) value is masked as such
    # without Luhn (or SSA) checks: a form field is not prose, so the shape is enough.
    stripped = value.strip()
    if _CARD_SHAPE.fullmatch(stripped):
        digit_count = len(_strip_separators(stripped))
        if MIN_CARD_DIGITS <= digit_count <= MAX_CARD_DIGITS:
            return mask_card(value), [CREDIT_CARD]
    if _SSN_SHAPE.fullmatch(stripped):
        return mask_ssn(value), [US_SSN]
    masked, findings = mask_text(value)
    return masked, [finding.type for finding in findings]


def mask_fields(fields: Mapping[str, str]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Mask each field's value; findings list the types found per field (one per finding)."""
    masked: dict[str, str] = {}
    found: dict[str, list[str]] = {}
    for name, value in fields.items():
        masked[name], found[name] = _mask_field(value)
    return masked, found


def _may_hold_card_or_ssn(text: str) -> bool:
    for match in _LOG_NUMBERS.finditer(text):
        if _count_digits(match.group()) >= MIN_CARD_DIGITS or _SSN.search(text, *match.span()):
            return True
    return False


# 13-19 digits glued to a word (`pan_4111111111111111`): free-text detection leaves such
# runs alone to keep ids readable; a log line masks them too.
_GLUED_RUN = re.compile(r"(?<![0-9])[0-9]{13,19}(?![0-9])")


def mask_for_logs(text: str) -> str:
    """The log mask (and the error-body and stored-free-text mask): `_mask_plain_for_logs`,
    also through one layer of URL encoding, since Django logs every 4xx/5xx with the
    request, whose repr holds the raw query (`?pan=4111+1111+...`)."""
    masked = _mask_plain_for_logs(text)
    if "%" in masked or "+" in masked:
        decoded = unquote_plus(masked)
        if decoded != masked:
            decoded_masked = _mask_plain_for_logs(decoded)
            if decoded_masked != decoded:
                return decoded_masked
    return masked


def _mask_plain_for_logs(text: str) -> str:
    masked = _mask_detector_for_logs(text)
    return _GLUED_RUN.sub(lambda m: mask_card(m.group()), masked) if _GLUED_RUN.search(masked) else masked


def _mask_detector_for_logs(text: str) -> str:
    """Every card-shaped run and `ddd-dd-dddd` (no Luhn or SSA
    checks: where data may be a card number, we mask), emails and IBANs.

    Runs on every log record, so each kind is looked for only when a cheap precheck
    (an `@`, a long enough digit span, an IBAN's first four characters) allows it;
    a line with none of them comes back as the same object.

    Overlapping findings keep only the longer one, whose mask may leave the other's
    digits readable (`4111111111111111 123-45-6789`: the card window ends inside the
    SSN and shows its last four, `1 123`, before the SSN's rest). So the masked line
    is masked again until nothing changes; a line without PII still costs one pass.
    """
    masked = _mask_for_logs_once(text)
    for _ in range(3):
        if masked == text:
            break
        text, masked = masked, _mask_for_logs_once(masked)
    return masked


def _mask_for_logs_once(text: str) -> str:
    has_at = "@" in text
    has_numbers = _may_hold_card_or_ssn(text)
    has_iban = _IBAN_HEAD.search(text) is not None
    if not (has_at or has_numbers or has_iban):
        return text
    candidates: list[Finding] = []
    if has_numbers:
        candidates.extend(_find_cards(text, luhn=False))
        candidates.extend(_find_ssns(text, validate=False))
    if has_iban:
        candidates.extend(_find_ibans(text))
    if has_at:
        candidates.extend(_find_emails(text))
    if not candidates:
        return text
    return _apply_masks(text, _resolve_overlaps(candidates))
