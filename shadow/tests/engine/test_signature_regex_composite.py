"""signature, regex and composite rule types (contract section 4)."""

from __future__ import annotations

import ast
import re as stdlib_re
from pathlib import Path

import ahocorasick
import pytest
import re2

from shadow.engine import NormalizedSample, RuleError, compile_rule
from shadow.engine.re2util import MAX_INPUT_BYTES

ENGINE_DIR = Path(__file__).resolve().parents[2] / "engine"


def request(query: str = "", path: str = "/search", body: str = "", headers: dict | None = None) -> NormalizedSample:
    return NormalizedSample({"method": "GET", "path": path, "query": query, "body": body, "headers": headers or {}})


# ---- signature ----------------------------------------------------------------------------


def test_signature_defaults_url_decode_and_lowercase_and_lowercases_its_patterns():
    rule = compile_rule({"type": "signature", "patterns": ["UNION SELECT", "sleep("]})
    assert rule.patterns == ("union select", "sleep(")
    verdict = rule.match(request("q=1%20UnIoN%20SeLeCt%202"))
    assert verdict.matched and verdict.fired == ("union select",)


def test_signature_without_lowercase_is_case_sensitive_both_ways():
    rule = compile_rule({"type": "signature", "pattern": "Admin", "transforms": ["url_decode"]})
    assert rule.patterns == ("Admin",)
    assert rule.match(request("u=Admin")).matched
    assert not rule.match(request("u=admin")).matched


def test_signature_reports_every_pattern_found_in_one_pass():
    rule = compile_rule({"type": "signature", "patterns": ["../", "etc/passwd", "passwd", "zzz"]})
    assert isinstance(rule.automaton, ahocorasick.Automaton)
    verdict = rule.match(request("f=..%2F..%2Fetc%2Fpasswd"))
    assert verdict.fired == ("../", "etc/passwd", "passwd")


def test_signature_url_decoding_is_a_single_pass():
    rule = compile_rule({"type": "signature", "pattern": "'"})
    assert not rule.match(request("q=%2527")).matched  # decodes to %27, not to '
    assert rule.match(request("q=%27")).matched


def test_signature_targets_default_to_path_query_body_and_can_be_headers():
    default = compile_rule({"type": "signature", "pattern": "evil"})
    assert not default.match(request(headers={"X-Evil": "1"})).matched
    assert default.match(request(path="/evil")).matched
    assert default.match(request(body="x=evil")).matched
    headers_only = compile_rule({"type": "signature", "pattern": "x-evil: 1", "targets": ["headers"]})
    assert headers_only.match(request(headers={"X-Evil": "1"})).matched
    assert not headers_only.match(request("x-evil: 1")).matched


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"type": "signature"}, "exactly one of 'pattern' or 'patterns'"),
        ({"type": "signature", "pattern": "a", "patterns": ["b"]}, "exactly one of"),
        ({"type": "signature", "patterns": []}, "non-empty list"),
        ({"type": "signature", "patterns": ["ok", ""]}, "pattern 1 must be a non-empty string"),
        ({"type": "signature", "pattern": "a", "targets": ["cookies"]}, "unsupported target 'cookies'"),
        ({"type": "signature", "pattern": "a", "transforms": ["rot13"]}, "unsupported transform 'rot13'"),
        ({"type": "signature", "pattern": "a", "flags": "i"}, "unknown field 'flags'"),
        ({"type": "yara", "pattern": "a"}, "unsupported rule type 'yara'"),
    ],
)
def test_invalid_signature_configs_name_the_problem(config, message):
    with pytest.raises(RuleError, match=stdlib_re.escape(message)):
        compile_rule(config)


# ---- regex ----------------------------------------------------------------------------------


def test_regex_is_searched_not_anchored_after_url_decoding_only():
    rule = compile_rule({"type": "regex", "pattern": r"union\s+select"})
    assert rule.match(request("q=1%20union%20%20select")).fired == ("query",)
    assert not rule.match(request("q=1%20UNION%20select")).matched  # no lowercase by default


def test_regex_flags_i_makes_it_case_insensitive():
    rule = compile_rule({"type": "regex", "pattern": r"union\s+select", "flags": "i"})
    assert rule.match(request("q=UNION+SELECT")).matched


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        (r"(a)\1", "backreferences are not supported"),
        (r"admin(?=password)", "lookahead is not supported"),
        (r"(?!safe)evil", "lookahead is not supported"),
        (r"(?<=user=)root", "lookbehind is not supported"),
        (r"(?<!x)y", "lookbehind is not supported"),
        (r"a++", "possessive quantifiers are not supported"),
        (r"(unclosed", "RE2 cannot compile"),
    ],
)
def test_regex_rejected_by_re2_says_why_with_re2s_reason(pattern, why):
    with pytest.raises(RuleError) as caught:
        compile_rule({"type": "regex", "pattern": pattern})
    assert why in caught.value.message
    assert caught.value.details["re2_error"] in caught.value.message
    assert caught.value.details["field"] == "pattern"


