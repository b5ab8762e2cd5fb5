"""Request-level plumbing that must run before any view: request ids, the method
allow-list, body limits, where API keys may be, and identifiers a database can hold."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpRequest, HttpResponse
from prometheus_client import Counter, Histogram
from rest_framework.views import APIView

from shieldx.errors import json_error
from shieldx.keyguard import body_holds_key, holds_key
from shieldx.logs import set_request_id
from shieldx.masking import mask_for_logs

# Echo a caller's id only when it is short and harmless in a header and a log line.
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_UPLOAD_PATH = re.compile(r"^/shadow/datasets/[^/]+/samples$")
STANDARD_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


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
class StandardMethodsMiddleware:
    """Methods outside the standard set are 405 before anything counts them.

    django-prometheus labels requests by method, and gunicorn passes any token of up to
    20 characters as one: 200 invented methods made 600 series, and a method can be a
    card number. This runs before RequestMetricsMiddleware, so such a request is never a label.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method not in STANDARD_METHODS:
            return json_error(405, "method_not_allowed", "This HTTP method is not supported.", headers={"Allow": ", ".join(STANDARD_METHODS)})
        return self.get_response(request)


# Named and labelled as django-prometheus names them: the alerts, the dashboard and their
# tests read these two families, and no other per-request figure.
_responses = Counter(
    "django_http_responses_total_by_status_view_method", "Count of responses by status, view, method.", ["status", "view", "method"]
)
_latency = Histogram(
    "django_http_requests_latency_seconds_by_view_method", "Histogram of request processing time labelled by view.", ["view", "method"],
    buckets=(0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 25.0, 50.0, 75.0, float("inf")),
)  # fmt: skip


class RequestMetricsMiddleware:
    """Each answer counted by status, view and method, and timed by view and method.

    django-prometheus's two middlewares recorded twelve figures per request for these two
    (4 % of a consume's CPU). Methods reaching here are standard ones only
    (StandardMethodsMiddleware runs first); views are route names, never client text.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = match.view_name if match is not None and match.view_name else "<unnamed view>"
        _responses.labels(str(response.status_code), view, request.method).inc()
        _latency.labels(view, request.method).observe(time.perf_counter() - started)
        return response


class KeysOnlyInHeaderMiddleware:
    """An API key anywhere but the Authorization header (URL, another header, the body)
    is refused, and the URL is emptied of it before Django logs the 4xx with the request.

    Dataset uploads (up to 100 MiB) are streamed by their parser and not read here.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        where = self._misplaced_key(request)
        if where is None:
            return self.get_response(request)
        # django.request logs every 4xx with the request, whose repr is the full URL.
        request.META["QUERY_STRING"] = ""
        if where == "path":
            request.path = request.path_info = "/[redacted]"
        return json_error(
            401, "unauthenticated", "API keys are accepted only in the Authorization header (Bearer); this request is refused.",
            {"location": where}, headers={"WWW-Authenticate": "Bearer"},
        )  # fmt: skip

    @staticmethod
    def _misplaced_key(request: HttpRequest) -> str | None:
        if holds_key(request.META.get("QUERY_STRING", "")):
            return "query"
        if holds_key(request.path):
            return "path"
        headers = "\n".join(v for k, v in request.META.items() if k.startswith("HTTP_") and k != "HTTP_AUTHORIZATION" and isinstance(v, str))
        if holds_key(headers):
            return "header"
        if not _UPLOAD_PATH.match(request.path) and request.META.get("CONTENT_LENGTH") not in (None, "", "0"):
            if body_holds_key(request.body):
                return "body"
        return None


class RequestSanityMiddleware:
    """Identifiers a database can hold, and query values that say something.

    PostgreSQL text cannot hold NUL: a ``%00`` in a URL id reached the query as a 500.
    An empty query value (``?at=``) is a mistake to report, not "absent" (CONTRACT §1a);
    that rule applies to the API's views, not the admin's search forms.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path:
            return json_error(400, "invalid_request", "The URL path must not contain NUL characters.", {"field": "path"})
        query = request.META.get("QUERY_STRING", "")
        if "%00" not in query and "\x00" not in query:
            return self.get_response(request)
        for name, values in request.GET.lists():
            if "\x00" in name or any("\x00" in value for value in values):
                field = name.replace("\x00", "")
                return json_error(400, "invalid_request", "Query parameters must not contain NUL characters.", {"field": field})
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> HttpResponse | None:
        view_class = getattr(view_func, "cls", None)
        if view_class is None or not issubclass(view_class, APIView) or not request.META.get("QUERY_STRING"):
            return None
        for name, values in request.GET.lists():
            if any(value == "" for value in values):
                return json_error(
                    400, "invalid_request", f"Query parameter {name!r} is empty: give a value or leave the parameter out.", {"field": name}
                )
        return None
