"""``modsecurity`` rules: a SecLang subset sufficient to run OWASP CRS 4 request rules."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..base import CompiledRule, Verdict
from ..config import check_keys, integer
from ..crs import CRS_DATA_DIR, crs_reference_text
from ..errors import RuleError
from ..sample import NormalizedSample
from .builder import ProgramBuilder
from .model import UnsupportedEntry
from .operators import atoi
from .program import Program

MAX_RULES_TEXT = 4 << 20  # all REQUEST-9xx files together are ~700 KiB


def _number(value: bytes) -> int:
    try:
        return int(value)
    except ValueError:
        return atoi(value)


class ModSecurityRule(CompiledRule):
    """A compiled SecRule program; a sample is an attack at ``score >= threshold``."""

    rule_type = "modsecurity"

    def __init__(self, program: Program, *, threshold: int, paranoia_level: int) -> None:
        self.program = program
        self.threshold = threshold
        self.paranoia_level = paranoia_level
        self._score_keys = [f"inbound_anomaly_score_pl{n}" for n in range(1, 5)]

    @property
    def unsupported(self) -> list[UnsupportedEntry]:
        """CRS rules skipped because RE2 or libinjection cannot run them (non-strict only)."""
        return self.program.unsupported

    def score_of(self, tx: dict[str, bytes], implicit: int) -> int:
        # CRS 4 adds per paranoia level, up to the blocking level the transaction ended
        # with (the rule text may set it: its settings win over rule_config's);
        # tx.anomaly_score serves older/custom rules; `implicit` is the severity of
        # matched rules that set no variable themselves.
        level = min(max(_number(tx.get("blocking_paranoia_level", b"0")) or self.paranoia_level, 1), 4)
        total = implicit
        for key in self._score_keys[:level]:
            total += _number(tx.get(key, b"0"))
        return total + _number(tx.get("anomaly_score", b"0"))

    def threshold_of(self, tx: dict[str, bytes]) -> int:
        configured = tx.get("inbound_anomaly_score_threshold")
        return self.threshold if configured is None else _number(configured)

    def match(self, sample: NormalizedSample) -> Verdict:
        txn = self.program.run(sample)
        score = self.score_of(txn.tx, txn.implicit_score)
        matched = not txn.allowed and (txn.denied or score >= self.threshold_of(txn.tx))
        return Verdict(matched, tuple(dict.fromkeys(txn.fired)), score)


def compile_modsecurity(config: Mapping[str, Any], *, data_dir: Path | None = None, optimize: bool = True) -> ModSecurityRule:
    """Compile a ``modsecurity`` rule_config.

    ``strict`` (default false): a CRS rule (tagged OWASP_CRS) that RE2 or libinjection
    cannot run is skipped and listed in ``unsupported``; with ``strict`` it is an
    error, and a rule of the tenant's own is always an error naming its id.
    """
    check_keys(config, allowed=("rules", "crs", "threshold", "paranoia_level", "strict"))
    own = config.get("rules")
    if isinstance(own, str) and len(own) > MAX_RULES_TEXT:
        raise RuleError(f"'rules' is longer than {MAX_RULES_TEXT} characters", {"field": "rules"})
    if "crs" in config:
        if "paranoia_level" in config:
            raise RuleError("give the paranoia level once, as 'crs.paranoia_level'", {"field": "paranoia_level"})
        text, paranoia_level = crs_reference_text(config)
    else:
        if "rules" not in config:
            raise RuleError("modsecurity rule_config needs 'rules' (SecRule text) or 'crs' (the bundled CRS)", {"field": "rules"})
        text = config["rules"]
        if not isinstance(text, str) or not text.strip():
            raise RuleError("'rules' must be non-empty SecRule text", {"field": "rules"})
        paranoia_level = integer(config, "paranoia_level", 1, low=1, high=4)
    threshold = integer(config, "threshold", 5, low=1, high=100_000)
    strict = config.get("strict", False)
    if not isinstance(strict, bool):
        raise RuleError("'strict' must be true or false", {"field": "strict"})
    builder = ProgramBuilder(
        paranoia_level=paranoia_level,
        threshold=threshold,
        strict=strict,
        data_dir=data_dir or CRS_DATA_DIR,
        optimize=optimize,
    )
    program = builder.build(text)
    if program.stats.rules == 0 and not program.disabled:
        raise RuleError("the rules text defines no rule that can run", {"field": "rules"})
    return ModSecurityRule(program, threshold=threshold, paranoia_level=paranoia_level)
