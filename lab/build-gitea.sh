#!/usr/bin/env bash
# Build the lab's Gitea (the registry, git server and API) into the cache, once.
# Idempotent: returns at once when the binary and its static files are present.
# Recipe and figures: docs/lab-registry.md. Log: $CACHE/build-gitea.log
set -euo pipefail

GITEA_VERSION=1.26.0

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${IRP_CACHE_DIR:-/var/cache/pytest-irp}
DEST=$CACHE/gitea/v$GITEA_VERSION
# The binary has no bindata: Gitea reads templates/ and options/ below [server]
# STATIC_ROOT_PATH, so both are copied from the module beside it (the lab points there).
if [[ -x $DEST/bin/gitea && -d $DEST/static/templates && -d $DEST/static/options ]]; then
    exit 0
fi

mkdir -p "$CACHE"
LOG=${IRP_BUILD_LOG:-$CACHE/build-gitea.log}
exec > >(tee -a "$LOG") 2>&1
echo "== build-gitea $(date -u +%FT%TZ) cache=$CACHE"

# SQLite is cgo (gcc needed). Only the module proxy is reachable, not the checksum
# database: the wrapper module's committed go.sum verifies every module it uses.
export GOTOOLCHAIN=local CGO_ENABLED=1 GOFLAGS="-mod=mod -buildvcs=false" GOSUMDB=off

start=$SECONDS
tmp=$DEST.tmp
rm -rf "$tmp" && mkdir -p "$tmp/bin" "$tmp/static"
cd "$HERE/gitea"
go build -p 2 -trimpath -tags 'sqlite sqlite_unlock_notify' \
    -ldflags "-s -w -X main.Version=$GITEA_VERSION" -o "$tmp/bin/gitea" code.gitea.io/gitea
src=$(go list -m -f '{{.Dir}}' code.gitea.io/gitea)
cp -R "$src/templates" "$src/options" "$tmp/static/"
chmod -R u+w,go+rX "$tmp"
rm -rf "$DEST"
mv "$tmp" "$DEST"
echo "== build-gitea finished in $((SECONDS - start)) s"
