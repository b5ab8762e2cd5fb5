#!/usr/bin/env bash
# Serve the API with gunicorn on HOST:PORT, plus a Celery worker and beat when REDIS_URL
# is set (without it, tasks run in-process). Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
export PROMETHEUS_MULTIPROC_DIR=${PROMETHEUS_MULTIPROC_DIR:-$PWD/var/prometheus}
rm -rf "$PROMETHEUS_MULTIPROC_DIR" && mkdir -p "$PROMETHEUS_MULTIPROC_DIR"

pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT INT TERM
if [ -n "${REDIS_URL:-}" ]; then
  .venv/bin/celery -A shieldx worker --beat --loglevel INFO --concurrency 2 &
  pids+=($!)
fi
.venv/bin/gunicorn shieldx.wsgi --config gunicorn.conf.py --bind "$HOST:$PORT" &
pids+=($!)
wait -n
