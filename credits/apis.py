"""HTTP views of CONTRACT §3: thin translations between requests and services."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from credits import domain, idempotency, metrics, representations, selectors, services
from credits.exceptions import OperationForbidden, ReservationNotFound
from credits.serializers import (
    BATCH_OPERATIONS,
    AlertSettingsResponse,
    AlertsSerializer,
    AuditPageResponse,
    AuditQuerySerializer,
    AuditVerifyResponse,
    BalanceQuerySerializer,
    BalanceResponse,
    BatchResponse,
    BatchSerializer,
    CaptureSerializer,
    ConsumeSerializer,
    EventPageResponse,
    EventsQuerySerializer,
    GrantListResponse,
    GrantSerializer,
    GrantsQuerySerializer,
    IdempotencyKeyField,
    PageQuerySerializer,
    PurchaseSerializer,
    RefundSerializer,
    ReleaseSerializer,
    ReservationResponse,
    ReserveSerializer,
    TransactionPageResponse,
    TransactionResponse,
)
from shieldx.auth import Principal, resolve_tenant
from shieldx.errors import ApplicationError, InvalidRequest
from shieldx.openapi import errors

WRITE_ERRORS = errors(400, 401, 403, 404, 409, 413, 415, 422, 429, 503)
READ_ERRORS = errors(400, 401, 403, 404, 429, 503)
KEY_HEADER = OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, description="Alternative to the body's idempotency_key.")


def _validated(serializer_class, data) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _idempotency_key(request: Request, body: dict[str, Any]) -> str | None:
    """The key from the body or the Idempotency-Key header; both given and different is a 400."""
    header = request.headers.get("Idempotency-Key")
    if header is not None:
        header = IdempotencyKeyField().run_validation(header)
    from_body = body.get("idempotency_key")
    if header is not None and from_body is not None and header != from_body:
        raise InvalidRequest("Idempotency-Key header and idempotency_key field differ.", details={"field": "idempotency_key"})
    return from_body if from_body is not None else header


def _settled(tenant_id: str) -> str:
    """Settle the tenant's expired holds and grants before a read, so it shows them settled."""
    if selectors.expiry_due(tenant_id=tenant_id):
        services.expire_due(tenant_id=tenant_id)
    return tenant_id


def _reservation_tenant(principal, reservation_id: str) -> str:
    """The hold's tenant when the caller may see it; otherwise the same 404 as a missing hold."""
    return resolve_tenant(principal, selectors.reservation_tenant(reservation_id=reservation_id), missing=ReservationNotFound)


class CreditsWrite(APIView):
    """A mutation: validate, resolve the tenant, then one unit of work that runs the
    operation's service at most once per idempotency key and renders its answer."""

    op: str
    serializer_class: type
    success_status: int = 200

    def tenant_for(self, request: Request, body: dict[str, Any], **kwargs: Any) -> str:
        return resolve_tenant(request.user, body["tenant_id"])

    def perform(self, *, tenant_id: str, body: dict[str, Any], actor: str, **kwargs: Any) -> dict[str, Any]:
        """Call the service; return the success body."""
        raise NotImplementedError

    def post(self, request: Request, **kwargs: Any) -> Response:
        try:
            body = _validated(self.serializer_class, request.data)
            key = _idempotency_key(request, body)
            tenant_id = self.tenant_for(request, body, **kwargs)
            request_fingerprint = idempotency.fingerprint(self.op, request.path, request.data) if key is not None else ""
            with idempotency.once(tenant_id=tenant_id, key=key, request_fingerprint=request_fingerprint) as unit:
                if unit.pending:
                    unit.answer(self.success_status, self.perform(tenant_id=tenant_id, body=body, actor=request.user.actor, **kwargs))
        except ApplicationError as exc:
            metrics.count(self.op, exc.code)
            raise
        except APIException:
            metrics.count(self.op, "invalid_request")
            raise
        metrics.count(self.op, "replayed" if unit.replayed else ("success" if unit.status < 300 else unit.body["error"]["code"]))
        headers = {"Idempotent-Replayed": "true"} if unit.replayed else None
        return Response(unit.body, status=unit.status, headers=headers)


