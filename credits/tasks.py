"""Beat tasks: release expired holds, expire grants, forget idempotency records after 24 h, verify the
audit chains (the figures feed the audit-chain alert)."""

import logging
import time

from celery import shared_task

from credits import idempotency, metrics, selectors, services

logger = logging.getLogger(__name__)


@shared_task(name="credits.expire_holds")
def expire_holds() -> int:
    return services.holds_expire_all_due()


@shared_task(name="credits.expire_grants")
def expire_grants() -> int:
    return services.grants_expire_all_due()


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
