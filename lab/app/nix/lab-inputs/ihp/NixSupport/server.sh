# Builder of the stand-in prod server (IHP: `RunProdServer`, the app compiled by GHC).
# Runs under `derivation { builder = "/bin/sh"; }` with host tools only (no network, no
# nixpkgs, no GHC). "Compiles" the app (compile.sh), then writes what the stand-in server
# (busybox httpd, RunProdServer.sh) answers: for every `GET /path Action` of the routes in
# Web/Routes.hs (routes.awk) whose action renders plain text (`renderPlain "..."`) or JSON
# (`renderJson`, an empty table here: no database), the file www/path. A path the routes
# do not have is not served (404). Bit-for-bit reproducible.
set -eu
umask 022
. "$compile"
cd "$src"
compile_modules Main.hs Config/Config.hs $(find Web -name '*.hs' | sort)

mkdir -p "$out/bin" "$out/www"
cp "$runProdServer" "$out/bin/RunProdServer"
chmod 0755 "$out/bin/RunProdServer"

# The text an action renders: `action A = renderPlain "x"` (also `= do` ... `renderPlain $
# "x"`) or renderJson (an empty list: the stand-in has no database). Comment lines skipped.
rendered() {
  awk -v want="$1" '
    /^[ \t]*--/ { next }
    $0 ~ "action[ \t]+" want "([ \t]|$)" { on = 1 }
    on && /action[ \t]+[A-Z]/ && $0 !~ "action[ \t]+" want "([ \t]|$)" { on = 0 }
    on && /renderPlain/ { s = $0; sub(/.*renderPlain[ \t$(]*"/, "", s); sub(/".*/, "", s); print "plain " s; exit }
    on && /renderJson/ { print "json"; exit }
  ' $(find Web/Controller -name '*.hs' | sort)
}

awk -f "$routesAwk" Web/Routes.hs | while read -r method path action; do
  [ "$method" = GET ] || continue
  case "$path" in *"{"*|/) continue ;; esac
  what=$(rendered "$action")
  case "$what" in
    "plain "*) printf '%s' "${what#plain }" > "$out/www/${path#/}" ;;
    json) printf '[]' > "$out/www/${path#/}" ;;
  esac
done
