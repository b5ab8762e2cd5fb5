"""HTTP views of CONTRACT §4: thin translations between requests and services.

Tenant rule, everywhere: a body's ``tenant_id`` or a query's ``?tenant_id=`` (a
tenant key may omit it: its own tenant) goes through ``resolve_tenant``; a resource
named by public id (dataset, evaluation) is looked up first and its owner then goes
through ``resolve_tenant``, so another tenant's resource is a 404 exactly like a
missing one. Nothing is read from a request body before that check.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from shadow import representations, selectors, services
from shadow.exceptions import DatasetNotFound, EvaluationNotFound, InvalidSamples, RuleNotFound
from shadow.models import FINAL_STATUSES, EvaluationStatus
from shadow.parsers import JsonLines, JsonlParser, NdjsonParser, json_samples
from shadow.serializers import (
    ActiveRulesResponse,
    CompareResponse,
    CompareSerializer,
    CreatedVersionResponse,
    CrsResponse,
    DatasetCreateSerializer,
    DatasetListResponse,
    DatasetResponse,
    DeploySerializer,
    EvaluateSerializer,
    EvaluationResponse,
    ImportResponse,
    RollbackSerializer,
    RuleCreateSerializer,
    RuleResponse,
    SamplePageResponse,
    SamplesImportSerializer,
    SamplesQuerySerializer,
    TenantQuerySerializer,
)
from shieldx.auth import resolve_tenant
from shieldx.errors import InvalidRequest
from shieldx.openapi import errors
from shieldx.parsers import JSONParser
from shieldx.waitslots import wait_slot

WRITE_ERRORS = errors(400, 401, 403, 404, 409, 413, 415, 429, 503)
READ_ERRORS = errors(400, 401, 403, 404, 429, 503)
TENANT_QUERY = OpenApiParameter("tenant_id", str, description="Required for operator keys; a tenant key defaults to its own tenant.")


def _validated(serializer_class, data) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _query_tenant(request: Request, **missing: Any) -> str:
    query = _validated(TenantQuerySerializer, request.query_params)
    tenant_id = query.get("tenant_id") or request.user.tenant_id
    if tenant_id is None:
        raise InvalidRequest("tenant_id is required with an operator key.", details={"field": "tenant_id"})
    return resolve_tenant(request.user, tenant_id, **missing)


class DatasetsView(APIView):
    required_scopes = {"POST": "shadow:write", "GET": "shadow:read"}

    @extend_schema(request=DatasetCreateSerializer, responses={201: DatasetResponse, **WRITE_ERRORS})
    def post(self, request: Request) -> Response:
        body = _validated(DatasetCreateSerializer, request.data)
        tenant_id = resolve_tenant(request.user, body["tenant_id"])
        return Response(services.dataset_create(tenant_id=tenant_id, name=body["name"]), status=201)

    @extend_schema(operation_id="shadow_datasets_list", parameters=[TENANT_QUERY], responses={200: DatasetListResponse, **READ_ERRORS})
    def get(self, request: Request) -> Response:
        return Response(selectors.datasets(tenant_id=_query_tenant(request)))


@extend_schema(responses={200: DatasetResponse, **READ_ERRORS})
class DatasetView(APIView):
    required_scopes = {"GET": "shadow:read"}

    def get(self, request: Request, dataset_id: str) -> Response:
        tenant_id = resolve_tenant(request.user, selectors.dataset_tenant(dataset_id=dataset_id), missing=DatasetNotFound)
        return Response(selectors.dataset_detail(tenant_id=tenant_id, dataset_id=dataset_id))


@extend_schema(
    request={"application/x-ndjson": OpenApiTypes.STR, "application/jsonl": OpenApiTypes.STR, "application/json": SamplesImportSerializer},
    responses={200: ImportResponse, **WRITE_ERRORS},
    description="One sample per line (JSONL), or {\"samples\": [...]}. All or nothing: a bad line (malformed JSON, "
    "wrong label, over 1 MiB, …) is a 400 naming every bad line, and nothing is imported.",
)
class SamplesImportView(APIView):
    required_scopes = {"POST": "shadow:write"}
    parser_classes = [NdjsonParser, JsonlParser, JSONParser]

    def post(self, request: Request, dataset_id: str) -> Response:
        tenant_id = resolve_tenant(request.user, selectors.dataset_tenant(dataset_id=dataset_id), missing=DatasetNotFound)
        data = request.data
        if isinstance(data, JsonLines):
            records, unit = data, "line"
        elif request.content_type.startswith(("application/x-ndjson", "application/jsonl")):
            raise InvalidSamples("The body holds no samples; nothing was imported.")  # an empty body
        else:
            records, unit = json_samples(_validated(SamplesImportSerializer, data)["samples"]), "sample"
        return Response(services.samples_import(tenant_id=tenant_id, dataset_id=dataset_id, records=records, unit=unit))


def _evaluation_response(ev) -> Response:
    ev = selectors.evaluation(eval_id=ev.public_id)
    status = 200 if ev.status in FINAL_STATUSES else 202
    headers = {"Location": f"/shadow/evaluations/{ev.public_id}", "Retry-After": "1"} if status == 202 else None
    return Response(representations.evaluation(ev), status=status, headers=headers)


def _wait(evaluations: list, wait_seconds: float) -> None:
    """Wait for the evaluations in this worker only when a wait slot is free, and never
    longer than SHADOW_MAX_WAIT_SECONDS: a sync worker that waits serves nobody else, so
    waiting clients must not be able to take every worker of a pod (shieldx.waitslots)."""
    seconds = min(wait_seconds, settings.SHADOW_MAX_WAIT_SECONDS)
    if seconds <= 0 or all(ev.status in FINAL_STATUSES for ev in evaluations):
        return
    with wait_slot(settings.SHADOW_WAIT_SLOTS) as may_wait:
        if not may_wait:
            return
        deadline = time.monotonic() + seconds
        for ev in evaluations:
            services.evaluation_wait(evaluation=ev, seconds=max(0.0, deadline - time.monotonic()))


@extend_schema(
    request=EvaluateSerializer,
    responses={200: EvaluationResponse, 202: EvaluationResponse, **WRITE_ERRORS},
    description="200 with the result when the evaluation finishes within wait_seconds, else 202 with status and eval_id "
    "(poll GET /shadow/evaluations/{eval_id}). A repeat of an evaluation (same rule config, dataset version and "
    "selection) completes at once from the earlier result.",
)
class EvaluateView(APIView):
    required_scopes = {"POST": "shadow:evaluate"}

    def post(self, request: Request) -> Response:
        body = _validated(EvaluateSerializer, request.data)
        tenant_id = resolve_tenant(request.user, body["tenant_id"])
        rule = {**body, "name": body.get("rule_name")}
        ev = services.evaluation_start(
            tenant_id=tenant_id, rule=rule, dataset=body.get("dataset"), sample_size=body.get("sample_size"),
            seed=body.get("seed"), target_categories=body["target_categories"],
        )  # fmt: skip
        _wait([ev], body["wait_seconds"])
        return _evaluation_response(ev)


@extend_schema(responses={200: EvaluationResponse, **READ_ERRORS})
class EvaluationView(APIView):
    required_scopes = {"GET": "shadow:read"}

    def get(self, request: Request, eval_id: str) -> Response:
        ev = selectors.evaluation(eval_id=eval_id)
        resolve_tenant(request.user, ev.tenant_id, missing=EvaluationNotFound)
        return Response(representations.evaluation(ev))


@extend_schema(parameters=[SamplesQuerySerializer], responses={200: SamplePageResponse, 409: errors(409)[409], **READ_ERRORS})
class EvaluationSamplesView(APIView):
    required_scopes = {"GET": "shadow:read"}

    def get(self, request: Request, eval_id: str) -> Response:
        ev = selectors.evaluation(eval_id=eval_id)
        resolve_tenant(request.user, ev.tenant_id, missing=EvaluationNotFound)
        query = _validated(SamplesQuerySerializer, request.query_params)
        return Response(selectors.evaluation_samples(ev=ev, outcome=query.get("outcome"), limit=query["limit"], cursor=query.get("cursor")))


@extend_schema(request=RuleCreateSerializer, responses={201: CreatedVersionResponse, **WRITE_ERRORS})
class RulesView(APIView):
    required_scopes = {"POST": "shadow:write"}

    def post(self, request: Request) -> Response:
        body = _validated(RuleCreateSerializer, request.data)
        tenant_id = resolve_tenant(request.user, body["tenant_id"])
        created = services.rule_version_create(
            tenant_id=tenant_id, rule_id=body["rule_id"], name=body["name"], rule_type=body["rule_type"],
            rule_config=body["rule_config"], actor=request.user.actor,
        )  # fmt: skip
        return Response(created, status=201)


@extend_schema(parameters=[TENANT_QUERY], responses={200: RuleResponse, **READ_ERRORS})
class RuleView(APIView):
    required_scopes = {"GET": "shadow:read"}

    def get(self, request: Request, rule_id: str) -> Response:
        return Response(selectors.rule_detail(tenant_id=_query_tenant(request, missing=RuleNotFound), rule_id=rule_id))


@extend_schema(
    request=DeploySerializer,
    responses={200: RuleResponse, **WRITE_ERRORS},
    description="409 gate_failed (details.failed lists each unmet condition) unless eval_id is a completed evaluation "
    "of exactly this version with f1_score >= min_f1 and false_positive_rate <= max_false_positive_rate. force=true "
    "overrides the two metric thresholds only, and is recorded in the deployment history.",
)
class DeployView(APIView):
    required_scopes = {"POST": "shadow:deploy"}

    def post(self, request: Request, rule_id: str) -> Response:
        body = _validated(DeploySerializer, request.data)
        tenant_id = resolve_tenant(request.user, body["tenant_id"], missing=RuleNotFound)
        gate = services.Gate(min_f1=body["min_f1"], max_false_positive_rate=body["max_false_positive_rate"], force=body["force"])
        return Response(
            services.rule_deploy(tenant_id=tenant_id, rule_id=rule_id, version=body["version"], eval_id=body["eval_id"], gate=gate, actor=request.user.actor)
        )


@extend_schema(request=RollbackSerializer, responses={200: RuleResponse, **WRITE_ERRORS})
class RollbackView(APIView):
    required_scopes = {"POST": "shadow:deploy"}

    def post(self, request: Request, rule_id: str) -> Response:
        body = _validated(RollbackSerializer, request.data)
        tenant_id = resolve_tenant(request.user, body["tenant_id"], missing=RuleNotFound)
        return Response(services.rule_rollback(tenant_id=tenant_id, rule_id=rule_id, actor=request.user.actor))


def _etag_matches(header: str, etag: str) -> bool:
    # RFC 9110 §13.1.2: If-None-Match uses the weak comparison; "*" matches any.
    candidates = [t.strip() for t in header.split(",")]
    return "*" in candidates or any(t.removeprefix("W/") == etag for t in candidates)


@extend_schema(responses={200: CrsResponse, **READ_ERRORS}, description="The bundled OWASP CRS that rule_config.crs names.")
class CrsView(APIView):
    required_scopes = {"GET": "shadow:read"}

    def get(self, request: Request) -> Response:
        return Response(selectors.bundled_crs())


@extend_schema(
    parameters=[TENANT_QUERY, OpenApiParameter("If-None-Match", str, OpenApiParameter.HEADER, description="A previous ETag: 304 while unchanged.")],
    responses={200: ActiveRulesResponse, 304: OpenApiResponse(description="Not modified."), **READ_ERRORS},
)
class ActiveRulesView(APIView):
    required_scopes = {"GET": "shadow:read"}

    def get(self, request: Request) -> Response:
        tenant_id = _query_tenant(request)
        headers = {"Cache-Control": "private, no-cache"}
        if_none_match = request.headers.get("If-None-Match")
        if if_none_match:
            etag = selectors.active_rules_etag(tenant_id=tenant_id)
            if _etag_matches(if_none_match, etag):
                return Response(status=304, headers={**headers, "ETag": etag})
        body, etag = selectors.active_rules(tenant_id=tenant_id)
        return Response(body, headers={**headers, "ETag": etag})


@extend_schema(
    request=CompareSerializer,
    responses={200: CompareResponse, 202: CompareResponse, **WRITE_ERRORS},
    description="Both rules on the same samples. 202 (with both evaluations' status) when they are not done within "
    "wait_seconds: repeat the request once they complete, it is then answered at once from the cached results.",
)
class CompareView(APIView):
    required_scopes = {"POST": "shadow:evaluate"}

    def post(self, request: Request) -> Response:
        body = _validated(CompareSerializer, request.data)
        tenant_id = resolve_tenant(request.user, body["tenant_id"])
        runs = services.comparison_start(
            tenant_id=tenant_id, rule_a=body["rule_a"], rule_b=body["rule_b"], dataset=body.get("dataset"),
            sample_size=body.get("sample_size"), seed=body.get("seed"), target_categories=body["target_categories"],
        )  # fmt: skip
        _wait(runs, body["wait_seconds"])
        a, b = (selectors.evaluation(eval_id=ev.public_id) for ev in runs)
        if a.status == b.status == EvaluationStatus.COMPLETED:
            return Response({"status": "completed", **selectors.comparison(a=a, b=b)})
        failed = EvaluationStatus.FAILED in (a.status, b.status)
        body = {"status": "failed" if failed else "running", "a": representations.evaluation(a), "b": representations.evaluation(b)}
        return Response(body, status=200 if failed else 202, headers=None if failed else {"Retry-After": "1"})
