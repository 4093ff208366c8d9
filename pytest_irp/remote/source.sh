# Make the build host's checkout match the revision under test, then print HEAD.
# usage: sh -c "$(cat source.sh)" irp-source DIR SHA [GIT_REMOTE]
# Without GIT_REMOTE a git bundle (base64) is read from stdin.
set -eu
dir=$1; sha=$2; remote=${3:-}
command -v git >/dev/null 2>&1 || { echo "git is not installed on $(hostname)" >&2; exit 127; }
mkdir -p "$dir"
cd "$dir"
[ -d .git ] || git init -q
if [ -n "$remote" ]; then
  git fetch -q "$remote" "$sha" 2>/dev/null || git fetch -q "$remote"
else
  tmp=$(mktemp)
  trap 'rm -f "$tmp"' EXIT
  base64 -d > "$tmp"
  git fetch -q "$tmp" "+refs/irp/under-test:refs/irp/under-test"
fi
git -c advice.detachedHead=false checkout -q -f --detach "$sha"
git rev-parse HEAD
