"""A labeled HTTP request, parsed once and shared by every rule that inspects it.

``NormalizedSample`` is built from the contract's sample dict
(``{method, path, query, headers, body, label?, category?, id?}``; a missing query,
body or headers is empty).  Everything a rule needs is derived lazily and cached on
the instance, so a composite rule, an A/B comparison or a CRS file with hundreds of
rules parses the request, decodes its arguments and runs a given transformation
chain on a given value once per sample:

* contract targets (``path``, ``query``, ``body``, ``headers``) after a transform
  chain, cached by ``(target, transforms)``;
* the ModSecurity collections (ARGS, REQUEST_HEADERS, ...), as libmodsecurity 3
  fills them, and ModSecurity transformation results cached by ``(chain, value)``.

Decisions worth knowing (libmodsecurity 3 is the reference):

* REQUEST_URI and REQUEST_FILENAME are percent-decoded, REQUEST_URI_RAW,
  QUERY_STRING and REQUEST_LINE are raw; the protocol is ``HTTP/1.1``.
* Query and urlencoded-body arguments are split on ``&`` and the first ``=``, and
  decoded with ``+`` as space.  A JSON body fills ARGS as ``json.a.b`` (array items
  as ``json.a.array_0``), numbers keep their text, ``true``/``false`` are text and
  ``null`` is empty.
* The body processor follows Content-Type as libmodsecurity with the CRS's
  recommended configuration does (``bodyparse.py``): urlencoded, multipart (fields,
  FILES*, MULTIPART_PART_HEADERS), JSON, XML (``XML:/*``, ``XML://@*``); a body
  without a Content-Type it knows gets no processor, so only REQUEST_BODY sees it.
  ``with_processor`` gives the view a ``ctl:requestBodyProcessor=`` asks for.
* A non-empty body without Content-Length or Transfer-Encoding gets a
  Content-Length header, as it would carry on the wire.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .bodyparse import ParsedBody, parse_body, parse_urlencoded, processor_for
from .transforms import MODSEC_TRANSFORMS, apply_contract_transforms, percent_decode

CONTRACT_TARGETS = ("path", "query", "body", "headers")
HTTP_PROTOCOL = b"HTTP/1.1"
# TEST-NET-1 (RFC 5737): never loopback, which CRS 905 would exempt from inspection.
REMOTE_ADDR = b"192.0.2.10"

Element = tuple[bytes, bytes]  # (key, value) of a ModSecurity collection member
# chain -> chain[:-1], so the recursive transform cache does not slice on every call.
_PREFIXES: dict[tuple[str, ...], tuple[str, ...]] = {}
SHORT_VALUE = 128
SHORT_MEMO_ENTRIES = 65_536
_SHORT_TRANSFORMS: dict[tuple[tuple[str, ...], bytes], bytes] = {}


def _text(value: Any, field: str) -> str:
    if value.__class__ is str:
        return value
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TypeError(f"sample field {field!r} must be a string")
    return value


def parse_cookies(header_values: list[bytes]) -> list[Element]:
    cookies: list[Element] = []
    for header in header_values:
        for piece in header.split(b";"):
            piece = piece.strip(b" \t")
            if not piece:
                continue
            name, _, value = piece.partition(b"=")
            cookies.append((name, value))
    return cookies


class NormalizedSample:
    """One request: raw fields plus lazily computed, cached views for the rule engine."""

    __slots__ = (
        "id",
        "method",
        "path",
        "query",
        "body",
        "headers",
        "label",
        "category",
        "_target_cache",
        "_target_bytes_cache",
        "_collections",
        "_scalars",
        "_raw_bytes",
        "_parsed_body",
        "_transform_cache",
        "_processor",
        "engine_cache",
    )

    def __init__(self, sample: Mapping[str, Any]) -> None:
        get = sample.get
        self.id: Any = get("id")
        self.method = _text(get("method"), "method") or "GET"
        self.path = _text(get("path"), "path") or "/"
        self.query = _text(get("query"), "query")
        self.body = _text(get("body"), "body")
        raw_headers = get("headers") or {}
        if not isinstance(raw_headers, Mapping):
            raise TypeError("sample field 'headers' must be an object")
        headers = tuple(raw_headers.items())
        for name, value in headers:
            if not isinstance(name, str) or not isinstance(value, str):
                raise TypeError(f"sample header {name!r} must map a string to a string")
        self.headers: tuple[tuple[str, str], ...] = headers
        self.label: str | None = sample.get("label")
        self.category: str | None = sample.get("category")
        self._target_cache: dict[tuple[str, tuple[str, ...]], str] = {}
        self._target_bytes_cache: dict[tuple[str, tuple[str, ...]], bytes] = {}
        self._collections: dict[str, list[Element]] = {}
        self._scalars: dict[str, bytes | None] = {}
        self._raw_bytes: tuple[bytes, bytes, bytes] | None = None
        self._parsed_body: ParsedBody | None = None
        # None: chosen by Content-Type; else forced by ctl:requestBodyProcessor.
        self._processor: str | None = None
        self._transform_cache: dict[tuple[tuple[str, ...], bytes], bytes] = {}
        # Per-sample memo for the ModSecurity engine (resolved variables, RE2 set hits).
        self.engine_cache: dict[Any, Any] = {}

    def with_processor(self, processor: str) -> NormalizedSample:
        """The same request with its body parsed by ``processor`` (fresh caches: every
        variable derived from the body may differ)."""
        other = NormalizedSample.__new__(NormalizedSample)
        for name in NormalizedSample.__slots__:
            if not name.startswith("_") and name != "engine_cache":
                setattr(other, name, getattr(self, name))
        other._target_cache = self._target_cache
        other._target_bytes_cache = self._target_bytes_cache
        other._raw_bytes = self._raw_bytes
        other._transform_cache = self._transform_cache
        other._collections = {}
        other._scalars = {}
        other._parsed_body = None
        other._processor = processor
        other.engine_cache = {}
        return other

    @classmethod
    def of(cls, sample: NormalizedSample | Mapping[str, Any]) -> NormalizedSample:
        return sample if isinstance(sample, NormalizedSample) else cls(sample)

    @property
    def is_attack(self) -> bool:
        return self.label == "attack"

    # ---- contract targets (signature / regex) -------------------------------------

    def raw_target(self, name: str) -> str:
        if name == "path":
            return self.path
        if name == "query":
            return self.query
        if name == "body":
            return self.body
        if name == "headers":
            return "\n".join(f"{key}: {value}" for key, value in self.headers)
        raise KeyError(name)

    def target(self, name: str, transforms: tuple[str, ...]) -> str:
        key = (name, transforms)
        cached = self._target_cache.get(key)
        if cached is None:
            cached = apply_contract_transforms(self.raw_target(name), transforms)
            self._target_cache[key] = cached
        return cached

    def target_bytes(self, name: str, transforms: tuple[str, ...]) -> bytes:
        """UTF-8 of :meth:`target`, for RE2 (which matches bytes without re-encoding)."""
        key = (name, transforms)
        cached = self._target_bytes_cache.get(key)
        if cached is None:
            cached = self.target(name, transforms).encode("utf-8", "surrogatepass")
            self._target_bytes_cache[key] = cached
        return cached

    # ---- ModSecurity view ------------------------------------------------------------

    def transformed(self, value: bytes, chain: tuple[str, ...]) -> bytes:
        """``value`` after a ModSecurity ``t:`` chain; every prefix is cached too."""
        if not chain:
            return value
        # Short values (argument names, header values, paths) repeat across requests:
        # their results live in a bounded process-wide memo; long ones per sample.
        if len(value) <= SHORT_VALUE:
            cache = _SHORT_TRANSFORMS
            if len(cache) >= SHORT_MEMO_ENTRIES:
                cache.clear()
        else:
            cache = self._transform_cache
        key = (chain, value)
        cached = cache.get(key)
        if cached is not None:
            return cached
        prefix = _PREFIXES.get(chain)
        if prefix is None:
            prefix = _PREFIXES[chain] = chain[:-1]
        result = MODSEC_TRANSFORMS[chain[-1]](self.transformed(value, prefix) if prefix else value)
        cache[key] = result
        return result

    def collection(self, name: str) -> list[Element]:
        """ARGS, ARGS_GET, ARGS_POST, REQUEST_HEADERS or REQUEST_COOKIES as (key, value) pairs."""
        cache = self._collections
        found = cache.get(name)
        if found is None:
            found = self._build_collection(name)
            cache[name] = found
        return found

    def scalar(self, name: str) -> bytes | None:
        """A ModSecurity scalar variable (REQUEST_URI, QUERY_STRING...), None when unset."""
        cache = self._scalars
        if name in cache:
            return cache[name]
        builder = _SCALARS.get(name)
        value = builder(self) if builder is not None else None
        cache[name] = value
        return value

    def header_values(self, name: str) -> list[bytes]:
        lowered = name.lower()
        return [_utf8(v) for k, v in self.headers if k.lower() == lowered]

    # ---- builders ----------------------------------------------------------------------

    def _raw(self) -> tuple[bytes, bytes, bytes]:
        raw = self._raw_bytes
        if raw is None:
            raw = self._raw_bytes = (_utf8(self.path), _utf8(self.query), _utf8(self.body))
        return raw

    def _build_collection(self, name: str) -> list[Element]:
        if name == "ARGS_GET":
            query = self._raw()[1]
            return parse_urlencoded(query) if query else []
        if name == "ARGS_POST":
            return self._body().args
        if name == "FILES":
            return self._body().files
        if name == "FILES_SIZES":
            return self._body().file_sizes
        if name == "MULTIPART_PART_HEADERS":
            return self._body().part_headers
        if name == "XML":
            return self._body().xml
        if name == "ARGS":
            return self.collection("ARGS_GET") + self.collection("ARGS_POST")
        if name == "REQUEST_HEADERS":
            headers = [(_utf8(k), _utf8(v)) for k, v in self.headers]
            body = self._raw()[2]
            names = {k.lower() for k, _ in self.headers}
            if body and "content-length" not in names and "transfer-encoding" not in names:
                headers.append((b"Content-Length", str(len(body)).encode()))
            return headers
        if name == "REQUEST_COOKIES":
            return parse_cookies(self.header_values("cookie"))
        raise KeyError(name)

    def _body(self) -> ParsedBody:
        parsed = self._parsed_body
        if parsed is None:
            content_type = b",".join(self.header_values("content-type"))
            processor = self._processor if self._processor is not None else processor_for(content_type)
            parsed = self._parsed_body = parse_body(self._raw()[2], content_type, processor)
        return parsed


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _uri_raw(s: NormalizedSample) -> bytes:
    path, query, _ = s._raw()
    return path + b"?" + query if query else path


def _filename(s: NormalizedSample) -> bytes:
    return percent_decode(s._raw()[0])


def _basename(s: NormalizedSample) -> bytes | None:
    path = _filename(s)
    cut = max(path.rfind(b"/"), path.rfind(b"\\"))
    return path[cut + 1 :] or None


def _nonempty(value: bytes) -> bytes | None:
    return value or None


_SCALARS: dict[str, Callable[[NormalizedSample], bytes | None]] = {
    "REQUEST_METHOD": lambda s: _utf8(s.method),
    "REQUEST_PROTOCOL": lambda s: HTTP_PROTOCOL,
    "REQUEST_LINE": lambda s: _utf8(s.method) + b" " + _uri_raw(s) + b" " + HTTP_PROTOCOL,
    "REQUEST_URI": lambda s: percent_decode(_uri_raw(s)),
    "REQUEST_URI_RAW": _uri_raw,
    "REQUEST_FILENAME": _filename,
    "PATH_INFO": _filename,
    "REQUEST_BASENAME": _basename,
    "QUERY_STRING": lambda s: _nonempty(s._raw()[1]),
    "REQUEST_BODY": lambda s: _nonempty(s._raw()[2]),
    "REQUEST_BODY_LENGTH": lambda s: str(len(s._raw()[2])).encode(),
    "ARGS_COMBINED_SIZE": lambda s: str(sum(len(k) + len(v) for k, v in s.collection("ARGS"))).encode(),
    # Empty unless a multipart body was parsed, as libmodsecurity reports it.
    "FILES_COMBINED_SIZE": lambda s: str(sum(int(size) for _, size in s._body().file_sizes)).encode() if s._body().processor == b"MULTIPART" else b"",
    "REQBODY_PROCESSOR": lambda s: _nonempty(s._body().processor),
    "REQBODY_ERROR": lambda s: b"1" if s._body().error else b"0",
    "REQBODY_PROCESSOR_ERROR": lambda s: b"1" if s._body().error else b"0",
    "REMOTE_ADDR": lambda s: REMOTE_ADDR,
    "REMOTE_HOST": lambda s: REMOTE_ADDR,
    "REMOTE_PORT": lambda s: b"40000",
    "SERVER_ADDR": lambda s: b"192.0.2.1",
    "SERVER_PORT": lambda s: b"80",
    "SERVER_NAME": lambda s: next((h.split(b":")[0] for h in s.header_values("host")), None),
    "UNIQUE_ID": lambda s: str(s.id if s.id is not None else "sample").encode("utf-8", "replace"),
    "FULL_REQUEST_LENGTH": lambda s: str(len(_uri_raw(s)) + len(s._raw()[2])).encode(),
}
