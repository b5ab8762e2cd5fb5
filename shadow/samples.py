"""Reading and validating labeled samples (CONTRACT §4), one at a time.

No Django here: the API view and ``manage.py import_samples`` feed bytes or parsed
objects through the same checks, and nothing is ever held beyond one line, so a
100 MiB upload or a 100,000-line file streams through in constant memory.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

MAX_SAMPLE_BYTES = 1024 * 1024
MAX_ID_LENGTH = 200
MAX_METHOD_LENGTH = 32
MAX_CATEGORY_LENGTH = 64
LABELS = ("attack", "benign")
# Printable, no control characters: ids and categories end up in columns, admin pages
# and recommendations.
_NAME = re.compile(r"^[^\x00-\x1f\x7f]+$")
_METHOD = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an HTTP token (RFC 9110)


class SampleError(ValueError):
    """Why one sample is refused; never quotes the sample's content."""


@dataclass(frozen=True, slots=True)
class CleanSample:
    sample_id: str | None
    label: str
    category: str
    data: str  # compact JSON of {method, path, query, headers, body}


def effective_category(label: str, category: str | None) -> str:
    """The engine's rule (shadow.engine.evaluation): no category means "benign" for
    benign samples and "uncategorized" for attacks; stored that way so dataset counts,
    target_categories and by_category agree."""
    return category or ("benign" if label == "benign" else "uncategorized")


def valid_category(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_CATEGORY_LENGTH and bool(_NAME.match(value))


def _optional_text(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise SampleError(f"'{key}' must be a string")
    return value


def _headers(obj: dict[str, Any]) -> dict[str, str]:
    value = obj.get("headers")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SampleError("'headers' must be an object of strings")
    for name, item in value.items():
        if not name or not isinstance(item, str):
            raise SampleError("'headers' must map non-empty names to strings")
    return value


def _dump(document: dict[str, Any]) -> str:
    text = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate (from a "\ud800" escape) has no UTF-8 form: keep it escaped,
        # which round-trips exactly.
        text = json.dumps(document, separators=(",", ":"))
    return text


def clean_object(obj: Any) -> CleanSample:
    """Validate one sample object; fields beyond the contract's (a corpus' ``source``,
    ``payload``…) are ignored."""
    if not isinstance(obj, dict):
        raise SampleError("a sample must be a JSON object")
    label = obj.get("label")
    if label not in LABELS:
        raise SampleError("'label' must be 'attack' or 'benign'")
    method = obj.get("method")
    if not isinstance(method, str) or not 0 < len(method) <= MAX_METHOD_LENGTH or not _METHOD.match(method):
        raise SampleError(f"'method' must be an HTTP method token of 1 to {MAX_METHOD_LENGTH} characters")
    path = obj.get("path")
    if not isinstance(path, str):
        raise SampleError("'path' must be a string")
    sample_id = obj.get("id")
    if sample_id is not None and not (isinstance(sample_id, str) and len(sample_id) <= MAX_ID_LENGTH and _NAME.match(sample_id)):
        raise SampleError(f"'id' must be a string of 1 to {MAX_ID_LENGTH} printable characters")
    category = obj.get("category")
    if category is not None and not valid_category(category):
        raise SampleError(f"'category' must be a string of 1 to {MAX_CATEGORY_LENGTH} printable characters")
    document = {
        "method": method,
        "path": path,
        "query": _optional_text(obj, "query"),
        "headers": _headers(obj),
        "body": _optional_text(obj, "body"),
    }
    return CleanSample(sample_id, label, effective_category(label, category), _dump(document))


def clean_line(raw: bytes | None) -> CleanSample:
    """Validate one JSONL line (None: a line over the size limit, already discarded)."""
    if raw is None:
        raise SampleError(f"the sample exceeds {MAX_SAMPLE_BYTES} bytes")
    try:
        obj = json.loads(raw)
    except UnicodeDecodeError:
        raise SampleError("the line is not valid UTF-8") from None
    except (ValueError, RecursionError):
        raise SampleError("the line is not valid JSON") from None
    return clean_object(obj)


def clean_parsed(obj: Any) -> CleanSample:
    """Validate one element of a ``{"samples": [...]}`` body, with the same size limit."""
    if len(json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass")) > MAX_SAMPLE_BYTES:
        raise SampleError(f"the sample exceeds {MAX_SAMPLE_BYTES} bytes")
    return clean_object(obj)


def iter_lines(stream: BinaryIO, *, max_line: int = MAX_SAMPLE_BYTES, chunk_size: int = 1 << 16) -> Iterator[tuple[int, bytes | None]]:
    """(line number from 1, line without its newline) for each non-blank line.

    A line longer than ``max_line`` is yielded as None and its bytes are dropped as
    they arrive, so one huge line never sits in memory.
    """
    buffer = bytearray()
    number = 1
    oversize = False

    def finish() -> bytes | None:
        line = bytes(buffer).rstrip(b"\r")
        if oversize or len(line) > max_line:
            return None
        return line if line.strip() else b""

    while chunk := stream.read(chunk_size):
        start = 0
        while True:
            newline = chunk.find(b"\n", start)
            end = len(chunk) if newline < 0 else newline
            if not oversize:
                buffer += chunk[start:end]
                if len(buffer) > max_line + 1:  # +1: a trailing "\r" is not content
                    oversize = True
                    buffer.clear()
            if newline < 0:
                break
            line = finish()
            if line != b"":
                yield number, line
            buffer.clear()
            oversize = False
            number += 1
            start = newline + 1
    line = finish()
    if line != b"":
        yield number, line
