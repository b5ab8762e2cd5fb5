"""Where a rule matched (shadow.engine.explain) and how the console marks it."""

from __future__ import annotations

from console.present import segments
from shadow.engine import compile_rule, crs_rule_config
from shadow.engine.explain import explain, rule_messages

SAMPLE = {"method": "GET", "path": "/a", "query": "id=1%27%20UNION%20SELECT%201", "body": "x Union Select y", "headers": {}}


def test_a_signature_marks_the_raw_text_when_only_case_changed_and_the_decoded_text_otherwise():
    excerpts = {e.target: e for e in explain(compile_rule({"type": "signature", "patterns": ["union select"]}), SAMPLE)}
    body, query = excerpts["body"], excerpts["query"]
    assert not body.as_seen and body.text[body.spans[0].start : body.spans[0].end] == "Union Select"
    assert query.as_seen and query.text == "id=1' union select 1"
    assert query.text[query.spans[0].start : query.spans[0].end] == "union select"


def test_a_regex_span_is_in_characters_even_after_multibyte_text():
    sample = {**SAMPLE, "query": "", "body": "héllo wörld UNION  select"}
    [excerpt] = explain(compile_rule({"type": "regex", "pattern": "union\\s+select", "flags": "i"}), sample)
    span = excerpt.spans[0]
    assert excerpt.text[span.start : span.end] == "UNION  select"


def test_a_composite_explains_every_child_that_matched():
    rule = compile_rule({"type": "composite", "operator": "all", "rules": [
        {"type": "signature", "pattern": "select", "targets": ["body"]},
        {"type": "regex", "pattern": "x", "targets": ["body"]},
    ]})  # fmt: skip
    [excerpt] = explain(rule, SAMPLE)
    assert {s.label for s in excerpt.spans} == {"select", "x"}


def test_a_rule_that_did_not_match_explains_nothing():
    assert explain(compile_rule({"type": "signature", "pattern": "nothing-like-it"}), SAMPLE) == []


def test_secrule_messages_are_keyed_like_fired_ids():
    rule = compile_rule(crs_rule_config(["942"]))
    messages = rule_messages(rule)
    fired = rule.match_dict(SAMPLE).fired
    assert fired and any(f in messages for f in fired)
    nested = rule_messages(compile_rule({"type": "composite", "operator": "any", "rules": [{"type": "signature", "pattern": "a"}, crs_rule_config(["942"])]}))
    assert nested["1:942100"] == messages["942100"]


def test_segments_mark_spans_join_overlaps_and_shorten_long_plain_text():
    assert segments("abcdef", [{"start": 1, "end": 3, "label": "x"}, {"start": 2, "end": 4, "label": "y"}]) == [
        {"text": "a", "mark": None}, {"text": "bcd", "mark": "x, y"}, {"text": "ef", "mark": None},
    ]  # fmt: skip
    long = "a" * 500 + "HIT" + "b" * 500
    pieces = segments(long, [{"start": 500, "end": 503, "label": "hit"}])
    assert pieces[1] == {"text": "HIT", "mark": "hit"}
    assert len("".join(p["text"] for p in pieces)) < 200
