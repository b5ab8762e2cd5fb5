"""Formatting for the console's templates. Filters format figures they are given;
none computes one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import template

register = template.Library()


@register.filter
def exact(value: Any) -> str:
    """The value as the API's JSON has it (shortest round-trip float), for ``data-value``."""
    return repr(value) if isinstance(value, float) else str(value)


@register.filter
def ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


@register.filter
def pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.2f}%"


@register.filter
def num(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


@register.filter
def when(value: str | datetime | None) -> str:
    if not value:
        return "—"
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


@register.filter
def get(mapping: dict, key: Any) -> Any:
    return mapping.get(key) if mapping else None
