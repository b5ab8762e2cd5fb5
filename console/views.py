"""The console's pages (CONTRACT §7): staff only, through Django's admin login.

Views are thin: a selector gathers the page's figures from the API's own selectors,
``present`` draws them. A domain error (unknown evaluation, bad cursor, an evaluation
that already finished) is shown as a page with its status, never a 500.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from console import present, selectors, services
from credits import selectors as credits_selectors
from credits import services as credits_services
from shadow import representations as shadow_representations
from shadow import selectors as shadow_selectors
from shadow import services as shadow_services
from shieldx.errors import ApplicationError, InvalidRequest, NotFound
from shieldx.models import Tenant

OUTCOME_LABELS = {"fp": "False positives", "fn": "False negatives", "tp": "True positives", "tn": "True negatives"}


def console_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except ApplicationError as exc:
            return render(request, "console/error.html", {"status": exc.http_status, "message": exc.message}, status=exc.http_status)

    return staff_member_required(wrapped)


def _actor(request: HttpRequest) -> str:
    return f"admin:{request.user.get_username()}"


def _tenant(tenant_id: str) -> str:
    # Checked first: credits opens an account for a known tenant on first read, and a
    # tenant id that does not exist must be a 404, not an account for nobody.
    if not Tenant.objects.filter(tenant_id=tenant_id).exists():
        raise NotFound("Tenant not found.")
    return tenant_id


@require_GET
@console_view
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(request, "console/dashboard.html", selectors.dashboard())


@require_GET
@console_view
def tenant(request: HttpRequest, tenant_id: str) -> HttpResponse:
    tenant_id = _tenant(tenant_id)
    if credits_selectors.expiry_due(tenant_id=tenant_id):  # reads never write: settle expired holds and grants first
        credits_services.expire_due(tenant_id=tenant_id)
    page = selectors.tenant_page(tenant_id=tenant_id, cursor=request.GET.get("cursor") or None)
    page["chart"] = present.balance_chart(page["series"], tenant_id)
    return render(request, "console/tenant.html", page)


@require_POST
@console_view
def tenant_verify(request: HttpRequest, tenant_id: str) -> HttpResponse:
    report = services.chain_verify(tenant_id=_tenant(tenant_id), actor=_actor(request))
    if report["valid"]:
        messages.success(request, f"The audit chain of {tenant_id} verifies: {report['length']} entries.")
    else:
        messages.error(request, f"The audit chain of {tenant_id} is BROKEN at entry {report['broken_at_seq']}.")
    return redirect("console:tenant", tenant_id=tenant_id)


@require_GET
@console_view
def evaluation(request: HttpRequest, eval_id: str) -> HttpResponse:
    outcome = request.GET.get("outcome") or "fp"
    if outcome not in OUTCOME_LABELS:
        raise InvalidRequest("outcome must be one of fp, fn, tp, tn.")
    page = selectors.evaluation_page(eval_id=eval_id, outcome=outcome, cursor=request.GET.get("cursor") or None)
    body = page["evaluation"]
    if body["status"] == "completed":
        page["category_chart"] = present.category_chart(body["by_category"])
        page["samples"] = [(sample, present.highlighted(excerpts)) for sample, excerpts in page["samples"]]
    page["outcomes"] = [(key, label, body.get(shadow_selectors.OUTCOME_FIELDS[key])) for key, label in OUTCOME_LABELS.items()]
    page["outcome_label"] = OUTCOME_LABELS[outcome]
    return render(request, "console/evaluation.html", page)


@require_GET
@console_view
def evaluation_status(request: HttpRequest, eval_id: str) -> JsonResponse:
    """What the progress bar polls: the API's body for the evaluation (status, progress)."""
    body = shadow_representations.evaluation(shadow_selectors.evaluation(eval_id=eval_id))
    return JsonResponse(body, headers={"Cache-Control": "no-store"})


@require_POST
@console_view
def evaluation_cancel(request: HttpRequest, eval_id: str) -> HttpResponse:
    shadow_services.evaluation_cancel(eval_id=eval_id)
    messages.success(request, f"{eval_id} was cancelled; its remaining batches will not run.")
    return redirect("console:evaluation", eval_id=eval_id)


@require_GET
@console_view
def compare(request: HttpRequest) -> HttpResponse:
    a_id, b_id = request.GET.get("a", ""), request.GET.get("b", "")
    if not a_id or not b_id:
        raise InvalidRequest("Name two evaluations: /console/compare?a=eval_…&b=eval_…")
    page = selectors.compare_page(a_id=a_id, b_id=b_id)
    if page["refusal"]:
        return render(request, "console/compare.html", page, status=409)
    page["chart"] = present.compare_chart(page["comparison"]["a"], page["comparison"]["b"])
    page["metrics"] = [(label, page["comparison"]["a"][key], page["comparison"]["b"][key], key) for key, label in present.COMPARED]
    return render(request, "console/compare.html", page)


@require_GET
@console_view
def rule(request: HttpRequest, tenant_id: str, rule_id: str) -> HttpResponse:
    page = selectors.rule_page(tenant_id=_tenant(tenant_id), rule_id=rule_id)
    page["chart"] = present.versions_chart(page["rule"], page["by_version"])
    page["versions"] = [(v, page["by_version"].get(v["version"], [])) for v in reversed(page["rule"]["versions"])]
    return render(request, "console/rule.html", page)
