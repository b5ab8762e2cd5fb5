"""The per-request interpreter of a compiled SecLang program (built by ``builder``).

Semantics follow libmodsecurity 3 for the request phases (1 and 2); rules in
phases 3-5 are parsed and checked but not run (a stored sample has no response):

* A rule's variables are resolved, each value is transformed (``t:``), and the
  operator runs on it; every matching value runs the link's non-disruptive
  actions (``setvar``, ``ctl``, ``capture``), as ModSecurity does, so CRS's
  anomaly scores grow per matching value.
* A chain matches when every link matches; the starter's flow actions
  (``skipAfter``, ``skip``) and disruptive action then apply.  ``deny``/``drop``/
  ``redirect`` stop the request (a blocked sample); ``allow`` and
  ``ctl:ruleEngine=Off`` stop it unblocked.
* Before a rule runs in full, its prefilter (``prefilter.py``) may answer that it
  cannot match; blocks of such rules are skipped in one step.
"""

from __future__ import annotations

import time
from typing import Any

from ..limits import GC_CLOCK, MAX_SAMPLE_SECONDS, MAX_TX_VARIABLES, MAX_VALUE_BYTES, EngineLimitExceeded
from ..sample import NormalizedSample
from .model import BLOCKING, REQUEST_PHASES, Ctl, Link, Marker, ProgramStats, Rule, UnsupportedEntry
from .operators import Rx, atoi
from .prefilter import MEMO_MAX_ENTRIES, MEMO_MAX_VALUE, NO_HITS, Block, Prefilter, PrefilterKind, SetGroup, value_only, variants
from .variables import Element, Selector, element_name, rule_info_of

INT_MIN, INT_MAX = -(1 << 31), (1 << 31) - 1
TIME_CHECK_EVERY = 8


def _stoi(value: bytes) -> int:
    """libmodsecurity's setvar arithmetic reads with std::stoi: out of int range is 0."""
    number = atoi(value)
    return number if INT_MIN <= number <= INT_MAX else 0


def _wrap_int(number: int) -> int:
    # A C int sum wraps; it also keeps a TX counter from growing without bound.
    return (number - INT_MIN) % (1 << 32) + INT_MIN


