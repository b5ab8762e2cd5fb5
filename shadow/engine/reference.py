"""libmodsecurity 3 itself, driven through its C API: the reference our engine must equal.

    waf = ReferenceWaf(crs_files=["942"], paranoia_level=1)   # or rules="SecRule ..."
    verdict = waf.judge(sample_dict)                          # ReferenceVerdict(blocked, fired)

The WAF gets what a CRS deployment has: the recommended configuration's body-processor
choice (XML for ``text/xml``, ``application/xml``, ``application/soap+xml``; JSON for
``application/json`` and ``…+json``; urlencoded and multipart by libmodsecurity's own
choice), ``SecDefaultAction`` with ``log`` in phases 1 and 2, the paranoia level and
threshold as ``crs-setup.conf`` would set them, then the CRS files by path (so
``@pmFromFile`` finds its ``.data``), then any rule text. A sample is sent as our engine
reads it: from 192.0.2.10, ``HTTP/1.1``, a ``Content-Length`` added to a body without one.
``fired`` are the ids of the rules that logged, without the harness's own (2000xx, 9000xx).

Used by the differential tests and ``bench/bench_shadow_differential.py``; not by the
service. Needs Debian's ``libmodsecurity3`` (``available()``).
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import libmodsecurity
from .crs import CRS_RULES_DIR, _resolve, crs_files

# From modsecurity.conf-recommended (v3): the body processors a Content-Type selects.
RECOMMENDED = r"""
SecRuleEngine On
SecRequestBodyAccess On
SecRequestBodyLimit 13107200
SecRequestBodyNoFilesLimit 13107200
SecRequestBodyLimitAction ProcessPartial
SecRule REQUEST_HEADERS:Content-Type "^(?:application(?:/soap\+|/)|text/)xml" "id:200000,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=XML"
SecRule REQUEST_HEADERS:Content-Type "^application/json" "id:200001,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"
SecRule REQUEST_HEADERS:Content-Type "^application/[a-z0-9.-]+[+]json" "id:200006,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"
SecDefaultAction "phase:1,log,auditlog,pass"
SecDefaultAction "phase:2,log,auditlog,pass"
"""
SETUP = """
SecAction "id:900000,phase:1,pass,t:none,nolog,setvar:tx.blocking_paranoia_level={pl},setvar:tx.detection_paranoia_level={pl}"
SecAction "id:900110,phase:1,pass,t:none,nolog,setvar:tx.inbound_anomaly_score_threshold={threshold},setvar:tx.outbound_anomaly_score_threshold=4"
SecAction "id:900990,phase:1,pass,t:none,nolog,setvar:tx.crs_setup_version=4290"
"""
_HARNESS_IDS = frozenset({"200000", "200001", "200006", "900000", "900110", "900990"})
_LOG_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_char_p)


class _Intervention(ctypes.Structure):
    _fields_ = [("status", ctypes.c_int), ("pause", ctypes.c_int), ("url", ctypes.c_void_p), ("log", ctypes.c_void_p), ("disruptive", ctypes.c_int)]


@dataclass(frozen=True, slots=True)
class ReferenceVerdict:
    blocked: bool
    fired: tuple[str, ...]


def _ids(message: bytes) -> list[str]:
    """The ``[id "942100"]`` fields of a libmodsecurity log line."""
    found = []
    start = message.find(b'[id "')
    while start >= 0:
        end = message.find(b'"]', start + 5)
        if end < 0:
            break
        found.append(message[start + 5 : end].decode("ascii", "replace"))
        start = message.find(b'[id "', end)
    return found


def available() -> bool:
    return libmodsecurity.LIBRARY is not None


def _bind(lib: ctypes.CDLL) -> None:
    p, s, i = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int
    signatures: dict[str, tuple[tuple[Any, ...], Any]] = {
        "msc_init": ((), p),
        "msc_set_connector_info": ((p, s), None),
        "msc_set_log_cb": ((p, _LOG_CB), None),
        "msc_create_rules_set": ((), p),
        "msc_rules_add": ((p, s, ctypes.POINTER(ctypes.c_char_p)), i),
        "msc_rules_add_file": ((p, s, ctypes.POINTER(ctypes.c_char_p)), i),
        "msc_new_transaction": ((p, p, p), p),
        "msc_process_connection": ((p, s, i, s, i), i),
        "msc_process_uri": ((p, s, s, s), i),
        "msc_add_n_request_header": ((p, s, ctypes.c_size_t, s, ctypes.c_size_t), i),
        "msc_process_request_headers": ((p,), i),
        "msc_append_request_body": ((p, s, ctypes.c_size_t), i),
        "msc_process_request_body": ((p,), i),
        "msc_intervention": ((p, ctypes.POINTER(_Intervention)), i),
        "msc_transaction_cleanup": ((p,), None),
        "msc_rules_cleanup": ((p,), i),
        "msc_cleanup": ((p,), None),
    }
    for name, (argtypes, restype) in signatures.items():
        function = getattr(lib, name)
        function.argtypes = argtypes
        function.restype = restype


class ReferenceWaf:
    """One libmodsecurity engine and rule set; ``judge`` runs phases 1 and 2 of a sample."""

    _lock = threading.Lock()  # the log callback collects into one list per engine

    def __init__(
        self,
        *,
        crs_files_: Sequence[str] | None = (),
        rules: str = "",
        paranoia_level: int = 1,
        threshold: int = 5,
    ) -> None:
        lib = libmodsecurity.LIBRARY
        if lib is None:
            raise RuntimeError("libmodsecurity.so.3 is not installed (apt-get install libmodsecurity3)")
        if not hasattr(lib, "_shieldx_bound"):
            _bind(lib)
            lib._shieldx_bound = True
        self._lib = lib
        self._messages: list[bytes] = []
        self._callback = _LOG_CB(lambda _data, message: self._messages.append(message or b""))
        self._modsec = lib.msc_init()
        lib.msc_set_connector_info(self._modsec, b"shieldx-differential")
        lib.msc_set_log_cb(self._modsec, self._callback)
        self._rules = lib.msc_create_rules_set()
        self._add_text(RECOMMENDED + SETUP.format(pl=paranoia_level, threshold=threshold))
        if crs_files_ is None:
            chosen = crs_files()
        else:
            chosen = [_resolve(str(f), crs_files()) for f in crs_files_]
        for name in chosen:
            self._add_file(str(CRS_RULES_DIR / name))
        if rules:
            self._add_text(rules)

    def _check(self, result: int, error: ctypes.c_char_p, what: str) -> None:
        if result < 0:
            raise ValueError(f"libmodsecurity refused {what}: {(error.value or b'').decode(errors='replace')}")

    def _add_text(self, text: str) -> None:
        error = ctypes.c_char_p()
        self._check(self._lib.msc_rules_add(self._rules, text.encode(), ctypes.byref(error)), error, "the rule text")

    def _add_file(self, path: str) -> None:
        error = ctypes.c_char_p()
        self._check(self._lib.msc_rules_add_file(self._rules, path.encode(), ctypes.byref(error)), error, path)

    def _intervened(self, txn: int) -> bool:
        intervention = _Intervention(200, 0, None, None, 0)
        if not self._lib.msc_intervention(txn, ctypes.byref(intervention)) or not intervention.disruptive:
            return False
        # A disruptive rule reports through the intervention's log, not the log callback.
        if intervention.log:
            self._messages.append(ctypes.string_at(intervention.log))
        return True

    def judge(self, sample: Mapping[str, Any]) -> ReferenceVerdict:
        lib = self._lib
        method = (sample.get("method") or "GET").encode()
        path = (sample.get("path") or "/").encode("utf-8", "surrogatepass")
        query = (sample.get("query") or "").encode("utf-8", "surrogatepass")
        body = (sample.get("body") or "").encode("utf-8", "surrogatepass")
        headers = [(k.encode("utf-8", "surrogatepass"), v.encode("utf-8", "surrogatepass")) for k, v in (sample.get("headers") or {}).items()]
        names = {k.lower() for k, _ in headers}
        if body and b"content-length" not in names and b"transfer-encoding" not in names:
            headers.append((b"Content-Length", str(len(body)).encode()))
        uri = path + b"?" + query if query else path
        with self._lock:
            self._messages.clear()
            txn = lib.msc_new_transaction(self._modsec, self._rules, None)
            try:
                lib.msc_process_connection(txn, b"192.0.2.10", 40000, b"192.0.2.1", 80)
                lib.msc_process_uri(txn, uri, method, b"1.1")
                for key, value in headers:
                    lib.msc_add_n_request_header(txn, key, len(key), value, len(value))
                lib.msc_process_request_headers(txn)
                blocked = self._intervened(txn)
                if not blocked:
                    if body:
                        lib.msc_append_request_body(txn, body, len(body))
                    lib.msc_process_request_body(txn)
                    blocked = self._intervened(txn)
            finally:
                lib.msc_transaction_cleanup(txn)
            fired = []
            for message in self._messages:
                for rule_id in _ids(message):
                    if rule_id not in _HARNESS_IDS:
                        fired.append(rule_id)
        return ReferenceVerdict(blocked, tuple(dict.fromkeys(fired)))

    def close(self) -> None:
        if self._rules:
            self._lib.msc_rules_cleanup(self._rules)
            self._lib.msc_cleanup(self._modsec)
            self._rules = self._modsec = None
