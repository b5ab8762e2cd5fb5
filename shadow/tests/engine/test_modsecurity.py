"""The SecLang subset: parsing, operators, variables, actions, flow and scoring."""

from __future__ import annotations

import pytest

from shadow.engine import NormalizedSample, RuleError, compile_rule
from shadow.engine.modsec.operators import _LIBINJECTION

needs_libinjection = pytest.mark.skipif(_LIBINJECTION is None, reason="libmodsecurity3 (libinjection) is not installed")


def modsec(text: str, **config):
    return compile_rule({"type": "modsecurity", "rules": text, **config})


def get(query: str = "", *, path: str = "/search", headers: dict | None = None, body: str = "", method: str = "GET"):
    if body and headers is None:
        # A form post; a body without Content-Type gets no body processor (CONTRACT §4a).
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
    return NormalizedSample({"method": method, "path": path, "query": query, "headers": headers or {}, "body": body})


CRITICAL = "severity:CRITICAL"


# ---- parsing ---------------------------------------------------------------------------------


def test_line_continuations_comments_and_quoting():
    rule = modsec(
        """
        # a comment line
        SecRule ARGS "@rx (?i)union\\s+select" \\
            "id:100,\\
            phase:2,\\
            block,\\
            msg:'SQLi, with a comma',\\
            severity:'CRITICAL'"
        """
    )
    verdict = rule.match(get("q=UNION%20SELECT"))
    assert verdict == verdict.__class__(True, ("100",), 5)
    assert not rule.match(get("q=union")).matched


def test_escaped_double_quote_reaches_the_regex():
    rule = modsec('SecRule ARGS "@rx [\\"]x" "id:1,phase:2,deny"')
    assert rule.match(get("q=%22x")).matched


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('SecRule ARGS "@rx a"', "rule has no id"),
        ('SecRule ARGS "@rx a" "id:1,phase:2,deny"\nSecRule ARGS "@rx b" "id:1,phase:2,deny"', "duplicate rule id 1"),
        ('SecRule ARGS "@foo a" "id:7,deny"', "unsupported operator @foo"),
        ('SecRule NOPE "@rx a" "id:7,deny"', "unsupported variable 'NOPE'"),
        ('SecRule ARGS "@rx a" "id:7,deny,t:rot13"', "unsupported transformation t:rot13"),
        ('SecRule ARGS "@rx a" "id:7,deny,frobnicate"', "unsupported action 'frobnicate'"),
        ('SecRule ARGS "@rx a" "id:7,deny,exec:/bin/sh"', "action 'exec' is not supported"),
        ('SecRule ARGS "@rx a" "id:7,deny,ctl:bogus=1"', "unsupported ctl option 'bogus'"),
        ('SecRule ARGS "@rx a" "id:7,deny,setvar:ip.x=1,setvar:foo.x=1"', "setvar on collection 'foo'"),
        ('SecRule ARGS "@rx a" "id:7,chain,deny"', "no SecRule follows"),
        ('SecRule ARGS "@rx a" "id:7,chain,deny"\nSecRule ARGS "@rx b" "id:8"', "'id' is only allowed on the first rule of a chain"),
        ('SecRule ARGS "@rx a" "id:7,deny,skipAfter:NOWHERE"', "skipAfter:NOWHERE names no SecMarker"),
        ('SecRule ARGS "@rx a" "id:7,deny', "unterminated double-quoted string"),
        ('SecRule ARGS "@rx a" "id:7,msg:\'open"', "unterminated single quote"),
        ('SecRule ARGS "@rx a" "id:7,deny" \\', "ends inside a line continuation"),
        ('SecRule ARGS "@rx a" "id:7" "extra"', "SecRule takes VARIABLES"),
        ("Include /etc/passwd", "unsupported directive 'include'"),
        ('SecRule RESPONSE_BODY "@rx a" "id:7,phase:4,deny"', "unsupported variable 'RESPONSE_BODY'"),
        ('SecRule ARGS "@rx a" "id:x"', "id:x is not an integer"),
        ('SecRule ARGS "@rx a" "id:7,phase:9"', "phase:9 is not 1-5"),
        ('SecRule ARGS "@rx a" "id:7,severity:HUGE"', "unknown severity"),
        ('SecRule ARGS "@pmFromFile ../../../etc/passwd" "id:7,deny"', "is not one of the bundled CRS .data files"),
        ('SecRule ARGS "@validateByteRange 1-300" "id:7,deny"', "outside 0-255"),
        ('SecRule ARGS "@rx %{tx.x}" "id:7,deny"', "macro expansion inside @rx is not supported"),
        ('SecRule ARGS "@streq %{NOPE}" "id:7,deny"', "unsupported variable 'NOPE' in macro"),
        ('SecRule ARGS:/(?<=x)/ "@rx a" "id:7,deny"', "is not a valid RE2 regex"),
        ("# only a comment", "defines no rule"),
    ],
)
def test_parse_errors_name_the_problem(text, message):
    with pytest.raises(RuleError) as caught:
        modsec(text)
    assert message in caught.value.message


