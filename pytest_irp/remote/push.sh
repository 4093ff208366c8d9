# Push the built archive with skopeo using an authfile read from stdin: no credential ever
# appears on a command line. The authfile (mode 0600, in a private temp directory) exists
# only while skopeo runs (copy, then inspect): it is removed as soon as skopeo returns, before anything is
# printed, and on HUP, INT, TERM and PIPE (dash and busybox sh skip an EXIT trap when a
# signal kills them, so every signal that can end the script has its own trap).
# While skopeo runs, a watchdog writes an empty line to stderr every 2 s: once the SSH
# session is gone its pipes are closed, the write fails, and the script stops skopeo
# (without a tty, sshd sends no SIGHUP: a closed pipe is all the script can notice).
# MODE authfile: stdin is the containers-auth.json (as above).
# MODE token: stdin is a registry token, passed to skopeo as --dest-registry-token and
#   --registry-token (the workplan's workaround for a dead token realm, opted into with
#   registry_token_workaround): it is on skopeo's command line while skopeo runs.
# Then `skopeo inspect` of the pushed reference (same credential). Prints "@@digest DIGEST"
# and the inspect JSON between @@inspect-begin and @@inspect-end.
# usage: sh -c "$(cat push.sh)" irp-push DIR DEST_REF TLS_VERIFY MODE SKOPEO...
set -u
dir=$1; dest=$2; tls=$3; mode=$4; shift 4
case $mode in authfile|token) ;; *) echo "unknown push mode $mode" >&2; exit 2 ;; esac
umask 077
tmp=; pid=; watch=
cleanup() { [ -n "$tmp" ] && rm -rf "$tmp"; tmp=; }
stop() {
  trap '' HUP INT TERM PIPE
  [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
  [ -n "$watch" ] && kill -TERM "$watch" 2>/dev/null
  cleanup
  trap - EXIT
  exit "$1"
}
trap 'cleanup' EXIT
trap 'stop 129' HUP
trap 'stop 130' INT
trap 'stop 143' TERM
trap 'stop 141' PIPE
cd -- "$dir" || exit 2
out=$(readlink -f result) || { echo "no result symlink in $dir" >&2; exit 4; }
policy=; [ -f /etc/containers/policy.json ] || [ -f "$HOME/.config/containers/policy.json" ] || policy=--insecure-policy
base=${TMPDIR:-/tmp}
# a push killed by SIGKILL (no trap can run) left its directory: the next push removes
# those whose script is gone (its pid file names a dead process, or it has none and is
# older than a minute; another user's directories are left alone: kill -0 fails with EPERM
# only for live processes, and rm cannot remove them)
for old in "$base"/irp-push.*; do
  [ -d "$old" ] || continue
  opid=$(cat "$old/pid" 2>/dev/null) || opid=
  if [ -n "$opid" ]; then
    kill -0 "$opid" 2>/dev/null || rm -rf "$old" 2>/dev/null
  elif [ -n "$(find "$old" -maxdepth 0 -mmin +1 2>/dev/null)" ]; then
    rm -rf "$old" 2>/dev/null
  fi
done
tmp=$(mktemp -d "$base/irp-push.XXXXXX") || exit 2
echo $$ > "$tmp/pid"
cat > "$tmp/auth" || stop 2
token=
if [ "$mode" = token ]; then
  token=$(cat "$tmp/auth") || stop 2
  rm -f "$tmp/auth"
fi
watched() {  # run "$@" in the background under the watchdog; returns its exit code
  "$@" &
  pid=$!
  (
    trap '' PIPE
    while kill -0 "$pid" 2>/dev/null; do
      sleep 2 </dev/null >/dev/null 2>&1
      printf '\n' >&2 2>/dev/null || { kill -TERM $$; exit 0; }
    done
  ) </dev/null >/dev/null &
  watch=$!
  wait "$pid"; wrc=$?
  pid=
  kill -TERM "$watch" 2>/dev/null; watch=
  return "$wrc"
}
if [ "$mode" = token ]; then
  watched "$@" $policy copy --dest-registry-token "$token" --dest-tls-verify="$tls" \
    --retry-times 2 --digestfile "$tmp/digest" -- "docker-archive:$out" "docker://$dest"
else
  watched "$@" $policy copy --authfile "$tmp/auth" --dest-tls-verify="$tls" --retry-times 2 \
    --digestfile "$tmp/digest" -- "docker-archive:$out" "docker://$dest"
fi
rc=$?
digest=$(cat "$tmp/digest" 2>/dev/null)
if [ "$rc" = 0 ]; then
  if [ "$mode" = token ]; then
    watched "$@" inspect --registry-token "$token" --tls-verify="$tls" -- "docker://$dest" \
      > "$tmp/inspect"
  else
    watched "$@" inspect --authfile "$tmp/auth" --tls-verify="$tls" -- "docker://$dest" \
      > "$tmp/inspect"
  fi || echo "inspect failed: exit $?" > "$tmp/inspect"
fi
inspect=$(cat "$tmp/inspect" 2>/dev/null)
token=
cleanup
[ "$rc" = 0 ] || exit "$rc"
echo "@@digest $digest"
echo "@@inspect-begin"
printf '%s\n' "$inspect"
echo "@@inspect-end"
