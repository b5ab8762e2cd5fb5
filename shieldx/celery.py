"""The Celery application. Configuration comes from Django settings (CELERY_*)."""

import os
import resource

from celery import Celery
from celery.signals import worker_process_init

from shieldx import celery_metrics

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shieldx.settings")

app = Celery("shieldx")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
celery_metrics.connect(app)


@worker_process_init.connect(weak=False, dispatch_uid="shieldx.celery.memory_limit")
def _cap_child_memory(**kwargs) -> None:
    """One task must not take the whole pod: past the cap an allocation raises MemoryError
    in that task (which fails with a reason) instead of the kernel OOM-killing every child.
    worker_max_memory_per_child only acts between tasks."""
    from django.conf import settings

    limit_mb = settings.SHIELDX_WORKER_MEMORY_LIMIT_MB
    if limit_mb:
        limit = limit_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
