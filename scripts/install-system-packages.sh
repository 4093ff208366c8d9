#!/usr/bin/env bash
# Install every Debian package the pytest-irp lab and CI need. Idempotent: when all are
# already installed it only runs dpkg-query and exits. Other contributors may append
# packages to the list below (one per line, keep it a plain list).
set -euo pipefail

PACKAGES=(
  # embedded lab core: network namespaces, private sshd, nix, sample app image
  iproute2
  openssh-server
  openssh-client
  nix-bin
  git
  busybox-static
  ca-certificates
  curl
  procps
  # the lab node's user needs sudo, as the workplan's does (pytest_irp_lab/hostns.py)
  sudo
  # image transport; nginx: the lab's stand-in for an operator's port-80 forward to Gitea
  # (the registry itself is Gitea, built by lab/build-gitea.sh)
  skopeo
  nginx-light
  # kubernetes node runtime
  containerd
  runc
  containernetworking-plugins
  iptables
  conntrack
  # small C helpers (pause image)
  gcc
  libc6-dev
  # the report's browser test (testing/test_report_browser.py; Playwright drives it)
  chromium
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  if [[ "$status" != "installed" ]]; then
    missing+=("$pkg")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-system-packages: all ${#PACKAGES[@]} packages already installed"
  exit 0
fi

echo "install-system-packages: installing ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
  echo "install-system-packages: must run as root (apt-get)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# Other sessions (or the other engineers' scripts) may hold the dpkg lock: wait for it.
APT_OPTS=(-o DPkg::Lock::Timeout=600)
for attempt in 1 2 3; do
  if apt-get "${APT_OPTS[@]}" update; then break; fi
  [[ $attempt -eq 3 ]] && exit 1
  sleep 10
done
apt-get "${APT_OPTS[@]}" install -y --no-install-recommends "${missing[@]}"
echo "install-system-packages: done"
