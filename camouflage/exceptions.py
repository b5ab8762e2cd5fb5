"""Camouflage's domain errors: each a stable code and an HTTP status (CONTRACT §1, §5)."""

from __future__ import annotations

from shieldx.errors import ApplicationError, InvalidRequest, NotFound


class DecryptionFailed(ApplicationError):
    """Every decryption failure looks the same (no cause, no details): no oracle."""

    code = "decryption_failed"
    http_status = 400
    default_message = "Decryption failed."


class TokenNotFound(NotFound):
    default_message = "Token not found."


class TenantRequired(InvalidRequest):
    default_message = "Operator keys must name the tenant: tenant_id is required."

    def __init__(self) -> None:
        super().__init__(details={"field": "tenant_id"})


class FieldNameHoldsPII(InvalidRequest):
    default_message = "Field names must not hold card numbers, SSNs, emails or IBANs."

    def __init__(self) -> None:
        super().__init__(details={"field": "fields"})
