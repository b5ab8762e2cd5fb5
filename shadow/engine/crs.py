"""The bundled OWASP CRS 4 request rules (``shadow/crs/rules``) as rule text.

config = crs_rule_config(["942"], paranoia_level=1)   # a ready modsecurity rule_config
text = load_crs(["REQUEST-942-APPLICATION-ATTACK-SQLI.conf"])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .errors import RuleError
from .modsec import CRS_DATA_DIR

CRS_RULES_DIR = CRS_DATA_DIR


def crs_files() -> list[str]:
    """Bundled request rule files, in the order ModSecurity includes them."""
    return sorted(p.name for p in CRS_RULES_DIR.glob("REQUEST-9*.conf"))


def _resolve(name: str, available: list[str]) -> str:
    if name in available:
        return name
    matches = [f for f in available if f.startswith(f"REQUEST-{name}-") or f.startswith(name)]
    if len(matches) != 1:
        raise RuleError(f"unknown CRS file {name!r}; bundled: {', '.join(available)}", {"field": "files", "file": name})
    return matches[0]


def load_crs(files: Sequence[str] | None = None) -> str:
    """Text of the given CRS files (full names or numbers like "942"); all when None."""
    available = crs_files()
    chosen = available if files is None else [_resolve(str(f), available) for f in files]
    return "\n".join((CRS_RULES_DIR / name).read_text(encoding="utf-8") for name in chosen)


def crs_rule_config(files: Sequence[str] | None = None, *, paranoia_level: int = 1, threshold: int = 5) -> dict[str, Any]:
    """A ``modsecurity`` rule_config running the given CRS files as shipped."""
    return {
        "type": "modsecurity",
        "rules": load_crs(files),
        "threshold": threshold,
        "paranoia_level": paranoia_level,
    }


# The attack-detection files (plus the initialisation and blocking evaluation).
ATTACK_FILES = ("901", "911", "913", "920", "921", "922", "930", "931", "932", "933", "934",
                "941", "942", "943", "944", "949")  # fmt: skip
