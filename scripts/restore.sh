#!/usr/bin/env bash
# Restore a ShieldX database backup made by scripts/backup.sh. Destructive: it replaces
# the database's contents. With --release, the application is stopped first (so nothing
# writes during the restore), restarted after, and the audit chains are verified.
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/../deploy/lib/ops.sh
. "$script_dir/../deploy/lib/ops.sh"

usage() {
  cat <<USAGE
Usage: scripts/restore.sh --file DUMP --yes [options]

Restore DUMP (pg_dump custom format, from scripts/backup.sh) into the database named by
DATABASE_URL: check its .sha256, optionally scale the release to zero, run
pg_restore --clean --if-exists --single-transaction, scale back, and verify every
tenant's audit chain (manage.py verify_audit_chain).

Options:
      --file DUMP          the backup to restore (required)
      --yes                confirm: the database's current contents are replaced
  -r, --release NAME       Helm release to stop and restart around the restore
  -n, --namespace NS       its namespace (default: shieldx)
      --dry-run            print the commands, run nothing
  -h, --help               this text

Environment:
  DATABASE_URL or DATABASE_URL_FILE   the target database; connect as the owner of the
                                      ShieldX tables (the app's own role should not be)
USAGE
}

file=""
confirmed=0
release=""
namespace=shieldx
while [ "$#" -gt 0 ]; do
  case "$1" in
    --file) file=${2:?--file needs a path}; shift 2 ;;
    --yes) confirmed=1; shift ;;
    -r | --release) release=${2:?--release needs a name}; shift 2 ;;
    -n | --namespace) namespace=${2:?--namespace needs a name}; shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $1" ;;
  esac
done
[ -n "$file" ] || { usage >&2; die "--file is required"; }

if [ "$DRY_RUN" = 1 ]; then
  url=${DATABASE_URL:-postgres://\$DATABASE_URL}
else
  [ "$confirmed" = 1 ] || die "restoring replaces the database's contents: add --yes to confirm"
  [ -r "$file" ] || die "$file cannot be read"
  need pg_restore sha256sum
  [ -z "$release" ] || need kubectl
  url=$(database_url)
  if [ -r "$file.sha256" ]; then
    (cd "$(dirname "$file")" && sha256sum --check --status "$(basename "$file").sha256") || die "$file does not match $file.sha256"
    log "restore: checksum of $file verified"
  else
    log "restore: warning: no $file.sha256 beside the dump; its integrity is not checked"
  fi
fi

selector="app.kubernetes.io/instance=$release,app.kubernetes.io/part-of=shieldx"
replicas=()
if [ -n "$release" ]; then
  if [ "$DRY_RUN" = 1 ]; then
    run kubectl -n "$namespace" scale deployment -l "$selector" --replicas 0
  else
    # Remember each deployment's size to give it back after.
    mapfile -t replicas < <(kubectl -n "$namespace" get deployment -l "$selector" \
      -o jsonpath='{range .items[*]}{.metadata.name}={.spec.replicas}{"\n"}{end}')
    [ "${#replicas[@]}" -gt 0 ] || die "no deployment of release $release in namespace $namespace"
    run kubectl -n "$namespace" scale deployment -l "$selector" --replicas 0
    run kubectl -n "$namespace" wait pod -l "$selector" --for=delete --timeout 300s
  fi
fi

# --single-transaction: all or nothing. --clean drops the objects first (row triggers
# that refuse UPDATE/DELETE on the ledger do not fire on DROP).
run pg_restore --clean --if-exists --no-owner --no-privileges --single-transaction --exit-on-error \
  --dbname "$url" "$file"

if [ -n "$release" ]; then
  if [ "$DRY_RUN" = 1 ]; then
    run kubectl -n "$namespace" scale deployment "<each of $release's deployments>" --replicas "<as before>"
  else
    for entry in "${replicas[@]}"; do
      run kubectl -n "$namespace" scale deployment "${entry%%=*}" --replicas "${entry#*=}"
    done
    run kubectl -n "$namespace" rollout status deployment -l "$selector" --timeout 600s
  fi
  credits=$(if [ "$DRY_RUN" = 1 ]; then echo "deploy/<$release credits>"; else
    kubectl -n "$namespace" get deployment -l "app.kubernetes.io/instance=$release,app.kubernetes.io/component=credits" -o name; fi)
  run kubectl -n "$namespace" exec "$credits" -c shieldx-credits -- python manage.py verify_audit_chain
fi
finish "restore: $file restored"
