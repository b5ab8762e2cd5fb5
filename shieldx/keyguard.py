"""API keys belong in the Authorization header and nowhere else (CONTRACT §1a).

A key in a URL ends up in proxies' access logs, browser histories and our own request
logs; a key in a body ends up in stored rows. The request guard (middleware) refuses
both before anything reads or logs them, and ``RedactApiKeysFilter`` sits on every log
handler as the last line: whatever slipped through is logged with its secret cut off.

Pure module (no Django): gunicorn's master loads the log filter before Django is set up.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import unquote_plus

# shieldx.services makes keys as sxk_<10 of a 32-letter alphabet>_<token_urlsafe(32)>.
# The prefix is public (the lookup index, shown in the admin); what follows is the secret.
_KEY = re.compile(r"sxk_([a-z2-9]{10})_[A-Za-z0-9_-]{16,}")
_KEY_BYTES = re.compile(rb"sxk_[a-z2-9]{10}_[A-Za-z0-9_-]{16,}")
REDACTED = "[redacted]"


def holds_key(text: str) -> bool:
    """True when ``text`` carries something shaped like one of our API keys, also once or
    twice percent-encoded (``%73xk_…``)."""
    for _ in range(3):
        if _KEY.search(text):
            return True
        if "%" not in text:  # the common case: nothing left to decode
            return False
        decoded = unquote_plus(text)
        if decoded == text:
            return False
        text = decoded
    return False


def body_holds_key(body: bytes) -> bool:
    return _KEY_BYTES.search(body) is not None or (b"%" in body and holds_key(body.decode("utf-8", "replace")))


def redact_keys(value: Any) -> Any:
    """Strings with each key's secret cut off (the public prefix stays, so an operator can
    tell which key leaked and revoke it); dicts and lists recursively."""
    if isinstance(value, str):
        return _KEY.sub(lambda m: f"sxk_{m.group(1)}_{REDACTED}", value) if "sxk_" in value else value
    if isinstance(value, dict):
        return {redact_keys(k): redact_keys(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_keys(v) for v in value]
    return value


_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class RedactApiKeysFilter(logging.Filter):
    """Runs after MaskPIIFilter, which has rendered the message and the extras to text."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            try:
                record.msg, record.args = record.getMessage(), None
            except Exception:  # noqa: BLE001 - a bad format string must not lose the record
                record.msg, record.args = f"{record.msg!r} {record.args!r}", None
        record.msg = redact_keys(str(record.msg))
        if record.exc_text:
            record.exc_text = redact_keys(record.exc_text)
        for name, value in list(vars(record).items()):
            if name not in _STANDARD_ATTRS and isinstance(value, (str, dict, list, tuple)):
                setattr(record, name, redact_keys(value))
            elif name not in _STANDARD_ATTRS and not isinstance(value, (int, float, bool, type(None))):
                # A request object renders its full URL, query string included.
                setattr(record, name, redact_keys(str(value)))
        return True
