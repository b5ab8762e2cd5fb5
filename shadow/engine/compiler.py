"""``compile_rule(rule_config)``: the one entry point from a stored rule to a matcher."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import CompiledRule
from .composite import MAX_RULES, compile_composite
from .errors import RuleError
from .modsec import compile_modsecurity
from .regex import compile_regex
from .signature import compile_signature

RULE_TYPES = ("signature", "regex", "composite", "modsecurity")


def _compile(config: Mapping[str, Any], depth: int, budget: list[int]) -> CompiledRule:
    if not isinstance(config, Mapping):
        raise RuleError("a rule_config must be a JSON object", {"field": "rule_config"})
    rule_type = config.get("type")
    if rule_type == "signature":
        return compile_signature(config)
    if rule_type == "regex":
        return compile_regex(config)
    if rule_type == "composite":
        return compile_composite(config, _compile, depth, budget)
    if rule_type == "modsecurity":
        return compile_modsecurity(config)
    raise RuleError(
        f"unsupported rule type {rule_type!r}; supported: {', '.join(RULE_TYPES)}",
        {"field": "type"},
    )


def compile_rule(config: Mapping[str, Any]) -> CompiledRule:
    """Compile a contract ``rule_config``; raises :class:`RuleError` naming the problem."""
    try:
        return _compile(config, 0, [MAX_RULES])
    except RuleError as exc:
        path = exc.details.get("path")
        if path:
            where = ".".join(str(p) for p in path)
            raise RuleError(f"composite rule {where}: {exc.message}", exc.details) from None
        raise
