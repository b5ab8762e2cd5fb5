"""Compiling a rule through the engine, with the engine's refusal turned into a 400,
and a per-process cache of compiled rules.

A worker runs many batches of the same evaluation: compiling the CRS once per batch
would cost more than judging the batch (~60 ms for 942, ~0.5 s for every file).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from shadow.engine import CompiledRule, RuleError, compile_rule
from shadow.exceptions import InvalidRule
from shadow.selection import config_hash
from shieldx.errors import InvalidRequest
from shieldx.lru import LRU

# A compiled full CRS is ~18 MB: a handful per process is plenty (one evaluation at a time per worker).
_compiled: LRU[CompiledRule] = LRU(4)


def check_rule(rule_type: str, rule_config: Mapping[str, Any]) -> str:
    """Compile a rule given over the API; returns its config hash, or raises a 400
    carrying the engine's message (RE2's reason, the SecRule line, the unsupported name)."""
    if rule_config.get("type") != rule_type:
        raise InvalidRequest(
            f"rule_type {rule_type!r} does not match rule_config.type {rule_config.get('type')!r}.",
            details={"field": "rule_type"},
        )
    digest = config_hash(rule_config)
    if _compiled.get(digest) is None:
        try:
            _compiled.put(digest, compile_rule(rule_config))
        except RuleError as exc:
            raise InvalidRule(exc.message, details={"field": "rule_config", "rule_error": exc.details}) from None
    return digest


def compiled_rule(digest: str, load_config: Callable[[], Mapping[str, Any]]) -> CompiledRule:
    """The compiled rule for a config hash, compiling (and caching) on first use."""
    rule = _compiled.get(digest)
    if rule is None:
        rule = compile_rule(load_config())
        _compiled.put(digest, rule)
    return rule
