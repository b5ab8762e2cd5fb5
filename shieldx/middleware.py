"""Request-level plumbing that must run before any view: request ids and body limits."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpRequest, HttpResponse

from shieldx.errors import json_error
from shieldx.logs import set_request_id
from shieldx.masking import mask_for_logs

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
        # Not reset on the way out: Django logs the response after this returns, and
        # the next request on this thread sets its own id first.
        set_request_id(request_id)
        response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response


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


# Sessions, the Django user and messages serve the pages
# people use in a browser (admin, console). The JSON API authenticates every request by
# its key and never reads a session: on its routes these middlewares are skipped, work a
# fast request would otherwise do for nothing.
PAGE_PREFIXES = ("/admin", "/console", "/accounts")


def _pages_only(middleware_class: type) -> type:
    class PagesOnly(middleware_class):
        def __call__(self, request: HttpRequest) -> HttpResponse:
            if request.path_info.startswith(PAGE_PREFIXES):
                return super().__call__(request)
            return self.get_response(request)

    PagesOnly.__name__ = PagesOnly.__qualname__ = f"PagesOnly{middleware_class.__name__}"
    return PagesOnly


PageSessionMiddleware = _pages_only(SessionMiddleware)
PageAuthenticationMiddleware = _pages_only(AuthenticationMiddleware)
PageMessageMiddleware = _pages_only(MessageMiddleware)
