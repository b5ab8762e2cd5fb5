"""SecLang text to directives: line continuations, comments, quoting, action lists."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import RuleError


@dataclass(frozen=True, slots=True)
class Directive:
    name: str  # lowercased, e.g. "secrule"
    args: tuple[str, ...]
    line: int  # first physical line, 1-based


def _tokenize(text: str, line: int) -> list[str]:
    """Whitespace-separated words; double quotes group, and only \\" is unescaped.

    Other backslashes are kept so that regexes reach the operator unchanged.
    """
    tokens: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if c == '"':
            i += 1
            buf: list[str] = []
            while i < n and text[i] != '"':
                if text[i] == "\\" and i + 1 < n and text[i + 1] == '"':
                    buf.append('"')
                    i += 2
                    continue
                buf.append(text[i])
                i += 1
            if i >= n:
                raise RuleError(f"line {line}: unterminated double-quoted string", {"line": line})
            i += 1
            tokens.append("".join(buf))
        else:
            j = i
            while j < n and not text[j].isspace():
                j += 1
            tokens.append(text[i:j])
            i = j
    return tokens


def parse_directives(text: str) -> list[Directive]:
    """Split SecLang text into directives, joining lines that end with a backslash."""
    directives: list[Directive] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r")
        if not pending:
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                continue
            start = number
        if line.endswith("\\"):
            pending.append(line[:-1])
            continue
        pending.append(line)
        logical = "".join(pending)
        pending = []
        tokens = _tokenize(logical, start)
        if tokens:
            directives.append(Directive(tokens[0].lower(), tuple(tokens[1:]), start))
    if pending:
        raise RuleError(
            f"line {start}: the text ends inside a line continuation (trailing backslash)",
            {"line": start},
        )
    return directives


def split_actions(text: str, line: int) -> list[tuple[str, str | None]]:
    """``"id:1,t:none,msg:'a, b'"`` -> [("id", "1"), ("t", "none"), ("msg", "a, b")]."""
    items: list[str] = []
    buf: list[str] = []
    in_quote = False
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\" and in_quote and i + 1 < n and text[i + 1] == "'":
            buf.append("\\'")
            i += 2
            continue
        if c == "'":
            in_quote = not in_quote
            buf.append(c)
        elif c == "," and not in_quote:
            items.append("".join(buf))
            buf = []
        else:
            buf.append(c)
        i += 1
    if in_quote:
        raise RuleError(f"line {line}: unterminated single quote in the action list", {"line": line})
    items.append("".join(buf))
    actions: list[tuple[str, str | None]] = []
    for item in items:
        item = item.strip()
        if not item:
            continue
        name, sep, value = item.partition(":")
        argument: str | None = None
        if sep:
            argument = value.strip()
            if len(argument) >= 2 and argument[0] == "'" and argument[-1] == "'":
                argument = argument[1:-1].replace("\\'", "'")
        actions.append((name.strip().lower(), argument))
    return actions
