"""The keyring from the environment: the system check, the dev fallback, `manage.py keyring`."""

from __future__ import annotations

import io
import re

import pytest
from django.conf import settings
from django.core.management import call_command

from camouflage import keyring
from camouflage.checks import keyring_check
from camouflage.envelope import parse_keyring
from camouflage.tests.conftest import KEY_1, KEY_2

PRODUCTION_ENV = {
    "SHIELDX_ENV": "production",
    "ALLOWED_HOSTS": "api.shieldx.example",
    "SECRET_KEY": "x" * 20 + "0123456789abcdefghijklmnopqrstuvwxyz",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
    "REDIS_URL": settings.TEST_REDIS_AUX_URL,
}


def ids(messages) -> list[str]:
    return [message.id for message in messages]


def test_no_keyring_in_development_warns_and_uses_a_deterministic_dev_keyring(settings):
    settings.SHIELDX_KEYRING = ""

    assert ids(keyring_check()) == ["camouflage.W001"]
    assert "development keyring" in keyring_check()[0].msg
    first = keyring.envelope().encrypt("x", tenant="acme")
    keyring.reset()
    assert keyring.envelope().decrypt(first, tenant="acme") == "x"  # a restart still decrypts
    assert keyring.crypto().development is True


def test_a_valid_keyring_passes_and_its_highest_version_encrypts(settings):
    settings.SHIELDX_KEYRING = f"1:{KEY_1}, 2:{KEY_2}"
    settings.SHIELDX_KEYRING_MIN_VERSION = 0

    assert keyring_check() == []
    assert keyring.envelope().active_version == 2
    assert keyring.crypto().keyring.decryptable_versions() == (2, 1)


@pytest.mark.parametrize(
    ("spec", "min_version", "says"),
    [
        ("1:not-base64!", 0, "not valid base64"),
        (f"1:{KEY_1[:-8]}", 0, "bytes; expected 32"),
        (f"1:{KEY_1},1:{KEY_2}", 0, "more than once"),
        (f"1:{KEY_1},2:{KEY_1}", 0, "same key"),
        (f"{KEY_1}", 0, "has no ':'"),
        (f"1:{KEY_1}", 2, "minimum decryption version"),
    ],
)
def test_a_malformed_keyring_fails_the_check_without_key_material(settings, spec, min_version, says):
    settings.SHIELDX_KEYRING = spec
    settings.SHIELDX_KEYRING_MIN_VERSION = min_version

    (message,) = keyring_check()

    assert message.id == "camouflage.E001" and says in message.msg
    assert KEY_1[:12] not in message.msg + (message.hint or "")


PRODUCTION_SCRIPT = """
import django
django.setup()
from django.core.management import call_command
from django.core.management.base import SystemCheckError
try:
    call_command("check")
except SystemCheckError as exc:
    print("CHECK FAILED:", " ".join(str(exc).split()))
call_command("keyring", "generate")
"""


def test_production_without_a_keyring_fails_the_check_but_can_generate_one(run_django):
    result = run_django(PRODUCTION_SCRIPT, env=PRODUCTION_ENV)

    assert result.returncode == 0, result.stderr
    failed = next(line for line in result.stdout.splitlines() if line.startswith("CHECK FAILED"))
    assert "camouflage.E002" in failed and "SHIELDX_KEYRING" in failed
    assert result.stdout.splitlines()[-1].startswith("SHIELDX_KEYRING=1:")  # `keyring generate` needs no valid keyring


def test_production_reads_the_keyring_from_a_file(run_django, tmp_path):
    secret = tmp_path / "keyring"
    secret.write_text(f"1:{KEY_1}\n")
    env = {**PRODUCTION_ENV, "SHIELDX_KEYRING_FILE": str(secret), "SHIELDX_KEYRING_MIN_VERSION": "1"}

    result = run_django("", env=env, args=["manage.py", "check"])

    assert result.returncode == 0, result.stderr
    assert "camouflage" not in result.stderr and KEY_1 not in result.stdout + result.stderr


def test_keyring_generate_prints_a_key_and_the_line_to_use(settings):
    settings.SHIELDX_KEYRING = ""
    out, err = io.StringIO(), io.StringIO()

    call_command("keyring", "generate", stdout=out, stderr=err)

    key, line = out.getvalue().splitlines()
    assert line == f"SHIELDX_KEYRING=1:{key}"
    assert parse_keyring(line.split("=", 1)[1]).active_version == 1


def test_keyring_generate_appends_the_next_version_without_printing_existing_keys(settings):
    settings.SHIELDX_KEYRING = f"1:{KEY_1},2:{KEY_2}"
    out, err = io.StringIO(), io.StringIO()

    call_command("keyring", "generate", stdout=out, stderr=err)

    key, line = out.getvalue().splitlines()
    assert re.fullmatch(r'SHIELDX_KEYRING="\$\{SHIELDX_KEYRING\},3:[A-Za-z0-9+/=]{44}"', line) and key in line
    assert KEY_1 not in out.getvalue() + err.getvalue() and KEY_2 not in out.getvalue() + err.getvalue()
    assert "rewrap_tokens" in err.getvalue()


@pytest.mark.django_db
def test_keyring_status_shows_versions_and_the_backlog(settings, client_for):
    settings.SHIELDX_KEYRING = f"1:{KEY_1}"
    client_for.post("/camouflage/tokenize", {"value": "x"}, format="json")
    settings.SHIELDX_KEYRING = f"1:{KEY_1},2:{KEY_2}"
    out = io.StringIO()

    call_command("keyring", "status", stdout=out)

    text = out.getvalue()
    assert "active          2" in text and "tokens v1       1 (to rewrap)" in text
    assert KEY_1 not in text
