"""Beat tasks: release expired holds, forget idempotency records after 24 h."""

from celery import shared_task

from credits import idempotency, services


@shared_task(name="credits.expire_holds")
def expire_holds() -> int:
    return services.expire_due_holds()


@shared_task(name="credits.purge_idempotency_records")
def purge_idempotency_records() -> int:
    return idempotency.purge_expired()
