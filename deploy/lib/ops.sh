# shellcheck shell=bash
# Helpers shared by scripts/deploy.sh, backup.sh, restore.sh and rollback.sh.
# Sourced, never run. Callers set DRY_RUN=1 for --dry-run.

DRY_RUN=${DRY_RUN:-0}

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%SZ)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Database URLs carry passwords: never print one.
redact() { sed -E 's#(://[^:/@[:space:]]*):[^@[:space:]]*@#\1:***@#g'; }

quote() {
  local out="" arg
  for arg in "$@"; do out+=" $(printf '%q' "$arg")"; done
  printf '%s' "${out# }" | redact
}

# Run a command, or only print it under --dry-run.
run() {
  if [ "$DRY_RUN" = 1 ]; then
    printf 'dry-run: %s\n' "$(quote "$@")"
    return 0
  fi
  log "+ $(quote "$@")"
  "$@"
}

need() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is required and not on PATH"
  done
}

# The database URL from DATABASE_URL or the file DATABASE_URL_FILE names (as the app reads it).
database_url() {
  if [ -n "${DATABASE_URL_FILE:-}" ]; then
    [ -r "$DATABASE_URL_FILE" ] || die "DATABASE_URL_FILE=$DATABASE_URL_FILE cannot be read"
    tr -d '\n' <"$DATABASE_URL_FILE"
  elif [ -n "${DATABASE_URL:-}" ]; then
    printf '%s' "$DATABASE_URL"
  else
    die "set DATABASE_URL (or DATABASE_URL_FILE) to the ShieldX database"
  fi
}

# Smoke test: GET /ready inside one pod of each enabled web role (PostgreSQL and Redis
# answer). Retries while a rollout settles. Returns non-zero when a role stays unready.
smoke_test() {
  local namespace=$1 release=$2 attempts=${3:-6} role deployment i failed=0
  for role in credits shadow camouflage; do
    if [ "$DRY_RUN" = 1 ]; then
      run kubectl -n "$namespace" exec "deploy/<${release} ${role}>" -c "shieldx-$role" -- python /app/deploy/docker/healthcheck.py /ready
      continue
    fi
    deployment=$(kubectl -n "$namespace" get deployment \
      -l "app.kubernetes.io/instance=$release,app.kubernetes.io/component=$role" -o name)
    if [ -z "$deployment" ]; then
      log "smoke test: no $role deployment (role disabled), skipped"
      continue
    fi
    for i in $(seq 1 "$attempts"); do
      if run kubectl -n "$namespace" exec "$deployment" -c "shieldx-$role" -- python /app/deploy/docker/healthcheck.py /ready; then
        log "smoke test: $role ready"
        break
      fi
      if [ "$i" = "$attempts" ]; then
        log "smoke test: $role is not ready after $attempts attempts"
        failed=1
      else
        sleep "${SMOKE_TEST_INTERVAL:-10}"
      fi
    done
  done
  return "$failed"
}

# The closing line: under --dry-run, say that nothing happened.
finish() {
  if [ "$DRY_RUN" = 1 ]; then
    log "dry run: nothing was changed (a real run: $*)"
  else
    log "$*"
  fi
}
