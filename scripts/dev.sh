#!/usr/bin/env bash
# The project's two commands (see README):
#   scripts/dev.sh lab  [PYTEST ARGS]   set up, bring the embedded lab up, run the criteria suite
#   scripts/dev.sh test [PYTEST ARGS]   set up, run the plugin's own tests (what CI runs)
# Set-up is idempotent: Debian packages (scripts/install-system-packages.sh) and
# `pip install -e .[dev]`; both are quick no-ops when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

setup() {
  bash scripts/install-system-packages.sh
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -e '.[dev]'
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
  lab)
    setup
    exec python3 -m pytest tests --irp-lab "$@"
    ;;
  test)
    setup
    exec python3 -m pytest testing -p no:randomly "$@"
    ;;
  *)
    echo "usage: scripts/dev.sh lab|test [pytest args]" >&2
    exit 2
    ;;
esac
