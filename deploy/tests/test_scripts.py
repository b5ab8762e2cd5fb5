"""The operations scripts (scripts/deploy.sh, backup.sh, restore.sh, rollback.sh), the
container entry point and its health check, run against stand-ins for helm, kubectl,
pg_dump and pg_restore that record every call: no cluster, no database touched."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from shieldx.testing import free_port

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ["deploy.sh", "backup.sh", "restore.sh", "rollback.sh"]
SECRET = "s3cret-password"

STUBS = {
    "helm": r"""
case "$1" in
  status)
    [ "${STUB_HELM_STATUS:-deployed}" = none ] && exit 1
    printf 'NAME: shieldx\nSTATUS: %s\nREVISION: 7\n' "${STUB_HELM_STATUS:-deployed}" ;;
  history) printf 'REVISION\tUPDATED\tSTATUS\tCHART\n7\tnow\tdeployed\tshieldx-0.1.0\n' ;;
  upgrade) exit "${STUB_UPGRADE_RC:-0}" ;;
esac
""",
    "kubectl": r"""
case "$*" in
  *"get namespace"*"jsonpath"*) printf restricted ;;
  *"get deployment"*"component=credits"*) echo deployment.apps/shieldx-credits ;;
  *"get deployment"*"component=shadow"*) echo deployment.apps/shieldx-shadow ;;
  *"get deployment"*"component="*) ;;
  *"get deployment"*"jsonpath"*) printf 'shieldx-credits=3\nshieldx-worker=2\n' ;;
  *" exec "*) exit "${STUB_EXEC_RC:-0}" ;;
esac
""",
    "pg_dump": r"""
while [ "$#" -gt 0 ]; do [ "$1" = --file ] && printf 'PGDMP' >"$2"; shift; done
""",
    "pg_restore": r"""
[ "$1" = --list ] && printf ';\n; Archive\n1; 1259 16385 TABLE public credits_account shieldx\n'
exit 0
""",
}


@pytest.fixture
def sandbox(tmp_path):
    """A PATH whose helm/kubectl/pg_* record their arguments in calls.log."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    for name, body in STUBS.items():
        stub = bin_dir / name
        stub.write_text(f'#!/usr/bin/env bash\nprintf "%s\\n" "{name} $*" >>"{log}"\n{body}')
        stub.chmod(0o755)

    def run(script: str, *args: str, **env: str) -> subprocess.CompletedProcess:
        full_env = {
            "PATH": f"{bin_dir}:/usr/bin:/bin",
            "HOME": str(tmp_path),
            "DATABASE_URL": f"postgres://shieldx:{SECRET}@db.internal:5432/shieldx",
            "SMOKE_TEST_INTERVAL": "0",
            **env,
        }
        return subprocess.run([str(ROOT / "scripts" / script), *args], cwd=tmp_path, env=full_env, capture_output=True, text=True, timeout=60)

    run.calls = lambda: log.read_text().splitlines() if log.exists() else []
    run.dir = tmp_path
    return run


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_explains_the_script_and_exits_0(sandbox, script):
    result = sandbox(script, "--help")
    assert result.returncode == 0
    assert result.stdout.startswith(f"Usage: scripts/{script}")
    assert "--dry-run" in result.stdout
    assert sandbox.calls() == []


@pytest.mark.parametrize("script", SCRIPTS)
def test_an_unknown_option_is_refused(sandbox, script):
    result = sandbox(script, "--frobnicate")
    assert result.returncode != 0
    assert "unknown option: --frobnicate" in result.stderr


@pytest.mark.parametrize(
    "script, args, expected",
    [
        ("deploy.sh", ["--image-tag", "1.2.3"], ["pg_dump --format=custom", "helm upgrade --install shieldx", "--atomic", "--set image.tag=1.2.3", "healthcheck.py /ready"]),
        ("backup.sh", ["--label", "weekly"], ["pg_dump --format=custom", "pg_restore --list backups/shieldx-weekly-"]),
        ("restore.sh", ["--file", "backups/x.dump", "--release", "shieldx"], ["scale deployment", "pg_restore --clean", "verify_audit_chain"]),
        ("rollback.sh", ["--revision", "4"], ["helm rollback shieldx 4", "healthcheck.py /ready"]),
    ],
)
def test_dry_run_prints_the_plan_and_runs_nothing(sandbox, script, args, expected):
    result = sandbox(script, "--dry-run", *args)
    assert result.returncode == 0, result.stderr
    for text in expected:
        assert text in result.stdout, text
    assert sandbox.calls() == [], "a dry run must not call helm, kubectl or pg_*"
    assert SECRET not in result.stdout + result.stderr
    assert "dry run: nothing was changed" in result.stderr


