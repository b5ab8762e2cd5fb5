"""Where a compiled rule matched a sample, for people reading its false positives.

``CompiledRule.match`` answers *whether* and *which* (``Verdict.fired``); this module
answers *where*, for the operator console's highlighting. It is a separate pass that
runs only on the handful of samples a page shows, so the hot path stays untouched.

    explain(compiled, sample) -> list[Excerpt]     # signature, regex, composite
    rule_messages(compiled) -> {rule id: msg}      # modsecurity (and composites of it)

A signature or regex matches a contract target after its transforms. When the
transforms only changed letter case, the spans are shown on the raw text (same
offsets); otherwise on the text as the rule saw it (``as_seen=True``), because a
percent-decoded offset has no place in the encoded original. SecRule programs report
rule ids and messages, not spans: their variables, transformation chains and TX
state make "where" a trace of the whole program, which this module does not attempt.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .base import CompiledRule
from .composite import CompositeRule
from .modsec import ModSecurityRule
from .modsec.model import Rule as SecRule
from .re2util import MAX_INPUT_BYTES
from .regex import RegexRule
from .sample import NormalizedSample
from .signature import SignatureRule

MAX_SPANS = 50


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int
    label: str  # the pattern, or the regex, that matched here


@dataclass(frozen=True, slots=True)
class Excerpt:
    target: str  # "path", "query", "body" or "headers"
    text: str
    spans: tuple[Span, ...]
    as_seen: bool  # True: ``text`` is the target after the rule's transforms
    transforms: tuple[str, ...]


def _merge(excerpts: list[Excerpt]) -> list[Excerpt]:
    """One excerpt per (target, text): composites whose children share a target agree on it."""
    merged: dict[tuple[str, str, bool], Excerpt] = {}
    for item in excerpts:
        key = (item.target, item.text, item.as_seen)
        previous = merged.get(key)
        if previous is None:
            merged[key] = item
        else:
            spans = tuple(sorted(set(previous.spans) | set(item.spans), key=lambda s: (s.start, s.end)))
            merged[key] = Excerpt(item.target, item.text, spans[:MAX_SPANS], item.as_seen, previous.transforms)
    return sorted(merged.values(), key=lambda e: e.target)


def _excerpt(sample: NormalizedSample, target: str, transforms: tuple[str, ...], spans: list[Span]) -> Excerpt:
    raw = sample.raw_target(target)
    seen = sample.target(target, transforms)
    same_offsets = len(raw) == len(seen) and raw.lower() == seen.lower()
    ordered = tuple(sorted(spans, key=lambda s: (s.start, s.end))[:MAX_SPANS])
    return Excerpt(target, raw if same_offsets else seen, ordered, not same_offsets, transforms)


def _signature(rule: SignatureRule, sample: NormalizedSample) -> list[Excerpt]:
    out = []
    for target in rule.targets:
        text = sample.target(target, rule.transforms)
        spans = [Span(end - len(pattern) + 1, end + 1, pattern) for end, pattern in rule.automaton.iter(text)]
        if spans:
            out.append(_excerpt(sample, target, rule.transforms, spans))
    return out


def _regex(rule: RegexRule, sample: NormalizedSample) -> list[Excerpt]:
    out = []
    for target in rule.targets:
        data = sample.target_bytes(target, rule.transforms)[:MAX_INPUT_BYTES]
        spans = []
        for found in rule.regex.finditer(data):
            start, end = found.span()
            if start == end:
                continue  # an empty match marks nothing
            # RE2 answers byte offsets into the UTF-8; the page needs character offsets.
            char_start = len(data[:start].decode("utf-8", "surrogatepass"))
            char_end = char_start + len(data[start:end].decode("utf-8", "surrogatepass"))
            spans.append(Span(char_start, char_end, rule.pattern))
            if len(spans) >= MAX_SPANS:
                break
        if spans:
            out.append(_excerpt(sample, target, rule.transforms, spans))
    return out


def explain(compiled: CompiledRule, sample: NormalizedSample | Mapping[str, Any]) -> list[Excerpt]:
    """The excerpts of ``sample`` where ``compiled`` (or any part of a composite) matched."""
    sample = NormalizedSample.of(sample)
    if isinstance(compiled, SignatureRule):
        return _merge(_signature(compiled, sample))
    if isinstance(compiled, RegexRule):
        return _merge(_regex(compiled, sample))
    if isinstance(compiled, CompositeRule):
        return _merge([item for child in compiled.children for item in explain(child, sample)])
    return []


def _sec_rules(compiled: ModSecurityRule):
    for phase_items, _markers in compiled.program.phases:
        for item in phase_items:
            if isinstance(item, SecRule):
                yield item


def rule_messages(compiled: CompiledRule, *, prefix: str = "") -> dict[str, str]:
    """``{fired id: msg}`` for SecRule programs, keyed like ``Verdict.fired`` (composites
    prefix the child's index: ``"1:942100"``). Rules without a ``msg`` are left out."""
    if isinstance(compiled, ModSecurityRule):
        return {f"{prefix}{rule.id}": rule.msg for rule in _sec_rules(compiled) if rule.msg}
    if isinstance(compiled, CompositeRule):
        found: dict[str, str] = {}
        for index, child in enumerate(compiled.children):
            found.update(rule_messages(child, prefix=f"{prefix}{index}:"))
        return found
    return {}
