# Make the build host's checkout match the revision under test, then print HEAD.
# usage: sh -c "$(cat source.sh)" irp-source DIR SHA [GIT_REMOTE]
# Without GIT_REMOTE a git bundle (base64) is read from stdin into a temp file, removed on
# exit and on HUP, INT, TERM and PIPE (dash and busybox sh skip EXIT when a signal kills
# them). Every value is passed after `--`: a GIT_REMOTE like `--upload-pack=...` is a
# repository name to git, never an option.
set -eu
dir=$1; sha=$2; remote=${3:-}
tmp=
cleanup() { [ -n "$tmp" ] && rm -f "$tmp"; tmp=; }
trap 'cleanup' EXIT
trap 'cleanup; trap - EXIT; exit 129' HUP
trap 'cleanup; trap - EXIT; exit 130' INT
trap 'cleanup; trap - EXIT; exit 143' TERM
trap 'cleanup; trap - EXIT; exit 141' PIPE
command -v git >/dev/null 2>&1 || { echo "git is not installed on $(hostname)" >&2; exit 127; }
mkdir -p -- "$dir"
cd -- "$dir"
[ -d .git ] || git init -q
if [ -n "$remote" ]; then
  git fetch -q -- "$remote" "$sha" 2>/dev/null || git fetch -q -- "$remote"
else
  tmp=$(mktemp)
  base64 -d > "$tmp"
  git fetch -q -- "$tmp" "+refs/irp/under-test:refs/irp/under-test"
  cleanup
fi
git -c advice.detachedHead=false checkout -q -f --detach "$sha" --
git rev-parse HEAD
