"""The bundled OWASP CRS 4 request rules, loaded as shipped, against corpus slices.

Measured on the full corpus (25,539 samples) at PL1, threshold 5:
942 alone flags 97.2% of the 8,579 sqli samples and 0 of the 12,869 benign ones;
all REQUEST-9xx files flag 92.8% of the 12,670 attacks and 0 benign samples.
The thresholds below sit a little under what the slices measure.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest

from shadow.engine import NormalizedSample, RuleError, compile_rule, crs_files, crs_rule_config, evaluate, load_crs
from shadow.engine.crs import CRS_RULES_DIR
from shadow.engine.modsec import compile_modsecurity
from shadow.engine.modsec.operators import _LIBINJECTION

DATA = Path(__file__).parent / "data"
# @detectSQLi/@detectXSS carry much of CRS's detection (942 at PL1: 97% of sqli with
# libinjection, 69% without); without libmodsecurity3 those rules are skipped.
needs_libinjection = pytest.mark.skipif(_LIBINJECTION is None, reason="libmodsecurity3 (libinjection) is not installed")
ATTACK_SLICES = ("sqli_500", "xss_100", "path_traversal_100", "lfi_100", "cmdi_100")


@cache
def slice_of(name: str) -> tuple[dict, ...]:
    return tuple(json.loads(line) for line in (DATA / f"{name}.jsonl").read_text().splitlines())


@cache
def crs(files: tuple[str, ...] | None = None, paranoia_level: int = 1):
    return compile_rule(crs_rule_config(files, paranoia_level=paranoia_level))


def flagged(rule, rows) -> int:
    return sum(rule.match(NormalizedSample(row)).matched for row in rows)


@needs_libinjection
def test_crs_942_loads_as_shipped_without_skipping_anything():
    text = (CRS_RULES_DIR / "REQUEST-942-APPLICATION-ATTACK-SQLI.conf").read_text()
    rule = compile_rule({"type": "modsecurity", "rules": text, "strict": True})
    assert rule.unsupported == []
    assert rule.program.stats.rules == 28  # PL1 rules plus the paranoia gates
    assert rule.program.stats.skipped_by_paranoia == 40


@pytest.mark.parametrize("paranoia_level", [1, 2, 3, 4])
@needs_libinjection
def test_every_request_file_loads_strictly_at_every_paranoia_level(paranoia_level):
    rule = compile_rule({"type": "modsecurity", "rules": load_crs(), "strict": True, "paranoia_level": paranoia_level})
    assert rule.unsupported == []
    if paranoia_level == 4:
        assert rule.program.stats.skipped_by_paranoia == 0
        assert rule.program.stats.regexes == 266


@pytest.mark.parametrize("name", [f for f in crs_files() if "999" not in f])
@needs_libinjection
def test_each_request_file_loads_on_its_own(name):
    compile_rule({"type": "modsecurity", "rules": load_crs([name]), "strict": True, "paranoia_level": 4})


def test_a_file_of_only_target_updates_defines_no_rule():
    with pytest.raises(RuleError, match="defines no rule"):
        compile_rule({"type": "modsecurity", "rules": load_crs(["999"])})


@needs_libinjection
def test_942_at_pl1_flags_most_sqli_and_almost_no_benign():
    rule = crs(("942",))
    sqli, benign = slice_of("sqli_500"), slice_of("benign_500")
    assert flagged(rule, sqli) / len(sqli) >= 0.95  # measured 488/500
    assert flagged(rule, benign) <= 2  # measured 0/500


@needs_libinjection
def test_all_request_files_at_pl1_flag_most_attacks_and_no_benign():
    rule = crs()
    attacks = [row for name in ATTACK_SLICES for row in slice_of(name)[::2]]
    assert flagged(rule, attacks) / len(attacks) >= 0.85  # measured 803/900 on the whole slices
    assert flagged(rule, slice_of("benign_500")[::2]) <= 1  # measured 0/500


def test_higher_paranoia_detects_at_least_as_much():
    rows = slice_of("cmdi_100")
    assert flagged(crs(None, 2), rows) >= flagged(crs(None, 1), rows)


@needs_libinjection
def test_scores_and_fired_ids_look_like_crs():
    verdict = crs(("942",)).match(
        NormalizedSample({"method": "GET", "path": "/", "query": "id=1%27%20UNION%20SELECT%20password%20FROM%20users--"})
    )
    assert verdict.matched
    assert "942100" in verdict.fired  # libinjection
    assert verdict.score >= 10 and verdict.score % 5 == 0


def test_the_blocking_evaluation_file_denies_at_the_threshold():
    rule = crs(("901", "942", "949"))
    verdict = rule.match(NormalizedSample({"method": "GET", "path": "/", "query": "q=1%27%20or%20%271%27=%271"}))
    assert verdict.matched and "949110" in verdict.fired


def test_sets_and_prefilters_change_no_verdict():
    text = load_crs()
    fast = compile_modsecurity({"rules": text, "paranoia_level": 2})
    slow = compile_modsecurity({"rules": text, "paranoia_level": 2}, optimize=False)
    assert slow.program.stats.regex_sets == 0
    rows = [row for name in (*ATTACK_SLICES, "benign_500") for row in slice_of(name)[::8]]
    for row in rows:
        assert fast.match(NormalizedSample(row)) == slow.match(NormalizedSample(row)), row["id"]


@needs_libinjection
def test_evaluate_crs_942_on_a_slice_gives_contract_metrics():
    rows = list(slice_of("sqli_500")[:100]) + list(slice_of("benign_500")[:100])
    metrics = evaluate(crs(("942",)), rows).metrics()
    assert metrics["false_positives"] == 0
    assert metrics["precision"] == 1.0
    assert metrics["by_category"]["sqli"]["recall"] >= 0.85  # measured 0.88


def test_load_crs_by_number_or_name_and_unknown_files():
    assert load_crs(["942"]) == (CRS_RULES_DIR / "REQUEST-942-APPLICATION-ATTACK-SQLI.conf").read_text()
    assert load_crs(["REQUEST-949-BLOCKING-EVALUATION.conf"]).count("SecRule") > 10
    with pytest.raises(RuleError, match="unknown CRS file '999999'"):
        load_crs(["999999"])
    config = crs_rule_config(["942"], paranoia_level=2, threshold=10)
    assert (config["type"], config["paranoia_level"], config["threshold"]) == ("modsecurity", 2, 10)


# ---- the CRS by reference (rule_config.crs, CONTRACT §4a) ----------------------------------------

SQLI = {"method": "GET", "path": "/search", "query": "q=1%27%20or%201%3D1--", "headers": {"Host": "app.test", "User-Agent": "curl/8", "Accept": "*/*"}}


@needs_libinjection
def test_crs_by_reference_equals_the_pasted_text():
    by_reference = compile_rule({"type": "modsecurity", "crs": {"files": ["942"], "paranoia_level": 2}})
    pasted = compile_rule(crs_rule_config(["942"], paranoia_level=2))
    rows = slice_of("sqli_500")[::10] + slice_of("benign_500")[::10]
    assert [by_reference.match(NormalizedSample(r)) for r in rows] == [pasted.match(NormalizedSample(r)) for r in rows]


@needs_libinjection
def test_crs_exclusions_by_id_and_tag_remove_those_rules():
    sample = NormalizedSample(SQLI)
    assert "942100" in compile_rule({"type": "modsecurity", "crs": {}}).match(sample).fired
    by_id = compile_rule({"type": "modsecurity", "crs": {"exclude_rule_ids": [942100]}}).match(NormalizedSample(SQLI))
    assert "942100" not in by_id.fired
    by_tag = compile_rule({"type": "modsecurity", "crs": {"exclude_tags": ["attack-sqli"]}}).match(NormalizedSample(SQLI))
    assert not any(rule_id.startswith("942") for rule_id in by_tag.fired)


def test_the_tenants_own_rules_run_after_the_crs_and_count_in_its_blocking_decision():
    own = 'SecRule ARGS "@contains zzz" "id:10001,phase:2,pass,severity:CRITICAL,setvar:tx.inbound_anomaly_score_pl1=+%{tx.critical_anomaly_score}"'
    rule = compile_rule({"type": "modsecurity", "crs": {}, "rules": own})
    verdict = rule.match(NormalizedSample({**SQLI, "query": "q=zzz"}))
    assert verdict.matched and verdict.fired[-2:] == ("10001", "949110")  # 949 blocked on the tenant's score


@pytest.mark.parametrize(
    ("crs", "field"),
    [
        ({"files": ["999999"]}, "files"),
        ({"files": []}, "crs.files"),
        ({"paranoia_level": 5}, "crs.paranoia_level"),
        ({"exclude_rule_ids": ["942100"]}, "crs.exclude_rule_ids"),
        ({"exclude_tags": ['x" id:1']}, "crs.exclude_tags"),
        ({"plugins": []}, "crs.plugins"),
        ("942", "crs"),
    ],
)
def test_a_bad_crs_reference_is_a_rule_error_naming_the_field(crs, field):
    with pytest.raises(RuleError) as caught:
        compile_rule({"type": "modsecurity", "crs": crs})
    assert caught.value.details["field"] == field


def test_the_catalog_lists_every_request_file_with_its_rule_count():
    from shadow.engine import CRS_VERSION, crs_catalog

    catalog = crs_catalog()
    assert catalog["version"] == CRS_VERSION
    assert [f["name"] for f in catalog["files"]] == crs_files()
    by_number = {f["number"]: f["rules"] for f in catalog["files"]}
    assert by_number["942"] == (CRS_RULES_DIR / "REQUEST-942-APPLICATION-ATTACK-SQLI.conf").read_text().count("id:942")
    # every rule of the bundled files carries that version
    assert all(f"ver:'OWASP_CRS/{CRS_VERSION}'" in (CRS_RULES_DIR / name).read_text() for name in crs_files() if by_number[name.split("-")[1]])


def test_without_libmodsecurity_the_libinjection_rules_are_skipped_and_listed(run_django):
    # A fresh process: the library is looked up once, at import.
    code = (
        "from shadow.engine import compile_rule, crs_rule_config\n"
        "from shadow.engine import libmodsecurity\n"
        "rule = compile_rule(crs_rule_config(['942', '941'], paranoia_level=1))\n"
        "print(libmodsecurity.LIBRARY is None, sorted(e.rule_id for e in rule.unsupported))\n"
    )
    result = run_django(code, env={"SHIELDX_LIBMODSECURITY": "off"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True [941100, 942100]"
