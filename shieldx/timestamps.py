"""RFC 3339 timestamps as every API answer writes them (CONTRACT §1)."""

from __future__ import annotations

from datetime import UTC, datetime


def rfc3339(moment: datetime) -> str:
    """UTC with microseconds and a `Z`: `0621-02-12T08:00:00.000000Z`.

    Not `strftime("%Y")`: glibc writes years before 1000 without zero padding (`621-…`),
    which is not RFC 3339; `isoformat()` always writes four digits."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