def test_errors_carry_the_rule_id_and_line():
    with pytest.raises(RuleError) as caught:
        modsec('\n\nSecRule ARGS "@rx a" "id:42,deny,t:rot13"')
    assert caught.value.message == "rule 42: line 3: unsupported transformation t:rot13"
    assert caught.value.details["rule_id"] == 42
    assert caught.value.details["line"] == 3


def test_a_tenant_rule_that_re2_rejects_is_an_error_naming_its_id_and_why():
    with pytest.raises(RuleError) as caught:
        modsec('SecRule ARGS "@rx (a)\\1" "id:9001,phase:2,deny"')
    assert caught.value.message.startswith("rule 9001: line 1: @rx pattern rejected: backreferences are not supported")
    assert caught.value.details["rule_id"] == 9001
    assert caught.value.details["re2_error"] == "invalid escape sequence: \\1"


def test_a_crs_tagged_rule_that_re2_rejects_is_skipped_and_listed_unless_strict():
    text = (
        'SecRule ARGS "@rx (?=x)y" "id:1,phase:2,block,tag:\'OWASP_CRS\',severity:CRITICAL"\n'
        'SecRule ARGS "@rx evil" "id:2,phase:2,block,tag:\'OWASP_CRS\',severity:CRITICAL"'
    )
    rule = modsec(text)
    assert [(u.rule_id, "lookahead" in u.reason) for u in rule.unsupported] == [(1, True)]
    assert rule.match(get("q=evil")).fired == ("2",)
    with pytest.raises(RuleError, match="rule 1: .*lookahead"):
        modsec(text, strict=True)


def test_config_fields_are_validated():
    with pytest.raises(RuleError, match="'threshold' must be an integer"):
        modsec('SecAction "id:1"', threshold="5")
    with pytest.raises(RuleError, match="'paranoia_level' must be an integer from 1 to 4"):
        modsec('SecAction "id:1"', paranoia_level=5)
    with pytest.raises(RuleError, match="'strict' must be true or false"):
        modsec('SecAction "id:1"', strict="yes")
    with pytest.raises(RuleError, match="unknown field 'mode'"):
        modsec('SecAction "id:1"', mode="x")


# ---- operators --------------------------------------------------------------------------------

OPERATOR_CASES = [
    ('"evil"', "q=an%20evil%20one", True),  # no @: implicit @rx
    ('"!@rx ^[a-z]+$"', "q=abc", False),
    ('"!@rx ^[a-z]+$"', "q=abc1", True),
    ('"@pm select union"', "q=xUNIONx", True),  # case-insensitive phrases
    ('"@pm select union"', "q=uni", False),
    ('"@pmFromFile java-classes.data"', "q=java.lang.Runtime", True),
    ('"@pmf unix-shell.data"', "q=/bin/bash", True),
    ('"@contains ../"', "q=..%2Fx", True),
    ('"@containsWord select"', "q=a%20select%20b", True),
    ('"@containsWord select"', "q=selection", False),
    ('"@streq admin"', "q=admin", True),
    ('"@streq admin"', "q=admins", False),
    ('"@beginsWith /etc"', "q=/etc/passwd", True),
    ('"@endsWith .php"', "q=x.php", True),
    ('"@within GET POST"', "q=POST", True),
    ('"@within GET POST"', "q=PUT", False),
    ('"@eq 5"', "q=5", True),
    ('"@ge 5"', "q=6", True),
    ('"@gt 5"', "q=5", False),
    ('"@le 5"', "q=5abc", True),  # atoi semantics
    ('"@lt 5"', "q=-1", True),
    ('"@validateByteRange 32-126"', "q=ok", False),
    ('"@validateByteRange 32-126"', "q=%01", True),
    ('"@validateUtf8Encoding"', "q=caf%C3%A9", False),
    ('"@validateUtf8Encoding"', "q=%C3%28", True),
    ('"@unconditionalMatch"', "q=x", True),
    ('"@noMatch"', "q=x", False),
    pytest.param('"@detectSQLi"', "q=1%27%20OR%20%271%27%3D%271", True, marks=needs_libinjection),
    pytest.param('"@detectSQLi"', "q=hello%20world", False, marks=needs_libinjection),
    pytest.param('"@detectXSS"', "q=%3Cscript%3Ealert(1)%3C/script%3E", True, marks=needs_libinjection),
    pytest.param('"@detectXSS"', "q=hello", False, marks=needs_libinjection),
]


