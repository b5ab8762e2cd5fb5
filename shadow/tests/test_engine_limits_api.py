"""The review's memory bomb through the API: the self-doubling setvar is a 400 with
nothing written, and a sample that passes an engine limit is an evaluation error
(counted in `errors`, listed with outcome=error) while the other samples are judged."""

from __future__ import annotations

import pytest

from shadow.models import Evaluation
from shadow.tests.conftest import sample

pytestmark = pytest.mark.django_db
T = "org-123"


def modsecurity(text: str) -> dict:
    return {"rule_type": "modsecurity", "rule_config": {"type": "modsecurity", "rules": text}}


def test_the_reviews_setvar_bomb_is_a_400_and_nothing_runs(api, client_for):
    a = api(client_for)
    a.dataset(T, "default", [sample("attack", query="q=x", category="sqli"), sample("benign", query="q=y")])
    bomb = 'SecAction "id:1,phase:1,pass,setvar:tx.a=xxxxxxxx"\n' + "".join(
        f'SecAction "id:{10 + i},phase:1,pass,setvar:tx.a=%{{tx.a}}%{{tx.a}}"\n' for i in range(19)
    )

    status, body = a.evaluate(T, modsecurity(bomb))

    assert status == 400, body
    assert body["error"]["code"] == "invalid_request"
    assert "appends tx.a to itself" in body["error"]["message"] + str(body["error"]["details"])
    assert not Evaluation.objects.exists()


def test_a_sample_past_the_64_kib_limit_is_an_error_listed_with_outcome_error(api, client_for):
    a = api(client_for)
    a.dataset(
        T,
        "default",
        [
            sample("attack", query="q=evil", category="sqli", id="ok-attack"),
            sample("benign", query="q=" + "x" * 100, id="bomb"),
            sample("benign", query="q=ok", id="ok-benign"),
        ],
    )
    # Not self-appending, so it compiles; 12 doublings of a 100-byte value pass 64 KiB.
    lines = ['SecRule ARGS "@rx ^" "id:1,phase:2,pass,setvar:tx.a0=%{MATCHED_VAR}"']
    lines += [f'SecAction "id:{i + 2},phase:2,pass,setvar:tx.a{i + 1}=%{{tx.a{i}}}%{{tx.a{i}}}"' for i in range(12)]
    lines.append('SecRule ARGS "@contains evil" "id:99,phase:2,deny"')

    status, result = a.evaluate(T, modsecurity("\n".join(lines)))

    assert status == 200, result
    assert result["errors"] == 1 and result["sample_size"] == 3
    assert (result["true_positives"], result["true_negatives"], result["false_positives"], result["false_negatives"]) == (1, 1, 0, 0)
    assert any("1 of 3 samples stopped at an engine limit" in r for r in result["recommendations"])
    status, page = a.get(f"/shadow/evaluations/{result['eval_id']}/samples?outcome=error")
    assert status == 200, page
    assert [(s["id"], s["outcome"], s["error"]) for s in page["results"]] == [("bomb", "error", "a %{macro} expanded past 65536 bytes")]
    status, page = a.get(f"/shadow/evaluations/{result['eval_id']}/samples?outcome=tn")
    assert [s["id"] for s in page["results"]] == ["ok-benign"]
