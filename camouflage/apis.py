"""HTTP views of CONTRACT §5: thin translations between requests and services.

Tenant of a call: the bodies carry no tenant in the contract, so a tenant key acts on
its own tenant, and an operator key names one with `tenant_id` (missing: 400). A tenant
key naming another tenant gets 404, like any other tenant's data. Masking and card
checks touch no tenant data and take no `tenant_id`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from camouflage import metrics, selectors, services
from camouflage import serializers as s
from camouflage.exceptions import TenantRequired
from shieldx.auth import Principal, resolve_tenant
from shieldx.errors import ApplicationError
from shieldx.openapi import errors

STATELESS_ERRORS = errors(400, 401, 403, 413, 415, 429, 503)
TENANT_ERRORS = errors(400, 401, 403, 404, 413, 415, 429, 503)
BATCH_NOTE = (
    "Send one item, or up to 1,000 as `{\"items\": [...]}` (a malformed item refuses the whole batch with 400). "
)
PER_ITEM_NOTE = (
    "Batches follow Vault Transit: each item succeeds or fails on its own, a failed item is "
    "`{\"error\": {\"code\": \"decryption_failed\", ...}}` in place, and the answer is 200 unless every "
    "item failed (then 400 `decryption_failed`, as for a single call)."
)


def _one_of(name: str, *variants: type) -> PolymorphicProxySerializer:
    return PolymorphicProxySerializer(component_name=name, serializers=list(variants), resource_type_field_name=None)


def _validated(serializer_class: type, data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _is_batch(data: Any) -> bool:
    return isinstance(data, dict) and "items" in data


def _tenant(principal: Principal, body: dict[str, Any]) -> str:
    tenant_id = body.get("tenant_id")
    if tenant_id is None:
        if principal.is_operator:
            raise TenantRequired()
        return principal.tenant_id
    return resolve_tenant(principal, tenant_id)


def _pairs(body: dict[str, Any], first: str) -> list[tuple[str, str]]:
    items = body["items"] if "items" in body else [body]
    return [(item[first], item["context"]) for item in items]


@dataclass(frozen=True)
class Answer:
    body: dict[str, Any]
    items: int = 1
    result: str = "success"


class CamouflageView(APIView):
    """Counts every call by outcome; subclasses only translate."""

    op: str
    # Answers that carry plaintext, a token or a fresh ciphertext must not sit in a
    # browser's or a proxy's cache (CONTRACT §1a); errors of those routes neither.
    no_store = False

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if self.no_store:
            response["Cache-Control"] = "no-store"
        return response

    def answer(self, request: Request) -> Answer:
        raise NotImplementedError

    def post(self, request: Request) -> Response:
        try:
            answer = self.answer(request)
        except ApplicationError as exc:
            metrics.count(self.op, exc.code)
            raise
        except APIException as exc:
            metrics.count(self.op, "invalid_request" if exc.status_code == 400 else str(exc.default_code))
            raise
        metrics.count(self.op, answer.result, n_items=answer.items)
        return Response(answer.body)


@extend_schema(
    request=s.MaskSerializer,
    responses={200: _one_of("MaskAnswer", s.MaskTextResponse, s.MaskFieldsResponse), **STATELESS_ERRORS},
    description="Mask PII in `text` (findings with offsets) or in `fields` (types found per field).",
)
class MaskView(CamouflageView):
    op, required_scopes = "mask", {"POST": "camouflage:mask"}

    def answer(self, request):
        body = _validated(s.MaskSerializer, request.data)
        if "text" in body:
            return Answer(services.mask_text(text=body["text"]))
        return Answer(services.mask_fields(fields=body["fields"]), items=len(body["fields"]))


@extend_schema(request=s.CardValidateSerializer, responses={200: s.CardValidateResponse, **STATELESS_ERRORS})
class CardValidateView(CamouflageView):
    op, required_scopes = "cards_validate", {"POST": "camouflage:mask"}

    def answer(self, request):
        body = _validated(s.CardValidateSerializer, request.data)
        return Answer(services.validate_card(number=body["number"]))


@extend_schema(
    request=_one_of("EncryptOneOrBatch", s.EncryptSerializer, s.EncryptBatchSerializer),
    responses={200: _one_of("EncryptAnswer", s.SealedResponse, s.SealedBatchResponse), **TENANT_ERRORS},
    description=BATCH_NOTE + "AES-256-GCM under the tenant's key of the active keyring version.",
)
class EncryptView(CamouflageView):
    op, required_scopes, no_store = "encrypt", {"POST": "camouflage:encrypt"}, True

    def answer(self, request):
        batch = _is_batch(request.data)
        body = _validated(s.EncryptBatchSerializer if batch else s.EncryptSerializer, request.data)
        tenant_id = _tenant(request.user, body)
        results = services.encrypt(tenant_id=tenant_id, items=_pairs(body, "plaintext"))
        return Answer({"items": results} if batch else results[0], items=len(results))


class OpenView(CamouflageView):
    """Decrypt and rewrap: per-item failures in a batch, 400 when nothing could be opened."""

    def open(self, *, tenant_id: str, items: list[tuple[str, str]]) -> services.BatchOutcome:
        raise NotImplementedError

    def answer(self, request):
        batch = _is_batch(request.data)
        body = _validated(s.CiphertextBatchSerializer if batch else s.CiphertextSerializer, request.data)
        tenant_id = _tenant(request.user, body)
        outcome = self.open(tenant_id=tenant_id, items=_pairs(body, "ciphertext"))
        if not batch:
            return Answer(outcome.items[0])
        return Answer({"items": outcome.items}, items=len(outcome.items), result="partial" if outcome.failed else "success")


@extend_schema(
    request=_one_of("DecryptOneOrBatch", s.CiphertextSerializer, s.CiphertextBatchSerializer),
    responses={200: _one_of("DecryptAnswer", s.PlaintextResponse, s.DecryptBatchResponse), **TENANT_ERRORS},
    description=BATCH_NOTE + PER_ITEM_NOTE + " A malformed, truncated or tampered ciphertext, another tenant's, "
    "another context's, or one under an unknown or retired key version: 400 `decryption_failed`, always the same body.",
)
class DecryptView(OpenView):
    op, required_scopes, no_store = "decrypt", {"POST": "camouflage:decrypt"}, True

    def open(self, *, tenant_id, items):
        return services.decrypt(tenant_id=tenant_id, items=items)


@extend_schema(
    request=_one_of("RewrapOneOrBatch", s.CiphertextSerializer, s.CiphertextBatchSerializer),
    responses={200: _one_of("RewrapAnswer", s.SealedResponse, s.RewrapBatchResponse), **TENANT_ERRORS},
    description=BATCH_NOTE + PER_ITEM_NOTE + " The plaintext is never returned: only a new ciphertext under the active version.",
)
class RewrapView(OpenView):
    op, required_scopes, no_store = "rewrap", {"POST": "camouflage:encrypt"}, True

    def open(self, *, tenant_id, items):
        return services.rewrap(tenant_id=tenant_id, items=items)


@extend_schema(
    request=_one_of("TokenizeOneOrBatch", s.TokenizeSerializer, s.TokenizeBatchSerializer),
    responses={200: _one_of("TokenizeAnswer", s.TokenResponse, s.TokenBatchResponse), **TENANT_ERRORS},
    description=BATCH_NOTE + "The same value (cards and SSNs: the same digits) of the same tenant and type always "
    "gets the same token; `type` defaults to `generic`.",
)
class TokenizeView(CamouflageView):
    op, required_scopes, no_store = "tokenize", {"POST": "camouflage:tokenize"}, True

    def answer(self, request):
        batch = _is_batch(request.data)
        body = _validated(s.TokenizeBatchSerializer if batch else s.TokenizeSerializer, request.data)
        tenant_id = _tenant(request.user, body)
        items = body["items"] if batch else [body]
        results = services.tokenize(tenant_id=tenant_id, items=[(item["value"], item["type"]) for item in items])
        return Answer({"items": results} if batch else results[0], items=len(results))


@extend_schema(request=s.DetokenizeSerializer, responses={200: s.DetokenizeResponse, **TENANT_ERRORS})
class DetokenizeView(CamouflageView):
    op, required_scopes, no_store = "detokenize", {"POST": "camouflage:detokenize"}, True

    def answer(self, request):
        body = _validated(s.DetokenizeSerializer, request.data)
        return Answer(selectors.detokenize(tenant_id=_tenant(request.user, body), token=body["token"]))