@extend_schema(responses={200: TransactionResponse, 402: errors(402)[402], **WRITE_ERRORS}, parameters=[KEY_HEADER])
class ConsumeView(CreditsWrite):
    op, serializer_class, required_scopes = "consume", ConsumeSerializer, {"POST": "credits:consume"}

    def perform(self, *, tenant_id, body, actor):
        done = services.consume(tenant_id=tenant_id, amount=body["amount"], actor=actor, description=body["description"], metadata=body["metadata"])
        return representations.transaction(done)


@extend_schema(responses={201: TransactionResponse, **WRITE_ERRORS}, parameters=[KEY_HEADER])
class PurchaseView(CreditsWrite):
    op, serializer_class, required_scopes, success_status = "purchase", PurchaseSerializer, {"POST": "credits:purchase"}, 201

    def perform(self, *, tenant_id, body, actor):
        done = services.purchase(
            tenant_id=tenant_id, amount=body["amount"], actor=actor, description=body["description"], external_ref=body["external_ref"],
            priority=body["priority"], expires_at=body["expires_at"],
        )  # fmt: skip
        return representations.transaction(done)


@extend_schema(responses={201: TransactionResponse, **WRITE_ERRORS}, parameters=[KEY_HEADER])
class GrantView(CreditsWrite):
    op, serializer_class, required_scopes, success_status = "grant", GrantSerializer, {"POST": "credits:purchase"}, 201

    def perform(self, *, tenant_id, body, actor):
        done = services.grant(
            tenant_id=tenant_id, amount=body["amount"], actor=actor, category=body["category"], priority=body["priority"],
            expires_at=body["expires_at"], description=body["description"],
        )  # fmt: skip
        return representations.transaction(done)


@extend_schema(responses={201: ReservationResponse, 402: errors(402)[402], **WRITE_ERRORS}, parameters=[KEY_HEADER])
class ReserveView(CreditsWrite):
    op, serializer_class, required_scopes, success_status = "reserve", ReserveSerializer, {"POST": "credits:reserve"}, 201

    def perform(self, *, tenant_id, body, actor):
        hold = services.reserve(tenant_id=tenant_id, amount=body["amount"], ttl_seconds=body["ttl_seconds"], actor=actor, description=body["description"])
        return representations.reservation(hold)


class ReservationWrite(CreditsWrite):
    def tenant_for(self, request, body, *, reservation_id: str):
        return _reservation_tenant(request.user, reservation_id)


@extend_schema(responses={200: ReservationResponse, **WRITE_ERRORS}, parameters=[KEY_HEADER])
class CaptureView(ReservationWrite):
    op, serializer_class, required_scopes = "capture", CaptureSerializer, {"POST": "credits:reserve"}

    def perform(self, *, tenant_id, body, actor, reservation_id):
        return representations.reservation(services.capture(tenant_id=tenant_id, reservation_id=reservation_id, actor=actor, amount=body.get("amount")))


@extend_schema(responses={200: ReservationResponse, **WRITE_ERRORS}, parameters=[KEY_HEADER])
class ReleaseView(ReservationWrite):
    op, serializer_class, required_scopes = "release", ReleaseSerializer, {"POST": "credits:reserve"}

    def perform(self, *, tenant_id, body, actor, reservation_id):
        return representations.reservation(services.release(tenant_id=tenant_id, reservation_id=reservation_id, actor=actor))


@extend_schema(responses={201: TransactionResponse, **WRITE_ERRORS}, parameters=[KEY_HEADER])
class RefundView(CreditsWrite):
    op, serializer_class, required_scopes, success_status = "refund", RefundSerializer, {"POST": "credits:purchase"}, 201

    def perform(self, *, tenant_id, body, actor):
        done = services.refund(tenant_id=tenant_id, transaction_id=body["transaction_id"], actor=actor, amount=body.get("amount"))
        return representations.transaction(done)


