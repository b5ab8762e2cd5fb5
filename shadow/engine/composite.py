"""``composite`` rules: any / all / none of nested rule configs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .base import CompiledRule, Verdict
from .config import check_keys
from .errors import RuleError
from .sample import NormalizedSample

MAX_DEPTH = 8
MAX_RULES = 256
OPERATORS = ("any", "all", "none")


class CompositeRule(CompiledRule):
    rule_type = "composite"

    def __init__(self, operator: str, children: list[CompiledRule]):
        self.operator = operator
        self.children = children

    def match(self, sample: NormalizedSample) -> Verdict:
        # Every child is evaluated (no short-circuit) so `fired` is complete for A/B diffs.
        hits = 0
        fired: list[str] = []
        score = 0
        for index, child in enumerate(self.children):
            verdict = child.match(sample)
            score += verdict.score
            if verdict.matched:
                hits += 1
                fired.append(str(index))
                fired.extend(f"{index}:{item}" for item in verdict.fired)
        if self.operator == "any":
            matched = hits > 0
        elif self.operator == "all":
            matched = hits == len(self.children)
        else:
            matched = hits == 0
        return Verdict(matched, tuple(fired), score)


def compile_composite(
    config: Mapping[str, Any],
    compile_child: Callable[[Mapping[str, Any], int, list[int]], CompiledRule],
    depth: int,
    budget: list[int],
) -> CompositeRule:
    check_keys(config, allowed=("operator", "rules"), required=("operator", "rules"))
    if depth >= MAX_DEPTH:
        raise RuleError(f"composite rules nest at most {MAX_DEPTH} levels deep", {"field": "rules"})
    operator = config["operator"]
    if operator not in OPERATORS:
        raise RuleError(f"composite 'operator' must be one of {', '.join(OPERATORS)}", {"field": "operator"})
    rules = config["rules"]
    if not isinstance(rules, list) or not rules:
        raise RuleError("composite 'rules' must be a non-empty list of rule configs", {"field": "rules"})
    children = []
    for index, child in enumerate(rules):
        budget[0] -= 1
        if budget[0] < 0:
            raise RuleError(f"a composite rule may contain at most {MAX_RULES} rules in all", {"field": "rules"})
        try:
            children.append(compile_child(child, depth + 1, budget))
        except RuleError as exc:
            # The top-level compile_rule() prefixes the message with this path once.
            path = [index, *exc.details.get("path", [])]
            raise RuleError(exc.message, {**exc.details, "path": path}) from None
    return CompositeRule(operator, children)