class Transaction:
    """The state of one request while the program runs over it."""

    __slots__ = (
        "sample", "tx", "matched_var", "matched_vars", "rule", "removed_ids", "removed_tags",
        "target_exclusions", "denied", "allowed", "stopped", "fired", "implicit_score", "memo",
        "deadline", "cpu_start", "gc_start", "countdown",
    )  # fmt: skip

    def __init__(self, sample: NormalizedSample, presets: dict[str, bytes], memo: dict[Any, Any]) -> None:
        self.sample = sample
        self.memo = memo
        self.tx = dict(presets)
        self.matched_var: tuple[str, bytes] | None = None
        self.matched_vars: list[tuple[str, bytes]] = []
        self.rule: Rule | None = None
        self.removed_ids: list[tuple[int, int]] = []
        self.removed_tags: set[str] = set()
        self.target_exclusions: list[tuple[Ctl, str, Selector | None]] = []
        self.denied = self.allowed = self.stopped = False
        self.fired: list[str] = []
        self.implicit_score = 0
        # Wall time is cheap to read and bounds CPU time from above; only when it runs out
        # is the thread's CPU time asked (less garbage collection), so neither a loaded
        # machine nor a collection that happens to land on this sample fails it.
        self.deadline = time.perf_counter() + MAX_SAMPLE_SECONDS
        self.cpu_start = time.thread_time()
        self.gc_start = GC_CLOCK.total
        self.countdown = TIME_CHECK_EVERY

    def check_time(self) -> None:
        # Reading a clock costs ~0.6 µs here (thread CPU time ~6 µs, a system call), as
        # much as a cheap rule: look at the wall clock every TIME_CHECK_EVERY rules only.
        self.countdown -= 1
        if self.countdown > 0:
            return
        self.countdown = TIME_CHECK_EVERY
        now = time.perf_counter()
        if now <= self.deadline:
            return
        used = time.thread_time() - self.cpu_start - (GC_CLOCK.total - self.gc_start)
        if used > MAX_SAMPLE_SECONDS:
            raise EngineLimitExceeded("time", f"the rules took more than {MAX_SAMPLE_SECONDS * 1000:.0f} ms of engine time on this sample")
        self.deadline = now + (MAX_SAMPLE_SECONDS - used)

    def set_tx(self, name: str, value: bytes) -> None:
        if len(value) > MAX_VALUE_BYTES:
            raise EngineLimitExceeded("value_size", f"a TX variable would exceed {MAX_VALUE_BYTES} bytes")
        tx = self.tx
        if name not in tx and len(tx) >= MAX_TX_VARIABLES:
            raise EngineLimitExceeded("tx_variables", f"more than {MAX_TX_VARIABLES} TX variables")
        tx[name] = value

    def set_hits(self, group: SetGroup, value: bytes) -> frozenset[int]:
        cache = self.sample.engine_cache
        key = (group, value)
        hits = cache.get(key)
        if hits is None:
            if len(value) <= MEMO_MAX_VALUE:
                # Short values (header values, argument names, paths) repeat across
                # requests: remember their answers program-wide, in a bounded memo.
                memo = self.memo
                hits = memo.get(key)
                if hits is None:
                    hits = group.match(value)
                    if len(memo) >= MEMO_MAX_ENTRIES:
                        memo.clear()
                    memo[key] = hits
            else:
                hits = group.match(value)
            cache[key] = hits
        return hits

    def prefilter_hits(self, prefilter: Prefilter) -> frozenset[int]:
        """Union of the set hits over every value (every multiMatch variant) of a static variable set."""
        cache = self.sample.engine_cache
        hits = cache.get(prefilter)
        if hits is not None:
            return hits
        self.check_time()
        kind = prefilter.kind
        memo = self.memo
        found: set[int] = set()
        for element in prefilter.variables.resolve(self):
            raw = element[2]
            value_hits = memo.get((kind, raw)) if len(raw) <= MEMO_MAX_VALUE else None
            if value_hits is None:
                value_hits = self._raw_hits(kind, raw)
            if value_hits:
                found.update(value_hits)
        hits = frozenset(found) if found else NO_HITS
        cache[prefilter] = hits
        return hits

    def _raw_hits(self, kind: PrefilterKind, raw: bytes) -> frozenset[int]:
        """Hits of one untransformed value; short values are remembered program-wide."""
        hits = kind.raw_hits(raw, self)
        if len(raw) <= MEMO_MAX_VALUE:
            memo = self.memo
            if len(memo) >= MEMO_MAX_ENTRIES:
                memo.clear()
            memo[(kind, raw)] = hits
        return hits

    def rule_info(self) -> dict[str, bytes]:
        return rule_info_of(self.rule) if self.rule is not None else {}

    def is_removed(self, rule: Rule) -> bool:
        if any(low <= rule.id <= high for low, high in self.removed_ids):
            return True
        return bool(self.removed_tags) and any(tag in self.removed_tags for tag in rule.tags)


