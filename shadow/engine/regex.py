"""``regex`` rules: one RE2 pattern searched (not anchored) in each target."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import NO_MATCH, CompiledRule, Verdict
from .config import check_keys, targets_of, transforms_of
from .errors import RuleError
from .re2util import MAX_INPUT_BYTES, USER_REGEX_MAX_MEM, PatternError, compile_pattern, explain_rejection
from .sample import NormalizedSample

DEFAULT_TRANSFORMS = ["url_decode"]
MAX_PATTERN_LENGTH = 32_768
# i: case-insensitive, m: ^/$ at line breaks, s: '.' matches a newline.
ALLOWED_FLAGS = frozenset("ims")


class RegexRule(CompiledRule):
    rule_type = "regex"

    def __init__(self, pattern: str, flags: str, targets: tuple[str, ...], transforms: tuple[str, ...]):
        self.pattern = pattern
        self.flags = flags
        self.targets = targets
        self.transforms = transforms
        inline = "".join(sorted(set(flags) & {"m", "s"}))
        source = f"(?{inline}){pattern}" if inline else pattern
        self.regex = compile_pattern(source, latin1=False, case_sensitive="i" not in flags, max_mem=USER_REGEX_MAX_MEM)

    def match(self, sample: NormalizedSample) -> Verdict:
        fired = []
        search = self.regex.search
        for target in self.targets:
            data = sample.target_bytes(target, self.transforms)
            if search(data[:MAX_INPUT_BYTES]) is not None:
                fired.append(target)
        return Verdict(True, tuple(fired)) if fired else NO_MATCH


def compile_regex(config: Mapping[str, Any]) -> RegexRule:
    check_keys(config, allowed=("pattern", "flags", "targets", "transforms"), required=("pattern",))
    pattern = config["pattern"]
    if not isinstance(pattern, str) or not pattern:
        raise RuleError("'pattern' must be a non-empty string", {"field": "pattern"})
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise RuleError(f"'pattern' is longer than {MAX_PATTERN_LENGTH} characters", {"field": "pattern"})
    flags = config.get("flags", "")
    if not isinstance(flags, str) or not set(flags) <= ALLOWED_FLAGS:
        raise RuleError("'flags' may only combine 'i', 'm' and 's'", {"field": "flags"})
    targets, transforms = targets_of(config), transforms_of(config, DEFAULT_TRANSFORMS)
    try:
        return RegexRule(pattern, flags, targets, transforms)
    except PatternError as exc:
        why = explain_rejection(exc.reason)
        raise RuleError(
            f"regex rejected: {why} (RE2: {exc.reason})",
            {"field": "pattern", "reason": why, "re2_error": exc.reason},
        ) from None
