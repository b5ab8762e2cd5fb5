"""Request-level plumbing that must run before any view: request ids and body limits."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from camouflage.pii import mask_for_logs
from shieldx.errors import json_error
from shieldx.logs import set_request_id

# Echo a caller's id only when it is short and harmless in a header and a log line.
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_UPLOAD_PATH = re.compile(r"^/shadow/datasets/[^/]+/samples$")


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.headers.get("X-Request-ID", "")
        # A caller's id is echoed only when short, header-safe and free of anything that
        # may be PII (an id made of a card number must not come back or reach a log).
        safe = _SAFE_REQUEST_ID.match(given) and mask_for_logs(given) == given
        request_id = given if safe else uuid.uuid4().hex
        request.request_id = request_id
        # Not reset on the way out: Django logs the response after this returns. It is
        # reset when the response is closed (forget_request_id, on request_finished).
        set_request_id(request_id)
        response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response


def forget_request_id(**kwargs: object) -> None:
    """On request_finished (the server has closed the response, Django has logged it):
    lines logged between requests, such as gunicorn's "Worker exiting", must not carry
    the previous request's id."""
    set_request_id("")


class BodySizeLimitMiddleware:
    """Refuse oversize bodies by their declared length, before anything reads them."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return json_error(400, "invalid_request", "Content-Length is not a number.")
        limit = settings.SHIELDX_MAX_UPLOAD_BYTES if _UPLOAD_PATH.match(request.path) else settings.SHIELDX_MAX_BODY_BYTES
        if length > limit:
            return json_error(413, "payload_too_large", f"The request body exceeds {limit} bytes.", {"limit_bytes": limit})
        return self.get_response(request)
