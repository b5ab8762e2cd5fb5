"""Settings from the environment: production refuses weak secrets; the embedded default runs."""

from __future__ import annotations

import base64
import json
import secrets

from django.conf import settings

PRODUCTION_ENV = {
    "SHIELDX_ENV": "production",
    "SHIELDX_KEYRING": "1:" + base64.b64encode(secrets.token_bytes(32)).decode(),
    "ALLOWED_HOSTS": "api.shieldx.example",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
    "REDIS_URL": settings.TEST_REDIS_AUX_URL,
}


def test_production_without_a_secret_key_refuses_to_start(run_django):
    result = run_django("", env=PRODUCTION_ENV, args=["manage.py", "check"])
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr and "at least 50 characters" in result.stderr


def test_production_with_a_weak_secret_key_refuses_to_start(run_django):
    result = run_django("", env={**PRODUCTION_ENV, "SECRET_KEY": "short"}, args=["manage.py", "check"])
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr
    assert "short" not in result.stderr  # the secret itself is never echoed


def test_production_reads_the_secret_from_a_file_and_passes_check_deploy(run_django, tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text(secrets.token_urlsafe(64))
    env = {**PRODUCTION_ENV, "SECRET_KEY_FILE": str(secret_file)}
    result = run_django("", env=env, args=["manage.py", "check", "--deploy", "--fail-level", "WARNING"])
    assert result.returncode == 0, result.stdout + result.stderr


def test_bad_values_fail_fast_naming_the_variable(run_django):
    result = run_django("", env={"SHIELDX_RATE_LIMIT": "lots"}, args=["manage.py", "check"])
    assert result.returncode != 0 and "SHIELDX_RATE_LIMIT" in result.stderr


EMBEDDED_SMOKE = """
import django, json
django.setup()
from django.core.management import call_command
from django.test import Client
from django.conf import settings
import io
call_command("migrate", verbosity=0)
call_command("create_tenant", "org-smoke", credits=10)
out = io.StringIO()
call_command("create_api_key", "org-smoke", scopes="credits:read,credits:consume", stdout=out)
key = out.getvalue().strip().splitlines()[-1]
client = Client(HTTP_AUTHORIZATION="Bearer " + key)
consume = client.post("/credits/consume", {"tenant_id": "org-smoke", "amount": 4}, content_type="application/json")
balance = client.get("/credits/balance/org-smoke")
print(json.dumps({"engine": settings.DATABASE_ENGINE, "cache": settings.CACHES["default"]["BACKEND"],
                  "eager": settings.CELERY_TASK_ALWAYS_EAGER, "consume": consume.status_code, "balance": balance.json(),
                  "ready": Client().get("/ready").status_code}))
"""


def test_embedded_default_runs_on_sqlite_with_nothing_configured(run_django, tmp_path):
    result = run_django(EMBEDDED_SMOKE, env={"SHIELDX_VAR_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr[-3000:]
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["engine"] == "sqlite"
    assert answer["cache"].endswith("LocMemCache")
    assert answer["eager"] is True
    assert answer["consume"] == 200
    assert answer["balance"]["balance"] == 6
    assert answer["ready"] == 200
    assert (tmp_path / "shieldx.sqlite3").exists()
