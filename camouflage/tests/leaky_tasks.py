"""A task that logs and raises with PII, for the real-worker logging test only
(loaded into that worker with `--include`; no production worker imports it)."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.utils.log import get_task_logger

task_logger = get_task_logger(__name__)


@shared_task(name="camouflage_tests.leak")
def leak(card: str, ssn: str, email: str) -> None:
    task_logger.warning("task logger: card %s ssn %s email %s", card, ssn, email)
    logging.getLogger(__name__).warning("module logger: card %s", card)
    raise ValueError(f"refused {card} {ssn} {email}")
