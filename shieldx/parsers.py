"""The API's media handling: the JSON request parser every API view uses (CONTRACT §1a),
and content negotiation with a shortcut for JSON-only answers.

DRF's parser hands the body to ``json.load``: a body of 5,000 nested brackets (25 KB)
exhausts the recursion limit and was answered with a 500. Ours refuses, as 400s: bodies
nested deeper than ``MAX_DEPTH``, NUL characters in object keys (they name fields, and
PostgreSQL can store NUL in neither text nor jsonb), NaN and Infinity.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import JSONParser as DrfJSONParser

MAX_DEPTH = 32


class BodyRefused(ParseError):
    """A body that is JSON, but not one we take; the message says why."""


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def check_structure(value: Any, *, max_depth: int = MAX_DEPTH) -> None:
    """Depth and key checks without recursion, so the check itself cannot overflow."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            if depth > max_depth:
                raise BodyRefused(f"The body nests deeper than {max_depth} levels.")
            for key, child in node.items():
                if "\x00" in key:
                    raise BodyRefused("Object keys must not contain NUL characters.")
                if isinstance(child, (dict, list)):
                    stack.append((child, depth + 1))
        elif isinstance(node, list):
            if depth > max_depth:
                raise BodyRefused(f"The body nests deeper than {max_depth} levels.")
            stack.extend((child, depth + 1) for child in node if isinstance(child, (dict, list)))


def loads(text: str | bytes) -> Any:
    """``json.loads`` with the limits above; any refusal is a ``ParseError`` (400)."""
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise BodyRefused(f"The body nests deeper than {MAX_DEPTH} levels.") from None
    except ValueError as exc:  # JSONDecodeError, bad UTF-8, NaN, integers of over 4,300 digits
        raise ParseError(f"The request body is not valid JSON: {exc}") from None
    check_structure(value)
    return value


class JSONParser(DrfJSONParser):
    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        raw = stream.read() if stream is not None else b""
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            raise ParseError(f"The request body is not valid {encoding}.") from None
        return loads(text)


class JSONNegotiation(DefaultContentNegotiation):
    """DRF's content negotiation, short-cut for what API clients nearly always send.

    The API renders JSON only; with no ``?format=`` and an Accept header that is absent,
    ``*/*`` or ``application/json``, the answer is that one renderer, as DRF's general
    matching would conclude after parsing and ranking the header (2 % of a consume's CPU).
    Anything else (other media types, q-values, the schema view's several renderers) goes
    through DRF's own negotiation, 406 included."""

    PLAIN_ACCEPTS = frozenset({"*/*", "application/json"})

    def select_renderer(self, request, renderers, format_suffix=None):
        if (
            len(renderers) == 1
            and format_suffix is None
            and request.META.get("HTTP_ACCEPT", "*/*") in self.PLAIN_ACCEPTS
            and self.settings.URL_FORMAT_OVERRIDE not in request.query_params
        ):
            return renderers[0], renderers[0].media_type
        return super().select_renderer(request, renderers, format_suffix)
