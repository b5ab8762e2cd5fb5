"""Find and mask PII in free text and in form fields.

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
- phone: every digit but the number's last two becomes `*` (an extension's all),
  `+`, brackets and separators stay (`+1 (415) 555-2671` -> `+* (***) ***-**71`): the
  country and area codes locate a person, two digits are enough for "is this my number?";
- IBAN: country code, check digits and the last four characters stay
  (`DE89 3704 0044 0532 0130 00` -> `DE89 **** **** **** **30 00`), as banks show it;
- IP: IPv4 keeps the last octet (`192.168.1.10` -> `***.***.***.10`); IPv6 keeps the
  last group (`2001:db8::8a2e:370:7334` -> `****:****::****:****:7334`). Each hidden
  part becomes a fixed-width run of `*` so the mask does not tell its length.

Detection rules worth knowing (CONTRACT §5 and §5a):

- cards: 13-19 digits, or 12 with a card word (`card`, `cc`, `pan`, `maestro`, ...)
  within 32 characters before them, optionally grouped by single spaces, dashes or
  dots, that pass Luhn and are not part of a longer token (`ORD-20241127-000123`,
  `v1.2`, `abc4111...`) and not preceded by `+` (that is a phone). Groups before the
  last must have 3+ digits, so `2024 11 27 18 12 39 123` is not a card; dotted groups
  4-6 digits, so decimals (`0.004063599999994949`) and addresses are not. Thirteen
  bare digits starting with 1 are epoch milliseconds, not a card. Overlapping
  Luhn-valid windows of one run are one finding, so the mask hides them all;
- SSN: `ddd-dd-dddd` or `ddd dd dddd`, or nine bare digits after an SSN word (`ssn`,
  `social security`), with area 000/666/900-999, group 00 and serial 0000 refused.
  The published "famous" numbers (123-45-6789, 078-05-1120) are masked all the same:
  they are real-looking data in a log. Nine bare digits elsewhere are not an SSN (too
  many ids, amounts and phone fragments look like that);
- phone: what libphonenumber finds valid, see `phones`;
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

from stdnum import iban as stdnum_iban
from stdnum import numdb
from stdnum.util import get_cc_module

from .cards import CARD_WORD, MAX_CARD_DIGITS, MIN_CARD_DIGITS, MIN_SHORT_CARD_DIGITS, card_word_before, luhn_valid, mask_card
from .phones import find_phones, mask_phone

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

# Spans of digits with space/dash/dot separators long enough to hold a card (12+
# digits); the exact runs are then split out of each span.
_CARD_SPAN = re.compile(r"[0-9][0-9 .-]{10,}+")
# A maximal run of digit groups joined by single spaces, dashes or dots.
_DIGIT_RUN = re.compile(r"[0-9]++(?:[ .-][0-9]++)*+")
_DIGITS = re.compile(r"[0-9]+")

_SSN = re.compile(r"([0-9]{3})([- ])([0-9]{2})\2([0-9]{4})")
_SSN_BARE = re.compile(r"(?<![0-9])[0-9]{9}(?![0-9])")
SSN_WORD = re.compile(r"(?<![A-Za-z])(?i:ssns?|social[ _-]?security)(?![a-z])")
SSN_WORD_REACH = 32

# The local part excludes `=`, `:`, quotes and `/` so a `key=` or `key:` before an
# address is never part of it; the look-behind keeps matches from starting mid-word.
# `\w` is Unicode: `josé@exemple.fr` and `user@bücher.de` are addresses too.
_EMAIL = re.compile(
    r"(?<![\w%+.-])"
    r"(?P<local>[\w%+-]++(?:\.[\w%+-]++)*+)"
    r"@(?P<domain>[\w-]++(?:\.[\w-]++)++)"
)

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


def _usable_groups(run: str, groups: list[tuple[int, int, int]], *, glued_before: bool, glued_after: bool) -> range:
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


# A group is (start, end, digits) inside its run; a dotted card (`4111.1111.1111.1111`)
# is one group, so no window cuts through it.
Group = tuple[int, int, int]


def _pieces(run: str) -> Iterator[tuple[list[Group], bool, bool]]:
    """The run's groups, split where a dot joins digits that are not laid out like a card
    (a decimal `0.004063599999994949`, a version, an address): those are no card's part.
    Each piece comes with whether it is glued to that non-card on its left or right."""
    spans = [m.span() for m in _DIGITS.finditer(run)]
    if "." not in run:
        yield [(start, end, end - start) for start, end in spans], False, False
        return
    current: list[Group] = []
    glued_left = False
    i = 0
    while i < len(spans):
        j = i
        while j + 1 < len(spans) and run[spans[j][1]] == ".":
            j += 1
        chain = spans[i : j + 1]
        if j > i and not (all(4 <= end - start <= 6 for start, end in chain[:-1]) and chain[-1][1] - chain[-1][0] <= 6):
            if current:
                yield current, glued_left, True
            current, glued_left = [], True
        else:
            current.append((chain[0][0], chain[-1][1], sum(end - start for start, end in chain)))
        i = j + 1
    if current:
        yield current, glued_left, False


def _luhn_windows(run: str, groups: list[Group], usable: range, min_digits: int) -> Iterator[tuple[int, int]]:
    """Every window of whole groups with `min_digits`-19 digits that passes Luhn."""
    for i in usable:
        count = 0
        for j in range(i, usable.stop):
            count += groups[j][2]
            if count > MAX_CARD_DIGITS:
                break
            # Only a window's last group may be short (`4222 2222 2222 2`):
            # `2024 11 27 ...` or `qty 2 ...` does not start a card.
            if j > i and groups[j - 1][2] < 3:
                break
            if count < min_digits:
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


def _shaped_windows(groups: list[Group], usable: range, min_digits: int) -> Iterator[tuple[int, int]]:
    """For each start group, the longest window of `min_digits`-19 digits (no Luhn).

    Two pointers keep this linear: a run of a million one-digit groups must not
    cost a million times nineteen steps on every log record.
    """
    end = usable.start  # exclusive
    count = 0
    for i in usable:
        if end < i:
            end, count = i, 0
        while end < usable.stop and count + groups[end][2] <= MAX_CARD_DIGITS:
            count += groups[end][2]
            end += 1
        if count >= min_digits:
            yield groups[i][0], groups[end - 1][1]
        if end > i:
            count -= groups[i][2]


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
    return text.replace(" ", "").replace("-", "").replace(".", "")


def find_cards(text: str, *, luhn: bool) -> Iterator[Finding]:
    """Cards in free text (`luhn=True`) or card-shaped runs for the log filter."""
    for span in _CARD_SPAN.finditer(text):
        for match in _DIGIT_RUN.finditer(text, span.start(), span.end()):
            run = match.group()
            if len(run) < MIN_SHORT_CARD_DIGITS:
                continue
            start, end = match.span()
            min_digits = MIN_SHORT_CARD_DIGITS if card_word_before(text, start) else MIN_CARD_DIGITS
            for groups, glued_left, glued_right in _pieces(run):
                usable = _usable_groups(
                    run,
                    groups,
                    # Logs mask `+`-prefixed runs too: where data may be a card number, we mask.
                    glued_before=glued_left or (groups[0][0] == 0 and _glued_before(text, start, plus=luhn)),
                    glued_after=glued_right or (groups[-1][1] == len(run) and _glued_after(text, end)),
                )
                windows = _luhn_windows(run, groups, usable, min_digits) if luhn else _shaped_windows(groups, usable, min_digits)
                for window_start, window_end in _merged(windows):
                    yield Finding(CREDIT_CARD, start + window_start, start + window_end)


def find_ssns(text: str, *, validate: bool) -> Iterator[Finding]:
    """`validate=True` (free text): SSA rules, and not part of a longer token
    (`1-123-45-6789`, `123-45-6789-1`, `0 123 45 6789`). `validate=False` (logs): the
    shape anywhere, glued to a card-shaped run (`4111111111111111-123-45-6789`) included."""
    for match in _SSN.finditer(text):
        start, end = match.span()
        if not validate:
            yield Finding(US_SSN, start, end)
        elif _free_standing(text, start, end, spaced=match.group(2) == " ") and ssn_valid(match[1], match[3], match[4]):
            yield Finding(US_SSN, start, end)
    if SSN_WORD.search(text) is None:
        return
    for match in _SSN_BARE.finditer(text):
        start, end = match.span()
        if not SSN_WORD.search(text, max(0, start - SSN_WORD_REACH), start):
            continue
        digits = match.group()
        if not validate or (_free_standing(text, start, end, spaced=False) and ssn_valid(digits[:3], digits[3:5], digits[5:])):
            yield Finding(US_SSN, start, end)


def _free_standing(text: str, start: int, end: int, *, spaced: bool) -> bool:
    if _glued_before(text, start, plus=True) or _glued_after(text, end):
        return False
    # `ddd dd dddd` inside longer space-grouped digits is a piece of another number.
    return not (spaced and ((start >= 2 and text[start - 2].isdigit()) or (end + 1 < len(text) and text[end + 1].isdigit())))


def find_emails(text: str) -> Iterator[Finding]:
    if "@" not in text:
        return
    for match in _EMAIL.finditer(text):
        if _email_domain_valid(match.group("domain")):
            yield Finding(EMAIL, match.start(), match.end())


def _find_phones(text: str) -> Iterator[Finding]:
    for start, end in find_phones(text):
        yield Finding(PHONE, start, end)


def find_ibans(text: str) -> Iterator[Finding]:
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


def resolve_overlaps(candidates: list[Finding]) -> list[Finding]:
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


def apply_masks(text: str, findings: list[Finding]) -> str:
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
        *find_cards(text, luhn=True),
        *find_ssns(text, validate=True),
        *find_emails(text),
        *_find_phones(text),
        *find_ibans(text),
        *_find_ips(text),
    ]
    return resolve_overlaps(candidates)


def mask_text(text: str) -> tuple[str, list[Finding]]:
    """Mask the PII in free text; findings carry offsets into `text`."""
    findings = find_pii(text)
    return apply_masks(text, findings), findings


_CARD_SHAPE = re.compile(r"[0-9]++(?:[ .-][0-9]++)*+")
_SSN_SHAPE = re.compile(r"[0-9]{3}([- ])[0-9]{2}\1[0-9]{4}")


def _mask_field(name: str, value: str) -> tuple[str, list[str]]:
    # A field that holds only a card-shaped (or SSN-shaped) value is masked as such
    # without Luhn (or SSA) checks: a form field is not prose, so the shape is enough.
    # The field's name is the word before it: `{"pan": "630427373398"}`, `{"ssn": "123456789"}`.
    stripped = value.strip()
    if _CARD_SHAPE.fullmatch(stripped) and _one_card_piece(stripped):
        digit_count = len(_strip_separators(stripped))
        shortest = MIN_SHORT_CARD_DIGITS if CARD_WORD.search(name) else MIN_CARD_DIGITS
        if shortest <= digit_count <= MAX_CARD_DIGITS:
            return mask_card(value), [CREDIT_CARD]
    if _SSN_SHAPE.fullmatch(stripped) or (len(stripped) == 9 and stripped.isdigit() and SSN_WORD.search(name)):
        return mask_ssn(value), [US_SSN]
    masked, findings = mask_text(value)
    return masked, [finding.type for finding in findings]


def _one_card_piece(run: str) -> bool:
    """No dot in it joins digits laid out as something other than a card (`1234567890123.45`)."""
    pieces = list(_pieces(run))
    return len(pieces) == 1 and not pieces[0][1] and not pieces[0][2]


def mask_fields(fields: Mapping[str, str]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Mask each field's value; findings list the types found per field (one per finding)."""
    masked: dict[str, str] = {}
    found: dict[str, list[str]] = {}
    for name, value in fields.items():
        masked[name], found[name] = _mask_field(name, value)
    return masked, found