def test_deploy_backs_up_before_upgrading_and_smoke_tests_every_web_role(sandbox):
    result = sandbox("deploy.sh", "--image-tag", "1.2.3")
    assert result.returncode == 0, result.stderr
    calls = sandbox.calls()
    dump = next(i for i, call in enumerate(calls) if call.startswith("pg_dump"))
    upgrade = next(i for i, call in enumerate(calls) if call.startswith("helm upgrade"))
    assert dump < upgrade
    assert "--atomic" in calls[upgrade] and "--wait" in calls[upgrade]
    smoke = [call for call in calls if " exec " in call]
    assert [call.split()[4] for call in smoke] == ["deployment.apps/shieldx-credits", "deployment.apps/shieldx-shadow"]
    assert not any(call.startswith("helm rollback") for call in calls)
    backups = list((sandbox.dir / "backups").glob("shieldx-pre-shieldx-*.dump"))
    assert len(backups) == 1 and Path(f"{backups[0]}.sha256").exists()
    assert SECRET not in result.stdout + result.stderr


def test_deploy_rolls_back_to_the_previous_revision_when_the_smoke_test_fails(sandbox):
    result = sandbox("deploy.sh", STUB_EXEC_RC="1")
    assert result.returncode == 1
    calls = sandbox.calls()
    rollback = [call for call in calls if call.startswith("helm rollback")]
    assert rollback and rollback[0].startswith("helm rollback shieldx 7 ")
    assert calls.index(rollback[0]) > next(i for i, call in enumerate(calls) if call.startswith("helm upgrade"))
    assert "scripts/restore.sh --file backups/shieldx-pre-shieldx-" in result.stderr


def test_deploy_refuses_while_another_helm_operation_is_pending(sandbox):
    result = sandbox("deploy.sh", STUB_HELM_STATUS="pending-upgrade")
    assert result.returncode != 0
    assert "pending-upgrade" in result.stderr
    assert not any(call.startswith(("pg_dump", "helm upgrade")) for call in sandbox.calls())


def test_deploy_without_a_database_url_stops_before_changing_anything(sandbox):
    result = sandbox("deploy.sh", DATABASE_URL="")
    assert result.returncode != 0
    assert "DATABASE_URL" in result.stderr
    assert not any(call.startswith("helm upgrade") for call in sandbox.calls())


def test_a_first_install_that_fails_its_smoke_test_has_nothing_to_roll_back(sandbox):
    result = sandbox("deploy.sh", STUB_HELM_STATUS="none", STUB_EXEC_RC="1")
    assert result.returncode == 1
    assert "first install" in result.stderr
    assert not any(call.startswith("helm rollback") for call in sandbox.calls())


def test_restore_wants_confirmation(sandbox):
    dump = sandbox.dir / "x.dump"
    dump.write_text("PGDMP")
    result = sandbox("restore.sh", "--file", str(dump))
    assert result.returncode != 0 and "--yes" in result.stderr
    assert sandbox.calls() == []


def test_restore_refuses_a_dump_that_does_not_match_its_checksum(sandbox):
    dump = sandbox.dir / "x.dump"
    dump.write_text("PGDMP")
    (sandbox.dir / "x.dump.sha256").write_text("0" * 64 + "  x.dump\n")
    result = sandbox("restore.sh", "--file", str(dump), "--yes")
    assert result.returncode != 0 and "does not match" in result.stderr
    assert not any(call.startswith("pg_restore") for call in sandbox.calls())


