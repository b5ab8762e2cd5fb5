"""SecLang text to a Program: directives in order, chains, removals and target updates."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import RuleError
from .actions import declared_id, id_ranges, paranoia_of, parse_actions
from .folding import fold_constant_rules
from .model import BLOCKING, SCORE_VARIABLES, SEVERITY_SCORES, Link, Marker, ProgramStats, Rule, UnsupportedEntry
from .operators import UnsupportedRule, parse_operator
from .parser import Directive, parse_directives
from .presets import crs_presets
from .program import Program
from .variables import VariableSet, parse_ref, parse_variables

# Configuration directives with nothing to do offline.
IGNORED_DIRECTIVES = frozenset({
    "seccomponentsignature", "secrequestbodyaccess", "secresponsebodyaccess",
    "secrequestbodylimit", "secrequestbodynofileslimit", "secrequestbodylimitaction",
    "secrequestbodyinmemorylimit", "secrequestbodyjsondepthlimit", "secargumentslimit",
    "secpcrematchlimit", "secpcrematchlimitrecursion", "secresponsebodymimetype",
    "secresponsebodylimit", "secresponsebodylimitaction", "sectmpdir", "secdatadir",
    "secauditengine", "secauditlog", "secauditlog2", "secauditlogparts", "secauditlogtype",
    "secauditlogformat", "secauditlogstoragedir", "secauditlogrelevantstatus",
    "secauditlogdirmode", "secauditlogfilemode", "secdebuglog", "secdebugloglevel",
    "seccookieformat", "secunicodemapfile", "secstatusengine", "seccollectiontimeout",
    "secserversignature", "secuploaddir", "secuploadkeepfiles", "secuploadfilemode",
    "secuploadfilelimit", "sectmpsaveuploadedfiles", "secxmlexternalentity", "secwebappid",
    "secsensorid", "sechttpblkey", "secgeolookupdb", "secruleinheritance",
})  # fmt: skip


@dataclass
class _Defaults:
    transforms: list[str] = field(default_factory=list)
    disruptive: str = "pass"


class ProgramBuilder:
    """Walks directives in order; removal/update directives act on rules defined so far."""

    def __init__(self, *, paranoia_level: int, threshold: int, strict: bool, data_dir: Path, optimize: bool = True) -> None:
        self.optimize = optimize
        self.paranoia_level = paranoia_level
        self.threshold = threshold
        self.strict = strict
        self.data_dir = data_dir
        self.items: list[Rule | Marker] = []
        self.rules_by_id: dict[int, Rule] = {}
        self.defaults: dict[int, _Defaults] = {}
        self.interned: dict[str, VariableSet] = {}
        self.unsupported: list[UnsupportedEntry] = []
        self.disabled = False
        self.stats = ProgramStats()
        self._chain: Rule | None = None
        self._chain_skip: UnsupportedEntry | None = None
        self._chain_continues = False

    # ---- directives -------------------------------------------------------------------

    def build(self, text: str) -> Program:
        handlers: dict[str, Callable[[Directive], None]] = {
            "secrule": self._sec_rule,
            "secaction": self._sec_action,
            "secmarker": self._sec_marker,
            "secdefaultaction": self._sec_default_action,
            "secruleengine": self._sec_rule_engine,
            "secruleremovebyid": self._remove_by_id,
            "secruleremovebytag": self._remove_by_tag,
            "secruleremovebymsg": self._remove_by_msg,
            "secruleupdatetargetbyid": self._update_target_by_id,
            "secruleupdatetargetbytag": self._update_target_by_tag,
        }
        for directive in parse_directives(text):
            handler = handlers.get(directive.name)
            if handler is not None:
                if self._chain_continues and directive.name != "secrule":
                    raise RuleError(
                        f"line {directive.line}: a chained rule must be followed by a SecRule",
                        {"line": directive.line},
                    )
                handler(directive)
            elif directive.name in IGNORED_DIRECTIVES:
                continue
            elif directive.name == "secargumentseparator" and directive.args == ("&",):
                continue
            else:
                raise RuleError(
                    f"line {directive.line}: unsupported directive {directive.name!r}",
                    {"line": directive.line, "directive": directive.name},
                )
        if self._chain_continues:
            line = self._chain.line if self._chain else 0
            raise RuleError(f"line {line}: rule ends with 'chain' but no SecRule follows", {"line": line})
        self._check_markers()
        _refuse_unbounded_setvars([i for i in self.items if isinstance(i, Rule) and not i.removed])
        presets = crs_presets(self.paranoia_level, self.threshold)
        self._apply_paranoia(presets)
        block_actions = {phase: d.disruptive for phase, d in self.defaults.items()}
        kept = [i for i in self.items if isinstance(i, Marker) or not i.removed]
        self.stats.rules = sum(1 for i in kept if isinstance(i, Rule))
        for item in kept:
            if isinstance(item, Rule):
                self.stats.rules_by_phase[item.phase] = self.stats.rules_by_phase.get(item.phase, 0) + 1
        if self.optimize:
            kept, self.stats.folded = fold_constant_rules(kept, presets)
        return Program(
            kept,
            presets=presets,
            block_actions=block_actions,
            disabled=self.disabled,
            unsupported=self.unsupported,
            stats=self.stats,
            optimize=self.optimize,
        )

    def _apply_paranoia(self, presets: dict[str, bytes]) -> None:
        """The text's own paranoia setting wins, as in libmodsecurity.

        ``rule_config.paranoia_level`` is the default (crs-setup.conf's). When no rule
        sets the level, rules tagged above it can never pass CRS's runtime gates and are
        not loaded at all (the fast path). When the text sets
        ``tx.blocking_paranoia_level`` or ``tx.detection_paranoia_level`` itself (a
        ``SecAction`` like crs-setup's 900000), every rule is loaded and CRS's own
        ``TX:DETECTION_PARANOIA_LEVEL "@lt N"`` gates decide at run time; a detection
        level left unset then follows the blocking level through 901's initialiser."""
        rules = [i for i in self.items if isinstance(i, Rule)]
        set_by_text = _paranoia_names_set(rules)
        if not set_by_text:
            for rule in rules:
                level = paranoia_of(rule.tags)
                if level is not None and level > self.paranoia_level and not rule.removed:
                    rule.removed = True
                    self.stats.skipped_by_paranoia += 1
            return
        if "detection_paranoia_level" not in set_by_text and _has_initialiser(rules, "detection_paranoia_level"):
            del presets["detection_paranoia_level"]

    def _check_markers(self) -> None:
        names = {i.name for i in self.items if isinstance(i, Marker)}
        for item in self.items:
            if isinstance(item, Rule) and item.skip_after is not None and item.skip_after not in names:
                raise RuleError(
                    f"rule {item.id} (line {item.line}): skipAfter:{item.skip_after} names no SecMarker",
                    {"rule_id": item.id, "line": item.line, "marker": item.skip_after},
                )

    def _sec_rule(self, directive: Directive) -> None:
        args = directive.args
        if len(args) not in (2, 3):
            raise RuleError(
                f'line {directive.line}: SecRule takes VARIABLES "OPERATOR" ["ACTIONS"], got {len(args)} arguments',
                {"line": directive.line},
            )
        self._add_rule(directive, args[0], args[1], args[2] if len(args) == 3 else "")

    def _sec_action(self, directive: Directive) -> None:
        if len(directive.args) != 1:
            raise RuleError(f'line {directive.line}: SecAction takes one "ACTIONS" argument', {"line": directive.line})
        self._add_rule(directive, None, None, directive.args[0])

    def _sec_marker(self, directive: Directive) -> None:
        if len(directive.args) != 1:
            raise RuleError(f"line {directive.line}: SecMarker takes one name", {"line": directive.line})
        self.items.append(Marker(directive.args[0], directive.line))

    def _sec_default_action(self, directive: Directive) -> None:
        if len(directive.args) != 1:
            raise RuleError(f"line {directive.line}: SecDefaultAction takes one argument", {"line": directive.line})
        actions = parse_actions(directive.args[0], directive.line)
        if actions.phase is None:
            raise RuleError(f"line {directive.line}: SecDefaultAction needs a phase", {"line": directive.line})
        self.defaults[actions.phase] = _Defaults(list(actions.transforms), actions.disruptive or "pass")

    def _sec_rule_engine(self, directive: Directive) -> None:
        value = directive.args[0].lower() if directive.args else ""
        if value not in ("on", "off", "detectiononly"):
            raise RuleError(f"line {directive.line}: SecRuleEngine takes On, Off or DetectionOnly", {"line": directive.line})
        self.disabled = value == "off"

    def _matching_rules(self, predicate: Callable[[Rule], bool]) -> list[Rule]:
        return [i for i in self.items if isinstance(i, Rule) and predicate(i)]

    def _remove_by_id(self, directive: Directive) -> None:
        ranges = id_ranges(" ".join(directive.args), directive.line)
        for rule in self._matching_rules(lambda r: any(lo <= r.id <= hi for lo, hi in ranges)):
            rule.removed = True

    def _remove_by_tag(self, directive: Directive) -> None:
        tags = set(directive.args)
        for rule in self._matching_rules(lambda r: bool(tags & set(r.tags))):
            rule.removed = True

    def _remove_by_msg(self, directive: Directive) -> None:
        msgs = set(directive.args)
        for rule in self._matching_rules(lambda r: r.msg in msgs):
            rule.removed = True

    def _update_targets(self, rules: list[Rule], spec: str, line: int) -> None:
        refs = [parse_ref(part, line) for part in spec.split("|") if part]
        for rule in rules:
            first = rule.links[0]
            if first.variables is not None:
                first.variables = first.variables.with_refs(refs)

    def _update_target_by_id(self, directive: Directive) -> None:
        if len(directive.args) < 2:
            raise RuleError(f'line {directive.line}: SecRuleUpdateTargetById takes ID "TARGETS"', {"line": directive.line})
        ranges = id_ranges(directive.args[0], directive.line)
        rules = self._matching_rules(lambda r: any(lo <= r.id <= hi for lo, hi in ranges))
        self._update_targets(rules, directive.args[1], directive.line)

    def _update_target_by_tag(self, directive: Directive) -> None:
        if len(directive.args) < 2:
            raise RuleError(f'line {directive.line}: SecRuleUpdateTargetByTag takes TAG "TARGETS"', {"line": directive.line})
        tag = directive.args[0]
        self._update_targets(self._matching_rules(lambda r: tag in r.tags), directive.args[1], directive.line)

    # ---- rules ------------------------------------------------------------------------

    def _add_rule(self, directive: Directive, variables: str | None, operator: str | None, actions_text: str) -> None:
        line = directive.line
        in_chain = self._chain_continues
        starter = self._chain if in_chain else None
        try:
            actions = parse_actions(actions_text, line)
        except RuleError as exc:
            known_id = starter.id if starter is not None else declared_id(actions_text, line)
            if known_id is None:
                raise
            raise RuleError(f"rule {known_id}: {exc.message}", {**exc.details, "rule_id": known_id}) from None
        if in_chain:
            for what, present in (
                ("id", actions.id is not None),
                ("phase", actions.phase is not None),
                ("skipAfter", actions.skip_after is not None),
                ("skip", actions.skip > 0),
                (actions.disruptive or "", actions.disruptive not in (None, "pass")),
            ):
                if present:
                    raise RuleError(
                        f"line {line}: '{what}' is only allowed on the first rule of a chain",
                        {"line": line, "action": what},
                    )
        elif actions.id is None:
            raise RuleError(f"line {line}: rule has no id action", {"line": line})
        elif actions.id in self.rules_by_id:
            other = self.rules_by_id[actions.id]
            raise RuleError(
                f"line {line}: duplicate rule id {actions.id} (first defined on line {other.line})",
                {"line": line, "rule_id": actions.id},
            )
        rule_id = starter.id if starter is not None else actions.id
        phase = starter.phase if starter is not None else (actions.phase or 2)
        defaults = self.defaults.get(phase, _Defaults())
        transforms = actions.transforms if actions.reset_transforms else defaults.transforms + actions.transforms

        link: Link | None = None
        try:
            variable_set = parse_variables(variables, line, self.interned) if variables is not None else None
            compiled_operator = parse_operator(operator, line, self.data_dir) if operator is not None else None
            link = Link(
                variable_set,
                compiled_operator,
                tuple(transforms),
                multimatch=actions.multimatch,
                capture=actions.capture,
                setvars=tuple(actions.setvars),
                ctls=tuple(actions.ctls),
                line=line,
            )
        except UnsupportedRule as exc:
            tags = starter.tags if starter is not None else tuple(actions.tags)
            entry = UnsupportedEntry(rule_id, line, exc.message)
            if self.strict or "OWASP_CRS" not in tags:
                raise RuleError(f"rule {rule_id}: {exc.message}", {**exc.details, "rule_id": rule_id}) from None
            level = paranoia_of(tags)
            if level is None or level <= self.paranoia_level:  # else it would not load anyway
                self.unsupported.append(entry)
            self._chain_skip = self._chain_skip or entry
        except RuleError as exc:
            raise RuleError(
                f"rule {rule_id}: {exc.message}" if rule_id is not None else exc.message,
                {**exc.details, "rule_id": rule_id},
            ) from None

        if starter is None:
            rule = Rule(
                id=actions.id or 0,
                phase=phase,
                line=line,
                links=[],
                tags=tuple(actions.tags),
                msg=actions.msg,
                severity_level=actions.severity_level,
                disruptive=actions.disruptive or "pass",
                skip_after=actions.skip_after,
                skip=actions.skip,
            )
            self.rules_by_id[rule.id] = rule
            self._chain = rule
        else:
            rule = starter
        if link is not None:
            rule.links.append(link)
        if actions.chain:
            self._chain_continues = True
            return
        self._finish_rule(rule)

    def _finish_rule(self, rule: Rule) -> None:
        self._chain_continues = False
        self._chain = None
        skipped, self._chain_skip = self._chain_skip, None
        if skipped is not None:
            return
        scoring = any(link.setvars for link in rule.links)
        if rule.severity_level is not None and not scoring:
            # A rule with a severity but no setvar of its own still adds its severity.
            rule.implicit_score = SEVERITY_SCORES[rule.severity_level]
        rule.reports = rule.severity_level is not None or rule.disruptive in BLOCKING or self._scores(rule)
        self.items.append(rule)

    @staticmethod
    def _scores(rule: Rule) -> bool:
        """Does the rule add to a detection score (not CRS 949's blocking/detection sums)?"""
        for link in rule.links:
            for setvar in link.setvars:
                name = setvar.name.text.lower()
                if setvar.op == "+" and (name in SCORE_VARIABLES or name.startswith("inbound_anomaly_score_pl")):
                    return True
        return False


def _refuse_unbounded_setvars(rules: list[Rule]) -> None:
    """Refuse a ``setvar`` that appends a TX variable to itself, directly
    (``setvar:tx.a=%{tx.a}%{tx.a}``) or through other setvars (``tx.b=%{tx.a}x`` and
    ``tx.a=%{tx.b}``): run once per matching value, such text doubles a value per
    argument, and no finite rule text should be able to do that. A plain copy
    (``tx.a=%{tx.b}`` and back) cannot grow and stays allowed; growth through dynamic
    names is left to the per-sample limits."""
    edges: dict[str, list[tuple[str, bool, int, int]]] = {}
    for rule in rules:
        for link in rule.links:
            for setvar in link.setvars:
                if setvar.op != "=" or setvar.value is None or setvar.name.static is None:
                    continue
                name = setvar.name.static.decode("utf-8").lower()
                grows = len(setvar.value.parts) > 1
                for ref in setvar.value.tx_references():
                    edges.setdefault(name, []).append((ref, grows, rule.id, link.line))
    for name, outgoing in edges.items():
        for ref, grows, rule_id, line in outgoing:
            if grows and _reaches(edges, ref, name):
                through = "" if ref == name else f" through tx.{ref}"
                raise RuleError(
                    f"rule {rule_id} (line {line}): setvar tx.{name} appends tx.{name} to itself{through}, "
                    "so it can grow without bound",
                    {"rule_id": rule_id, "line": line, "action": "setvar"},
                )


def _reaches(edges: dict[str, list[tuple[str, bool, int, int]]], start: str, goal: str) -> bool:
    seen = {start}
    stack = [start]
    while stack:
        node = stack.pop()
        if node == goal:
            return True
        for ref, *_ in edges.get(node, ()):
            if ref not in seen:
                seen.add(ref)
                stack.append(ref)
    return False


PARANOIA_NAMES = ("blocking_paranoia_level", "detection_paranoia_level")


def _is_initialiser(rule: Rule, name: str) -> bool:
    """``SecRule &TX:name "@eq 0" ... setvar:tx.name=…``: sets a default, never overrides."""
    if len(rule.links) != 1 or rule.links[0].variables is None:
        return False
    refs = rule.links[0].variables.refs
    return len(refs) == 1 and refs[0].count and refs[0].tx_key is not None and refs[0].tx_key.lower() == name


def _paranoia_names_set(rules: list[Rule]) -> set[str]:
    found = set()
    for rule in rules:
        for link in rule.links:
            for setvar in link.setvars:
                name = setvar.name.text.lower()
                if name in PARANOIA_NAMES and not _is_initialiser(rule, name):
                    found.add(name)
    return found


def _has_initialiser(rules: list[Rule], name: str) -> bool:
    return any(_is_initialiser(rule, name) for rule in rules)
