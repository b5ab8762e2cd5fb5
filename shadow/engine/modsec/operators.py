"""SecRule operators (``@rx``, ``@pm``, ``@within``, ``@eq`` ...).

``test()`` returns the operator's own answer; the rule applies ``!`` negation.
``capture()`` returns what ``capture`` stores in TX:0..9 after a match.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import ahocorasick

from .. import libmodsecurity
from ..errors import RuleError
from ..re2util import (
    MAX_INPUT_BYTES,
    MODSEC_REGEX_MAX_MEM,
    PatternError,
    Regexp,
    compile_pattern,
    explain_rejection,
)
from .acmp import Acmp
from .macros import Macro, has_macro
from .pcre import translate_pcre

if TYPE_CHECKING:
    from .program import Transaction


def _load_libinjection() -> tuple[Callable[[bytes], bool], Callable[[bytes], bool]] | None:
    """libinjection's C entry points as libmodsecurity exports them (``libmodsecurity.py``):
    the very functions its @detectSQLi/@detectXSS call, on the raw bytes."""
    if libmodsecurity.LIBRARY is None:
        return None
    return libmodsecurity.detect_sqli, libmodsecurity.detect_xss


_LIBINJECTION = _load_libinjection()
# Short inputs (header values, argument names) repeat across requests.
_DETECT_MEMO: dict[tuple[Callable[[bytes], bool], bytes], bool] = {}


class UnsupportedRule(RuleError):
    """A rule that is valid SecLang but that this engine cannot run (RE2, libinjection)."""


class Operator:
    __slots__ = ("negated", "name", "argument")

    def __init__(self, name: str, argument: str, negated: bool) -> None:
        self.name = name
        self.argument = argument
        self.negated = negated

    def test(self, value: bytes, txn: Transaction) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def capture(self, value: bytes) -> list[bytes]:
        return []


class Rx(Operator):
    __slots__ = ("regex", "source", "set_group", "set_index")

    def __init__(self, name: str, argument: str, negated: bool, line: int) -> None:
        super().__init__(name, argument, negated)
        if has_macro(argument):
            raise RuleError(
                f"line {line}: macro expansion inside @rx is not supported ({argument!r})",
                {"line": line, "operator": "@rx"},
            )
        self.source = translate_pcre(argument).encode("utf-8")
        try:
            self.regex: Regexp = compile_pattern(self.source, latin1=True, max_mem=MODSEC_REGEX_MAX_MEM)
        except PatternError as exc:
            why = explain_rejection(exc.reason)
            raise UnsupportedRule(
                f"line {line}: @rx pattern rejected: {why} (RE2: {exc.reason})",
                {"line": line, "operator": "@rx", "reason": why, "re2_error": exc.reason},
            ) from None
        # Filled in by the program when the pattern joins an RE2 set prefilter.
        self.set_group = None
        self.set_index = -1

    def test(self, value: bytes, txn: Transaction) -> bool:
        if self.set_group is not None:
            return self.set_index in txn.set_hits(self.set_group, value)
        return self.regex.search(value[:MAX_INPUT_BYTES]) is not None

    def capture(self, value: bytes) -> list[bytes]:
        found = self.regex.search(value[:MAX_INPUT_BYTES])
        if found is None:
            return []
        groups = min(self.regex.groups, 9)
        return [found.group(i) or b"" for i in range(groups + 1)]


def _automaton(phrases: list[bytes]) -> ahocorasick.Automaton:
    automaton = ahocorasick.Automaton()
    for phrase in phrases:
        # ModSecurity matches phrases case-insensitively (ASCII folding).
        text = phrase.lower().decode("latin-1")
        automaton.add_word(text, text)
    automaton.make_automaton()
    return automaton


class Pm(Operator):
    __slots__ = ("automaton", "phrases", "acmp")

    def __init__(self, name: str, argument: str, negated: bool, phrases: list[bytes], line: int) -> None:
        super().__init__(name, argument, negated)
        self.phrases = [p for p in phrases if p]
        if not self.phrases:
            raise RuleError(f"line {line}: @{name} has no phrases", {"line": line, "operator": f"@{name}"})
        self.automaton = _automaton(self.phrases)
        acmp = Acmp(self.phrases)
        # Only phrase lists whose libmodsecurity automaton differs need the slow re-check.
        self.acmp = None if acmp.exact else acmp

    def test(self, value: bytes, txn: Transaction) -> bool:
        if not value:
            return False
        found = next(self.automaton.iter(value.lower().decode("latin-1")), None) is not None
        if found and self.acmp is not None:
            return self.acmp.search(value)
        return found

    def capture(self, value: bytes) -> list[bytes]:
        found = next(self.automaton.iter(value.lower().decode("latin-1")), None)
        return [found[1].encode("latin-1")] if found else []


def _pm_phrases(argument: str) -> list[bytes]:
    return [p.encode("utf-8") for p in argument.split()]


def _data_file_phrases(argument: str, data_dir: Path, line: int, name: str) -> list[bytes]:
    phrases: list[bytes] = []
    for filename in argument.split():
        path = (data_dir / filename).resolve()
        # Only files shipped next to the CRS rules: a rule text must not read the disk.
        if data_dir.resolve() not in path.parents or not path.is_file():
            raise RuleError(
                f"line {line}: @{name} data file {filename!r} is not one of the bundled CRS .data files",
                {"line": line, "operator": f"@{name}", "file": filename},
            )
        for raw in path.read_bytes().splitlines():
            phrase = raw.strip()
            if phrase and not phrase.startswith(b"#"):
                phrases.append(phrase)
    return phrases


class StringOp(Operator):
    """@contains @containsWord @streq @beginsWith @endsWith @within (argument may hold macros)."""

    __slots__ = ("macro", "kind")

    def __init__(self, name: str, argument: str, negated: bool, line: int) -> None:
        super().__init__(name, argument, negated)
        self.kind = name.lower()
        self.macro = Macro(argument, line)

    def test(self, value: bytes, txn: Transaction) -> bool:
        param = self.macro.expand(txn)
        kind = self.kind
        if kind == "contains":
            return param in value
        if kind == "streq":
            return value == param
        if kind == "beginswith":
            return value.startswith(param)
        if kind == "endswith":
            return value.endswith(param)
        if kind == "within":
            return value in param
        return _contains_word(value, param)

    def capture(self, value: bytes) -> list[bytes]:
        return [value]


def _is_word_byte(byte: int) -> bool:
    return byte == 0x5F or (byte < 0x80 and chr(byte).isalnum())


def _contains_word(value: bytes, word: bytes) -> bool:
    if not word:
        return True
    start = value.find(word)
    while start >= 0:
        end = start + len(word)
        before_ok = start == 0 or not _is_word_byte(value[start - 1])
        after_ok = end == len(value) or not _is_word_byte(value[end])
        if before_ok and after_ok:
            return True
        start = value.find(word, start + 1)
    return False


def atoi(value: bytes) -> int:
    """C atoi(): optional whitespace and sign, then digits; anything else is 0."""
    text = value.strip()
    sign = 1
    if text[:1] in (b"-", b"+"):
        sign = -1 if text[:1] == b"-" else 1
        text = text[1:]
    digits = 0
    count = 0
    for byte in text:
        if 0x30 <= byte <= 0x39:
            digits = digits * 10 + (byte - 0x30)
            count += 1
        else:
            break
    return sign * digits if count else 0


def _int(value: bytes) -> int:
    try:
        return int(value)
    except ValueError:
        return atoi(value)


class Numeric(Operator):
    __slots__ = ("macro", "kind", "constant")

    def __init__(self, name: str, argument: str, negated: bool, line: int) -> None:
        super().__init__(name, argument, negated)
        self.kind = name.lower()
        self.macro = Macro(argument, line)
        self.constant = atoi(self.macro.static) if self.macro.static is not None else None

    def test(self, value: bytes, txn: Transaction) -> bool:
        left = _int(value)
        right = self.constant if self.constant is not None else _int(self.macro.expand(txn))
        kind = self.kind
        if kind == "eq":
            return left == right
        if kind == "ge":
            return left >= right
        if kind == "gt":
            return left > right
        if kind == "le":
            return left <= right
        return left < right


class ValidateByteRange(Operator):
    __slots__ = ("allowed",)

    def __init__(self, name: str, argument: str, negated: bool, line: int) -> None:
        super().__init__(name, argument, negated)
        allowed = bytearray()
        for piece in argument.replace(" ", "").split(","):
            low, _, high = piece.partition("-")
            try:
                lo, hi = int(low), int(high or low)
            except ValueError:
                raise RuleError(
                    f"line {line}: @validateByteRange range {piece!r} is not a number or a-b range",
                    {"line": line, "operator": "@validateByteRange"},
                ) from None
            if not 0 <= lo <= hi <= 255:
                raise RuleError(
                    f"line {line}: @validateByteRange range {piece!r} is outside 0-255",
                    {"line": line, "operator": "@validateByteRange"},
                )
            allowed.extend(range(lo, hi + 1))
        self.allowed = bytes(allowed)

    def test(self, value: bytes, txn: Transaction) -> bool:
        return bool(value.translate(None, self.allowed))


_HEX = frozenset(b"0123456789abcdefABCDEF")


class ValidateUrlEncoding(Operator):
    __slots__ = ()

    def test(self, value: bytes, txn: Transaction) -> bool:
        start = value.find(b"%")
        while start >= 0:
            if start + 2 >= len(value):  # not enough characters left
                return True
            if value[start + 1] not in _HEX or value[start + 2] not in _HEX:
                return True
            start = value.find(b"%", start + 3)
        return False


class ValidateUtf8Encoding(Operator):
    __slots__ = ()

    def test(self, value: bytes, txn: Transaction) -> bool:
        if value.isascii():
            return False
        try:
            value.decode("utf-8")
        except UnicodeDecodeError:
            return True
        return False


class Constant(Operator):
    __slots__ = ("result",)

    def __init__(self, name: str, argument: str, negated: bool, result: bool) -> None:
        super().__init__(name, argument, negated)
        self.result = result

    def test(self, value: bytes, txn: Transaction) -> bool:
        return self.result


class IpMatch(Operator):
    __slots__ = ("networks",)

    def __init__(self, name: str, argument: str, negated: bool, line: int) -> None:
        super().__init__(name, argument, negated)
        try:
            self.networks = [ipaddress.ip_network(p.strip(), strict=False) for p in argument.split(",") if p.strip()]
        except ValueError as exc:
            raise RuleError(f"line {line}: @ipMatch {exc}", {"line": line, "operator": "@ipMatch"}) from None

    def test(self, value: bytes, txn: Transaction) -> bool:
        try:
            address = ipaddress.ip_address(value.decode("ascii").strip())
        except (ValueError, UnicodeDecodeError):
            return False
        return any(address in network for network in self.networks)


class Libinjection(Operator):
    __slots__ = ("detect",)

    def __init__(self, name: str, argument: str, negated: bool, line: int) -> None:
        super().__init__(name, argument, negated)
        if _LIBINJECTION is None:
            raise UnsupportedRule(
                f"line {line}: operator @{name} needs libinjection, from libmodsecurity.so.3, which is not installed (apt-get install libmodsecurity3)",
                {"line": line, "operator": f"@{name}"},
            )
        self.detect = _LIBINJECTION[0] if name.lower() == "detectsqli" else _LIBINJECTION[1]

    def test(self, value: bytes, txn: Transaction) -> bool:
        if not value:
            return False
        if len(value) > 128:
            return self.detect(value)
        memo = _DETECT_MEMO
        key = (self.detect, value)
        found = memo.get(key)
        if found is None:
            if len(memo) >= 65_536:
                memo.clear()
            found = memo[key] = self.detect(value)
        return found

    def capture(self, value: bytes) -> list[bytes]:
        return [value]


# Operators whose answer is a function of the value alone (StringOp/Numeric only
# when their argument holds no macro): a request-only link using them can be
# answered once per value and remembered.
VALUE_ONLY_OPERATORS = (Rx, Pm, ValidateByteRange, ValidateUrlEncoding, ValidateUtf8Encoding, Constant, IpMatch, Libinjection)

_STRING_OPS = {"contains", "containsword", "streq", "beginswith", "endswith", "within"}
_NUMERIC_OPS = {"eq", "ge", "gt", "le", "lt"}
SUPPORTED = (
    "@rx @pm @pmFromFile @pmf @contains @containsWord @streq @beginsWith @endsWith @within "
    "@eq @ge @gt @le @lt @validateByteRange @validateUrlEncoding @validateUtf8Encoding "
    "@unconditionalMatch @noMatch @ipMatch @detectSQLi @detectXSS"
)


def parse_operator(text: str, line: int, data_dir: Path) -> Operator:
    """``"@rx foo"``, ``"!@within %{tx.x}"`` or a bare regex (implicit @rx)."""
    negated = False
    body = text
    if body.startswith("!"):
        negated, body = True, body[1:]
    if not body.startswith("@"):
        return Rx("rx", body, negated, line)
    name, _, argument = body[1:].partition(" ")
    argument = argument.strip() if name.lower() != "rx" else argument.lstrip(" ")
    key = name.lower()
    if key == "rx":
        return Rx(name, argument, negated, line)
    if key == "pm":
        return Pm(name, argument, negated, _pm_phrases(argument), line)
    if key in ("pmfromfile", "pmf"):
        return Pm(name, argument, negated, _data_file_phrases(argument, data_dir, line, name), line)
    if key in _STRING_OPS:
        return StringOp(name, argument, negated, line)
    if key in _NUMERIC_OPS:
        return Numeric(name, argument, negated, line)
    if key == "validatebyterange":
        return ValidateByteRange(name, argument, negated, line)
    if key == "validateurlencoding":
        return ValidateUrlEncoding(name, argument, negated)
    if key == "validateutf8encoding":
        return ValidateUtf8Encoding(name, argument, negated)
    if key == "unconditionalmatch":
        return Constant(name, argument, negated, True)
    if key == "nomatch":
        return Constant(name, argument, negated, False)
    if key == "ipmatch":
        return IpMatch(name, argument, negated, line)
    if key in ("detectsqli", "detectxss"):
        return Libinjection(name, argument, negated, line)
    raise RuleError(
        f"line {line}: unsupported operator @{name}; supported: {SUPPORTED}",
        {"line": line, "operator": f"@{name}"},
    )
