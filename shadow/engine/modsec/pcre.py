"""Rewrite the PCRE-isms RE2 lacks, where the rewrite keeps what a pattern matches.

ModSecurity compiles ``@rx`` with PCRE; the engine runs RE2.  Translated:

* possessive quantifiers ``a*+`` and atomic groups ``(?>...)`` become greedy /
  non-capturing.  For a yes/no search this can only add matches that PCRE's
  refusal to backtrack would have prevented; CRS never relies on that.
* ``$`` (without ``(?m)``) and ``\\Z`` become ``(?:\\n?\\z)``: PCRE's end of subject
  also allows one trailing newline, RE2's ``$`` does not.
* ``\\s`` also matches VT (0x0b), as in PCRE >= 8.34; ``\\v`` is PCRE's vertical
  whitespace class (RE2 reads it as VT alone); ``\\h`` is horizontal whitespace;
  ``\\e`` is ESC.

Everything else (backreferences, lookaround, ``\\G``, ``(?x)``...) is left for RE2 to
reject, and the caller reports RE2's reason.
"""

from __future__ import annotations

_QUANTIFIERS = "*+?"
_VERTICAL = r"\n\x0b\f\r\x85"
_HORIZONTAL = r"\t \xa0"
_END = r"(?:\n?\z)"


def _class_end(pattern: str, start: int) -> int:
    """Index just past the ']' closing the class that opens at ``start``."""
    i = start + 1
    n = len(pattern)
    if i < n and pattern[i] == "^":
        i += 1
    if i < n and pattern[i] == "]":
        i += 1
    while i < n:
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if c == "[" and i + 1 < n and pattern[i + 1] == ":":
            close = pattern.find(":]", i + 2)
            if close != -1:
                i = close + 2
                continue
        if c == "]":
            return i + 1
        i += 1
    return n


def _translate_class(body: str) -> str:
    out: list[str] = []
    i, n = 0, len(body)
    while i < n:
        c = body[i]
        if c == "\\" and i + 1 < n:
            e = body[i + 1]
            if e == "s":
                out.append(r"\s\x0b")
            elif e == "v":
                out.append(_VERTICAL)
            elif e == "h":
                out.append(_HORIZONTAL)
            elif e == "e":
                out.append(r"\x1b")
            else:
                out.append(body[i : i + 2])
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def translate_pcre(pattern: str) -> str:
    multiline = _has_m_flag(pattern)
    out: list[str] = []
    i, n = 0, len(pattern)
    after_quantifier = False
    while i < n:
        c = pattern[i]
        if after_quantifier and c == "+":
            # Possessive: drop the '+' (greedy is a superset for a search).
            i += 1
            after_quantifier = False
            continue
        after_quantifier = False
        if c == "\\" and i + 1 < n:
            e = pattern[i + 1]
            if e == "Q":
                end = pattern.find("\\E", i + 2)
                end = n if end == -1 else end + 2
                out.append(pattern[i:end])
                i = end
                continue
            if e == "x" and i + 2 < n and pattern[i + 2] == "{":
                close = pattern.find("}", i + 3)
                close = n - 1 if close == -1 else close
                out.append(pattern[i : close + 1])
                i = close + 1
                continue
            out.append(
                {
                    "s": r"[\s\x0b]",
                    "S": r"[^\s\x0b]",
                    "v": f"[{_VERTICAL}]",
                    "V": f"[^{_VERTICAL}]",
                    "h": f"[{_HORIZONTAL}]",
                    "H": f"[^{_HORIZONTAL}]",
                    "e": r"\x1b",
                    "Z": _END,
                }.get(e, pattern[i : i + 2])
            )
            i += 2
            continue
        if c == "[":
            end = _class_end(pattern, i)
            out.append("[" + _translate_class(pattern[i + 1 : end - 1]) + "]")
            i = end
            continue
        if c == "(" and pattern.startswith("(?>", i):
            out.append("(?:")
            i += 3
            continue
        if c == "$" and not multiline:
            out.append(_END)
            i += 1
            continue
        if c in _QUANTIFIERS:
            out.append(c)
            i += 1
            if i < n and pattern[i] == "?":  # lazy quantifier
                out.append("?")
                i += 1
            else:
                after_quantifier = True
            continue
        if c == "{":
            close = pattern.find("}", i)
            body = pattern[i + 1 : close] if close != -1 else ""
            if body and all(ch.isdigit() or ch == "," for ch in body) and body[0].isdigit():
                out.append(pattern[i : close + 1])
                i = close + 1
                if i < n and pattern[i] == "?":
                    out.append("?")
                    i += 1
                else:
                    after_quantifier = True
                continue
        out.append(c)
        i += 1
    return "".join(out)


def _has_m_flag(pattern: str) -> bool:
    """True when an inline flag group such as (?im) or (?m: turns multi-line on."""
    start = 0
    while True:
        at = pattern.find("(?", start)
        if at == -1:
            return False
        j = at + 2
        while j < len(pattern) and pattern[j].isalpha():
            if pattern[j] == "m":
                return True
            j += 1
        start = at + 2
