#!/usr/bin/env bash
# Schemathesis against a live server: every operation of /api/schema, every check, a
# bounded number of examples generated deterministically (the same cases on every run),
# within a time budget (CI, after `make test`).
#
#   1. tools: schemathesis in its own venv .venv-schemathesis (pinned, hashed:
#      scripts/schemathesis-requirements.txt), installed once, reused while the pins hold
#   2. a throw-away PostgreSQL database (migrated), a tenant with credits and an all-scopes
#      key for it; the app under gunicorn on a free loopback port, no Redis (tasks in-process)
#   3. `st run` with schemathesis.toml (the checks the contract makes unknowable, each
#      with its reason), then the server stopped and the database dropped, whatever happened
#
# Exits non-zero when schemathesis reports a failure or the run exceeds its budget.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
venv=${SCHEMATHESIS_VENV:-$root/.venv-schemathesis}
python=${PYTHON:-python3.11}
command -v "$python" >/dev/null 2>&1 || python=python3
PY=$root/.venv/bin/python
PG=${SCHEMATHESIS_PG:-postgres://postgres@127.0.0.1:5432}
budget=${SCHEMATHESIS_BUDGET:-120}          # seconds for `st run` (the issue's bound)
examples=${SCHEMATHESIS_EXAMPLES:-20}

# --- 1. tools ------------------------------------------------------------------------
reqs=$root/scripts/schemathesis-requirements.txt
if [ -f "$reqs" ] && ! cmp -s "$reqs" "$venv/.installed" 2>/dev/null; then
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install --quiet --require-hashes --no-deps -r "$reqs"
  cp "$reqs" "$venv/.installed"
fi

# --- 2. database, tenant, server ---------------------------------------------------------
db=schemathesis_$$_$(date +%s)
port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
work=$(mktemp -d "${TMPDIR:-/tmp}/shieldx-schemathesis.XXXXXX")
server_pid=""
# shellcheck disable=SC2317  # called by the trap below
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

export DATABASE_URL=$PG/$db
export DJANGO_SETTINGS_MODULE=shieldx.settings
export SHIELDX_VAR_DIR=$work/var
export SHIELDX_RATE_LIMIT=0                 # thousands of requests from one key in 2 minutes
export PROMETHEUS_MULTIPROC_DIR=$work/prometheus
export LOG_LEVEL=WARNING
unset REDIS_URL                             # cache in memory, tasks in-process: nothing shared
mkdir -p "$SHIELDX_VAR_DIR" "$PROMETHEUS_MULTIPROC_DIR"

psql "$PG/postgres" -qc "CREATE DATABASE $db" >/dev/null
"$PY" manage.py migrate -v0
"$PY" manage.py create_tenant org-schemathesis --credits 1000000000 >/dev/null
key=$("$PY" manage.py create_api_key org-schemathesis --scopes '*' 2>/dev/null | tail -n1)

"$root/.venv/bin/gunicorn" shieldx.wsgi --config gunicorn.conf.py --bind "127.0.0.1:$port" --workers 2 \
  --log-level warning >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 150); do
  curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; echo "schemathesis: the server did not start" >&2; exit 1; }
  sleep 0.2
done

# --- 3. schemathesis ------------------------------------------------------------------
export SCHEMATHESIS_API_KEY=$key SCHEMATHESIS_TENANT=org-schemathesis
status=0
# Every check runs (schemathesis 4 enables all of them by default; `--checks all` on the
# command line would also re-enable the per-operation exclusions of schemathesis.toml).
timeout --signal=INT "$budget" "$venv/bin/st" --config-file "$root/schemathesis.toml" run \
  "http://127.0.0.1:$port/api/schema" \
  --max-examples "$examples" --generation-deterministic \
  --no-color || status=$?
if [ "$status" = 124 ]; then
  echo "schemathesis: over the ${budget}s budget" >&2
fi
if [ "$status" != 0 ] && grep -q " 500 \| 50[0-9] " "$work/server.log"; then
  tail -n 50 "$work/server.log" >&2
fi
exit "$status"