def test_regex_over_the_memory_cap_is_refused():
    with pytest.raises(RuleError, match="RE2"):
        compile_rule({"type": "regex", "pattern": "((((a{100}){100}){100}){100})"})


def test_catastrophic_pattern_runs_in_linear_time_under_re2():
    # With backtracking (Python's re), ^(a+)+$ on "a"*n + "!" tries every way of
    # splitting the a's between the groups before failing: 2^(n-1) paths, so n=30 is
    # about 5e8 steps (seconds to minutes). RE2 simulates all paths at once, linear in n.
    rule = compile_rule({"type": "regex", "pattern": "^(a+)+$", "targets": ["query"]})
    assert type(rule.regex) is re2._Regexp  # the operator pattern is RE2's, never re's
    assert not rule.match(request("a" * 30 + "!")).matched
    assert rule.match(request("a" * 30)).matched
    assert not rule.match(request("a" * 100_000 + "!")).matched


def test_engine_modules_never_import_pythons_re():
    for path in ENGINE_DIR.rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                assert all(alias.name != "re" for alias in node.names), path
            if isinstance(node, ast.ImportFrom):
                assert node.module != "re", path


def test_regex_searches_only_the_first_mebibyte_of_a_target():
    rule = compile_rule({"type": "regex", "pattern": "needle", "targets": ["body"]})
    assert rule.match(request(body="x" * (MAX_INPUT_BYTES - 10) + "needle")).matched
    assert not rule.match(request(body="x" * MAX_INPUT_BYTES + "needle")).matched


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"type": "regex"}, "needs 'pattern'"),
        ({"type": "regex", "pattern": ""}, "non-empty string"),
        ({"type": "regex", "pattern": "a", "flags": "x"}, "'flags' may only combine"),
        ({"type": "regex", "pattern": "a", "patterns": ["b"]}, "unknown field 'patterns'"),
    ],
)
def test_invalid_regex_configs_name_the_problem(config, message):
    with pytest.raises(RuleError, match=stdlib_re.escape(message)):
        compile_rule(config)


# ---- composite ------------------------------------------------------------------------------

SQL = {"type": "signature", "patterns": ["union"]}
XSS = {"type": "regex", "pattern": "<script", "flags": "i"}


@pytest.mark.parametrize(
    ("operator", "query", "matched"),
    [
        ("any", "q=union", True),
        ("any", "q=hello", False),
        ("all", "q=union", False),
        ("all", "q=union%3Cscript%3E", True),
        ("none", "q=hello", True),
        ("none", "q=%3CSCRIPT", False),
    ],
)
def test_composite_operators(operator, query, matched):
    rule = compile_rule({"type": "composite", "operator": operator, "rules": [SQL, XSS]})
    assert rule.match(request(query)).matched is matched


def test_composite_nests_and_reports_which_children_fired():
    rule = compile_rule(
        {
            "type": "composite",
            "operator": "all",
            "rules": [SQL, {"type": "composite", "operator": "none", "rules": [{"type": "signature", "pattern": "safe"}]}],
        }
    )
    verdict = rule.match(request("q=union"))
    assert verdict.matched
    assert verdict.fired == ("0", "0:union", "1")
    assert not rule.match(request("q=union+safe")).matched


def test_composite_errors_name_the_path_of_the_bad_child():
    config = {
        "type": "composite",
        "operator": "any",
        "rules": [SQL, {"type": "composite", "operator": "all", "rules": [{"type": "regex", "pattern": "(a)\\1"}]}],
    }
    with pytest.raises(RuleError) as caught:
        compile_rule(config)
    assert caught.value.message.startswith("composite rule 1.0: regex rejected: backreferences")
    assert caught.value.details["path"] == [1, 0]


def test_composite_depth_and_size_are_limited():
    deep: dict = SQL
    for _ in range(9):
        deep = {"type": "composite", "operator": "any", "rules": [deep]}
    with pytest.raises(RuleError, match="nest at most 8 levels"):
        compile_rule(deep)
    with pytest.raises(RuleError, match="at most 256 rules"):
        compile_rule({"type": "composite", "operator": "any", "rules": [SQL] * 257})
    with pytest.raises(RuleError, match="non-empty list"):
        compile_rule({"type": "composite", "operator": "any", "rules": []})
    with pytest.raises(RuleError, match="'operator' must be one of any, all, none"):
        compile_rule({"type": "composite", "operator": "xor", "rules": [SQL]})
