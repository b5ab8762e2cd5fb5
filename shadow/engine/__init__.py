"""ShieldX shadow-evaluation rule engine: pure Python, no Django.

Public surface (what the Django layer calls):

    compile_rule(rule_config) -> CompiledRule          # raises RuleError -> HTTP 400
    CompiledRule.match(NormalizedSample) -> Verdict    # matched, fired, score
    NormalizedSample(sample_dict)                       # parse once, reuse across rules
    evaluate(compiled, samples) -> EvaluationResult     # one batch; .metrics(), .recommendations()
    merge(results) -> EvaluationResult                  # combine Celery batches
    compare(result_a, result_b) -> Comparison           # McNemar, winner, fired diffs
    crs_rule_config(["942"], paranoia_level=1)          # bundled OWASP CRS as a rule_config
"""

from __future__ import annotations

from .base import CompiledRule, Verdict
from .compiler import RULE_TYPES, compile_rule
from .crs import crs_files, crs_rule_config, load_crs
from .errors import RuleError
from .evaluation import Comparison, EvaluationResult, SampleOutcome, compare, evaluate, merge
from .metrics import Counts, compute_metrics, mcnemar_p_value, recommendations, winner
from .sample import NormalizedSample

__all__ = [
    "RULE_TYPES",
    "Comparison",
    "CompiledRule",
    "Counts",
    "EvaluationResult",
    "NormalizedSample",
    "RuleError",
    "SampleOutcome",
    "Verdict",
    "compare",
    "compile_rule",
    "compute_metrics",
    "crs_files",
    "crs_rule_config",
    "evaluate",
    "load_crs",
    "mcnemar_p_value",
    "merge",
    "recommendations",
    "winner",
]
