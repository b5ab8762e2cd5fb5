"""Request bodies of every type a WAF parses, built around one payload each.

The shared corpus sends every payload as ``GET /search?q=<payload>``. To check that the
engine parses bodies exactly as libmodsecurity does, the same payloads are placed in
each body type (deterministically, so a failing sample can be rebuilt from its id):

``urlencoded``  ``POST`` form ``q=<payload>&page=1``
``json``        ``{"user": {"q": <payload>, "tags": [<payload>, "x"]}, "n": 1}``
``json_plus``   the same as ``application/vnd.api+json``
``xml``         ``<root><q lang="<payload>">payload</q><n>1</n></root>`` (also SOAP, text/xml)
``multipart``   a field ``q`` and a file part named after the payload with it as content
``no_type``     ``q=<payload>`` with no Content-Type (only REQUEST_BODY sees it)

Used by the differential tests and the differential bench; pure, no Django.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import quote_plus
from xml.sax.saxutils import escape, quoteattr

BODY_TYPES = ("urlencoded", "json", "json_plus", "xml", "multipart", "no_type")
BOUNDARY = "----shieldxBoundary7MA4YWxkTrZu0gW"
XML_TYPES = ("application/xml", "text/xml", "application/soap+xml")
BASE_HEADERS = {"Host": "app.example.test", "User-Agent": "Mozilla/5.0 (X11; Linux x86_64)", "Accept": "*/*"}


def _xml_safe(text: str) -> str:
    # XML 1.0 has no place for most control characters; a parser would refuse them.
    return "".join(c for c in text if c in "\t\n\r" or (" " <= c <= "\ud7ff") or ("\ue000" <= c <= "\ufffd"))


def body_sample(payload: str, body_type: str, *, index: int = 0) -> dict[str, Any]:
    """One POST request carrying ``payload`` in a body of ``body_type``."""
    headers = dict(BASE_HEADERS)
    if body_type == "urlencoded":
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        body = f"q={quote_plus(payload)}&page=1"
    elif body_type in ("json", "json_plus"):
        headers["Content-Type"] = "application/json" if body_type == "json" else "application/vnd.api+json"
        body = json.dumps({"user": {"q": payload, "tags": [payload, "x"]}, "n": 1}, ensure_ascii=False)
    elif body_type == "xml":
        headers["Content-Type"] = XML_TYPES[index % len(XML_TYPES)]
        safe = _xml_safe(payload)
        body = f'<?xml version="1.0"?><root><q lang={quoteattr(safe)}>{escape(safe)}</q><n>1</n></root>'
    elif body_type == "multipart":
        headers["Content-Type"] = f"multipart/form-data; boundary={BOUNDARY}"
        name = payload.replace('"', "").replace("\r", "").replace("\n", "")[:200] or "x"
        body = (
            f"--{BOUNDARY}\r\n"
            'Content-Disposition: form-data; name="q"\r\n\r\n'
            f"{payload}\r\n"
            f"--{BOUNDARY}\r\n"
            f'Content-Disposition: form-data; name="upload"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
            f"{payload}\r\n"
            f"--{BOUNDARY}--\r\n"
        )
    elif body_type == "no_type":
        body = f"q={quote_plus(payload)}"
    else:
        raise ValueError(f"unknown body type {body_type!r}")
    return {"method": "POST", "path": "/submit", "query": "", "headers": headers, "body": body}


def body_samples(rows: Iterable[Mapping[str, Any]], body_types: Iterable[str] = BODY_TYPES) -> Iterator[dict[str, Any]]:
    """Every corpus row with a ``payload``, once per body type, labelled as the row."""
    types = tuple(body_types)
    for index, row in enumerate(rows):
        payload = row.get("payload")
        if not isinstance(payload, str):
            continue
        for body_type in types:
            sample = body_sample(payload, body_type, index=index)
            sample.update(id=f"{row.get('id', index)}#{body_type}", label=row["label"], category=row.get("category"))
            yield sample
