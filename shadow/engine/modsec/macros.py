"""``%{tx.critical_anomaly_score}``-style macros in setvar values and operator arguments."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import RuleError
from ..limits import MAX_VALUE_BYTES, EngineLimitExceeded
from .variables import KNOWN, lookup

if TYPE_CHECKING:
    from .program import Transaction


class Macro:
    """Text with ``%{VAR}`` / ``%{COLLECTION.key}`` references, expanded per transaction."""

    __slots__ = ("parts", "static", "text")

    def __init__(self, text: str, line: int) -> None:
        self.text = text
        parts: list[bytes | tuple[str, str | None]] = []
        pos = 0
        while True:
            start = text.find("%{", pos)
            if start < 0:
                break
            end = text.find("}", start + 2)
            if end < 0:
                break
            if start > pos:
                parts.append(text[pos:start].encode("utf-8"))
            reference = text[start + 2 : end]
            name, sep, key = reference.replace(":", ".", 1).partition(".")
            name = name.upper()
            if name not in KNOWN:
                raise RuleError(
                    f"line {line}: unsupported variable {name!r} in macro %{{{reference}}}",
                    {"line": line, "variable": name},
                )
            parts.append((name, key if sep else None))
            pos = end + 1
        if pos < len(text):
            parts.append(text[pos:].encode("utf-8"))
        self.parts = tuple(parts)
        self.static: bytes | None = b"".join(p for p in parts if isinstance(p, bytes)) if all(isinstance(p, bytes) for p in parts) else None

    def expand(self, txn: Transaction) -> bytes:
        if self.static is not None:
            return self.static
        out = []
        size = 0
        for part in self.parts:
            piece = part if isinstance(part, bytes) else lookup(part[0], part[1], txn)
            size += len(piece)
            if size > MAX_VALUE_BYTES:
                # Checked while joining, so a macro naming a large value many times
                # never builds the oversized result at all.
                raise EngineLimitExceeded("value_size", f"a %{{macro}} expanded past {MAX_VALUE_BYTES} bytes")
            out.append(piece)
        return b"".join(out)

    def tx_references(self) -> set[str]:
        """Lowercased names of the TX variables this text reads (``%{tx.name}``)."""
        return {part[1].lower() for part in self.parts if not isinstance(part, bytes) and part[0] == "TX" and part[1]}


def has_macro(text: str) -> bool:
    start = text.find("%{")
    return start >= 0 and text.find("}", start) > start
