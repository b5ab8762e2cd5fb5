#!/usr/bin/env bash
# Back up the ShieldX database with pg_dump (custom format), check the archive, and
# print its path. Used by scripts/deploy.sh before every upgrade.
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/../deploy/lib/ops.sh
. "$script_dir/../deploy/lib/ops.sh"

usage() {
  cat <<USAGE
Usage: scripts/backup.sh [options]

Dump the ShieldX PostgreSQL database to OUTPUT_DIR/shieldx-LABEL-YYYYmmddTHHMMSSZ.dump
(pg_dump --format=custom, compressed), verify it with pg_restore --list, write a
.sha256 beside it, and print the dump's path on stdout.

Options:
  -o, --output-dir DIR   where to write (default: ./backups)
  -l, --label NAME       a word in the file name, e.g. pre-upgrade (default: manual)
      --dry-run          print the commands, run nothing
  -h, --help             this text

Environment:
  DATABASE_URL or DATABASE_URL_FILE   the database (postgres://user:password@host:5432/db);
                                      the password is never printed
USAGE
}

output_dir=backups
label=manual
while [ "$#" -gt 0 ]; do
  case "$1" in
    -o | --output-dir) output_dir=${2:?--output-dir needs a directory}; shift 2 ;;
    -l | --label) label=${2:?--label needs a name}; shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $1" ;;
  esac
done
[[ "$label" =~ ^[A-Za-z0-9._-]+$ ]] || die "--label may hold letters, digits, '.', '_' and '-' only"

if [ "$DRY_RUN" = 1 ]; then
  url=${DATABASE_URL:-postgres://\$DATABASE_URL}
else
  need pg_dump pg_restore sha256sum
  url=$(database_url)
fi

file="$output_dir/shieldx-$label-$(date -u +%Y%m%dT%H%M%SZ).dump"
run mkdir -p "$output_dir"
# --no-owner/--no-privileges: the restore target's roles may differ (another cluster).
run pg_dump --format=custom --compress=6 --no-owner --no-privileges --file "$file" --dbname "$url"
if [ "$DRY_RUN" = 1 ]; then
  run pg_restore --list "$file"
  run sha256sum "$file"
  finish "backup: $file written and checked"
else
  entries=$(pg_restore --list "$file" | grep -cv '^;' || true)
  [ "$entries" -gt 0 ] || die "$file lists no entries: the dump is unusable"
  (cd "$output_dir" && sha256sum "$(basename "$file")") >"$file.sha256"
  log "backup: $file ($entries entries, $(wc -c <"$file") bytes)"
fi
printf '%s\n' "$file"
