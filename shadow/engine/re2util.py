"""RE2 compilation with the engine's limits.

Every operator pattern in the engine is compiled here, with google-re2 only: RE2
runs in time linear in the input, so no rule a tenant writes can make evaluation
hang (Python's ``re`` backtracks exponentially on ``^(a+)+$``).
"""

from __future__ import annotations

import re2

# Per compiled pattern; RE2's own default is 8 MiB.  A pattern whose program does
# not fit is refused at compile time instead of degrading at match time.
USER_REGEX_MAX_MEM = 8 << 20
# CRS patterns are large alternations; sets of them need more room for the DFA.
MODSEC_REGEX_MAX_MEM = 32 << 20
MODSEC_SET_MAX_MEM = 256 << 20
# Only the first MAX_INPUT_BYTES of a value are searched: a bound on time per sample.
MAX_INPUT_BYTES = 1 << 20

Regexp = re2._Regexp


class PatternError(ValueError):
    """RE2 refused a pattern; ``reason`` is RE2's own message."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def make_options(*, latin1: bool, case_sensitive: bool = True, max_mem: int) -> re2.Options:
    options = re2.Options()
    options.max_mem = max_mem
    options.log_errors = False
    options.case_sensitive = case_sensitive
    if latin1:
        options.encoding = re2.Options.Encoding.LATIN1
    return options


def compile_pattern(pattern: str | bytes, *, latin1: bool, case_sensitive: bool = True, max_mem: int) -> Regexp:
    """Compile with RE2 or raise :class:`PatternError` carrying RE2's reason.

    In LATIN1 mode the pattern must be bytes; each byte is one character, so a
    pattern matches the UTF-8 bytes of a value the way PCRE without UTF mode does
    (``\\x{c2}\\x{b4}`` matches the two bytes of U+00B4).
    """
    if latin1 and isinstance(pattern, str):
        pattern = pattern.encode("utf-8")
    options = make_options(latin1=latin1, case_sensitive=case_sensitive, max_mem=max_mem)
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else ""
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise PatternError(str(reason) or "RE2 rejected the pattern") from None


def explain_rejection(reason: str) -> str:
    """A sentence on why RE2 refuses common PCRE constructs."""
    lowered = reason.lower()
    if "invalid escape sequence: \\" in lowered and any(ch.isdigit() for ch in reason[-3:]):
        return "backreferences are not supported by RE2 (they cannot run in linear time)"
    if "invalid perl operator: (?=" in lowered or "invalid perl operator: (?!" in lowered:
        return "lookahead is not supported by RE2 (it cannot run in linear time)"
    if "invalid perl operator: (?<=" in lowered or "invalid perl operator: (?<!" in lowered:
        return "lookbehind is not supported by RE2 (it cannot run in linear time)"
    if "invalid perl operator: (?<" in lowered:
        return "lookbehind is not supported by RE2 (it cannot run in linear time)"
    if "invalid perl operator: (?>" in lowered:
        return "atomic groups are not supported by RE2"
    if "bad repetition operator: *+" in lowered or "bad repetition operator: ++" in lowered:
        return "possessive quantifiers are not supported by RE2"
    if "pattern too large" in lowered:
        return "the pattern needs more memory than the limit allows"
    return "RE2 cannot compile this pattern"
