"""Per-sample engine limits (CONTRACT §4a) and the compile-time refusal of self-appending
setvars: the review's memory bomb (`setvar:tx.a=%{tx.a}%{tx.a}` on every rule) must
neither compile nor, in any other shape, cost a worker more than one sample's limits."""

from __future__ import annotations

import time
import tracemalloc

import pytest

from shadow.engine import MAX_TX_VARIABLES, MAX_VALUE_BYTES, NormalizedSample, RuleError, compile_rule, evaluate, judge
from shadow.engine.limits import EngineLimitExceeded


def modsec(text: str, **config):
    return compile_rule({"type": "modsecurity", "rules": text, **config})


def post(body: str, **headers) -> NormalizedSample:
    return NormalizedSample(
        {"method": "POST", "path": "/", "headers": {"Content-Type": "application/x-www-form-urlencoded", **headers}, "body": body, "label": "attack"}
    )


def review_bomb(lines: int) -> str:
    """The review's attack: every rule doubles tx.a."""
    seed = 'SecAction "id:1,phase:1,pass,nolog,setvar:tx.a=xxxxxxxxxxxxxxxx"\n'
    return seed + "".join(f'SecAction "id:{10 + i},phase:1,pass,nolog,setvar:tx.a=%{{tx.a}}%{{tx.a}}"\n' for i in range(lines))


def test_the_reviews_self_doubling_setvar_is_refused_at_compile_time():
    with pytest.raises(RuleError, match="setvar tx.a appends tx.a to itself") as caught:
        modsec(review_bomb(19))
    assert caught.value.details == {"rule_id": 10, "line": 2, "action": "setvar"}


@pytest.mark.parametrize(
    "text",
    [
        'SecRule ARGS "@rx ." "id:1,phase:2,pass,setvar:tx.a=%{tx.a}x"',
        'SecRule ARGS "@rx ." "id:1,phase:2,pass,setvar:\'tx.A=%{TX.a}%{tx.a}\'"',
        # through another variable: b = a + a, then a = b
        'SecRule ARGS "@rx ." "id:1,phase:2,pass,setvar:tx.b=%{tx.a}%{tx.a},setvar:tx.a=%{tx.b}"',
        'SecAction "id:1,phase:1,pass,setvar:tx.b=%{tx.a}"\nSecRule ARGS "@rx ." "id:2,phase:2,pass,chain"\n  SecRule ARGS "@rx ." "setvar:tx.a=x%{tx.b}"',
    ],
)
def test_every_shape_of_self_append_is_refused(text):
    with pytest.raises(RuleError, match="can grow without bound"):
        modsec(text)


@pytest.mark.parametrize(
    "text",
    [
        # a copy back and forth cannot grow; counters add numbers, which stay C ints
        'SecAction "id:1,phase:1,pass,setvar:tx.b=%{tx.a},setvar:tx.a=%{tx.b}"',
        'SecRule ARGS "@rx ." "id:1,phase:2,pass,setvar:tx.n=+%{tx.n}"',
        'SecAction "id:1,phase:1,pass,setvar:tx.b=%{tx.a}%{tx.a},setvar:tx.c=%{tx.b}%{tx.b}"',
    ],
)
def test_bounded_setvars_still_compile(text):
    modsec(text)


def test_an_acyclic_doubling_chain_stops_the_sample_at_64_kib_not_the_worker():
    # tx.a1 = a0 a0, tx.a2 = a1 a1, ... is not self-appending, but 40 such lines would
    # reach 2^40 bytes: the expansion limit ends the sample as an evaluation error.
    lines = ['SecRule ARGS "@rx ^" "id:1,phase:2,pass,setvar:tx.a0=%{MATCHED_VAR}"']
    lines += [f'SecAction "id:{i + 2},phase:2,pass,setvar:tx.a{i + 1}=%{{tx.a{i}}}%{{tx.a{i}}}"' for i in range(40)]
    rule = modsec("\n".join(lines))
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(EngineLimitExceeded) as caught:
        rule.match(post("q=" + "x" * 100))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert caught.value.limit == "value_size"
    assert peak < 8 * MAX_VALUE_BYTES
    assert time.perf_counter() - started < 1.0


