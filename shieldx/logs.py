"""Structured JSON logs that carry the request id and never carry PII.

``MaskPIIFilter`` sits on every handler of settings.LOGGING, which every process uses:
Django and Celery workers through Django's set-up, gunicorn's master (which never sets
Django up) through ``logconfig_dict = settings_logging()`` in gunicorn.conf.py. It masks
the rendered message, the exception text and every extra field with the base's log
mask (``shieldx.masking``): where data may be a card number, it is masked.
"""

from __future__ import annotations

import contextvars
import copy
import importlib
import json
import logging
import os
import traceback
from datetime import UTC, datetime
from typing import Any

from shieldx.masking import mask_for_logs, mask_value

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")

# Attributes every LogRecord has; anything else was passed as `extra=`.
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "request_id"}


def current_request_id() -> str:
    return _request_id.get()


def set_request_id(value: str) -> None:
    """The middleware passes only ids it generated or found free of anything PII-shaped."""
    _request_id.set(value)


def settings_logging() -> dict[str, Any]:
    """settings.LOGGING for a process that logs before (or without) Django's set-up."""
    module = importlib.import_module(os.environ.get("DJANGO_SETTINGS_MODULE", "shieldx.settings"))
    return copy.deepcopy(module.LOGGING)


def _celery_keeps_django_logging(**kwargs: Any) -> None:
    """A receiver of Celery's ``setup_logging`` makes a worker leave logging as Django set
    it. Without one, Celery gives task loggers (``get_task_logger``) a stderr handler of
    its own, unmasked, even with CELERY_WORKER_HIJACK_ROOT_LOGGER=False."""


try:
    from celery.signals import setup_logging as _celery_setup_logging
except ImportError:  # pragma: no cover - Celery is a dependency; this keeps logs importable alone
    pass
else:
    _celery_setup_logging.connect(_celery_keeps_django_logging, weak=False, dispatch_uid="shieldx.logs")


def scrub(value: Any) -> Any:
    """Mask PII in strings, recursively through dicts and lists, keys included (error bodies, log extras)."""
    return mask_value(value)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = current_request_id()
        return True


class MaskPIIFilter(logging.Filter):
    """Render the message, mask it, and freeze it so no formatter re-renders raw args."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not lose the record
            message = f"{record.msg!r} {record.args!r}"
        record.msg, record.args = mask_for_logs(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info))
        if record.exc_text:
            record.exc_text = mask_for_logs(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_for_logs(record.stack_info)
        for name, value in list(vars(record).items()):
            if name not in _STANDARD_ATTRS and not isinstance(value, (int, float, bool, type(None))):
                # Objects (a request, a model) are rendered here, so their text is masked too.
                setattr(record, name, scrub(value if isinstance(value, (str, dict, list, tuple)) else str(value)))
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "") or current_request_id(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        for name, value in vars(record).items():
            if name not in _STANDARD_ATTRS and not name.startswith("_"):
                entry[name] = value
        return json.dumps(entry, default=str, ensure_ascii=False)
