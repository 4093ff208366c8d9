# Facts for the pre-build checklist, one `key=value` per line.
# usage: sh -c "$(cat prebuild.sh)" irp-prebuild APP [LIBHSGHC_PATH]
state="${XDG_CACHE_HOME:-$HOME/.cache}/irp/$1"; lib=${2:-}
echo "nix=$(nix --version 2>/dev/null | head -n 1)"
target=/nix; [ -d /nix ] || target=/
echo "disk_free_kb=$(df -Pk "$target" | awk 'NR==2 {print $4}')"
echo "mem_available_kb=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)"
echo "cpus=$(grep -c ^processor /proc/cpuinfo)"
if [ -n "$lib" ]; then
  if [ -f "$lib" ]; then echo "lib_size=$(wc -c < "$lib" | tr -d ' ')"; else echo "lib_size=missing"; fi
fi
if [ -d "$state/lock" ]; then
  echo "lock_pid=$(cat "$state/lock/pid" 2>/dev/null)"
  echo "lock_sha=$(cat "$state/lock/sha" 2>/dev/null)"
  pid=$(cat "$state/lock/pid" 2>/dev/null)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then echo "lock_alive=1"; else echo "lock_alive=0"; fi
fi
# other builds: running nix or nix-build programs (not a grep or an editor whose arguments
# say "nix build"); our own scripts and our detached build are recognised by their irp- names
ps -eo pid=,comm=,args= 2>/dev/null \
  | awk '($2 == "nix" && $0 ~ / build( |$)/) || $2 == "nix-build" { $2 = ""; print }' \
  | grep -v 'irp-' | cut -c1-160 | sed 's/^ */build_process=/'
exit 0