@pytest.mark.parametrize(("operator", "query", "matched"), OPERATOR_CASES)
def test_operators(operator, query, matched):
    rule = modsec(f'SecRule ARGS {operator} "id:1,phase:2,deny,t:none"')
    assert rule.match(get(query)).matched is matched


def test_validate_url_encoding_and_ip_match():
    rule = modsec('SecRule REQUEST_URI_RAW "@validateUrlEncoding" "id:1,phase:1,deny"')
    assert rule.match(get("q=%zz")).matched
    assert rule.match(get("q=%4")).matched
    assert not rule.match(get("q=%41")).matched
    ip = modsec('SecRule REMOTE_ADDR "@ipMatch 192.0.2.0/24,10.0.0.1" "id:2,phase:1,deny"')
    assert ip.match(get()).matched  # samples come from TEST-NET-1 (192.0.2.10)


def test_crs_byte_escapes_match_utf8_bytes_in_latin1_mode():
    # CRS 942 and 941 match U+00B4 (acute accent, UTF-8 c2 b4) as two byte escapes.
    rule = modsec('SecRule ARGS "@rx \\x{c2}\\x{b4}" "id:1,phase:2,deny"')
    assert rule.match(get("q=a%C2%B4b")).matched
    assert rule.match(get("q=a\u00b4b")).matched
    assert not rule.match(get("q=a%B4b")).matched


def test_pcre_end_of_subject_allows_one_trailing_newline_like_pcre():
    rule = modsec('SecRule ARGS "@rx ^admin$" "id:1,phase:2,deny"')
    assert rule.match(get("q=admin%0A")).matched
    assert not rule.match(get("q=admin%0A%0A")).matched


# ---- variables --------------------------------------------------------------------------------


def test_exclusions_and_regex_selectors():
    rule = modsec('SecRule ARGS|!ARGS:safe|!ARGS:/^ok_/ "@rx evil" "id:1,phase:2,deny"')
    assert rule.match(get("a=evil")).matched
    assert not rule.match(get("safe=evil&ok_1=evil&OK_2=evil")).matched
    only = modsec('SecRule ARGS:/^id_/ "@rx evil" "id:2,phase:2,deny"')
    assert only.match(get("ID_x=evil")).matched  # selectors are case-insensitive
    assert not only.match(get("x=evil")).matched


def test_counting_args_and_headers():
    rule = modsec('SecRule &ARGS "@gt 2" "id:1,phase:2,deny"')
    assert not rule.match(get("a=1&b=2")).matched
    assert rule.match(get("a=1&b=2&c=3")).matched
    missing = modsec('SecRule &REQUEST_HEADERS:User-Agent "@eq 0" "id:2,phase:1,deny"')
    assert missing.match(get()).matched
    assert not missing.match(get(headers={"user-agent": "x"})).matched


def test_request_headers_collection_and_selector():
    rule = modsec('SecRule REQUEST_HEADERS:X-Forwarded-For "@beginsWith 10." "id:1,phase:1,deny"')
    assert rule.match(get(headers={"x-forwarded-for": "10.1.1.1"})).matched
    names = modsec('SecRule REQUEST_HEADERS_NAMES "@streq X-Debug" "id:2,phase:1,deny"')
    assert names.match(get(headers={"X-Debug": "1"})).matched


# ---- transformations in rules ------------------------------------------------------------------


def test_transformations_apply_in_order_and_t_none_clears_defaults():
    rule = modsec(
        'SecDefaultAction "phase:2,pass,t:lowercase"\n'
        'SecRule ARGS "@streq select" "id:1,phase:2,deny"\n'
        'SecRule ARGS "@streq SELECT" "id:2,phase:2,deny,t:none"'
    )
    assert rule.match(get("q=SeLeCt")).fired == ("1",)
    assert rule.match(get("q=SELECT")).fired == ("1",)  # 1 denies first and stops
    assert modsec('SecRule ARGS "@streq SELECT" "id:2,phase:2,deny,t:none"').match(get("q=SELECT")).matched