def test_restore_stops_the_release_restores_restarts_and_verifies_the_audit_chains(sandbox):
    backup = sandbox("backup.sh", "--label", "t")
    assert backup.returncode == 0, backup.stderr
    dump = backup.stdout.strip().splitlines()[-1]
    result = sandbox("restore.sh", "--file", dump, "--yes", "--release", "shieldx")
    assert result.returncode == 0, result.stderr
    calls = sandbox.calls()
    order = [
        next(i for i, c in enumerate(calls) if "--replicas 0" in c),
        next(i for i, c in enumerate(calls) if c.startswith("pg_restore --clean")),
        next(i for i, c in enumerate(calls) if "scale deployment shieldx-credits --replicas 3" in c),
        next(i for i, c in enumerate(calls) if "verify_audit_chain" in c),
    ]
    assert order == sorted(order)
    assert "--single-transaction" in calls[order[1]]


@pytest.mark.parametrize(
    "role, expected",
    [
        ("credits", "gunicorn shieldx.wsgi --config {root}/gunicorn.conf.py --bind 0.0.0.0:5004"),
        ("shadow", "--bind 0.0.0.0:5005"),
        ("camouflage", "--bind 0.0.0.0:8089"),
        ("all", "--bind 0.0.0.0:8000"),
        ("worker", "celery -A shieldx worker"),
        ("beat", "celery -A shieldx beat"),
    ],
)
def test_the_entrypoint_picks_the_command_and_seed_port_by_role(role, expected):
    env = {"PATH": os.environ["PATH"], "SHIELDX_ROLE": role, "SHIELDX_ENV": "development", "SHIELDX_ENTRYPOINT_DRY_RUN": "1"}
    result = subprocess.run([str(ROOT / "deploy" / "docker" / "entrypoint.sh")], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert expected.format(root=ROOT) in result.stdout


@pytest.mark.parametrize(
    "extra, queues",
    [({}, "--queues celery "), ({"SHADOW_CELERY_QUEUE": "shadow"}, "--queues celery,shadow "), ({"CELERY_QUEUES": "bulk"}, "--queues bulk ")],
)
def test_the_worker_consumes_the_default_queue_and_shadows(extra, queues):
    env = {"PATH": os.environ["PATH"], "SHIELDX_ROLE": "worker", "SHIELDX_ENV": "development", "SHIELDX_ENTRYPOINT_DRY_RUN": "1", **extra}
    result = subprocess.run([str(ROOT / "deploy" / "docker" / "entrypoint.sh")], env=env, capture_output=True, text=True, timeout=30)
    assert queues in result.stdout


def test_the_entrypoint_refuses_production_without_database_or_secret():
    env = {"PATH": os.environ["PATH"], "SHIELDX_ROLE": "credits", "SHIELDX_ENV": "production", "SHIELDX_ENTRYPOINT_DRY_RUN": "1"}
    result = subprocess.run([str(ROOT / "deploy" / "docker" / "entrypoint.sh")], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert "DATABASE_URL (or DATABASE_URL_FILE) must be set in production" in result.stderr
    env["SHIELDX_ROLE"] = "bogus"
    env["SHIELDX_ENV"] = "development"
    result = subprocess.run([str(ROOT / "deploy" / "docker" / "entrypoint.sh")], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode != 0 and "SHIELDX_ROLE must be one of" in result.stderr


@pytest.mark.parametrize("answer, path, expected_rc", [(200, "/ready", 0), (503, "/ready", 1), (200, "/health", 0), (200, "/elsewhere", 2)])
def test_the_healthcheck_asks_its_role_port_with_an_allowed_host(answer, path, expected_rc):
    seen: list[tuple[str, str]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server API
            seen.append((self.path, self.headers["Host"]))
            self.send_response(answer)
            self.end_headers()

        def log_message(self, *args):
            pass

    port = free_port()
    server = http.server.HTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        env = {"PATH": os.environ["PATH"], "SHIELDX_ROLE": "shadow", "SHIELDX_PORT": str(port), "ALLOWED_HOSTS": "*.example.com,.shieldx.example,10.0.0.7"}
        result = subprocess.run([sys.executable, str(ROOT / "deploy" / "docker" / "healthcheck.py"), path], env=env, capture_output=True, text=True, timeout=30)
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == expected_rc, result.stderr
    if expected_rc != 2:
        assert seen == [(path, "shieldx.example")]
