"""The API scopes of CONTRACT §2."""

from __future__ import annotations

ALL = "*"
SCOPES: tuple[str, ...] = (
    "credits:read",
    "credits:consume",
    "credits:reserve",
    "credits:purchase",
    "credits:audit",
    "shadow:read",
    "shadow:write",
    "shadow:evaluate",
    "shadow:deploy",
    "camouflage:mask",
    "camouflage:encrypt",
    "camouflage:decrypt",
    "camouflage:tokenize",
    "camouflage:detokenize",
)
VALID = frozenset(SCOPES) | {ALL}


def parse(raw: str | list[str]) -> list[str]:
    """'a,b' or ['a', 'b'] -> a sorted, de-duplicated list; unknown scopes raise ValueError."""
    items = raw.split(",") if isinstance(raw, str) else raw
    scopes = sorted({s.strip() for s in items if s.strip()})
    unknown = [s for s in scopes if s not in VALID]
    if unknown:
        raise ValueError(f"unknown scope(s): {', '.join(unknown)}; valid: *, {', '.join(SCOPES)}")
    if not scopes:
        raise ValueError("at least one scope is required")
    return scopes


def grants(held: list[str], needed: str) -> bool:
    return ALL in held or needed in held
