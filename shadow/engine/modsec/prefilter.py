"""Cheap "can this rule match at all?" answers, shared across rules and samples.

All ``@rx`` patterns that share a transformation chain are compiled into RE2 sets: one
pass over a value answers every pattern of the group.  A rule whose first link
depends only on the request gets a prefilter: the union, over the values of its
variables, of what its kind of test says for each value.  Consecutive prefiltered
rules form blocks, of which only the candidates are visited.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import re2

from ..re2util import MAX_INPUT_BYTES, MODSEC_SET_MAX_MEM, make_options
from ..sample import NormalizedSample
from .model import Marker, Rule
from .operators import VALUE_ONLY_OPERATORS, Numeric, Operator, Rx, StringOp
from .variables import VariableSet

if TYPE_CHECKING:
    from .program import Transaction

MEMO_MAX_VALUE = 128
MEMO_MAX_ENTRIES = 16_384
NO_HITS: frozenset[int] = frozenset()
MATCHED: frozenset[int] = frozenset({0})


def variants(value: bytes, transforms: tuple[str, ...], sample: NormalizedSample) -> list[bytes]:
    """multiMatch: the operator sees the value before and after each t: that changes it."""
    found = [value]
    for end in range(1, len(transforms) + 1):
        current = sample.transformed(value, transforms[:end])
        if current != found[-1]:
            found.append(current)
    return found


class SetGroup:
    """RE2 sets over all @rx patterns that see values through the same t: chain."""

    __slots__ = ("sets", "size")

    MAX_PER_SET = 64

    def __init__(self, operators: list[Rx]) -> None:
        self.sets: list[tuple[int, Any]] = []
        options = make_options(latin1=True, max_mem=MODSEC_SET_MAX_MEM)
        for base in range(0, len(operators), self.MAX_PER_SET):
            chunk = operators[base : base + self.MAX_PER_SET]
            regex_set = re2.Set.SearchSet(options)
            for offset, operator in enumerate(chunk):
                regex_set.Add(operator.source)
                operator.set_group = self
                operator.set_index = base + offset
            regex_set.Compile()
            # The wrapper's Match() only adds str handling; call RE2::Set on bytes directly.
            self.sets.append((base, getattr(regex_set, "_set", regex_set)))
        self.size = len(operators)

    def match(self, value: bytes) -> frozenset[int]:
        if len(value) > MAX_INPUT_BYTES:
            value = value[:MAX_INPUT_BYTES]
        if len(self.sets) == 1:
            hits = self.sets[0][1].Match(value)
            return frozenset(hits) if hits else NO_HITS
        found: list[int] = []
        for base, regex_set in self.sets:
            hits = regex_set.Match(value)
            if hits:
                found.extend(base + h for h in hits)
        return frozenset(found) if found else NO_HITS


def value_only(operator: Operator) -> bool:
    """True when the operator's verdict depends on the value alone (not on TX or macros)."""
    if isinstance(operator, (StringOp, Numeric)):
        return operator.macro.static is not None
    return isinstance(operator, VALUE_ONLY_OPERATORS)


class Block:
    """A run of consecutive rules that each start with a prefiltered @rx link."""

    __slots__ = ("start", "end", "keys")

    def __init__(self, start: int, end: int, rules: list[tuple[int, Rule]]) -> None:
        self.start = start
        self.end = end
        keys: dict[Any, dict[int, list[int]]] = {}
        for position, rule in rules:
            first = rule.links[0]
            keys.setdefault(first.prefilter, {}).setdefault(first.prefilter_index, []).append(position)
        self.keys = tuple(keys.items())

    def candidates(self, txn: Transaction) -> list[int]:
        cache = txn.sample.engine_cache
        positions: list[int] = []
        for key, by_index in self.keys:
            hits = cache.get(key)
            if hits is None:
                hits = txn.prefilter_hits(key)
            for hit in hits:
                found = by_index.get(hit)
                if found is not None:
                    positions.extend(found)
        if len(positions) > 1:
            positions.sort()
        return positions

    @staticmethod
    def find_all(items: list[Rule | Marker]) -> dict[int, Block]:
        blocks: dict[int, Block] = {}
        run: list[tuple[int, Rule]] = []
        for position, item in enumerate([*items, None]):
            if isinstance(item, Rule) and item.links[0].prefilter is not None:
                run.append((position, item))
                continue
            if len(run) >= 2:
                blocks[run[0][0]] = Block(run[0][0], run[-1][0] + 1, run)
            run = []
        return blocks


class PrefilterKind:
    """How a link tests one raw value: its t: chain (multiMatch or not), then either its
    pattern's RE2 set (answer: the set's hit indexes) or, for other operators that
    depend on the value alone, the operator itself (answer: {0} when it matches)."""

    __slots__ = ("group", "transforms", "multimatch", "operator")

    def __init__(
        self,
        transforms: tuple[str, ...],
        multimatch: bool,
        group: SetGroup | None = None,
        operator: Operator | None = None,
    ) -> None:
        self.transforms = transforms
        self.multimatch = multimatch
        self.group = group
        self.operator = operator

    def raw_hits(self, raw: bytes, txn: Transaction) -> frozenset[int]:
        sample = txn.sample
        if self.multimatch:
            values = variants(raw, self.transforms, sample)
        else:
            values = [sample.transformed(raw, self.transforms)]
        group = self.group
        if group is not None:
            if len(values) == 1:
                return txn.set_hits(group, values[0])
            found: set[int] = set()
            for value in values:
                found.update(txn.set_hits(group, value))
            return frozenset(found)
        operator = self.operator
        for value in values:
            if operator.test(value, txn) is not operator.negated:  # type: ignore[union-attr]
                return MATCHED
        return NO_HITS


class Prefilter:
    """The set hits of every value of one variable set, seen through one PrefilterKind.

    Interned per program, so all links that share variables and transformations share
    one cached answer per sample (hashing is by identity, which is cheap).
    """

    __slots__ = ("variables", "kind")

    def __init__(self, variables: VariableSet, kind: PrefilterKind) -> None:
        self.variables = variables
        self.kind = kind
