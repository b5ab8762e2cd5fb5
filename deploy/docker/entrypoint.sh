#!/usr/bin/env bash
# Container entry point: one image, several roles (SHIELDX_ROLE).
#   credits | shadow | camouflage | all  -> gunicorn on SHIELDX_PORT (default 5004 | 5005 | 8089 | 8000)
#   worker                               -> celery worker
#   beat                                 -> celery beat (run exactly one)
# With arguments: `migrate` runs the migrations, `manage ARGS` runs manage.py ARGS,
# anything else is executed as given. SHIELDX_ENTRYPOINT_DRY_RUN=1 prints the command
# instead of running it.
set -euo pipefail

role=${SHIELDX_ROLE:-all}
app_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$app_dir"

run() {
  if [ "${SHIELDX_ENTRYPOINT_DRY_RUN:-0}" = 1 ]; then
    printf '%s\n' "$*"
    exit 0
  fi
  exec "$@"
}

default_port() {
  case "$1" in
    credits) echo 5004 ;;
    shadow) echo 5005 ;;
    camouflage) echo 8089 ;;
    *) echo 8000 ;;
  esac
}

fail() { echo "entrypoint: $*" >&2; exit 64; }

# Settings fall back to SQLite and an in-process cache when these are missing, which is
# right for a first try on a laptop and wrong in a container: say so before starting.
require_production_config() {
  [ "${SHIELDX_ENV:-production}" = production ] || return 0
  local name
  for name in DATABASE_URL SECRET_KEY; do
    local file_var="${name}_FILE"
    if [ -z "${!name:-}" ] && [ -z "${!file_var:-}" ]; then
      fail "$name (or ${name}_FILE) must be set in production"
    fi
  done
  if [ -z "${REDIS_URL:-}" ] && [ -z "${REDIS_URL_FILE:-}" ] && [ -z "${CELERY_BROKER_URL:-}" ]; then
    fail "REDIS_URL (or REDIS_URL_FILE) must be set in production"
  fi
}

# Prometheus multiprocess files of an earlier run (a restarted container keeps its
# emptyDir) would be summed with this run's: start from an empty directory.
reset_metrics_dir() {
  local dir=${PROMETHEUS_MULTIPROC_DIR:-}
  [ -n "$dir" ] || return 0
  mkdir -p "$dir"
  find "$dir" -mindepth 1 -maxdepth 1 -name '*.db' -delete
}

if [ "$#" -gt 0 ]; then
  case "$1" in
    migrate)
      shift
      require_production_config
      run python manage.py migrate --no-input "$@"
      ;;
    manage)
      shift
      run python manage.py "$@"
      ;;
    *)
      run "$@"
      ;;
  esac
fi

require_production_config
[ "${SHIELDX_ENTRYPOINT_DRY_RUN:-0}" = 1 ] || reset_metrics_dir

case "$role" in
  credits | shadow | camouflage | all)
    port=${SHIELDX_PORT:-$(default_port "$role")}
    run gunicorn shieldx.wsgi --config "$app_dir/gunicorn.conf.py" --bind "0.0.0.0:${port}"
    ;;
  worker)
    # The default queue, plus shadow's when SHADOW_CELERY_QUEUE moves it elsewhere.
    queues=${CELERY_QUEUES:-celery}
    if [ -z "${CELERY_QUEUES:-}" ] && [ -n "${SHADOW_CELERY_QUEUE:-}" ] && [ "$SHADOW_CELERY_QUEUE" != celery ]; then
      queues="celery,$SHADOW_CELERY_QUEUE"
    fi
    run celery -A shieldx worker \
      --loglevel "${LOG_LEVEL:-INFO}" \
      --concurrency "${CELERY_CONCURRENCY:-2}" \
      --hostname "worker@${HOSTNAME:-shieldx}" \
      --queues "$queues" \
      --without-gossip --without-mingle
    ;;
  beat)
    # The schedule file must live on a writable volume; /tmp is one.
    run celery -A shieldx beat \
      --loglevel "${LOG_LEVEL:-INFO}" \
      --schedule "${CELERY_BEAT_SCHEDULE_FILE:-/tmp/celerybeat-schedule}" \
      --pidfile "${CELERY_BEAT_PIDFILE:-/tmp/celerybeat.pid}"
    ;;
  *)
    fail "SHIELDX_ROLE must be one of credits|shadow|camouflage|all|worker|beat, got '$role'"
    ;;
esac