class _AnyKey(BasePermission):
    """The batch route itself needs no scope; each of its operations needs its route's."""

    def has_permission(self, request, view) -> bool:
        return isinstance(request.user, Principal)


def _batch_operation(principal: Principal, index: int, raw: Any, checkers: dict[str, Any]) -> domain.Operation:
    """One operation of a batch, checked like its route: body (400), scope (403), tenant (404).
    ``checkers`` holds one serializer per kind of operation, made once per batch (making
    one per operation cost more than the operation itself)."""
    if not isinstance(raw, dict) or raw.get("op") not in BATCH_OPERATIONS:
        raise InvalidRequest("Each operation is an object whose op is one of: " + ", ".join(BATCH_OPERATIONS), details={"index": index, "field": "op"})
    serializer_class, scope = BATCH_OPERATIONS[raw["op"]]
    checker = checkers.get(raw["op"]) or checkers.setdefault(raw["op"], serializer_class())
    try:
        arguments = dict(checker.run_validation({k: v for k, v in raw.items() if k != "op"}))
    except ValidationError as exc:
        raise InvalidRequest("An operation's body is invalid.", details={"index": index, "fields": exc.detail}) from None
    if not principal.has_scope(scope):
        raise OperationForbidden(f"This API key lacks the scope {scope!r}.", details={"index": index, "scope": scope})
    try:
        if "reservation_id" in arguments:
            tenant_id = _reservation_tenant(principal, arguments["reservation_id"])
        else:
            tenant_id = resolve_tenant(principal, arguments.pop("tenant_id"))
    except ApplicationError as exc:
        exc.details = {**exc.details, "index": index}
        raise
    return domain.Operation(op=raw["op"], tenant_id=tenant_id, arguments=arguments)


def _rendered(value: domain.Transaction | domain.Reservation) -> dict[str, Any]:
    return representations.reservation(value) if isinstance(value, domain.Reservation) else representations.transaction(value)


@extend_schema(request=BatchSerializer, responses={200: BatchResponse, 402: errors(402)[402], **WRITE_ERRORS}, parameters=[KEY_HEADER])
class BatchView(CreditsWrite):
    """POST /credits/batch (CONTRACT §3a): all or nothing, in one transaction."""

    op, serializer_class, permission_classes = "batch", BatchSerializer, [_AnyKey]

    def tenant_for(self, request, body):
        checkers: dict[str, Any] = {}
        self.operations = [_batch_operation(request.user, index, raw, checkers) for index, raw in enumerate(body["operations"])]
        # Keys are scoped to a tenant: the key's own, or for an operator the first operation's.
        return request.user.tenant_id or self.operations[0].tenant_id

    def perform(self, *, tenant_id, body, actor):
        return {"results": [_rendered(value) for value in services.batch(operations=self.operations, actor=actor)]}


@extend_schema(responses={200: BalanceResponse, **READ_ERRORS}, parameters=[BalanceQuerySerializer])
class BalanceView(APIView):
    required_scopes = {"GET": "credits:read"}

    def get(self, request: Request, tenant_id: str) -> Response:
        tenant_id = resolve_tenant(request.user, tenant_id)
        query = _validated(BalanceQuerySerializer, request.query_params)
        if "at" in query:
            return Response(selectors.balance_at(tenant_id=tenant_id, at=query["at"]))
        read = selectors.balance_cached(tenant_id=tenant_id)
        if read is None:
            services.expire_due(tenant_id=tenant_id)
            read = selectors.balance_cached(tenant_id=tenant_id)
        headers = {"X-Cache": read.tier} | ({"X-Cache-Stale": "true"} if read.stale else {})
        return Response(read.body, headers=headers)


