#!/usr/bin/env bash
# Build the lab's Kubernetes, etcd and crictl binaries into the cache, once.
# Idempotent: returns at once when every binary is present. Log: $CACHE/build-cluster.log
set -euo pipefail

K8S_VERSION=1.34.4
ETCD_VERSION=3.6.16
CRICTL_VERSION=1.34.0

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${IRP_CACHE_DIR:-/var/cache/pytest-irp}
K8S_BIN=$CACHE/k8s/v$K8S_VERSION/bin
ETCD_BIN=$CACHE/etcd/v$ETCD_VERSION/bin
CRICTL_BIN=$CACHE/crictl/v$CRICTL_VERSION/bin
K8S_CMDS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)

missing() {  # missing DIR NAME... -> prints the names not yet in DIR
    local dir=$1 name
    shift
    for name in "$@"; do
        [[ -x $dir/$name ]] || echo "$name"
    done
}

need_k8s=$(missing "$K8S_BIN" "${K8S_CMDS[@]}")
need_etcd=$(missing "$ETCD_BIN" etcd etcdctl)
need_crictl=$(missing "$CRICTL_BIN" crictl)
if [[ -z $need_k8s$need_etcd$need_crictl ]]; then
    exit 0
fi

mkdir -p "$CACHE"
LOG=${IRP_BUILD_LOG:-$CACHE/build-cluster.log}
exec > >(tee -a "$LOG") 2>&1
echo "== build-cluster $(date -u +%FT%TZ) cache=$CACHE"

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false"
# sum.golang.org is not reachable from the lab machines (only the module proxy is);
# go.sum files are committed, so checksums are still verified against them.
# Only the module proxy is reachable, not the checksum database: never probe other hosts.
# The wrapper modules' committed go.sum files still verify every module they use.
export GOSUMDB=off

move_into() {  # move_into TMPDIR DESTDIR: install built files atomically
    mkdir -p "$2"
    local f
    for f in "$1"/*; do mv -f "$f" "$2/"; done
    rmdir "$1"
}

timed() {  # timed LABEL CMD...
    local start=$SECONDS label=$1
    shift
    "$@"
    echo "== $label done in $((SECONDS - start)) s"
}

build_k8s() {
    local tmp=$K8S_BIN.tmp date ld p pkgs=() c major minor
    date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    IFS=. read -r major minor _ <<<"$K8S_VERSION"
    ld="-s -w"
    for p in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
        ld+=" -X $p.gitVersion=v$K8S_VERSION -X $p.gitMajor=$major -X $p.gitMinor=$minor"
        ld+=" -X $p.gitTreeState=clean -X $p.gitCommit=unknown -X $p.buildDate=$date"
    done
    for c in $need_k8s; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
    rm -rf "$tmp" && mkdir -p "$tmp"
    (cd "$HERE/cluster" && go build -p 2 -trimpath -ldflags "$ld" -o "$tmp/" "${pkgs[@]}")
    move_into "$tmp" "$K8S_BIN"
}

build_etcd() {
    local tmp=$ETCD_BIN.tmp
    rm -rf "$tmp" && mkdir -p "$tmp"
    (cd "$HERE/etcd" && go build -p 2 -trimpath -ldflags "-s -w" -o "$tmp/etcd" . &&
        go build -p 2 -trimpath -ldflags "-s -w" -o "$tmp/etcdctl" go.etcd.io/etcd/etcdctl/v3)
    move_into "$tmp" "$ETCD_BIN"
}

build_crictl() {
    local tmp=$CRICTL_BIN.tmp
    rm -rf "$tmp" && mkdir -p "$tmp"
    # cri-tools has no replace lines, so `go install pkg@version` works (outside any module).
    (cd / && GOFLAGS=-buildvcs=false GOBIN=$tmp go install -trimpath \
        -ldflags "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=$CRICTL_VERSION" \
        "sigs.k8s.io/cri-tools/cmd/crictl@v$CRICTL_VERSION")
    move_into "$tmp" "$CRICTL_BIN"
}

total=$SECONDS
[[ -z $need_crictl ]] || timed crictl build_crictl
[[ -z $need_etcd ]] || timed etcd build_etcd
[[ -z $need_k8s ]] || timed kubernetes build_k8s
echo "== build-cluster finished in $((SECONDS - total)) s"