def test_multimatch_tests_every_intermediate_value():
    # After t:urlDecode the value no longer contains "%3c"; multiMatch still sees it.
    plain = modsec('SecRule ARGS "@contains %3c" "id:1,phase:2,deny,t:urlDecode"')
    multi = modsec('SecRule ARGS "@contains %3c" "id:1,phase:2,deny,t:urlDecode,multiMatch"')
    sample = get("q=%253c")
    assert not plain.match(sample).matched
    assert multi.match(sample).matched


# ---- actions, flow and scoring ------------------------------------------------------------------


def test_chain_matches_only_when_every_link_matches_and_sees_matched_var():
    rule = modsec(
        'SecRule REQUEST_METHOD "@streq POST" "id:1,phase:2,deny,chain"\n'
        '    SecRule ARGS:cmd "@rx ^rm" "chain"\n'
        '        SecRule MATCHED_VAR "@contains -rf"'
    )
    assert rule.match(get(method="POST", body="cmd=rm+-rf+/")).matched
    assert not rule.match(get(method="POST", body="cmd=rm+x")).matched
    assert not rule.match(get("cmd=rm+-rf", method="GET")).matched


def test_skip_after_jumps_to_the_marker():
    text = (
        'SecRule ARGS:skip "@streq 1" "id:1,phase:2,pass,nolog,skipAfter:END"\n'
        f'SecRule ARGS "@rx evil" "id:2,phase:2,block,{CRITICAL}"\n'
        'SecMarker "END"\n'
        f'SecRule ARGS "@rx evil" "id:3,phase:2,block,{CRITICAL}"'
    )
    rule = modsec(text)
    assert rule.match(get("x=evil")).fired == ("2", "3")
    assert rule.match(get("x=evil&skip=1")).fired == ("3",)


def test_skip_counts_rules():
    text = (
        'SecAction "id:1,phase:2,pass,skip:1"\n'
        f'SecRule ARGS "@rx evil" "id:2,phase:2,block,{CRITICAL}"\n'
        f'SecRule ARGS "@rx evil" "id:3,phase:2,block,{CRITICAL}"'
    )
    assert modsec(text).match(get("x=evil")).fired == ("3",)


def test_anomaly_scores_via_setvar_macros_and_the_threshold():
    text = (
        'SecRule ARGS "@rx evil" "id:1,phase:2,block,severity:WARNING,setvar:\'tx.inbound_anomaly_score_pl1=+%{tx.warning_anomaly_score}\'"'
    )
    sample = get("a=evil&b=evil")  # two matching values: the setvar runs twice
    assert modsec(text).match(sample) == modsec(text).match(sample).__class__(True, ("1",), 6)
    single = get("a=evil")
    assert modsec(text).match(single).score == 3
    assert not modsec(text).match(single).matched
    assert modsec(text, threshold=3).match(single).matched


def test_a_rule_with_a_severity_but_no_setvar_adds_its_severity_once():
    for severity, score in (("CRITICAL", 5), ("ERROR", 4), ("WARNING", 3), ("NOTICE", 2)):
        rule = modsec(f'SecRule ARGS "@rx evil" "id:1,phase:2,block,severity:{severity}"')
        assert rule.match(get("a=evil&b=evil")).score == score


def test_setvar_arithmetic_deletion_and_tx_macros():
    text = (
        'SecAction "id:1,phase:1,pass,setvar:tx.limit=2,setvar:tx.gone=1,setvar:!tx.gone,setvar:tx.n=10,setvar:tx.n=-3"\n'
        'SecRule &ARGS "@gt %{tx.limit}" "id:2,phase:2,deny,chain"\n'
        '    SecRule &TX:gone "@eq 0" "chain"\n'
        '        SecRule TX:n "@eq 7"'
    )
    rule = modsec(text)
    assert rule.match(get("a=1&b=2&c=3")).matched
    assert not rule.match(get("a=1&b=2")).matched


def test_capture_fills_tx_groups_for_chained_rules():
    text = 'SecRule ARGS:file "@rx \\.([a-z]+)$" "id:1,phase:2,deny,capture,chain"\n    SecRule TX:1 "@within php asp jsp"'
    rule = modsec(text)
    assert rule.match(get("file=a.php")).matched
    assert not rule.match(get("file=a.txt")).matched


