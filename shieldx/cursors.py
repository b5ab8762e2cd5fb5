"""Opaque pagination cursors: a tag and non-negative integers, base64url without padding.

Clients treat them as opaque; a cursor that does not decode to what the route expects
is a 400 naming the field.
"""

from __future__ import annotations

import base64

from shieldx.errors import InvalidRequest


def encode(tag: str, *values: int) -> str:
    return base64.urlsafe_b64encode(f"{tag}{':'.join(map(str, values))}".encode()).decode().rstrip("=")


def decode(cursor: str, tag: str, count: int) -> tuple[int, ...]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not raw.startswith(tag):
            raise ValueError
        values = tuple(int(part) for part in raw[len(tag):].split(":"))
        if len(values) != count or min(values) < 0:
            raise ValueError
        return values
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequest("The cursor is not valid.", details={"field": "cursor"}) from None
