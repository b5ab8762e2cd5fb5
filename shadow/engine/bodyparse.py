"""Request bodies as libmodsecurity 3 (with the CRS's recommended configuration) parses them.

The processor follows ``Content-Type`` (CONTRACT §4a), or a phase-1
``ctl:requestBodyProcessor=`` in the rules:

* ``application/x-www-form-urlencoded`` → URLENCODED: ``ARGS_POST`` from ``a=1&b=2``;
* ``multipart/form-data`` → MULTIPART: fields in ``ARGS_POST``; file parts (those with a
  ``filename``) in ``FILES`` (name → filename), ``FILES_NAMES``, ``FILES_SIZES`` and
  ``FILES_COMBINED_SIZE``; every part's header lines in ``MULTIPART_PART_HEADERS``;
* ``application/json``, ``application/…+json`` → JSON: ``ARGS_POST`` as ``json.a.b``,
  array items ``json.a.array_0`` (libmodsecurity 3.0.9's names);
* ``text/xml``, ``application/xml``, ``application/soap+xml`` → XML: ``XML:/*`` is the
  text content of the root element (all its text nodes, in order) and ``XML://@*`` one
  value per attribute; ``ARGS_POST`` stays empty;
* no ``Content-Type`` (or another one) → no processor: only ``REQUEST_BODY`` sees it.

A body a processor cannot parse sets ``REQBODY_ERROR`` and leaves its variables empty.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree

from .transforms import percent_decode

Pair = tuple[bytes, bytes]
PROCESSORS = ("URLENCODED", "MULTIPART", "JSON", "XML")
_XML_PREFIXES = (b"application/xml", b"application/soap+xml", b"text/xml")
_VENDOR_CHARS = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789.-")


@dataclass(slots=True)
class ParsedBody:
    processor: bytes = b""
    args: list[Pair] = field(default_factory=list)
    error: bool = False
    files: list[Pair] = field(default_factory=list)  # (field name, filename)
    file_sizes: list[Pair] = field(default_factory=list)
    part_headers: list[Pair] = field(default_factory=list)
    xml: list[Pair] = field(default_factory=list)  # (b"/*" | b"//@*", value)


def processor_for(content_type: bytes) -> str | None:
    """The recommended configuration's choice (rules 200000/200001/200006, whose regexes
    are ``^(?:application(?:/soap\\+|/)|text/)xml``, ``^application/json`` and
    ``^application/[a-z0-9.-]+[+]json``) or libmodsecurity's own."""
    lowered = content_type.lower()
    if lowered.startswith(_XML_PREFIXES):
        return "XML"
    if lowered.startswith(b"application/json") or _is_vendor_json(lowered):
        return "JSON"
    if lowered.startswith(b"multipart/form-data"):
        return "MULTIPART"
    if lowered.startswith(b"application/x-www-form-urlencoded"):
        return "URLENCODED"
    return None


def _is_vendor_json(lowered: bytes) -> bool:
    if not lowered.startswith(b"application/"):
        return False
    rest = lowered[len(b"application/") :]
    plus = rest.find(b"+json")
    return plus > 0 and all(c in _VENDOR_CHARS for c in rest[:plus])


def parse_body(body: bytes, content_type: bytes, processor: str | None) -> ParsedBody:
    if not body or processor is None:
        return ParsedBody()
    if processor == "URLENCODED":
        return ParsedBody(b"URLENCODED", parse_urlencoded(body))
    if processor == "JSON":
        args = parse_json_args(body)
        return ParsedBody(b"JSON", args or [], args is None)
    if processor == "XML":
        return _parse_xml(body)
    if processor == "MULTIPART":
        return _parse_multipart(body, content_type)
    return ParsedBody()


def _form_decode(raw: bytes) -> bytes:
    if b"+" in raw:
        raw = raw.replace(b"+", b" ")
    return percent_decode(raw)


def parse_urlencoded(raw: bytes) -> list[Pair]:
    """Split ``a=1&b=2`` like libmodsecurity: '&' pairs, first '=', lenient decoding."""
    pairs: list[Pair] = []
    for piece in raw.split(b"&"):
        if not piece:
            continue
        key, _, value = piece.partition(b"=")
        pairs.append((_form_decode(key), _form_decode(value)))
    return pairs


def _flatten_json(node: Any, path: str, out: list[Pair]) -> None:
    if isinstance(node, dict):
        for key, child in node.items():
            _flatten_json(child, f"{path}.{key}", out)
    elif isinstance(node, list):
        for index, child in enumerate(node):
            _flatten_json(child, f"{path}.array_{index}", out)
    else:
        if node is None:
            text = ""
        elif node is True:
            text = "true"
        elif node is False:
            text = "false"
        else:
            text = str(node)
        out.append((path.encode("utf-8", "surrogatepass"), text.encode("utf-8", "surrogatepass")))


def parse_json_args(raw: bytes) -> list[Pair] | None:
    """ARGS from a JSON body (``json.a.b``), or None when it is not valid JSON."""
    try:
        document = json.loads(raw, parse_int=str, parse_float=str, parse_constant=str)
    except (ValueError, RecursionError):
        return None
    out: list[Pair] = []
    _flatten_json(document, "json", out)
    return out


# ---- XML ---------------------------------------------------------------------------------


