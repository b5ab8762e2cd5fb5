"""The Celery application. Configuration comes from Django settings (CELERY_*)."""

import os

from celery import Celery

from shieldx import celery_metrics

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shieldx.settings")

app = Celery("shieldx")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
celery_metrics.connect(app)
