"""Credits' domain errors: each a stable code and an HTTP status (CONTRACT §1, §3)."""

from shieldx.errors import ApplicationError, Conflict, InvalidRequest, NotFound


class InsufficientFunds(ApplicationError):
    code = "insufficient_funds"
    http_status = 402
    default_message = "Not enough available credits."


class AccountNotFound(NotFound):
    default_message = "Tenant not found."


class TransactionNotFound(NotFound):
    default_message = "Transaction not found."


class ReservationNotFound(NotFound):
    default_message = "Reservation not found."


class ReservationNotPending(Conflict):
    default_message = "The reservation is not pending."


class RefundExceedsConsume(Conflict):
    default_message = "Refunds would exceed the refunded transaction's amount."


class CaptureExceedsReservation(InvalidRequest):
    default_message = "The capture amount exceeds the reserved amount."


class IdempotencyKeyInUse(Conflict):
    code = "idempotency_key_in_use"
    default_message = "A request with this idempotency key is still being processed; retry shortly."


class IdempotencyKeyReused(ApplicationError):
    code = "idempotency_key_reused"
    http_status = 422
    default_message = "This idempotency key was used with a different request."


class FigureOutOfRange(Conflict):
    default_message = "The change would take a stored figure beyond its range; nothing changed."


class GrantAlreadyExpired(InvalidRequest):
    default_message = "expires_at must be in the future."


class OperationForbidden(ApplicationError):
    code = "forbidden"
    http_status = 403
    default_message = "This API key lacks the scope an operation needs."


class EventNotFound(NotFound):
    default_message = "Event not found."


class EventNotRetryable(Conflict):
    default_message = "Only pending or failed events can be retried."


class WebhookUrlRefused(InvalidRequest):
    default_message = "The webhook URL cannot be used."