def _parse_xml(body: bytes) -> ParsedBody:
    # expat (Python >= 3.7.1 with libexpat >= 2.4) refuses entity expansion bombs and
    # never fetches external entities, so an untrusted body cannot reach out or blow up.
    try:
        root = ElementTree.fromstring(body)  # noqa: S314 - see the comment above
    except (ElementTree.ParseError, ValueError, RecursionError):
        return ParsedBody(b"XML", error=True)
    xml: list[Pair] = [(b"/*", "".join(root.itertext()).encode("utf-8", "surrogatepass"))]
    for element in root.iter():
        for value in element.attrib.values():
            xml.append((b"//@*", value.encode("utf-8", "surrogatepass")))
    return ParsedBody(b"XML", xml=xml)


# ---- multipart ---------------------------------------------------------------------------


def _boundary(content_type: bytes) -> bytes | None:
    lowered = content_type.lower()
    at = lowered.find(b"boundary")
    if at < 0:
        return None
    rest = content_type[at + len(b"boundary") :].lstrip(b" \t")
    if not rest.startswith(b"="):
        return None
    rest = rest[1:].lstrip(b" \t")
    if rest.startswith(b'"'):
        end = rest.find(b'"', 1)
        value = rest[1:end] if end > 0 else b""
    else:
        end = len(rest)
        for stop in b";, \t":
            found = rest.find(bytes((stop,)))
            if found >= 0:
                end = min(end, found)
        value = rest[:end]
    return value or None


_TOKEN_SEPARATORS = frozenset(b'()<>@,;:\\"/[]?=')


def _is_token_char(c: int) -> bool:
    return 32 < c < 127 and c not in _TOKEN_SEPARATORS


def _disposition_params(value: bytes) -> dict[bytes, bytes] | None:
    """libmodsecurity's ``parse_content_disposition``: ``form-data`` (case-sensitive),
    then ``; name=value`` pairs where only ``name`` and ``filename`` are allowed, values
    quoted with ``"`` or ``'`` (``\\`` escapes the quote and itself) or bare tokens.
    None where libmodsecurity returns an error, which fails the whole body.

    A quoted value left open (``filename="c:\\"``) makes libmodsecurity read past the
    end of its buffer; the value up to there is taken, which is what it does when the
    byte after the buffer happens to be a NUL (not every time: see the README)."""
    if not value.startswith(b"form-data"):
        return None
    params: dict[bytes, bytes] = {}
    n = len(value)
    i = 9
    while i < n and value[i] in b" \t":
        i += 1
    if i == n:
        return params
    if value[i] != 0x3B:  # ';'
        return None
    i += 1
    while i < n:
        while i < n and value[i] in b" \t":
            i += 1
        if i == n:
            return None
        start = i
        while i < n and value[i] not in b"= \t":
            i += 1
        if i == n:
            return None
        name = value[start:i]
        while i < n and value[i] in b" \t":
            i += 1
        if i == n or value[i] != 0x3D:  # '='
            return None
        i += 1
        while i < n and value[i] in b" \t":
            i += 1
        if i == n:
            return None
        if value[i] in b"\"'":
            quote = value[i]
            i += 1
            if i == n:
                return None
            out = bytearray()
            while i < n:
                c = value[i]
                if c == 0x5C:  # backslash
                    if i + 1 == n:
                        return None
                    if value[i + 1] in (quote, 0x5C):
                        i += 1
                elif c == quote:
                    break
                out.append(value[i])
                i += 1
            i += 1
            param = bytes(out)
        else:
            start = i
            while i < n and _is_token_char(value[i]):
                i += 1
            param = value[start:i]
        if name not in (b"name", b"filename") or name in params:
            return None  # unknown parameter, or a duplicate: libmodsecurity refuses the part
        params[name] = param
        if i < n:
            while i < n and value[i] in b" \t":
                i += 1
            if i >= n:
                return params
            if value[i] != 0x3B:
                return None
            i += 1
    return params


def _parse_multipart(body: bytes, content_type: bytes) -> ParsedBody:
    """Parts in order; a malformed part fails the whole body, as in libmodsecurity,
    which then fills none of the multipart variables (REQBODY_ERROR is 1)."""
    parsed = ParsedBody(b"MULTIPART")
    failed = ParsedBody(b"MULTIPART", error=True)
    boundary = _boundary(content_type)
    if boundary is None:
        return failed
    delimiter = b"--" + boundary
    chunks = body.split(delimiter)
    if len(chunks) < 2:
        return failed
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break  # the closing delimiter
        if chunk.startswith(b"\r\n"):
            chunk = chunk[2:]
        elif chunk.startswith(b"\n"):
            chunk = chunk[1:]
        head, sep, data = chunk.partition(b"\r\n\r\n")
        if not sep:
            head, sep, data = chunk.partition(b"\n\n")
        if not sep:
            return failed
        if data.endswith(b"\r\n"):
            data = data[:-2]
        elif data.endswith(b"\n"):
            data = data[:-1]
        # libmodsecurity keeps each header line with its line ending in MULTIPART_PART_HEADERS.
        head += b"\r\n" if sep == b"\r\n\r\n" else b"\n"
        raw_lines = [line + b"\n" for line in head.split(b"\n")[:-1] if line.strip()]
        lines = [line.rstrip(b"\r\n") for line in raw_lines]
        params: dict[bytes, bytes] | None = None
        for line in lines:
            header, colon, value = line.partition(b":")
            if colon and header.strip().lower() == b"content-disposition":
                params = _disposition_params(value.strip())
        if params is None or b"name" not in params:
            return failed
        name = params[b"name"]
        for line in raw_lines:
            parsed.part_headers.append((name, line))
        if b"filename" in params:
            parsed.files.append((name, params[b"filename"]))
            parsed.file_sizes.append((name, str(len(data)).encode()))
        else:
            parsed.args.append((name, data))
    return parsed
