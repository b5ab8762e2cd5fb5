"""The log filter in the processes that do not log through Django's request cycle:
gunicorn's master (and a worker before Django is set up) and a real Celery worker."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from celery import Celery
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CARD, SSN, EMAIL = "4111111111111111", "123-45-6789", "leaky.person@example.org"


def _env(**extra: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR"}}
    return {**keep, "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "shieldx.settings", "LOG_LEVEL": "INFO", **extra}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_gunicorn_master_and_booting_worker_log_json_through_the_pii_filter():
    # A worker whose app module is named like a card number fails to boot: the worker logs
    # the import error (before Django exists) and the master logs the failure, both with
    # the configuration gunicorn.conf.py gives the master.
    command = [str(BIN / "gunicorn"), f"{CARD}:application", "--config", str(ROOT / "gunicorn.conf.py"),
               "--bind", f"127.0.0.1:{_free_port()}", "--workers", "1"]
    result = subprocess.run(command, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=60)

    output = result.stdout + result.stderr
    lines = _json_lines(result.stdout)
    assert result.returncode != 0
    assert CARD not in output
    assert {line["logger"] for line in lines} == {"gunicorn.error"}
    messages = " ".join(line["message"] + line.get("exception", "") for line in lines)
    assert "Starting gunicorn" in messages and "Booting worker" in messages  # the master's own lines
    assert "No module named '************1111'" in messages  # the worker's, masked


@pytest.fixture
def celery_worker_output(tmp_path):
    queue = f"camouflage-test-{uuid.uuid4().hex[:8]}"
    out = tmp_path / "worker.log"
    # The worker needs a broker only; the database setting just has to be the test run's own.
    env = _env(REDIS_URL=settings.REDIS_URL, CELERY_TASK_ALWAYS_EAGER="0", **{k: os.environ[k] for k in ("DATABASE_URL",) if k in os.environ})
    with out.open("w") as sink:
        worker = subprocess.Popen(
            [str(BIN / "celery"), "-A", "shieldx", "worker", "--pool", "solo", "--loglevel", "INFO", "--without-mingle",
             "--without-gossip", "--include", "camouflage.tests.leaky_tasks", "-Q", queue, "-n", f"{queue}@localhost"],
            cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT,
        )
    try:
        yield queue, out, worker
    finally:
        worker.kill()  # its one task is done; a warm shutdown only costs time
        worker.wait(timeout=20)


def _wait_for(path: Path, text: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        content = path.read_text()
        if text in content:
            return content
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never appeared in:\n{path.read_text()[-3000:]}")


def test_a_celery_task_log_line_and_its_failure_are_masked(celery_worker_output):
    queue, out, worker = celery_worker_output
    _wait_for(out, "ready.")

    probe = Celery("probe", broker=settings.CELERY_BROKER_URL)
    try:
        probe.send_task("camouflage_tests.leak", args=[CARD, SSN, EMAIL], queue=queue)
    finally:
        probe.close()
    output = _wait_for(out, "raised unexpected")

    for secret in (CARD, SSN, EMAIL, "leaky.person"):
        assert secret not in output
    lines = _json_lines(output)
    task_line = next(line for line in lines if line["message"].startswith("task logger:"))
    assert task_line["message"] == "task logger: card ************1111 ssn ***-**-**** email le***@example.org"
    assert any(line["message"].startswith("module logger: card ****") for line in lines)
    failure = next(line for line in lines if "raised unexpected" in line["message"])
    assert failure["logger"] == "celery.app.trace" and "ValueError" in failure["exception"]
