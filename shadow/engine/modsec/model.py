"""The compiled form of SecLang: rules, links, markers and their actions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .macros import Macro
from .operators import Operator
from .variables import Selector, VariableSet

if TYPE_CHECKING:
    from .prefilter import Prefilter

SEVERITY_LEVELS = {
    "EMERGENCY": 0, "ALERT": 1, "CRITICAL": 2, "ERROR": 3,
    "WARNING": 4, "NOTICE": 5, "INFO": 6, "DEBUG": 7,
}  # fmt: skip
# Contract: CRITICAL 5, ERROR 4, WARNING 3, NOTICE 2 (EMERGENCY/ALERT count as critical).
SEVERITY_SCORES = {0: 5, 1: 5, 2: 5, 3: 4, 4: 3, 5: 2, 6: 0, 7: 0}
PHASE_NAMES = {"request": 2, "response": 4, "logging": 5}
REQUEST_PHASES = (1, 2)
BLOCKING = frozenset({"deny", "drop", "redirect"})
SCORE_VARIABLES = frozenset({"anomaly_score", "inbound_anomaly_score"})


@dataclass(frozen=True, slots=True)
class SetVar:
    name: Macro
    op: str  # "=", "+", "-", "delete", "one"
    value: Macro | None


@dataclass(frozen=True, slots=True)
class Ctl:
    kind: str
    ids: tuple[tuple[int, int], ...] = ()
    tag: str = ""
    target: tuple[str, Selector | None] | None = None


@dataclass(eq=False, slots=True)
class Link:
    variables: VariableSet | None
    operator: Operator | None
    transforms: tuple[str, ...]
    multimatch: bool = False
    capture: bool = False
    setvars: tuple[SetVar, ...] = ()
    ctls: tuple[Ctl, ...] = ()
    line: int = 0
    # (variables, transforms, set group): the link can only match when its pattern is
    # among the set hits of all its values; shared by every link with the same key.
    prefilter: Prefilter | None = None
    prefilter_index: int = -1


@dataclass(eq=False, slots=True)
class Rule:
    id: int
    phase: int
    line: int
    links: list[Link]
    tags: tuple[str, ...] = ()
    msg: str = ""
    severity_level: int | None = None
    disruptive: str = "pass"
    skip_after: str | None = None
    skip: int = 0
    reports: bool = False
    implicit_score: int = 0
    removed: bool = False


@dataclass(frozen=True, slots=True)
class Marker:
    name: str
    line: int


@dataclass(slots=True)
class UnsupportedEntry:
    rule_id: int | None
    line: int
    reason: str


@dataclass(slots=True)
class ProgramStats:
    rules: int = 0
    rules_by_phase: dict[int, int] = field(default_factory=dict)
    regexes: int = 0
    regex_sets: int = 0
    skipped_by_paranoia: int = 0
    folded: int = 0
