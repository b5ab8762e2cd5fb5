"""Debian's libmodsecurity 3 (``libmodsecurity.so.3``, Apache-2.0), loaded with ctypes.

Two uses, both optional at run time:

* libinjection (BSD-3), which libmodsecurity bundles and exports: ``detect_sqli`` and
  ``detect_xss`` are exactly what its ``@detectSQLi``/``@detectXSS`` run, with no GPL
  wrapper in between;
* the whole WAF, driven through its C API by ``reference.py`` (differential tests and
  the agreement bench).

``SHIELDX_LIBMODSECURITY`` names the library file when it is not where the system's
loader finds it; ``SHIELDX_LIBMODSECURITY=off`` pretends it is absent (tests of the
fallback). Without it, ``LIBRARY`` is None and rules needing libinjection are skipped.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

_CANDIDATES = ("libmodsecurity.so.3", "/usr/lib/x86_64-linux-gnu/libmodsecurity.so.3", "/usr/lib/aarch64-linux-gnu/libmodsecurity.so.3")


def _load() -> ctypes.CDLL | None:
    configured = os.environ.get("SHIELDX_LIBMODSECURITY", "")
    if configured.lower() == "off":
        return None
    found = ctypes.util.find_library("modsecurity")
    for name in (configured, found, *_CANDIDATES):
        if not name:
            continue
        try:
            library = ctypes.CDLL(name)
        except OSError:
            continue
        library.libinjection_sqli.argtypes = (ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p)
        library.libinjection_sqli.restype = ctypes.c_int
        library.libinjection_xss.argtypes = (ctypes.c_char_p, ctypes.c_size_t)
        library.libinjection_xss.restype = ctypes.c_int
        return library
    return None


LIBRARY = _load()


def detect_sqli(value: bytes) -> bool:
    """libinjection's SQLi verdict on raw bytes (``@detectSQLi``)."""
    fingerprint = ctypes.create_string_buffer(8)
    return bool(LIBRARY.libinjection_sqli(value, len(value), fingerprint))  # type: ignore[union-attr]


def detect_xss(value: bytes) -> bool:
    """libinjection's XSS verdict on raw bytes (``@detectXSS``)."""
    return bool(LIBRARY.libinjection_xss(value, len(value)))  # type: ignore[union-attr]
