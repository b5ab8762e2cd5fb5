"""One error shape for every failure (CONTRACT §1).

Domain code raises ``ApplicationError`` subclasses; DRF's and Django's own errors are
translated here too, so no view ever builds an error response by hand.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from rest_framework import exceptions as drf
from rest_framework.response import Response

from shieldx.breaker import CircuitOpen
from shieldx.logs import current_request_id, scrub

logger = logging.getLogger("shieldx.errors")


class ApplicationError(Exception):
    """A failure the client can act on: a stable code, an HTTP status, safe details."""

    code = "invalid_request"
    http_status = 400
    default_message = "The request is invalid."

    def __init__(self, message: str | None = None, *, details: dict[str, Any] | None = None, headers: dict[str, str] | None = None):
        self.message = message or self.default_message
        self.details = details or {}
        self.headers = headers or {}
        super().__init__(self.message)


class InvalidRequest(ApplicationError):
    pass


class NotFound(ApplicationError):
    code = "not_found"
    http_status = 404
    default_message = "Not found."


class Conflict(ApplicationError):
    code = "conflict"
    http_status = 409
    default_message = "The request conflicts with the current state."


class ServiceUnavailable(ApplicationError):
    code = "service_unavailable"
    http_status = 503
    default_message = "The service is temporarily unavailable; retry later."

    def __init__(self, message: str | None = None, *, retry_after: int = 1, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.headers.setdefault("Retry-After", str(retry_after))


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": scrub(message),
            "details": scrub(details or {}),
            "request_id": current_request_id(),
        }
    }


# DRF exception class -> (status, code). Order matters: subclasses first.
_DRF_CODES: list[tuple[type[drf.APIException], str]] = [
    (drf.NotAuthenticated, "unauthenticated"),
    (drf.AuthenticationFailed, "unauthenticated"),
    (drf.PermissionDenied, "forbidden"),
    (drf.NotFound, "not_found"),
    (drf.MethodNotAllowed, "method_not_allowed"),
    (drf.NotAcceptable, "not_acceptable"),
    (drf.UnsupportedMediaType, "unsupported_media_type"),
    (drf.Throttled, "rate_limited"),
    (drf.ParseError, "invalid_request"),
    (drf.ValidationError, "invalid_request"),
]


def _translate_drf(exc: drf.APIException, *, query: bool = False) -> tuple[int, str, str, dict[str, Any], dict[str, str]]:
    status = exc.status_code
    code = next((c for cls, c in _DRF_CODES if isinstance(exc, cls)), "invalid_request" if status < 500 else "internal_error")
    headers: dict[str, str] = {}
    details: dict[str, Any] = {}
    if isinstance(exc, drf.ValidationError):
        message = "The request body is invalid."
        details = {"fields": exc.detail} if isinstance(exc.detail, dict) else {"errors": exc.detail}
        if query and isinstance(exc.detail, dict) and exc.detail:
            # A GET has no body: the failing field is a query parameter, and is named.
            field = next(iter(exc.detail))
            message, details["field"] = f"Query parameter {field!r} is invalid.", field
    elif isinstance(exc, drf.ParseError):
        default = str(drf.ParseError.default_detail)
        message = "The request body is not valid JSON." if str(exc.detail) == default else str(exc.detail)
    else:
        message = str(exc.detail)
    if status == 401:
        status, headers["WWW-Authenticate"] = 401, "Bearer"
    if isinstance(exc, drf.Throttled):
        wait = max(1, int(exc.wait or 1))
        headers["Retry-After"] = str(wait)
        message = f"Rate limit exceeded; retry in {wait} s."
        details = {"retry_after": wait}
    return status, code, message, details, headers


def outage(exc: BaseException) -> ServiceUnavailable | None:
    """A dependency outage is a 503 the client can retry, never a 500."""
    if isinstance(exc, CircuitOpen):
        return ServiceUnavailable(
            f"{exc.name} is unavailable; retry shortly.", retry_after=int(exc.retry_after + 0.999), details={"dependency": exc.name}
        )
    if isinstance(exc, (OperationalError, InterfaceError)):
        return ServiceUnavailable("postgresql is unavailable; retry shortly.", details={"dependency": "postgresql"})
    return None


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's EXCEPTION_HANDLER: every exception raised in an API view ends here."""
    exc = outage(exc) or exc
    if isinstance(exc, ApplicationError):
        return Response(error_body(exc.code, exc.message, exc.details), status=exc.http_status, headers=exc.headers)
    if isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        return Response(error_body("payload_too_large", "The request body is too large."), status=413)
    if isinstance(exc, drf.APIException):
        request = context.get("request")
        status, code, message, details, headers = _translate_drf(exc, query=getattr(request, "method", "") in ("GET", "HEAD"))
        return Response(error_body(code, message, details), status=status, headers=headers)
    logger.exception("unhandled error in %s", type(context.get("view")).__name__)
    return Response(error_body("internal_error", "An internal error occurred."), status=500)


def json_error(status: int, code: str, message: str, details: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> JsonResponse:
    """For the few places outside DRF views: middleware and Django's handler404/500."""
    response = JsonResponse(error_body(code, message, details), status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def handler404(request, exception=None) -> JsonResponse:
    return json_error(404, "not_found", "Not found.")


def handler500(request) -> JsonResponse:
    return json_error(500, "internal_error", "An internal error occurred.")


def handler400(request, exception=None) -> JsonResponse:
    return json_error(400, "invalid_request", "Bad request.")


def handler403(request, exception=None) -> JsonResponse:
    return json_error(403, "forbidden", "Forbidden.")