def test_a_macro_naming_a_large_value_many_times_is_stopped_before_it_is_built():
    reference = "%{tx.big}" * 2000
    rule = modsec('SecRule ARGS "@rx ^" "id:1,phase:2,pass,setvar:tx.big=%{MATCHED_VAR}"\n' f'SecAction "id:2,phase:2,pass,setvar:tx.out={reference}"')
    tracemalloc.start()
    with pytest.raises(EngineLimitExceeded, match="macro"):
        rule.match(post("q=" + "y" * 60_000))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 4 * MAX_VALUE_BYTES + 60_000 * 8


@pytest.mark.parametrize(
    ("actions", "message"),
    [("setvar:tx.copy=%{MATCHED_VAR}", "macro"), ("capture", "TX variable")],
)
def test_a_tx_variable_may_hold_64_kib_and_not_one_byte_more(actions, message):
    rule = modsec(f'SecRule ARGS:q "@rx ^(z+)$" "id:1,phase:2,pass,{actions}"')
    rule.match(post("q=" + "z" * MAX_VALUE_BYTES))
    with pytest.raises(EngineLimitExceeded, match=message):
        rule.match(post("q=" + "z" * (MAX_VALUE_BYTES + 1)))


def test_more_than_a_thousand_tx_variables_stop_the_sample():
    rule = modsec('SecRule ARGS_NAMES "@rx ^" "id:1,phase:2,pass,setvar:tx.seen_%{MATCHED_VAR}=1"')
    few = "&".join(f"k{i}=1" for i in range(100))
    assert not rule.match(post(few)).matched
    many = "&".join(f"k{i}=1" for i in range(MAX_TX_VARIABLES + 1))
    with pytest.raises(EngineLimitExceeded) as caught:
        rule.match(post(many))
    assert caught.value.limit == "tx_variables"


def test_counters_wrap_like_c_ints_instead_of_growing():
    rule = modsec(
        'SecAction "id:1,phase:1,pass,setvar:tx.n=2147483647"\n'
        'SecAction "id:2,phase:1,pass,setvar:tx.n=+1"\n'
        'SecRule TX:n "@eq -2147483648" "id:3,phase:1,deny"'
    )
    assert rule.match(post("a=1")).matched


def test_more_than_50_ms_of_engine_time_stops_the_sample():
    # 400 distinct @contains over the hex of a 1 MiB body: about 2 ms each, 0.7 s in all.
    text = "\n".join(f'SecRule REQUEST_BODY "@contains needle{i}" "id:{i + 1},phase:2,pass,t:none,t:hexEncode"' for i in range(400))
    rule = modsec(text)
    started = time.thread_time()
    with pytest.raises(EngineLimitExceeded) as caught:
        rule.match(post("b=" + "a" * (1 << 20)))
    assert caught.value.limit == "time"
    assert time.thread_time() - started < 0.3
    # judge() gives a slow sample one warm retry (cold RE2 DFAs are not the rule's
    # fault); one that is slow when warm too is still stopped, at twice the limit.
    started = time.thread_time()
    with pytest.raises(EngineLimitExceeded):
        judge(rule, post("b=" + "a" * (1 << 20)))
    assert time.thread_time() - started < 0.5


def test_evaluate_counts_a_stopped_sample_as_an_error_and_goes_on():
    lines = ['SecRule ARGS "@rx ^" "id:1,phase:2,pass,setvar:tx.a0=%{MATCHED_VAR}"']
    lines += [f'SecAction "id:{i + 2},phase:2,pass,setvar:tx.a{i + 1}=%{{tx.a{i}}}%{{tx.a{i}}}"' for i in range(12)]
    lines.append('SecRule ARGS "@contains evil" "id:99,phase:2,deny"')
    rule = modsec("\n".join(lines))
    samples = [
        {"id": "small-attack", "method": "GET", "path": "/", "query": "q=evil", "label": "attack"},
        {"id": "bomb", "method": "GET", "path": "/", "query": "q=" + "x" * 100, "label": "benign"},
        {"id": "small-benign", "method": "GET", "path": "/", "query": "q=ok", "label": "benign"},
    ]
    result = evaluate(rule, samples)
    assert result.errors == 1 and result.sample_count == 3
    assert (result.counts.true_positives, result.counts.true_negatives, result.counts.total) == (1, 1, 2)
    assert [o.outcome for o in result.outcomes] == ["tp", "error", "tn"]
    assert result.outcomes[1].error == "a %{macro} expanded past 65536 bytes" and result.outcomes[1].fired == ()
    assert result.metrics()["errors"] == 1
