"""Validation helpers shared by the rule compilers (strict, like the API bodies)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .errors import RuleError
from .sample import CONTRACT_TARGETS
from .transforms import resolve_contract_transforms


def check_keys(config: Mapping[str, Any], *, allowed: Iterable[str], required: Iterable[str] = ()) -> None:
    allowed = set(allowed) | {"type"}
    unknown = sorted(k for k in config if k not in allowed)
    if unknown:
        raise RuleError(
            f"unknown field {unknown[0]!r} in a {config.get('type')} rule_config; allowed: {', '.join(sorted(allowed))}",
            {"field": unknown[0]},
        )
    for key in required:
        if key not in config:
            raise RuleError(f"{config.get('type')} rule_config needs {key!r}", {"field": key})


def targets_of(config: Mapping[str, Any]) -> tuple[str, ...]:
    targets = config.get("targets", ["path", "query", "body"])
    if not isinstance(targets, list) or not targets or not all(isinstance(t, str) for t in targets):
        raise RuleError("'targets' must be a non-empty list of target names", {"field": "targets"})
    unknown = [t for t in targets if t not in CONTRACT_TARGETS]
    if unknown:
        raise RuleError(
            f"unsupported target {unknown[0]!r}; supported: {', '.join(CONTRACT_TARGETS)}",
            {"field": "targets", "target": unknown[0]},
        )
    return tuple(dict.fromkeys(targets))


def transforms_of(config: Mapping[str, Any], default: list[str]) -> tuple[str, ...]:
    return resolve_contract_transforms(config.get("transforms", default))


def integer(config: Mapping[str, Any], key: str, default: int, *, low: int, high: int) -> int:
    value = config.get(key, default)
    # bool is an int subclass: reject it explicitly, as the API does.
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise RuleError(f"'{key}' must be an integer from {low} to {high}", {"field": key})
    return value
