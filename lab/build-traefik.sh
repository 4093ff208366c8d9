#!/usr/bin/env bash
# Build the lab's Traefik (the node's ingress controller, as k3s ships it) into the cache, once.
# Idempotent: returns at once when the binary is present.
# Recipe and figures: docs/lab-cluster.md ("Ingress"). Log: $CACHE/build-traefik.log
set -euo pipefail

TRAEFIK_VERSION=v3.6.12

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${IRP_CACHE_DIR:-/var/cache/pytest-irp}
DEST=$CACHE/traefik/$TRAEFIK_VERSION
CRDS=docs/content/reference/dynamic-configuration/kubernetes-crd-definition-v1.yml
export GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false" GOSUMDB=off

crds() {  # Traefik's CRDs (IngressRoute & co.) from the same module, beside the binary
    local src
    src=$(cd "$HERE/traefik" && go mod download -json github.com/traefik/traefik/v3 >/dev/null &&
        go list -m -f '{{.Dir}}' github.com/traefik/traefik/v3)
    cp "$src/$CRDS" "$DEST/crds.yml.tmp"
    chmod 0644 "$DEST/crds.yml.tmp"
    mv "$DEST/crds.yml.tmp" "$DEST/crds.yml"
}

if [[ -x $DEST/bin/traefik ]]; then
    [[ -f $DEST/crds.yml ]] || crds
    exit 0
fi

mkdir -p "$CACHE"
LOG=${IRP_BUILD_LOG:-$CACHE/build-traefik.log}
exec > >(tee -a "$LOG") 2>&1
echo "== build-traefik $(date -u +%FT%TZ) cache=$CACHE"

# Pure Go (no cgo). Only the module proxy is reachable, not the checksum database: the
# wrapper module's committed go.sum verifies every module it uses. The web UI is left out
# (its static files are built with node; the lab never opens the dashboard).
export CGO_ENABLED=0

start=$SECONDS
tmp=$DEST.tmp
rm -rf "$tmp" && mkdir -p "$tmp/bin"
cd "$HERE/traefik"
go build -p 2 -trimpath \
    -ldflags "-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=$TRAEFIK_VERSION" \
    -o "$tmp/bin/traefik" github.com/traefik/traefik/v3/cmd/traefik
chmod -R u+w,go+rX "$tmp"
rm -rf "$DEST"
mv "$tmp" "$DEST"
crds
echo "== build-traefik finished in $((SECONDS - start)) s"
