#!/usr/bin/env bash
# Serve the API with gunicorn on HOST:PORT (default 127.0.0.1:8000), plus a Celery worker
# and beat when REDIS_URL is set (without it, tasks run in-process), then print a fresh
# demo key. Ctrl-C stops everything.
#
# The demo key is rotated only once this server holds its port: a second `make run` on a
# busy port stops before touching anything, so the running server's key keeps working.
set -euo pipefail
cd "$(dirname "$0")/.."
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
PY=.venv/bin/python

port_taken() {
  "$PY" - "$HOST" "$PORT" <<'PYEOF'
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds
    try:
        s.bind((host, port))
    except OSError:
        sys.exit(0)
sys.exit(1)
PYEOF
}

busy() {
  echo "make run: $HOST:$PORT is already in use (another \`make run\`?)." >&2
  echo "  Nothing was changed: a server already running there keeps its demo key." >&2
  echo "  Pick another port:  make run PORT=8001   (or stop the other server)" >&2
  exit 1
}

port_taken && busy

export PROMETHEUS_MULTIPROC_DIR=${PROMETHEUS_MULTIPROC_DIR:-$PWD/var/prometheus}
rm -rf "$PROMETHEUS_MULTIPROC_DIR" && mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
ready_file=$(mktemp "${TMPDIR:-/tmp}/shieldx-serve.XXXXXX")
rm -f "$ready_file"

pids=()
trap 'rm -f "$ready_file"; kill "${pids[@]}" 2>/dev/null || true' EXIT INT TERM
SHIELDX_SERVE_READY_FILE=$ready_file .venv/bin/gunicorn shieldx.wsgi --config gunicorn.conf.py --bind "$HOST:$PORT" &
gunicorn_pid=$!
pids+=("$gunicorn_pid")
# gunicorn.conf.py's when_ready hook creates the file once the port is bound.
until [ -e "$ready_file" ]; do
  kill -0 "$gunicorn_pid" 2>/dev/null || busy  # it could not bind (someone took the port meanwhile)
  sleep 0.1
done
if [ -n "${REDIS_URL:-}" ]; then
  .venv/bin/celery -A shieldx worker --beat --loglevel INFO --concurrency 2 &
  pids+=($!)
fi

case "$HOST" in 0.0.0.0 | "::" | "[::]") url_host=127.0.0.1 ;; *:*) url_host="[$HOST]" ;; *) url_host=$HOST ;; esac
"$PY" manage.py demo_setup --base-url "http://$url_host:$PORT"
wait -n
