"""The engine against libmodsecurity 3 itself (Debian's libmodsecurity3, through its C
API): the same requests through both, verdicts and fired rule ids compared.

Samples: every 10th row of the engine's corpus slices (sqli, xss, path traversal, lfi,
cmdi, benign: 140 rows), sent as the corpus sends them (GET with the payload in the query) and
in each body type of ``shadow.engine.bodies`` (urlencoded, JSON, vendor JSON, XML,
multipart with a file part, and no Content-Type): 140 requests per kind, through the
full bundled CRS at paranoia levels 1 to 4, and once more with the level set by the
rule text itself. ``bench/bench_shadow_differential.py`` runs the whole corpus.

Without the library the tests skip, unless ``SHIELDX_REQUIRE_LIBMODSECURITY=1`` (CI).
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path

import pytest

from shadow.engine import NormalizedSample, compile_rule, crs_rule_config, judge, load_crs
from shadow.engine.bodies import BODY_TYPES, body_samples
from shadow.engine.reference import ReferenceWaf, available

DATA = Path(__file__).parent / "data"
STRIDE = 10

if not available():
    if os.environ.get("SHIELDX_REQUIRE_LIBMODSECURITY") == "1":
        raise RuntimeError("libmodsecurity.so.3 is required here (apt-get install libmodsecurity3)")
    pytest.skip("libmodsecurity3 is not installed", allow_module_level=True)

# The one residue (also in the README). A multipart filename whose closing quote is escaped away (`filename="…\\"`) makes
# libmodsecurity 3.0.9 read past the end of its buffer (parse_content_disposition): it
# accepts or refuses the part depending on the byte that follows in memory, and the
# same request has gone both ways in two runs. We accept it. Such samples may disagree.
UNDEFINED_IN_LIBMODSECURITY = {"patt:File_Inclusion_Intruders_JHADDIX_LFI.txt:2#multipart"}


@cache
def samples() -> tuple[dict, ...]:
    rows = []
    for path in sorted(DATA.glob("*.jsonl")):
        rows += [json.loads(line) for line in path.read_text().splitlines()][::STRIDE]
    return tuple(rows) + tuple(body_samples(rows))


def disagreements(ours, waf: ReferenceWaf) -> dict[str, tuple]:
    found = {}
    for sample in samples():
        expected = waf.judge(sample)
        verdict = judge(ours, NormalizedSample(sample))
        if expected.blocked != verdict.matched or set(expected.fired) != set(verdict.fired):
            found[sample["id"]] = (expected.blocked, verdict.matched, sorted(set(expected.fired) ^ set(verdict.fired)))
    return found


def check(found: dict[str, tuple]) -> None:
    assert set(found) <= UNDEFINED_IN_LIBMODSECURITY, found


def test_the_samples_cover_every_body_type_with_over_a_hundred_each():
    kinds = [s["id"].rpartition("#")[2] if "#" in s["id"] else "get" for s in samples()]
    assert {kind: kinds.count(kind) for kind in ("get", *BODY_TYPES)} == dict.fromkeys(("get", *BODY_TYPES), 140)
    assert {s["label"] for s in samples()} == {"attack", "benign"}


@pytest.mark.parametrize("level", [1, 2, 3, 4])
def test_every_verdict_and_fired_id_equals_libmodsecurity_on_the_full_crs(level):
    waf = ReferenceWaf(crs_files_=None, paranoia_level=level)
    try:
        found = disagreements(compile_rule(crs_rule_config(None, paranoia_level=level)), waf)
    finally:
        waf.close()
    check(found)


def test_a_paranoia_level_set_in_the_rule_text_wins_as_in_libmodsecurity():
    text = 'SecAction "id:900000,phase:1,pass,nolog,setvar:tx.blocking_paranoia_level=3"\n' + load_crs()
    ours = compile_rule({"type": "modsecurity", "rules": text})  # rule_config's paranoia_level: the default 1
    waf = ReferenceWaf(crs_files_=None, paranoia_level=3)
    try:
        found = disagreements(ours, waf)
    finally:
        waf.close()
    check(found)
    assert ours.program.stats.skipped_by_paranoia == 0