@extend_schema(responses={200: GrantListResponse, **READ_ERRORS}, parameters=[GrantsQuerySerializer])
class GrantsView(APIView):
    required_scopes = {"GET": "credits:read"}

    def get(self, request: Request, tenant_id: str) -> Response:
        tenant_id = _settled(resolve_tenant(request.user, tenant_id))
        query = _validated(GrantsQuerySerializer, request.query_params)
        return Response({"tenant_id": tenant_id, "results": selectors.grants_list(tenant_id=tenant_id, include_spent=query["include_spent"])})


@extend_schema(responses={200: ReservationResponse, **READ_ERRORS})
class ReservationView(APIView):
    required_scopes = {"GET": "credits:read"}

    def get(self, request: Request, reservation_id: str) -> Response:
        tenant_id = _settled(_reservation_tenant(request.user, reservation_id))
        return Response(representations.reservation(selectors.reservation(tenant_id=tenant_id, reservation_id=reservation_id)))


@extend_schema(responses={200: TransactionPageResponse, **READ_ERRORS}, parameters=[PageQuerySerializer])
class TransactionsView(APIView):
    required_scopes = {"GET": "credits:read"}

    def get(self, request: Request, tenant_id: str) -> Response:
        tenant_id = _settled(resolve_tenant(request.user, tenant_id))
        query = _validated(PageQuerySerializer, request.query_params)
        return Response(selectors.transactions(tenant_id=tenant_id, limit=query["limit"], cursor=query.get("cursor")))


@extend_schema(responses={200: AuditPageResponse, **READ_ERRORS}, parameters=[AuditQuerySerializer])
class AuditView(APIView):
    required_scopes = {"GET": "credits:audit"}

    def get(self, request: Request, tenant_id: str) -> Response:
        tenant_id = _settled(resolve_tenant(request.user, tenant_id))
        query = _validated(AuditQuerySerializer, request.query_params)
        return Response(selectors.audit_page(tenant_id=tenant_id, after_seq=query["after_seq"], limit=query["limit"]))


@extend_schema(responses={200: AuditVerifyResponse, **READ_ERRORS})
class AuditVerifyView(APIView):
    required_scopes = {"GET": "credits:audit"}

    def get(self, request: Request, tenant_id: str) -> Response:
        tenant_id = resolve_tenant(request.user, tenant_id)
        return Response(selectors.verify_chain(tenant_id=tenant_id))


# --- alerts and events (CONTRACT §3a) ------------------------------------------------------


@extend_schema(methods=["GET"], responses={200: AlertSettingsResponse, **READ_ERRORS})
@extend_schema(methods=["PUT"], request=AlertsSerializer, responses={200: AlertSettingsResponse, **errors(400, 401, 403, 404, 413, 415, 429, 503)})
class AlertsView(APIView):
    required_scopes = {"GET": "credits:read", "PUT": "credits:purchase"}

    def get(self, request: Request, tenant_id: str) -> Response:
        tenant_id = resolve_tenant(request.user, tenant_id)
        return Response(representations.alert_settings(selectors.alerts_get(tenant_id=tenant_id)))

    def put(self, request: Request, tenant_id: str) -> Response:
        tenant_id = resolve_tenant(request.user, tenant_id)
        body = _validated(AlertsSerializer, request.data)
        done = services.alerts_set(
            tenant_id=tenant_id, thresholds=body["thresholds"], webhook_url=body.get("webhook_url"), webhook_secret=body.get("webhook_secret"),
            actor=request.user.actor,
        )  # fmt: skip
        return Response(representations.alert_settings(done))


@extend_schema(responses={200: EventPageResponse, **READ_ERRORS}, parameters=[EventsQuerySerializer])
class EventsView(APIView):
    required_scopes = {"GET": "credits:read"}

    def get(self, request: Request, tenant_id: str) -> Response:
        tenant_id = _settled(resolve_tenant(request.user, tenant_id))
        query = _validated(EventsQuerySerializer, request.query_params)
        return Response(selectors.events_page(tenant_id=tenant_id, after=query.get("after"), limit=query["limit"]))
