"""The bundled OWASP CRS 4 request rules (``shadow/crs/rules``) as rule text.

config = crs_rule_config(["942"], paranoia_level=1)   # a ready modsecurity rule_config
text = load_crs(["REQUEST-942-APPLICATION-ATTACK-SQLI.conf"])
text, level = crs_reference_text(config)               # rule_config.crs (CONTRACT §4a)
crs_catalog()                                          # GET /shadow/crs
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from .errors import RuleError

CRS_DATA_DIR = Path(__file__).resolve().parents[1] / "crs" / "rules"
CRS_RULES_DIR = CRS_DATA_DIR
# The bundled copy's version string (every rule's ver: action; see shadow/crs/SOURCES.md).
CRS_VERSION = "4.29.0-dev"
BLOCKING_FILE = "REQUEST-949-BLOCKING-EVALUATION.conf"
MAX_EXCLUSIONS = 1000
# CRS tags are words, paths and versions ("attack-sqli", "paranoia-level/2", "capec/1000/152").
_TAG_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:")


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


def crs_reference_text(config: Mapping[str, Any]) -> tuple[str, int]:
    """Rule text and paranoia level for a ``modsecurity`` rule_config naming the CRS:
    ``{"crs": {"paranoia_level"?, "files"?, "exclude_rule_ids"?, "exclude_tags"?},
    "rules"?}``. The chosen files in include order with the tenant's own rules after
    them — before REQUEST-949's blocking evaluation when that file runs, as CRS
    plugins do, so their scores count in its decision — then the exclusions as
    ``SecRuleRemoveById/ByTag`` after everything (where CRS users put them: they
    remove matching rules loaded before them, the tenant's own included)."""
    crs = config["crs"]
    if not isinstance(crs, Mapping):
        raise RuleError("'crs' must be an object", {"field": "crs"})
    allowed = {"paranoia_level", "files", "exclude_rule_ids", "exclude_tags"}
    unknown = sorted(k for k in crs if k not in allowed)
    if unknown:
        raise RuleError(f"unknown field {unknown[0]!r} in 'crs'; allowed: {', '.join(sorted(allowed))}", {"field": f"crs.{unknown[0]}"})
    level = crs.get("paranoia_level", 1)
    if not isinstance(level, int) or isinstance(level, bool) or not 1 <= level <= 4:
        raise RuleError("'crs.paranoia_level' must be an integer from 1 to 4", {"field": "crs.paranoia_level"})
    files = crs.get("files")
    available = crs_files()
    if files is None:
        chosen = available
    else:
        if not isinstance(files, list) or not files or not all(isinstance(f, str) for f in files):
            raise RuleError("'crs.files' must be a non-empty list of CRS file names or numbers", {"field": "crs.files"})
        picked = {_resolve(f, available) for f in files}
        chosen = [name for name in available if name in picked]  # include order, once each
    ids = crs.get("exclude_rule_ids", [])
    if not isinstance(ids, list) or len(ids) > MAX_EXCLUSIONS or not all(isinstance(i, int) and not isinstance(i, bool) and 1 <= i <= 999_999_999 for i in ids):
        raise RuleError(f"'crs.exclude_rule_ids' must be a list of at most {MAX_EXCLUSIONS} rule ids (integers)", {"field": "crs.exclude_rule_ids"})
    tags = crs.get("exclude_tags", [])
    if (
        not isinstance(tags, list)
        or len(tags) > MAX_EXCLUSIONS
        or not all(isinstance(t, str) and 0 < len(t) <= 128 and set(t) <= _TAG_CHARS for t in tags)
    ):
        raise RuleError(
            f"'crs.exclude_tags' must be a list of at most {MAX_EXCLUSIONS} CRS tags (letters, digits and -_./:)",
            {"field": "crs.exclude_tags"},
        )
    own = config.get("rules", "")
    if not isinstance(own, str):
        raise RuleError("'rules' must be SecRule text", {"field": "rules"})
    exclusions = "".join(f"SecRuleRemoveById {i}\n" for i in ids) + "".join(f'SecRuleRemoveByTag "{t}"\n' for t in tags)
    before = [name for name in chosen if name != BLOCKING_FILE]
    parts = [load_crs(before), own]
    if BLOCKING_FILE in chosen:
        parts.append(load_crs([BLOCKING_FILE]))
    parts.append(exclusions)
    return "\n".join(p for p in parts if p), level


@cache
def crs_catalog() -> dict[str, Any]:
    """``GET /shadow/crs``: the bundled version and its request files with their rule counts."""
    from .modsec.parser import parse_directives  # the parser imports nothing from here

    files = []
    for name in crs_files():
        directives = parse_directives((CRS_RULES_DIR / name).read_text(encoding="utf-8"))
        count = 0
        chained = False
        for directive in directives:
            if directive.name in ("secrule", "secaction"):
                if not chained:
                    count += 1
                chained = "chain" in directive.args[-1].replace(" ", "").split(",") if directive.args else False
        files.append({"name": name, "number": name.split("-")[1], "rules": count})
    return {"version": CRS_VERSION, "files": files}
