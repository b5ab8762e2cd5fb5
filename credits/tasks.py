"""Beat tasks: release expired holds, expire grants (and announce those about to expire),
deliver due webhook events, forget idempotency records after 24 h, verify the audit chains
(the figures feed the audit-chain alert). And the one queued task: deliver an event."""

import logging
import time

from celery import shared_task

from credits import idempotency, metrics, outbox, selectors, services

logger = logging.getLogger(__name__)


@shared_task(name="credits.expire_holds")
def expire_holds() -> int:
    return services.holds_expire_all_due()


@shared_task(name="credits.expire_grants")
def expire_grants() -> int:
    """Expire what is due; announce (grant.expiring) what expires within 24 h."""
    expired = services.grants_expire_all_due()
    services.grants_warn_expiring()
    return expired


@shared_task(name="credits.deliver_event")
def deliver_event(event_id: str) -> str | None:
    return outbox.deliver(event_id=event_id)


@shared_task(name="credits.deliver_due_events")
def deliver_due_events() -> int:
    """Queue each pending event whose attempt is due: retries, and events whose queueing
    after commit was lost. Queued twice is harmless: ``outbox.deliver`` skips an event
    that another worker holds or that is no longer due."""
    due = outbox.due()
    for event_id in due:
        deliver_event.delay(event_id)
    return len(due)


@shared_task(name="credits.purge_idempotency_records")
def purge_idempotency_records() -> int:
    return idempotency.purge_expired()


@shared_task(name="credits.verify_audit_chains")
def verify_audit_chains() -> dict:
    broken = []
    for tenant_id in selectors.tenants_with_accounts():
        report = selectors.verify_chain(tenant_id=tenant_id)
        if not report["valid"]:
            broken.append({"tenant_id": tenant_id, "broken_at_seq": report["broken_at_seq"]})
            logger.error("audit chain broken", extra={"tenant_id": tenant_id, "broken_at_seq": report["broken_at_seq"]})
    metrics.record_audit_verification(broken=len(broken), checked_at=time.time())
    return {"broken": broken}
