"""Compile-time evaluation of rules that only read configuration TX variables.

CRS gates every file on ``TX:DETECTION_PARANOIA_LEVEL "@lt N"`` and initialises its
settings with ``&TX:name "@eq 0"``.  With the TX presets fixed per program, such a
rule has the same outcome on every request, as long as nothing can change the
variable while rules run.  Folding turns it into an unconditional rule (when it
always matches) or removes it (when it never does), so the interpreter no longer
pays for it on every sample.  The optimisation is checked against the unfolded
program in the tests.
"""

from __future__ import annotations

from .model import Link, Marker, Rule
from .operators import Constant, Numeric, Operator, StringOp


def _tx_name(link: Link) -> tuple[str, bool] | None:
    """(name, is_count) when the link reads exactly one TX:literal (or &TX:literal)."""
    variables = link.variables
    if variables is None or variables.exclusions or len(variables.refs) != 1:
        return None
    ref = variables.refs[0]
    if ref.exclude or ref.tx_key is None:
        return None
    return ref.tx_key.lower(), ref.count


def _static_operator(operator: Operator | None) -> bool:
    if isinstance(operator, (Numeric, StringOp)):
        return operator.macro.static is not None
    return isinstance(operator, Constant)


def _init_only_name(rule: Rule) -> str | None:
    """The variable of a ``SecRule &TX:name "@eq 0" ... setvar:tx.name=...`` initialiser."""
    if len(rule.links) != 1:
        return None
    link = rule.links[0]
    found = _tx_name(link)
    operator = link.operator
    if (
        found is None
        or not found[1]
        or not isinstance(operator, Numeric)
        or operator.negated
        or operator.kind != "eq"
        or operator.constant != 0
    ):
        return None
    return found[0]


def _modified_names(rules: list[Rule], presets: dict[str, bytes]) -> tuple[set[str], list[str], bool]:
    """TX names rules may change at run time: exact names, name prefixes, and captures."""
    exact: set[str] = set()
    prefixes: list[str] = []
    captures = False
    for rule in rules:
        init_name = _init_only_name(rule)
        for link in rule.links:
            captures = captures or link.capture
            for setvar in link.setvars:
                static = setvar.name.static
                if static is None:
                    prefixes.append(setvar.name.text.split("%{", 1)[0].lower())
                    continue
                name = static.decode("latin-1").lower()
                # An initialiser never fires for a preset variable: it cannot change it.
                if name == init_name and name in presets and setvar.op != "delete":
                    continue
                exact.add(name)
    return exact, prefixes, captures


def fold_constant_rules(items: list[Rule | Marker], presets: dict[str, bytes]) -> tuple[list[Rule | Marker], int]:
    """Items with constant TX rules folded, and how many rules were folded."""
    rules = [item for item in items if isinstance(item, Rule)]
    if any(rule.skip for rule in rules):
        return items, 0  # skip:N counts rules; removing any would change its target
    exact, prefixes, captures = _modified_names(rules, presets)

    def stable(name: str) -> bool:
        if name in exact or any(name.startswith(prefix) for prefix in prefixes):
            return False
        return not (captures and name.isdigit())

    folded = 0
    out: list[Rule | Marker] = []
    for item in items:
        if not isinstance(item, Rule) or item.phase not in (1, 2):
            out.append(item)
            continue
        first = item.links[0]
        found = _tx_name(first)
        if (
            found is None
            or not _static_operator(first.operator)
            or first.transforms
            or first.multimatch
            or first.capture
            or not stable(found[0])
        ):
            out.append(item)
            continue
        name, is_count = found
        if is_count:
            values = [b"1" if name in presets else b"0"]
        else:
            values = [presets[name]] if name in presets else []
        operator = first.operator
        matches = any(operator.test(v, None) is not operator.negated for v in values)  # type: ignore[arg-type, union-attr]
        folded += 1
        if not matches:
            continue  # the first link never matches: the rule never does
        # Always matches: keep the rule and its actions, drop the test.
        item.links[0] = Link(None, None, (), setvars=first.setvars, ctls=first.ctls, line=first.line)
        out.append(item)
    return out, folded
