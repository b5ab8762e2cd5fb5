"""gunicorn for production: sync workers (2 x cores + 1 measured best on 2 cores; gthread
tripled p99), graceful restarts, Prometheus multiprocess bookkeeping."""

import multiprocessing
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the project, whatever the working directory

from shieldx.logs import settings_logging  # noqa: E402

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
worker_class = "sync"
# POST /shadow/evaluate waits at most SHADOW_MAX_WAIT_SECONDS (60) for a result: roles
# serving shadow must not kill such a worker as hung. Everything else answers in milliseconds.
_serves_shadow = os.environ.get("SHIELDX_ROLE", "all") in ("all", "shadow")
_max_wait = int(os.environ.get("SHADOW_MAX_WAIT_SECONDS") or 60)
timeout = int(os.environ.get("GUNICORN_TIMEOUT", str(_max_wait + 30) if _serves_shadow else "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = 5
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "10000"))
max_requests_jitter = 1000
accesslog = None  # request logs come from the app, as JSON with the request id
errorlog = "-"
# The master logs too (worker boots and deaths, request-line errors before Django sees
# them): the same JSON handler and PII filter as the app, from settings.LOGGING; its
# LOG_LEVEL governs gunicorn.error, not --log-level.
logconfig_dict = settings_logging()
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
worker_tmp_dir = os.environ.get("GUNICORN_WORKER_TMP_DIR") or None


def on_starting(server):
    # Workers size their share of waiting slots (SHADOW_WAIT_SLOTS) by the pool they are
    # in; the command line's --workers is only known here, after the config file ran.
    os.environ["SHIELDX_WEB_WORKERS"] = str(server.cfg.workers)


def child_exit(server, worker):
    # A dead worker's gauges must not linger in the multiprocess files.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def when_ready(server):
    # scripts/serve.sh (make run) rotates the demo key only once this server holds its
    # port, so a second `make run` on a busy port never revokes the running one's key.
    ready_file = os.environ.get("SHIELDX_SERVE_READY_FILE")
    if ready_file:
        Path(ready_file).touch()