class Program:
    """Compiled SecLang: request-phase rules in order, markers, and RE2 set groups."""

    def __init__(
        self,
        items: list[Rule | Marker],
        *,
        presets: dict[str, bytes],
        block_actions: dict[int, str],
        disabled: bool,
        unsupported: list[UnsupportedEntry],
        stats: ProgramStats,
        optimize: bool = True,
    ) -> None:
        self.presets = presets
        self.disabled = disabled
        self.unsupported = unsupported
        self.stats = stats
        self.block_actions = block_actions
        self.memo: dict[Any, Any] = {}
        self.phases: list[tuple[list[Rule | Marker], dict[str, list[int]]]] = []
        for phase in REQUEST_PHASES:
            phase_items = [i for i in items if isinstance(i, Marker) or i.phase == phase]
            markers: dict[str, list[int]] = {}
            for index, item in enumerate(phase_items):
                if isinstance(item, Marker):
                    markers.setdefault(item.name, []).append(index)
            self.phases.append((phase_items, markers))
        self.blocks: list[dict[int, Block]] = [{} for _ in self.phases]
        self._count_regexes()
        if optimize:
            # Off only in tests, which check that sets and prefilters change no verdict.
            self._build_set_groups()

    def _rx_links(self) -> list[tuple[Link, Rx]]:
        found: list[tuple[Link, Rx]] = []
        seen: set[int] = set()
        for phase_items, _ in self.phases:
            for item in phase_items:
                if isinstance(item, Rule):
                    for link in item.links:
                        if isinstance(link.operator, Rx) and id(link.operator) not in seen:
                            seen.add(id(link.operator))
                            found.append((link, link.operator))
        return found

    def _count_regexes(self) -> None:
        self.stats.regexes = len(self._rx_links())

    def _build_set_groups(self) -> None:
        groups: dict[tuple[str, ...], list[Rx]] = {}
        for link, operator in self._rx_links():
            groups.setdefault(link.transforms, []).append(operator)
        # Every pattern joins a set, even alone: a set answers from RE2's DFA only, while
        # a search through re2's Python API also extracts capture groups (slow on CRS).
        for operators in groups.values():
            group = SetGroup(operators)
            self.stats.regex_sets += len(group.sets)
        self._kinds: dict[tuple[Any, ...], PrefilterKind] = {}
        self._prefilters: dict[tuple[int, int], Prefilter] = {}
        for phase_items, _ in self.phases:
            for item in phase_items:
                if isinstance(item, Rule):
                    for link in item.links:
                        self._plan_prefilter(link)
        self.blocks = [Block.find_all(phase_items) for phase_items, _ in self.phases]

    def _plan_prefilter(self, link: Link) -> None:
        """Give a link a cheap "can it match at all?" test when its answer depends only on
        the request (static variables, and an operator whose verdict is a function of
        the value); links reading TX or MATCHED_* always run in full."""
        operator = link.operator
        if operator is None or link.variables is None or link.variables.dynamic:
            return
        if isinstance(operator, Rx) and operator.set_group is not None and not operator.negated:
            kind_key: tuple[Any, ...] = ("set", id(operator.set_group), link.transforms, link.multimatch)
            index = operator.set_index
            make = lambda: PrefilterKind(link.transforms, link.multimatch, group=operator.set_group)  # noqa: E731
        elif value_only(operator):
            kind_key = ("operator", id(operator), link.transforms, link.multimatch)
            index = 0
            make = lambda: PrefilterKind(link.transforms, link.multimatch, operator=operator)  # noqa: E731
        else:
            return
        kind = self._kinds.get(kind_key)
        if kind is None:
            kind = self._kinds[kind_key] = make()
        prefilter_key = (id(link.variables), id(kind))
        prefilter = self._prefilters.get(prefilter_key)
        if prefilter is None:
            prefilter = self._prefilters[prefilter_key] = Prefilter(link.variables, kind)
        link.prefilter = prefilter
        link.prefilter_index = index

    # ---- evaluation -------------------------------------------------------------------

    def run(self, sample: NormalizedSample) -> Transaction:
        txn = Transaction(sample, self.presets, self.memo)
        if self.disabled:
            txn.allowed = True
            return txn
        for phase_number, (items, markers), blocks in zip(REQUEST_PHASES, self.phases, self.blocks, strict=True):
            block_action = self.block_actions.get(phase_number, "pass")
            count = len(items)
            index = 0
            while index < count:
                block = blocks.get(index)
                if block is not None:
                    # Only the block's rules whose pattern hit can match: visit just those.
                    # (Runtime target exclusions only shrink a rule's values, so a hit
                    # union over all values is still a safe filter.)
                    index = block.end
                    for position in block.candidates(txn):
                        rule = items[position]
                        if (txn.removed_ids or txn.removed_tags) and txn.is_removed(rule):  # type: ignore[arg-type]
                            continue
                        if self._rule_matches(rule, txn):  # type: ignore[arg-type]
                            jump = self._after_match(rule, txn, position + 1, items, markers, block_action)  # type: ignore[arg-type]
                            if jump is not None:
                                index = jump
                                break
                        if txn.stopped:
                            break
                    if txn.stopped:
                        break
                    continue
                item = items[index]
                index += 1
                if item.__class__ is Marker:
                    continue
                rule: Rule = item  # type: ignore[assignment]
                first = rule.links[0]
                if first.prefilter is not None and first.prefilter_index not in txn.prefilter_hits(first.prefilter):
                    continue  # its pattern matches none of its values: the rule cannot match
                if (txn.removed_ids or txn.removed_tags) and txn.is_removed(rule):
                    continue
                if not self._rule_matches(rule, txn):
                    if txn.stopped:
                        break
                    continue
                jump = self._after_match(rule, txn, index, items, markers, block_action)
                if txn.stopped:
                    break
                if jump is not None:
                    index = jump
            if txn.stopped:
                break
        return txn

    def _after_match(
        self,
        rule: Rule,
        txn: Transaction,
        index: int,
        items: list[Rule | Marker],
        markers: dict[str, list[int]],
        block_action: str,
    ) -> int | None:
        """Record a full match and apply its disruptive/flow actions; the next index if it jumps."""
        if rule.reports:
            txn.fired.append(str(rule.id))
        txn.implicit_score += rule.implicit_score
        action = block_action if rule.disruptive == "block" else rule.disruptive
        if action in BLOCKING:
            txn.denied = txn.stopped = True
        elif action == "allow":
            txn.allowed = txn.stopped = True
        if txn.stopped:
            return len(items)
        if rule.skip_after is not None:
            return next((p + 1 for p in markers.get(rule.skip_after, ()) if p >= index), len(items))
        if rule.skip:
            return self._skip_rules(items, index, rule.skip)
        return None

    @staticmethod
    def _skip_rules(items: list[Rule | Marker], index: int, how_many: int) -> int:
        while index < len(items) and how_many > 0:
            if not isinstance(items[index], Marker):
                how_many -= 1
            index += 1
        return index

    def _rule_matches(self, rule: Rule, txn: Transaction) -> bool:
        txn.check_time()
        txn.rule = rule
        for position, link in enumerate(rule.links):
            if not self._link_matches(link, rule, txn):
                if position and rule.links[0].multimatch and rule.reports:
                    # libmodsecurity 3.0.9 logs a multiMatch chain starter whose first
                    # link matched even when the chain then fails (CRS 942131; its debug
                    # log: "Rule returned 0", no score). Its fired ids include it; so do ours.
                    txn.fired.append(str(rule.id))
                return False
            if txn.stopped:
                return False
        return True

    def _link_matches(self, link: Link, rule: Rule, txn: Transaction) -> bool:
        operator = link.operator
        if operator is None:  # SecAction
            self._run_actions(link, txn)
            return True
        elements: list[Element] = link.variables.resolve(txn)  # type: ignore[union-attr]
        if txn.target_exclusions:
            elements = self._apply_runtime_exclusions(elements, rule, txn)
        negated = operator.negated
        transforms = link.transforms
        transformed = txn.sample.transformed
        matches: list[tuple[str, bytes]] | None = None
        for element in elements:
            if link.multimatch:
                candidates = variants(element[2], transforms, txn.sample)
            else:
                candidates = (transformed(element[2], transforms),)
            for value in candidates:
                if operator.test(value, txn) is negated:
                    continue
                name = element_name(element)
                txn.matched_var = (name, value)
                if matches is None:
                    matches = []
                matches.append((name, value))
                if link.capture and not negated:
                    for number, captured in enumerate(operator.capture(value)):
                        txn.set_tx(str(number), captured)
                self._run_actions(link, txn)
        if matches is None:
            return False
        txn.matched_vars = matches
        return True

    @staticmethod
    def _apply_runtime_exclusions(elements: list[Element], rule: Rule, txn: Transaction) -> list[Element]:
        active = []
        for ctl, name, selector in txn.target_exclusions:
            applies = any(low <= rule.id <= high for low, high in ctl.ids) if ctl.ids else ctl.tag in rule.tags
            if applies:
                active.append((name, selector))
        if not active:
            return elements
        return [
            e
            for e in elements
            if not any(e[0] == name and (selector is None or (e[1] is not None and selector.accepts(e[1]))) for name, selector in active)
        ]

    @staticmethod
    def _run_actions(link: Link, txn: Transaction) -> None:
        for setvar in link.setvars:
            name = setvar.name.expand(txn).decode("latin-1").lower()
            if setvar.op == "delete":
                txn.tx.pop(name, None)
            elif setvar.op == "one":
                txn.set_tx(name, b"1")
            else:
                value = setvar.value.expand(txn) if setvar.value is not None else b""
                if setvar.op == "=":
                    txn.set_tx(name, value)
                else:
                    delta = _stoi(value)
                    current = _stoi(txn.tx.get(name, b"0"))
                    txn.set_tx(name, str(_wrap_int(current + delta if setvar.op == "+" else current - delta)).encode())
        for ctl in link.ctls:
            if ctl.kind == "remove_id":
                txn.removed_ids.extend(ctl.ids)
            elif ctl.kind == "remove_tag":
                txn.removed_tags.add(ctl.tag)
            elif ctl.kind == "remove_target" and ctl.target is not None:
                txn.target_exclusions.append((ctl, ctl.target[0], ctl.target[1]))
            elif ctl.kind == "engine_off":
                txn.allowed = txn.stopped = True
            elif ctl.kind == "body_processor" and txn.rule is not None and txn.rule.phase == 1:
                # libmodsecurity parses the body after phase 1: a later switch is too late.
                # The switched view has its own caches, so nothing parsed before leaks in.
                txn.sample = txn.sample.with_processor(ctl.tag)
