# Push the built archive with skopeo using an authfile read from stdin (mode 0600, removed
# afterwards): no credential ever appears on a command line. Prints the pushed digest.
# usage: sh -c "$(cat push.sh)" irp-push DIR DEST_REF TLS_VERIFY SKOPEO...
set -u
dir=$1; dest=$2; tls=$3; shift 3
umask 077
auth=$(mktemp); digest=$(mktemp)
trap 'rm -f "$auth" "$digest"' EXIT INT TERM
cat > "$auth"
cd "$dir" || exit 2
out=$(readlink -f result) || { echo "no result symlink in $dir" >&2; exit 4; }
policy=; [ -f /etc/containers/policy.json ] || [ -f "$HOME/.config/containers/policy.json" ] || policy=--insecure-policy
"$@" $policy copy --authfile "$auth" --dest-tls-verify="$tls" --retry-times 2 \
  --digestfile "$digest" "docker-archive:$out" "docker://$dest" || exit $?
echo "@@digest $(cat "$digest")"
