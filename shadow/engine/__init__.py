"""ShieldX shadow-evaluation rule engine: pure Python, no Django.

Public surface (what the Django layer calls):

    compile_rule(rule_config) -> CompiledRule          # raises RuleError -> HTTP 400
    CompiledRule.match(NormalizedSample) -> Verdict    # matched, fired, score
    NormalizedSample(sample_dict)                       # parse once, reuse across rules
    evaluate(compiled, samples) -> EvaluationResult     # one batch; .metrics(), .recommendations()
    merge(results) -> EvaluationResult                  # combine Celery batches
    compare(result_a, result_b) -> Comparison           # McNemar, winner, fired diffs
    crs_rule_config(["942"], paranoia_level=1)          # bundled OWASP CRS as a rule_config
    crs_catalog()                                       # GET /shadow/crs; CRS_VERSION

A sample past an engine limit (``limits.py``: 64 KiB per TX value or macro, 1,000 TX
variables, 50 ms) raises ``EngineLimitExceeded`` from ``match``; ``evaluate`` records
it as outcome ``"error"`` and counts it in ``errors``; ``judge(compiled, sample)`` is
``match`` with one warm retry for the time limit (cold RE2 DFAs are not the rule's fault).
"""

from __future__ import annotations

from .base import CompiledRule, Verdict
from .compiler import RULE_TYPES, compile_rule
from .crs import CRS_VERSION, crs_catalog, crs_files, crs_rule_config, load_crs
from .errors import RuleError
from .evaluation import Comparison, EvaluationResult, SampleOutcome, compare, evaluate, judge, merge
from .limits import MAX_SAMPLE_SECONDS, MAX_TX_VARIABLES, MAX_VALUE_BYTES, EngineLimitExceeded
from .metrics import Counts, compute_metrics, mcnemar_p_value, recommendations, winner
from .sample import NormalizedSample

__all__ = [
    "CRS_VERSION",
    "RULE_TYPES",
    "Comparison",
    "CompiledRule",
    "Counts",
    "EngineLimitExceeded",
    "EvaluationResult",
    "MAX_SAMPLE_SECONDS",
    "MAX_TX_VARIABLES",
    "MAX_VALUE_BYTES",
    "NormalizedSample",
    "RuleError",
    "SampleOutcome",
    "Verdict",
    "compare",
    "compile_rule",
    "compute_metrics",
    "crs_catalog",
    "crs_files",
    "crs_rule_config",
    "evaluate",
    "judge",
    "load_crs",
    "mcnemar_p_value",
    "merge",
    "recommendations",
    "winner",
]
