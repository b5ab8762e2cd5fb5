#!/usr/bin/env bash
# Roll a ShieldX release back to an earlier Helm revision and smoke-test it.
# Database migrations are not reversed: see "Rollback" in docs/runbooks/README.md.
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/../deploy/lib/ops.sh
. "$script_dir/../deploy/lib/ops.sh"

usage() {
  cat <<USAGE
Usage: scripts/rollback.sh [options]

Roll the release back with helm rollback --wait, then GET /ready inside a pod of each
web role. Without --revision, the revision before the current one.

Options:
  -r, --release NAME     Helm release (default: shieldx)
  -n, --namespace NS     its namespace (default: shieldx)
      --revision N       the Helm revision to return to (see: helm history)
      --timeout DURATION how long to wait for the pods (default: 10m)
      --dry-run          print the commands, run nothing
  -h, --help             this text

The schema stays migrated: the old code must run on it (migrations are written to be
backward compatible for one release). If it cannot, restore the backup deploy.sh took
before the upgrade with scripts/restore.sh.
USAGE
}

release=shieldx
namespace=shieldx
revision=""
timeout=10m
while [ "$#" -gt 0 ]; do
  case "$1" in
    -r | --release) release=${2:?--release needs a name}; shift 2 ;;
    -n | --namespace) namespace=${2:?--namespace needs a name}; shift 2 ;;
    --revision) revision=${2:?--revision needs a number}; shift 2 ;;
    --timeout) timeout=${2:?--timeout needs a duration}; shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $1" ;;
  esac
done
[ -z "$revision" ] || [[ "$revision" =~ ^[0-9]+$ ]] || die "--revision must be a number"

[ "$DRY_RUN" = 1 ] || need helm kubectl
run helm history "$release" -n "$namespace" --max 5
# Revision 0 means "the previous one" to helm rollback.
run helm rollback "$release" "${revision:-0}" -n "$namespace" --wait --timeout "$timeout" --cleanup-on-fail
if ! smoke_test "$namespace" "$release"; then
  die "rolled back to revision ${revision:-previous}, but the smoke test fails: see docs/runbooks/README.md"
fi
finish "rollback: $release is at revision ${revision:-previous} and ready"
