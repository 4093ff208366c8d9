# Detached `nix build` with a lock per app, a log and an exit-code file per SHA, so an SSH
# drop does not kill the build and a rerun attaches to a running build of the same SHA.
# usage: sh -c "$(cat build.sh)" irp-build start  DIR APP SHA NIX_ARGS...
#        sh -c "$(cat build.sh)" irp-build follow DIR APP SHA
#        sh -c "$(cat build.sh)" irp-build inspect DIR APP SHA
# State (lock, logs, exit codes) lives in ${XDG_CACHE_HOME:-$HOME/.cache}/irp/APP.
set -u
cmd=$1; dir=$2; app=$3; sha=$4; shift 4
state="${XDG_CACHE_HOME:-$HOME/.cache}/irp/$app"
lock="$state/lock"; log="$state/$sha.log"; rc="$state/$sha.rc"
mkdir -p -- "$state"
case "$cmd" in
start)
  command -v nix >/dev/null 2>&1 || { echo "nix is not installed on $(hostname)" >&2; exit 127; }
  tries=0
  while ! mkdir "$lock" 2>/dev/null; do
    pid=$(cat "$lock/pid" 2>/dev/null); lsha=$(cat "$lock/sha" 2>/dev/null)
    if [ -z "$pid" ] && [ $tries -lt 10 ]; then tries=$((tries + 1)); sleep 0.5; continue; fi
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      if [ "$lsha" = "$sha" ]; then echo "IRP attach $pid"; exit 0; fi
      echo "IRP busy $pid $lsha"; exit 3
    fi
    rm -rf "$lock"
  done
  echo "$sha" > "$lock/sha"
  rm -f "$rc"; : > "$log"
  cd -- "$dir" || exit 2
  IRP_LOG=$log IRP_RC=$rc IRP_LOCK=$lock setsid sh -c \
    'nix build "$@" >"$IRP_LOG" 2>&1; echo $? >"$IRP_RC.tmp"; mv "$IRP_RC.tmp" "$IRP_RC"; rm -rf "$IRP_LOCK"' \
    irp-nix-build "$@" </dev/null >/dev/null 2>&1 &
  echo $! > "$lock/pid"
  echo "IRP started $!"
  ;;
follow)
  # poll every 0.05 s for 2 s and every 0.2 s up to 10 s (small builds end quickly; a
  # fractional sleep falls back to 1 s where sleep takes whole seconds only), then each second
  off=0; parent=$PPID; polls=0
  nap() {
    polls=$((polls + 1))
    if [ $polls -le 40 ]; then t=0.05; elif [ $polls -le 80 ]; then t=0.2; else t=1; fi
    sleep $t 2>/dev/null || sleep 1
  }
  while :; do
    # the SSH session is gone: stop following (the build itself goes on)
    kill -0 "$parent" 2>/dev/null || exit 0
    finished=0; [ -f "$rc" ] && finished=1
    size=$(wc -c < "$log" 2>/dev/null || echo 0); size=$(echo $size)
    if [ "$size" -gt "$off" ]; then
      tail -c +$((off + 1)) "$log" | head -c $((size - off)); off=$size
    fi
    if [ $finished = 1 ]; then echo; echo "@@IRP-EXIT $(cat "$rc")"; exit 0; fi
    # the build is gone without an exit code: no lock, or a lock whose build process is
    # dead (killed with SIGKILL, host rebooted; the next start removes such a lock)
    bpid=$(cat "$lock/pid" 2>/dev/null)
    if [ ! -d "$lock" ] || { [ -n "$bpid" ] && ! kill -0 "$bpid" 2>/dev/null; }; then
      sleep 1; [ -f "$rc" ] && continue
      echo; echo "@@IRP-LOST"; exit 0
    fi
    nap
  done
  ;;
inspect)
  cd -- "$dir" || exit 2
  out=$(readlink -f result) || { echo "no result symlink in $dir" >&2; exit 4; }
  echo "@@out $out"
  z=; [ "$(head -c 2 "$out" | od -An -tx1 | tr -d ' \n')" = 1f8b ] && z=z
  echo "@@compressed ${z:-no}"
  echo "@@size $(wc -c < "$out" | tr -d ' ')"
  echo "@@manifest"; tar -x${z}Of "$out" manifest.json || exit 5
  echo
  cfg=$(tar -x${z}Of "$out" manifest.json | sed -n 's/.*"Config" *: *"\([^"]*\)".*/\1/p')
  echo "@@config"; tar -x${z}Of "$out" "$cfg" || exit 6
  echo
  echo "@@list"; tar -t${z}f "$out" || exit 7
  ;;
*) echo "unknown command $cmd" >&2; exit 2 ;;
esac
