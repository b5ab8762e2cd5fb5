"""SecRule variables: parsing ``ARGS|!ARGS:foo|&TX:x|ARGS:/^id_/`` and resolving them.

A resolved element is ``(collection, key, value)``; ``key`` is None for scalars and
counts.  Keys of collections compare case-insensitively, as in libmodsecurity, and
regex selectors are case-insensitive.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import RuleError
from ..re2util import MODSEC_REGEX_MAX_MEM, PatternError, Regexp, compile_pattern

if TYPE_CHECKING:
    from ..sample import NormalizedSample
    from .program import Transaction

Element = tuple[str, "bytes | None", bytes]

# Collections filled from the request.
REQUEST_COLLECTIONS = {
    "ARGS", "ARGS_GET", "ARGS_POST", "REQUEST_HEADERS", "REQUEST_COOKIES",
    "FILES", "FILES_SIZES", "MULTIPART_PART_HEADERS", "XML",
}  # fmt: skip
NAME_COLLECTIONS = {
    "ARGS_NAMES": "ARGS",
    "ARGS_GET_NAMES": "ARGS_GET",
    "ARGS_POST_NAMES": "ARGS_POST",
    "REQUEST_HEADERS_NAMES": "REQUEST_HEADERS",
    "REQUEST_COOKIES_NAMES": "REQUEST_COOKIES",
    "FILES_NAMES": "FILES",
}
# Collections a stored sample has no data for (temporary files, persistent storage).
EMPTY_COLLECTIONS = {
    "FILES_TMPNAMES", "FILES_TMP_CONTENT", "ENV", "GEO", "IP", "SESSION", "GLOBAL", "USER", "RESOURCE",
}  # fmt: skip
STATE_COLLECTIONS = {"TX", "MATCHED_VARS", "MATCHED_VARS_NAMES", "RULE"}
COLLECTIONS = REQUEST_COLLECTIONS | set(NAME_COLLECTIONS) | EMPTY_COLLECTIONS | STATE_COLLECTIONS

REQUEST_SCALARS = {
    "REQUEST_METHOD", "REQUEST_PROTOCOL", "REQUEST_LINE", "REQUEST_URI", "REQUEST_URI_RAW",
    "REQUEST_FILENAME", "PATH_INFO", "REQUEST_BASENAME", "QUERY_STRING", "REQUEST_BODY",
    "REQUEST_BODY_LENGTH", "ARGS_COMBINED_SIZE", "FILES_COMBINED_SIZE", "REQBODY_PROCESSOR",
    "REQBODY_ERROR", "REQBODY_PROCESSOR_ERROR", "REMOTE_ADDR", "REMOTE_HOST", "REMOTE_PORT",
    "SERVER_ADDR", "SERVER_NAME", "SERVER_PORT", "UNIQUE_ID", "FULL_REQUEST_LENGTH",
}  # fmt: skip
# Scalars that exist in ModSecurity but that a stored sample never sets.
EMPTY_SCALARS = {
    "REQBODY_ERROR_MSG", "REQBODY_PROCESSOR_ERROR_MSG", "URLENCODED_ERROR", "INBOUND_DATA_ERROR",
    "AUTH_TYPE", "REMOTE_USER", "FULL_REQUEST", "WEBAPPID", "SESSIONID", "USERID",
    "MULTIPART_STRICT_ERROR", "MULTIPART_UNMATCHED_BOUNDARY", "MULTIPART_BOUNDARY_QUOTED",
    "MULTIPART_BOUNDARY_WHITESPACE", "MULTIPART_DATA_BEFORE", "MULTIPART_DATA_AFTER",
    "MULTIPART_HEADER_FOLDING", "MULTIPART_LF_LINE", "MULTIPART_MISSING_SEMICOLON",
    "MULTIPART_INVALID_QUOTING", "MULTIPART_INVALID_PART", "MULTIPART_INVALID_HEADER_FOLDING",
    "MULTIPART_FILE_LIMIT_EXCEEDED", "MULTIPART_CRLF_LF_LINES", "MULTIPART_FILENAME",
    "MULTIPART_NAME", "HIGHEST_SEVERITY", "STATUS_LINE",
}  # fmt: skip
STATE_SCALARS = {"MATCHED_VAR", "MATCHED_VAR_NAME"}
SCALARS = REQUEST_SCALARS | EMPTY_SCALARS | STATE_SCALARS
KNOWN = COLLECTIONS | SCALARS
# Anything whose value depends on earlier rules in the same transaction.
DYNAMIC = STATE_COLLECTIONS | STATE_SCALARS


@dataclass(frozen=True, slots=True)
class Selector:
    """``:key`` (literal, stored lowercased) or ``:/regex/``."""

    literal: bytes | None = None
    regex: Regexp | None = None
    # Collection keys (TX names, header names) repeat across requests: memoise regex tests.
    seen: dict[bytes, bool] = field(default_factory=dict, compare=False, hash=False)

    def accepts(self, key: bytes) -> bool:
        if self.literal is not None:
            return key.lower() == self.literal
        found = self.seen.get(key)
        if found is None:
            found = self.regex is not None and self.regex.search(key) is not None
            if len(self.seen) >= 4096:
                self.seen.clear()
            self.seen[key] = found
        return found


@dataclass(frozen=True, slots=True)
class VariableRef:
    name: str
    selector: Selector | None = None
    count: bool = False
    exclude: bool = False
    text: str = ""

    @property
    def tx_key(self) -> str | None:
        """``TX:name`` with a literal selector: read with one dict lookup."""
        if self.name == "TX" and self.selector is not None and self.selector.literal is not None:
            return self.selector.literal.decode("latin-1")
        return None


@dataclass(slots=True, eq=False)
class VariableSet:
    """The variables of one SecRule, with their exclusions (``!ARGS:foo``)."""

    refs: tuple[VariableRef, ...]
    exclusions: dict[str, list[Selector | None]] = field(default_factory=dict)
    text: str = ""
    dynamic: bool = False

    _getters: tuple[Callable[[Transaction], list[Element]], ...] = ()

    def __post_init__(self) -> None:
        self.dynamic = any(ref.name in DYNAMIC for ref in self.refs)
        self._getters = tuple(g for g in (self._getter(ref) for ref in self.refs) if g is not None)

    def _getter(self, ref: VariableRef) -> Callable[[Transaction], list[Element]] | None:
        """A specialised reader per target: most are one cached per-sample list."""
        name = ref.name
        excluded = name in self.exclusions
        if ref.count:
            return lambda txn: [self._count(ref, txn)]
        if name in EMPTY_COLLECTIONS:
            return None
        if not excluded and ref.selector is None and (name in REQUEST_COLLECTIONS or name in NAME_COLLECTIONS):
            return lambda txn: _tagged(txn.sample, name)
        if not excluded and name == "REQUEST_HEADERS" and ref.selector is not None and ref.selector.literal is not None:
            wanted = ref.selector.literal
            return lambda txn: _tagged_header(txn.sample, wanted)
        tx_key = ref.tx_key
        if tx_key is not None and not excluded:
            key_bytes = tx_key.encode("latin-1")

            def read_tx(txn: Transaction) -> list[Element]:
                value = txn.tx.get(tx_key)
                return [] if value is None else [("TX", key_bytes, value)]

            return read_tx
        if name in SCALARS:

            def read_scalar(txn: Transaction) -> list[Element]:
                value = scalar_value(name, txn)
                return [] if value is None or self._excluded(name, None) else [(name, None, value)]

            return read_scalar
        return lambda txn: self._filtered(ref, txn)

    def _count(self, ref: VariableRef, txn: Transaction) -> Element:
        tx_key = ref.tx_key
        if tx_key is not None:  # &TX:name, CRS's "is it configured?" test
            return ("&TX", None, b"1" if tx_key in txn.tx else b"0")
        if ref.name == "REQUEST_HEADERS" and ref.selector is not None and ref.selector.literal is not None:
            return ("&REQUEST_HEADERS", None, str(len(_tagged_header(txn.sample, ref.selector.literal))).encode())
        members = _members(ref.name, txn)
        if ref.selector is not None:
            members = [m for m in members if ref.selector.accepts(m[0])]
        return ("&" + ref.name, None, str(len(members)).encode())

    def _filtered(self, ref: VariableRef, txn: Transaction) -> list[Element]:
        out: list[Element] = []
        name = ref.name
        for key, value in _members(name, txn):
            if ref.selector is not None and not ref.selector.accepts(key):
                continue
            if self._excluded(name, key):
                continue
            out.append((name, key, value))
        return out

    def with_refs(self, extra: list[VariableRef]) -> VariableSet:
        """A copy with more targets/exclusions (SecRuleUpdateTargetById)."""
        refs = list(self.refs)
        exclusions = {k: list(v) for k, v in self.exclusions.items()}
        for ref in extra:
            if ref.exclude:
                exclusions.setdefault(ref.name, []).append(ref.selector)
            else:
                refs.append(ref)
        return VariableSet(tuple(refs), exclusions, self.text + "|" + "|".join(r.text for r in extra))

    def resolve(self, txn: Transaction) -> list[Element]:
        if self.dynamic:
            return self._resolve(txn)
        cache = txn.sample.engine_cache
        found = cache.get(self)
        if found is None:
            found = self._resolve(txn)
            cache[self] = found
        return found

    def _resolve(self, txn: Transaction) -> list[Element]:
        getters = self._getters
        if len(getters) == 1:
            return getters[0](txn)
        out: list[Element] = []
        for getter in getters:
            out += getter(txn)
        return out

    def _excluded(self, name: str, key: bytes | None) -> bool:
        selectors = self.exclusions.get(name)
        if not selectors:
            return False
        for selector in selectors:
            if selector is None or (key is not None and selector.accepts(key)):
                return True
        return False


_TAGGED_KEYS = {name: ("tagged", name) for name in (*REQUEST_COLLECTIONS, *NAME_COLLECTIONS)}


def _tagged(sample: NormalizedSample, name: str) -> list[Element]:
    """A request collection as elements, built once per sample."""
    cache = sample.engine_cache
    key = _TAGGED_KEYS[name]
    found = cache.get(key)
    if found is None:
        if name in NAME_COLLECTIONS:
            found = [(name, k, k) for k, _ in sample.collection(NAME_COLLECTIONS[name])]
        else:
            found = [(name, k, v) for k, v in sample.collection(name)]
        cache[key] = found
    return found


def _tagged_header(sample: NormalizedSample, lowered: bytes) -> list[Element]:
    cache = sample.engine_cache
    key = ("header", lowered)
    found = cache.get(key)
    if found is None:
        found = [e for e in _tagged(sample, "REQUEST_HEADERS") if e[1].lower() == lowered]  # type: ignore[union-attr]
        cache[key] = found
    return found


def element_name(element: Element) -> str:
    collection, key, _ = element
    return collection if key is None else f"{collection}:{key.decode('latin-1')}"


def _members(name: str, txn: Transaction) -> list[tuple[bytes, bytes]]:
    if name in EMPTY_COLLECTIONS:
        return []
    if name in REQUEST_COLLECTIONS:
        return txn.sample.collection(name)
    if name in NAME_COLLECTIONS:
        return [(key, key) for key, _ in txn.sample.collection(NAME_COLLECTIONS[name])]
    if name == "TX":
        return [(key.encode("latin-1"), value) for key, value in txn.tx.items()]
    if name == "MATCHED_VARS":
        return [(n.encode("latin-1"), v) for n, v in txn.matched_vars]
    if name == "MATCHED_VARS_NAMES":
        return [(n.encode("latin-1"), n.encode("latin-1")) for n, _ in txn.matched_vars]
    if name == "RULE":
        return [(k.encode(), v) for k, v in txn.rule_info().items()]
    return []


def scalar_value(name: str, txn: Transaction) -> bytes | None:
    if name == "MATCHED_VAR":
        return txn.matched_var[1] if txn.matched_var else None
    if name == "MATCHED_VAR_NAME":
        return txn.matched_var[0].encode("latin-1") if txn.matched_var else None
    return txn.sample.scalar(name)


def lookup(name: str, key: str | None, txn: Transaction) -> bytes:
    """A macro reference: ``%{TX.foo}``, ``%{REQUEST_HEADERS.User-Agent}``, ``%{MATCHED_VAR}``."""
    if key is None:
        if name in SCALARS:
            return scalar_value(name, txn) or b""
        return b""
    if name == "TX":
        return txn.tx.get(key.lower(), b"")
    wanted = key.lower().encode("latin-1")
    for member_key, value in _members(name, txn):
        if member_key.lower() == wanted:
            return value
    return b""


def _split_targets(spec: str) -> list[str]:
    """Split on '|' outside ``/regex/`` and ``'quoted'`` selectors."""
    parts: list[str] = []
    buf: list[str] = []
    in_regex = in_quote = False
    after_colon = False
    i, n = 0, len(spec)
    while i < n:
        c = spec[i]
        if in_regex:
            buf.append(c)
            if c == "\\" and i + 1 < n:
                buf.append(spec[i + 1])
                i += 2
                continue
            if c == "/":
                in_regex = False
        elif in_quote:
            buf.append(c)
            if c == "'":
                in_quote = False
        elif c == "|":
            parts.append("".join(buf))
            buf = []
        else:
            # XML selectors are XPath (XML:/*), never regexes.
            xpath = "".join(buf).lstrip("!&").upper() == "XML:"
            if after_colon and c == "/" and not xpath:
                in_regex = True
            elif after_colon and c == "'":
                in_quote = True
            buf.append(c)
        after_colon = c == ":" and not in_regex and not in_quote
        i += 1
    parts.append("".join(buf))
    return [p.strip() for p in parts]


def _selector(raw: str, line: int) -> Selector:
    if len(raw) >= 2 and raw[0] == "'" and raw[-1] == "'":
        raw = raw[1:-1]
    if len(raw) >= 2 and raw[0] == "/" and raw[-1] == "/":
        try:
            regex = compile_pattern(raw[1:-1].encode("utf-8"), latin1=True, case_sensitive=False, max_mem=MODSEC_REGEX_MAX_MEM)
        except PatternError as exc:
            raise RuleError(
                f"line {line}: variable selector /{raw[1:-1]}/ is not a valid RE2 regex: {exc.reason}",
                {"line": line, "selector": raw, "re2_error": exc.reason},
            ) from None
        return Selector(regex=regex)
    return Selector(literal=raw.lower().encode("utf-8"))


def parse_ref(text: str, line: int) -> VariableRef:
    body = text
    exclude = count = False
    if body.startswith("!"):
        exclude, body = True, body[1:]
    if body.startswith("&"):
        count, body = True, body[1:]
    name, sep, selector_text = body.partition(":")
    name = name.strip().upper()
    if name not in KNOWN:
        raise RuleError(f"line {line}: unsupported variable {name or text!r}", {"line": line, "variable": name})
    selector = None
    if sep:
        if name in SCALARS:
            raise RuleError(
                f"line {line}: variable {name} is not a collection and takes no ':{selector_text}'",
                {"line": line, "variable": name},
            )
        selector = _selector(selector_text, line)
    return VariableRef(name, selector, count, exclude, text)


def parse_variables(spec: str, line: int, interned: dict[str, VariableSet] | None = None) -> VariableSet:
    """Parse a SecRule target list; identical lists share one object (and its cache)."""
    if interned is not None and spec in interned:
        return interned[spec]
    refs: list[VariableRef] = []
    exclusions: dict[str, list[Selector | None]] = {}
    for part in _split_targets(spec):
        if not part:
            raise RuleError(f"line {line}: empty variable in {spec!r}", {"line": line})
        ref = parse_ref(part, line)
        if ref.exclude:
            exclusions.setdefault(ref.name, []).append(ref.selector)
        else:
            refs.append(ref)
    if not refs:
        raise RuleError(f"line {line}: no variable to inspect in {spec!r}", {"line": line})
    result = VariableSet(tuple(refs), exclusions, spec)
    if interned is not None:
        interned[spec] = result
    return result


def runtime_exclusion(text: str, line: int) -> tuple[str, Selector | None]:
    """``ARGS:foo`` from ctl:ruleRemoveTargetById=ID;ARGS:foo."""
    ref = parse_ref(text, line)
    return ref.name, ref.selector


def rule_info_of(rule: Any) -> dict[str, bytes]:
    return {
        "id": str(rule.id).encode(),
        "msg": (rule.msg or "").encode("utf-8"),
        "severity": str(rule.severity_level if rule.severity_level is not None else "").encode(),
    }
