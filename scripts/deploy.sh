#!/usr/bin/env bash
# Deploy ShieldX to Kubernetes: pre-flight checks, a database backup, helm upgrade
# --atomic, a smoke test of /ready in every web role, and a rollback when it fails.
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/../deploy/lib/ops.sh
. "$script_dir/../deploy/lib/ops.sh"

usage() {
  cat <<USAGE
Usage: scripts/deploy.sh [options]

  1. pre-flight: tools, cluster access, namespace, chart lint, no Helm operation
     pending on the release, the database reachable for the backup
  2. backup: scripts/backup.sh (pg_dump) before anything changes
  3. helm upgrade --install --atomic --wait (the migration Job runs as a pre-upgrade
     hook; a failed migration or pods that never get ready roll back by themselves)
  4. smoke test: GET /ready inside a pod of each web role (PostgreSQL and Redis answer)
  5. when the smoke test fails: scripts/rollback.sh to the revision that ran before

Options:
  -r, --release NAME       Helm release (default: shieldx)
  -n, --namespace NS       namespace (default: shieldx; it must exist, labelled for the
                           "restricted" Pod Security Standard)
  -f, --values FILE        a values file (repeatable)
      --set KEY=VALUE      a value (repeatable)
      --image-tag TAG      the image tag to deploy (same as --set image.tag=TAG)
      --chart PATH         the chart (default: helm/shieldx of this repository)
      --timeout DURATION   how long helm waits for the pods (default: 15m)
      --backup-dir DIR     where the backup goes (default: ./backups)
      --skip-backup        no backup (only when one was just taken another way)
      --dry-run            print every command, run none
  -h, --help               this text

Environment:
  DATABASE_URL or DATABASE_URL_FILE   the database to back up (the password is never printed)
  KUBECONFIG                          the cluster, as for kubectl and helm
USAGE
}

release=shieldx
namespace=shieldx
chart="$(cd "$script_dir/.." && pwd)/helm/shieldx"
timeout=15m
backup_dir=backups
skip_backup=0
helm_values=()
while [ "$#" -gt 0 ]; do
  case "$1" in
    -r | --release) release=${2:?--release needs a name}; shift 2 ;;
    -n | --namespace) namespace=${2:?--namespace needs a name}; shift 2 ;;
    -f | --values) helm_values+=(--values "${2:?--values needs a file}"); shift 2 ;;
    --set) helm_values+=(--set "${2:?--set needs KEY=VALUE}"); shift 2 ;;
    --image-tag) helm_values+=(--set "image.tag=${2:?--image-tag needs a tag}"); shift 2 ;;
    --chart) chart=${2:?--chart needs a path}; shift 2 ;;
    --timeout) timeout=${2:?--timeout needs a duration}; shift 2 ;;
    --backup-dir) backup_dir=${2:?--backup-dir needs a directory}; shift 2 ;;
    --skip-backup) skip_backup=1; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $1" ;;
  esac
done

# --- 1. pre-flight -----------------------------------------------------------------
log "pre-flight: release $release in namespace $namespace, chart $chart"
[ -f "$chart/Chart.yaml" ] || die "$chart is not a Helm chart"
for ((i = 0; i < ${#helm_values[@]}; i += 2)); do
  if [ "${helm_values[i]}" = --values ] && [ ! -r "${helm_values[i + 1]}" ]; then
    die "values file ${helm_values[i + 1]} cannot be read"
  fi
done
previous=""
if [ "$DRY_RUN" = 1 ]; then
  run kubectl get namespace "$namespace"
  run helm lint "$chart" --strict --namespace "$namespace" "${helm_values[@]}"
  run helm status "$release" -n "$namespace"
  previous="<current revision>"
else
  need helm kubectl
  [ "$skip_backup" = 1 ] || { need pg_dump pg_restore; database_url >/dev/null; }
  kubectl get namespace "$namespace" >/dev/null || die "namespace $namespace does not exist (or the cluster is unreachable)"
  enforce=$(kubectl get namespace "$namespace" -o jsonpath='{.metadata.labels.pod-security\.kubernetes\.io/enforce}')
  [ "$enforce" = restricted ] || log "pre-flight: warning: namespace $namespace does not enforce the restricted Pod Security Standard (label pod-security.kubernetes.io/enforce=restricted)"
  run helm lint "$chart" --strict --namespace "$namespace" "${helm_values[@]}" >/dev/null
  if status=$(helm status "$release" -n "$namespace" 2>/dev/null); then
    state=$(printf '%s\n' "$status" | awk -F': ' '/^STATUS:/ {print $2}')
    case "$state" in
      pending-*) die "release $release is $state: another operation is running (or died); see docs/runbooks/README.md" ;;
    esac
    previous=$(helm history "$release" -n "$namespace" --max 1 | awk 'NR == 2 {print $1}')
    log "pre-flight: release $release is $state at revision $previous"
  else
    log "pre-flight: release $release is not installed yet: first install"
  fi
fi

# --- 2. backup ---------------------------------------------------------------------
backup=""
if [ "$skip_backup" = 1 ]; then
  log "backup: skipped (--skip-backup)"
elif [ "$DRY_RUN" = 1 ]; then
  "$script_dir/backup.sh" --output-dir "$backup_dir" --label "pre-$release" --dry-run | sed '$d'
  backup="<backup file>"
else
  backup=$("$script_dir/backup.sh" --output-dir "$backup_dir" --label "pre-$release" | tail -n 1)
  log "backup: $backup"
fi

# --- 3. upgrade --------------------------------------------------------------------
run helm upgrade --install "$release" "$chart" --namespace "$namespace" \
  --atomic --wait --timeout "$timeout" --history-max 10 "${helm_values[@]}"

# --- 4. smoke test, 5. rollback ----------------------------------------------------
if smoke_test "$namespace" "$release"; then
  finish "deploy: $release is ready"
  exit 0
fi
if [ -n "$previous" ]; then
  log "deploy: smoke test failed: rolling back to revision $previous"
  dry=()
  [ "$DRY_RUN" = 1 ] && dry=(--dry-run)
  "$script_dir/rollback.sh" --release "$release" --namespace "$namespace" --revision "$previous" "${dry[@]}" ||
    log "deploy: the rollback did not pass its smoke test either"
else
  log "deploy: smoke test failed on a first install: nothing to roll back to (helm uninstall $release -n $namespace removes it)"
fi
[ -z "$backup" ] || log "deploy: the database as it was before: $backup (scripts/restore.sh --file $backup --yes --release $release)"
exit 1
