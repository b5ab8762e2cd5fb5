"""The console's reads: each page's figures, taken from the selectors the API uses
(``credits.selectors``, ``shadow.selectors``), never computed a second time here."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from console.models import ChainCheck
from credits import selectors as credits_selectors
from shadow import representations as shadow_representations
from shadow import selectors as shadow_selectors

CHAIN_CHECK_MAX_AGE = timedelta(days=1)
SAMPLES_PER_PAGE = 10
OUTCOMES = ("fp", "fn", "tp", "tn")


def chain_status(*, tenant_id: str) -> dict[str, Any] | None:
    check = ChainCheck.objects.filter(tenant_id=tenant_id).order_by("-checked_at", "-id").first()
    if check is None:
        return None
    return {
        "valid": check.valid,
        "length": check.length,
        "head_hash": check.head_hash,
        "broken_at_seq": check.broken_at_seq,
        "actor": check.actor,
        "checked_at": check.checked_at,
        "stale": timezone.now() - check.checked_at > CHAIN_CHECK_MAX_AGE,
    }


def dashboard() -> dict[str, Any]:
    accounts = credits_selectors.accounts_overview()
    latest: dict[str, ChainCheck] = {}
    for check in ChainCheck.objects.filter(tenant_id__in=[a["tenant_id"] for a in accounts]).order_by("tenant_id", "-checked_at", "-id"):
        latest.setdefault(check.tenant_id, check)
    cutoff = timezone.now() - CHAIN_CHECK_MAX_AGE
    unverified = [
        {"tenant_id": a["tenant_id"], "last_check": latest.get(a["tenant_id"]), "broken": a["tenant_id"] in latest and not latest[a["tenant_id"]].valid}
        for a in accounts
        if a["tenant_id"] not in latest or latest[a["tenant_id"]].checked_at < cutoff or not latest[a["tenant_id"]].valid
    ]
    return {
        "accounts": accounts,
        "running": shadow_selectors.evaluations_recent(limit=50, active=True),
        "recent": shadow_selectors.evaluations_recent(limit=15),
        "unverified_chains": sorted(unverified, key=lambda u: u["tenant_id"]),
    }


def tenant_page(*, tenant_id: str, cursor: str | None) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "balance": credits_selectors.balance(tenant_id=tenant_id),
        "series": credits_selectors.balance_series(tenant_id=tenant_id),
        "reservations": credits_selectors.reservations_pending(tenant_id=tenant_id),
        "transactions": credits_selectors.transactions(tenant_id=tenant_id, limit=20, cursor=cursor),
        "chain": chain_status(tenant_id=tenant_id),
    }


def evaluation_page(*, eval_id: str, outcome: str, cursor: str | None) -> dict[str, Any]:
    ev = shadow_selectors.evaluation(eval_id=eval_id)
    body = shadow_representations.evaluation(ev)
    page: dict[str, Any] = {"evaluation": body, "outcome": outcome}
    if body["status"] == "completed":
        samples = shadow_selectors.evaluation_samples(ev=ev, outcome=outcome, limit=SAMPLES_PER_PAGE, cursor=cursor)
        highlights = shadow_selectors.evaluation_highlights(ev=ev, samples=samples["results"])
        messages = shadow_selectors.evaluation_rule_messages(ev=ev)
        fired = shadow_selectors.evaluation_fired_top(ev=ev)
        for row in fired:
            row["message"] = messages.get(row["detection"], "")
        for sample in samples["results"]:
            sample["messages"] = {f: messages[f] for f in sample["fired"] if f in messages}
        page.update({
            "samples": list(zip(samples["results"], highlights, strict=True)),
            "next_cursor": samples["next_cursor"],
            "fired": fired,
        })  # fmt: skip
    return page


def compare_page(*, a_id: str, b_id: str) -> dict[str, Any]:
    a = shadow_selectors.evaluation(eval_id=a_id)
    b = shadow_selectors.evaluation(eval_id=b_id)
    refusal = shadow_selectors.comparison_refusal(a=a, b=b)
    if refusal:
        return {
            "refusal": refusal,
            "comparison": {"a": shadow_representations.evaluation(a), "b": shadow_representations.evaluation(b)},
        }
    return {"refusal": None, "comparison": shadow_selectors.comparison(a=a, b=b)}


def rule_page(*, tenant_id: str, rule_id: str) -> dict[str, Any]:
    rule = shadow_selectors.rule_detail(tenant_id=tenant_id, rule_id=rule_id)
    evaluations = shadow_selectors.rule_evaluations(tenant_id=tenant_id, rule_id=rule_id)
    by_version: dict[int, list[dict[str, Any]]] = {}
    for ev in evaluations:
        by_version.setdefault(ev["rule"]["version"], []).append(ev)
    return {"rule": rule, "evaluations": evaluations, "by_version": by_version}
