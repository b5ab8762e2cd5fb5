"""The console's pages through Django's test client, on data made through the API:
staff only, every figure the API's, domain errors as pages with their status."""

from __future__ import annotations

import re
from html import escape

import pytest

from console.models import ChainCheck
from console.tests.conftest import TENANT, samples
from shadow.models import Evaluation, EvaluationStatus, Rule
from shadow.tests.conftest import jsonl

pytestmark = pytest.mark.django_db

SQL_RULE = {"rule_type": "signature", "rule_config": {"type": "signature", "patterns": ["select", "union"]}}


@pytest.fixture
def api(make_tenant, make_client):
    tenant = make_tenant(TENANT, credits=5000)
    return make_client(tenant)


@pytest.fixture
def staff(client, staff_user):
    client.force_login(staff_user)
    return client


def figures(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-figure="([a-z0-9_]+)" data-value="([^"]*)"', html))


def make_evaluation(api) -> dict:
    created = api.post("/shadow/datasets", {"tenant_id": TENANT, "name": "default"}, format="json").json()
    response = api.generic("POST", f"/shadow/datasets/{created['dataset_id']}/samples", jsonl(samples()), content_type="application/x-ndjson")
    assert response.status_code == 200, response.content
    response = api.post("/shadow/rules", {"tenant_id": TENANT, "rule_id": "sqli", "name": "SQL words", **SQL_RULE}, format="json")
    assert response.status_code == 201, response.content
    response = api.post("/shadow/evaluate", {"tenant_id": TENANT, "rule_id": "sqli", "version": 1}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def test_a_non_staff_user_is_sent_to_the_admin_login(client, plain_user):
    client.force_login(plain_user)
    for url in ("/console/", f"/console/tenants/{TENANT}", "/console/evaluations/eval_x", "/console/compare?a=x&b=y"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/"), url


def test_an_anonymous_visitor_is_sent_to_the_admin_login(client):
    response = client.get("/console/")
    assert response.status_code == 302 and response["Location"] == "/admin/login/?next=/console/"


def test_the_tenant_page_shows_the_apis_balance_and_transactions(staff, api):
    for body in ({"amount": 120}, {"amount": 30}):
        assert api.post("/credits/consume", {"tenant_id": TENANT, **body}, format="json").status_code == 200
    assert api.post("/credits/reserve", {"tenant_id": TENANT, "amount": 400}, format="json").status_code == 201
    html = staff.get(f"/console/tenants/{TENANT}").content.decode()
    balance = api.get(f"/credits/balance/{TENANT}").json()
    shown = figures(html)
    for key in ("balance", "available", "reserved_funds", "total_spent", "total_purchased"):
        assert int(shown[key]) == balance[key], key
    listed = api.get(f"/credits/transactions/{TENANT}?limit=20").json()["results"]
    for txn in listed:
        assert f'data-transaction="{txn["transaction_id"]}"' in html
    assert html.count("<svg") == 1 and "Balance and available credits" in html
    assert "No pending reservation" not in html


def test_verify_now_records_the_apis_verdict_and_shows_it(staff, api):
    response = staff.post(f"/console/tenants/{TENANT}/verify")
    assert response.status_code == 302
    verdict = api.get(f"/credits/audit/{TENANT}/verify").json()
    check = ChainCheck.objects.get(tenant_id=TENANT)
    assert (check.valid, check.length, check.head_hash) == (verdict["valid"], verdict["length"], verdict["head_hash"])
    html = staff.get(response["Location"]).content.decode()
    assert 'data-chain-valid="true"' in html and "verifies" in html


def test_an_unknown_tenant_is_a_404_page_and_opens_no_account(staff):
    response = staff.get("/console/tenants/nobody-here")
    assert response.status_code == 404 and b"Tenant not found." in response.content


def test_the_evaluation_report_shows_the_apis_figures_and_highlights_the_match(staff, api):
    result = make_evaluation(api)
    html = staff.get(f"/console/evaluations/{result['eval_id']}").content.decode()
    shown = figures(html)
    for key in ("true_positives", "false_positives", "true_negatives", "false_negatives"):
        assert int(shown[key]) == result[key], key
    for key in ("precision", "recall", "f1_score", "false_positive_rate", "accuracy"):
        assert float(shown[key]) == result[key], key
    for recommendation in result["recommendations"]:
        assert f"<li>{escape(recommendation)}</li>" in html
    # The false positives' matched text is marked, on the raw query (only case changed).
    assert '<mark title="select">selection</mark>' not in html  # a mark covers the pattern only
    assert '<mark title="select">select</mark>ion' in html
    assert 'id="next-samples"' in html  # 24 false positives, 10 a page


def test_the_fp_list_pages_through_the_apis_pages(staff, api):
    result = make_evaluation(api)
    seen: list[str] = []
    url = f"/console/evaluations/{result['eval_id']}?outcome=fp"
    while url:
        html = staff.get(url).content.decode()
        seen += re.findall(r'data-sample-id="([^"]+)"', html)
        found = re.search(r'id="next-samples" href="([^"]+)"', html)
        url = f"/console/evaluations/{result['eval_id']}" + found.group(1).replace("&amp;", "&").split("#")[0] if found else None
    api_ids = []
    cursor = ""
    while True:
        page = api.get(f"/shadow/evaluations/{result['eval_id']}/samples?outcome=fp&limit=7{cursor}").json()
        api_ids += [s["id"] for s in page["results"]]
        if not page["next_cursor"]:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert seen == api_ids and len(seen) == result["false_positives"]


def test_a_bad_cursor_or_outcome_is_a_400_page(staff, api):
    result = make_evaluation(api)
    assert staff.get(f"/console/evaluations/{result['eval_id']}?cursor=%%%").status_code == 400
    assert staff.get(f"/console/evaluations/{result['eval_id']}?outcome=xx").status_code == 400
    assert staff.get("/console/evaluations/eval_missing").status_code == 404


def test_cancel_stops_a_pending_evaluation_and_a_second_cancel_is_a_409(staff, api):
    result = make_evaluation(api)
    ev = Evaluation.objects.get(public_id=result["eval_id"])
    Evaluation.objects.filter(pk=ev.pk).update(status=EvaluationStatus.RUNNING, done_batches=0, total_batches=3)
    assert staff.post(f"/console/evaluations/{ev.public_id}/cancel").status_code == 302
    body = api.get(f"/shadow/evaluations/{ev.public_id}").json()
    assert body["status"] == "failed" and body["error"]["code"] == "evaluation_cancelled"
    response = staff.post(f"/console/evaluations/{ev.public_id}/cancel")
    assert response.status_code == 409 and b"already failed" in response.content


def test_the_status_endpoint_is_the_apis_body(staff, api):
    result = make_evaluation(api)
    mine = staff.get(f"/console/evaluations/{result['eval_id']}/status").json()
    assert mine == api.get(f"/shadow/evaluations/{result['eval_id']}").json()


def test_the_compare_page_shows_the_apis_comparison(staff, api):
    make_evaluation(api)
    body = {"tenant_id": TENANT, "rule_a": {"rule_id": "sqli", "version": 1},
            "rule_b": {"rule_type": "signature", "rule_config": {"type": "signature", "patterns": ["union select", "' or"]}}}  # fmt: skip
    compared = api.post("/shadow/compare", body, format="json").json()
    html = staff.get(f"/console/compare?a={compared['a']['eval_id']}&b={compared['b']['eval_id']}").content.decode()
    shown = figures(html)
    assert int(shown["a_only_correct"]) == compared["a_only_correct"]
    assert int(shown["b_only_correct"]) == compared["b_only_correct"]
    assert float(shown["mcnemar_p_value"]) == compared["mcnemar_p_value"]
    assert shown["winner"] == compared["winner"]
    for detection in compared["fired_only_in_a"]:
        assert f"<code>{detection}</code>" in html.replace("&#x27;", "'")


def test_evaluations_of_different_samples_are_not_compared(staff, api):
    first = make_evaluation(api)
    other = api.post("/shadow/evaluate", {"tenant_id": TENANT, **SQL_RULE, "sample_size": 20, "seed": 3}, format="json").json()
    response = staff.get(f"/console/compare?a={first['eval_id']}&b={other['eval_id']}")
    assert response.status_code == 409 and b"did not judge the same samples" in response.content
    assert staff.get("/console/compare?a=only-one").status_code == 400


def test_the_rule_page_shows_versions_evaluations_and_the_deploy_timeline(staff, api):
    result = make_evaluation(api)
    deploy = {"tenant_id": TENANT, "version": 1, "eval_id": result["eval_id"], "force": True}
    assert api.post("/shadow/rules/sqli/deploy", deploy, format="json").status_code == 200
    html = staff.get(f"/console/rules/{TENANT}/sqli").content.decode()
    rule = api.get(f"/shadow/rules/sqli?tenant_id={TENANT}").json()
    assert figures(html)["active_version"] == str(rule["active_version"])
    assert f'data-eval="{result["eval_id"]}"' in html and "Forced deploy" in html
    assert float(figures(html)["f1_score"]) == result["f1_score"]


def test_the_dashboard_lists_tenants_with_the_apis_balance_and_unverified_chains(staff, api):
    html = staff.get("/console/").content.decode()
    balance = api.get(f"/credits/balance/{TENANT}").json()
    row = re.search(rf'<tr data-tenant="{TENANT}">(.*?)</tr>', html, re.S).group(1)
    assert int(figures(row)["balance"]) == balance["balance"]
    assert "never verified" in html


def test_admin_pages_link_to_the_console(admin_client, api):
    result = make_evaluation(api)
    ev = Evaluation.objects.get(public_id=result["eval_id"])
    rule_pk = Rule.objects.get(tenant_id=TENANT, rule_id="sqli").pk
    assert f'/console/evaluations/{ev.public_id}"'.encode() in admin_client.get(f"/admin/shadow/evaluation/{ev.pk}/change/").content
    assert f'/console/tenants/{TENANT}"'.encode() in admin_client.get(f"/admin/credits/account/{TENANT}/change/").content
    assert f'/console/rules/{TENANT}/sqli"'.encode() in admin_client.get(f"/admin/shadow/rule/{rule_pk}/change/").content
    assert b'href="/console/"' in admin_client.get("/admin/").content


def test_a_long_ledger_is_bucketed_into_the_figures_as_they_stood_at_each_stretchs_end(api):
    from credits import selectors as credits_selectors

    for amount in range(1, 13):
        assert api.post("/credits/consume", {"tenant_id": TENANT, "amount": amount}, format="json").status_code == 200
    every = credits_selectors.balance_series(tenant_id=TENANT)
    assert not every["bucketed"] and len(every["points"]) == every["entries"] == 13
    assert every["points"][-1]["balance"] == api.get(f"/credits/balance/{TENANT}").json()["balance"]
    few = credits_selectors.balance_series(tenant_id=TENANT, max_points=4)
    assert few["bucketed"] and 1 <= len(few["points"]) <= 4
    assert few["points"][-1] == every["points"][-1]  # the last stretch ends at the latest change
    for point in few["points"]:  # each is the API's balance as it stood at that moment
        assert point["balance"] == api.get(f"/credits/balance/{TENANT}?at={point['at']}").json()["balance"]