def test_deny_blocks_regardless_of_score_and_allow_passes():
    assert modsec('SecRule ARGS "@rx evil" "id:1,phase:2,deny"').match(get("q=evil")) == (
        modsec('SecRule ARGS "@rx evil" "id:1,phase:2,deny"').match(get("q=evil")).__class__(True, ("1",), 0)
    )
    text = f'SecRule REQUEST_FILENAME "@streq /health" "id:1,phase:1,allow"\nSecRule ARGS "@rx evil" "id:2,phase:2,block,{CRITICAL}"'
    rule = modsec(text)
    assert not rule.match(get("q=evil", path="/health")).matched
    assert rule.match(get("q=evil", path="/other")).matched


def test_block_follows_sec_default_action():
    text = 'SecDefaultAction "phase:2,log,deny"\nSecRule ARGS "@rx evil" "id:1,phase:2,block"'
    verdict = modsec(text).match(get("q=evil"))
    assert verdict.matched and verdict.score == 0


def test_runtime_ctl_removes_rules_and_targets():
    text = (
        'SecRule REQUEST_FILENAME "@beginsWith /api/" "id:1,phase:1,pass,nolog,ctl:ruleRemoveById=10,ctl:ruleRemoveTargetById=11;ARGS:body"\n'
        f'SecRule ARGS "@rx evil" "id:10,phase:2,block,{CRITICAL}"\n'
        f'SecRule ARGS "@rx evil" "id:11,phase:2,block,{CRITICAL}"'
    )
    rule = modsec(text)
    assert rule.match(get("body=evil", path="/web")).fired == ("10", "11")
    assert rule.match(get("body=evil", path="/api/x")).fired == ()
    assert rule.match(get("other=evil", path="/api/x")).fired == ("11",)


def test_configuration_time_removal_and_target_update():
    text = (
        f'SecRule ARGS "@rx evil" "id:10,phase:2,block,{CRITICAL}"\n'
        f'SecRule ARGS "@rx evil" "id:11,phase:2,block,tag:\'noisy\',{CRITICAL}"\n'
        f'SecRule ARGS "@rx evil" "id:12,phase:2,block,{CRITICAL}"\n'
        "SecRuleRemoveById 10\n"
        "SecRuleRemoveByTag noisy\n"
        'SecRuleUpdateTargetById 12 "!ARGS:comment"'
    )
    rule = modsec(text)
    assert rule.match(get("q=evil")).fired == ("12",)
    assert rule.match(get("comment=evil")).fired == ()


def test_paranoia_level_tags_and_crs_gating():
    text = (
        'SecRule TX:DETECTION_PARANOIA_LEVEL "@lt 2" "id:1,phase:2,pass,nolog,skipAfter:END-PL2"\n'
        f'SecRule ARGS "@rx evil" "id:2,phase:2,block,tag:\'paranoia-level/2\',{CRITICAL}"\n'
        'SecMarker "END-PL2"\n'
        f'SecRule ARGS "@rx evil" "id:3,phase:2,block,tag:\'paranoia-level/1\',{CRITICAL}"'
    )
    assert modsec(text).match(get("q=evil")).fired == ("3",)
    assert modsec(text, paranoia_level=2).match(get("q=evil")).fired == ("2", "3")
    assert modsec(text).program.stats.skipped_by_paranoia == 1


def test_response_phase_rules_are_parsed_but_not_run():
    rule = modsec(f'SecRule ARGS "@rx evil" "id:1,phase:4,block,{CRITICAL}"\nSecAction "id:2,phase:2,pass"')
    assert not rule.match(get("q=evil")).matched


def test_sec_rule_engine_off_disables_everything():
    rule = modsec(f'SecRuleEngine Off\nSecRule ARGS "@rx evil" "id:1,phase:2,deny,{CRITICAL}"')
    assert not rule.match(get("q=evil")).matched


def test_without_libinjection_crs_skips_its_rule_and_a_tenant_rule_is_refused(monkeypatch):
    from shadow.engine import crs_rule_config
    from shadow.engine.modsec import operators

    monkeypatch.setattr(operators, "_LIBINJECTION", None)
    crs = compile_rule(crs_rule_config(["942"]))
    assert [entry.rule_id for entry in crs.unsupported] == [942100]
    assert "needs libinjection" in crs.unsupported[0].reason
    with pytest.raises(RuleError, match="rule 5: line 1: operator @detectSQLi needs libinjection"):
        modsec('SecRule ARGS "@detectSQLi" "id:5,phase:2,deny"')
