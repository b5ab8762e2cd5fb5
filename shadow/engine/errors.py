"""The one error the engine raises for a rule it cannot compile."""

from __future__ import annotations

from typing import Any


class RuleError(Exception):
    """A rule configuration that is invalid or uses something unsupported.

    ``message`` is for humans and names exactly what is wrong; ``details`` is
    JSON-serialisable context (rule id, line, operator, RE2's reason...) that
    the API layer returns with its ``400 invalid_request``.
    """

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = dict(details or {})

    def __str__(self) -> str:
        return self.message
