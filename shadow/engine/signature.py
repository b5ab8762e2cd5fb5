"""``signature`` rules: literal substrings, all found in one Aho-Corasick pass."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ahocorasick

from .base import NO_MATCH, CompiledRule, Verdict
from .config import check_keys, targets_of, transforms_of
from .errors import RuleError
from .sample import NormalizedSample

DEFAULT_TRANSFORMS = ["url_decode", "lowercase"]
MAX_PATTERNS = 10_000
MAX_PATTERN_LENGTH = 4_096


class SignatureRule(CompiledRule):
    rule_type = "signature"

    def __init__(self, patterns: list[str], targets: tuple[str, ...], transforms: tuple[str, ...]):
        self.targets = targets
        self.transforms = transforms
        # Targets are lowercased by the transform, so the needles must be too.
        lower = "lowercase" in transforms
        self.patterns = tuple(dict.fromkeys(p.lower() if lower else p for p in patterns))
        self.automaton = ahocorasick.Automaton()
        for pattern in self.patterns:
            self.automaton.add_word(pattern, pattern)
        self.automaton.make_automaton()

    def match(self, sample: NormalizedSample) -> Verdict:
        found: dict[str, None] = {}
        for target in self.targets:
            text = sample.target(target, self.transforms)
            if text:
                for _end, pattern in self.automaton.iter(text):
                    found[pattern] = None
        if not found:
            return NO_MATCH
        return Verdict(True, tuple(sorted(found)))


def compile_signature(config: Mapping[str, Any]) -> SignatureRule:
    check_keys(config, allowed=("pattern", "patterns", "targets", "transforms"))
    if ("pattern" in config) == ("patterns" in config):
        raise RuleError("a signature rule needs exactly one of 'pattern' or 'patterns'", {"field": "patterns"})
    patterns = [config["pattern"]] if "pattern" in config else config["patterns"]
    if not isinstance(patterns, list) or not patterns:
        raise RuleError("'patterns' must be a non-empty list of strings", {"field": "patterns"})
    if len(patterns) > MAX_PATTERNS:
        raise RuleError(f"at most {MAX_PATTERNS} patterns are allowed", {"field": "patterns"})
    for index, pattern in enumerate(patterns):
        if not isinstance(pattern, str) or not pattern:
            raise RuleError(f"pattern {index} must be a non-empty string", {"field": "patterns", "index": index})
        if len(pattern) > MAX_PATTERN_LENGTH:
            raise RuleError(
                f"pattern {index} is longer than {MAX_PATTERN_LENGTH} characters",
                {"field": "patterns", "index": index},
            )
    return SignatureRule(patterns, targets_of(config), transforms_of(config, DEFAULT_TRANSFORMS))
