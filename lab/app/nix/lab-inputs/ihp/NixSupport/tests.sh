# Builder of the stand-in IHP flake module's checks.<system>.tests and
# checks.<system>.integration-tests (IHP 1.5+: builds $entry, Test/Main.hs or
# Test/Integration.hs, and runs its Hspec specs). The lab has no GHC: this is a tiny
# Hspec-like runner for the spec modules $entry imports. It "compiles" them (compile.sh)
# and runs each example (`it "..."`):
#   database: IHP's `tests` check has no PostgreSQL ($database empty): an example in a
#     module that uses `withIHPApp` (which connects to DATABASE_URL to create a test
#     database, ihp-hspec/IHP/Hspec.hs) fails as IHP's does, with hasql's
#     NetworkingConnectionError carrying libpq's message for IHP's default DATABASE_URL
#     (postgresql:///app?host=$PWD/build/db, IHP/FrameworkConfig.hs), asked of the real
#     libpq through psql when it is installed. `integration-tests` ($database=1) has one:
#     IHP starts a temporary PostgreSQL; the stand-in does not (builds run as root here,
#     and initdb refuses root), it lets the examples through as if it did;
#   IHP's way (IHP.Hspec): `callAction A` (or `callAction $ A`) answers 200 when A is an
#     action of Web/Types.hs (callAction runs the action itself, not the router; with a
#     database, a query answers the empty table);
#     ``response `responseStatusShouldBe` statusNNN`` asserts the status;
#   hspec-wai's way: `get "/path"` answers 200 when the routes of Web/Routes.hs
#     (routes.awk, IHP's routes DSL) have `GET /path`, 404 otherwise;
#     ``response `shouldRespondWith` NNN`` asserts the status.
# It prints hspec's report and summary (`1 example, 0 failures`) to the log and to
# $out/test-report.txt and exits 1 on a failure, as the real check does.
set -eu
. "$compile"
cd "$src"
mkdir -p "$out"
report=$out/test-report.txt
specs=$(awk '/^import +(qualified +)?Test\./ { m = $2; if (m == "qualified") m = $3;
             if (m !~ /^Test\.Hspec/) { gsub(/\./, "/", m); print m ".hs" } }' "$entry")
compile_modules "$entry" $specs
nodb=""
if [ -z "$database" ]; then
  url="postgresql:///app?host=$PWD/build/db"
  if command -v psql >/dev/null 2>&1; then
    nodb=$(psql "$url" -c '' 2>&1 | sed 's/^psql: error: //') || true
  fi
  [ -n "$nodb" ] || nodb="connection to server on socket \"$PWD/build/db/.s.PGSQL.5432\" failed: No such file or directory
	Is the server running locally and accepting connections on that socket?"
  # as Haskell's show prints hasql's ConnectionError: quotes, tabs and newlines escaped
  nodb=$(printf '%s\n' "$nodb" | awk '{ gsub(/\\/, "\\\\"); gsub(/"/, "\\\""); gsub(/\t/, "\\t"); printf "%s\\n", $0 }')
fi
awk -f "$routesAwk" Web/Routes.hs > routes.txt
awk '/^data / { inside = 1 } inside { for (i = 1; i <= NF; i++) if ($i ~ /Action$/) print $i }
     /deriving/ { inside = 0 }' Web/Types.hs | sed 's/^[|=(]*//' > actions.txt
export IRP_NODB="$nodb"  # through ENVIRON: awk -v would undo the escapes
awk -v routesfile=routes.txt -v actionsfile=actions.txt '
  BEGIN {
    while ((getline line < routesfile) > 0) { split(line, r, " "); if (r[1] == "GET") routed[r[2]] = 1 }
    while ((getline line < actionsfile) > 0) action[line] = 1
    nodb = ENVIRON["IRP_NODB"]
    reason[200] = "OK"; reason[201] = "Created"; reason[404] = "Not Found"; reason[500] = "Internal Server Error"
  }
  /^[ \t]*--/ { next }
  /withIHPApp/ { usesdb[FILENAME] = 1 }
  /describe "/ { d = $0; sub(/^[^"]*"/, "", d); sub(/".*$/, "", d); print d }
  /[ \t]it "/ { n++; name[n] = $0; sub(/^[^"]*"/, "", name[n]); sub(/".*$/, "", name[n])
               group[n] = d; where[n] = FILENAME ":" FNR ":" index($0, "it") }
  /callAction/ { a = $0; sub(/.*callAction[ \t$]*/, "", a); sub(/[^A-Za-z0-9_].*$/, "", a)
                 got[n] = (a in action) ? 200 : 500; kind[n] = "ihp" }
  /get "/ { p = $0; sub(/^[^"]*get "/, "", p); sub(/".*$/, "", p)
            got[n] = (p in routed) ? 200 : 404; kind[n] = "wai" }
  /responseStatusShouldBe|shouldRespondWith/ {
    want = $0; sub(/.*(responseStatusShouldBe`?|shouldRespondWith`?)[ \t]*(status)?/, "", want)
    sub(/[^0-9].*$/, "", want)
    if (nodb != "" && usesdb[FILENAME]) { got[n] = "db" }
    if (want == got[n]) { print "  " name[n] " [\342\234\224]" }
    else {
      print "  " name[n] " [\342\234\230]"; failed++; fw[failed] = n; fe[failed] = want
    }
  }
  END {
    if (failed) {
      print ""; print "Failures:"
      for (i = 1; i <= failed; i++) {
        k = fw[i]; e = fe[i]; g = got[k]; print ""; print "  " where[k] ": "
        print "  " i ") " group[k] " " name[k]
        if (g == "db") {
          print "       uncaught exception: ErrorCall"
          print "       NetworkingConnectionError \"" nodb "\""
          print "       CallStack (from HasCallStack):"
          print "         error, called at IHP/Hspec.hs:34:19 in ihp-hspec:IHP.Hspec"
        } else if (kind[k] == "ihp") {
          print "       expected: Status {statusCode = " e ", statusMessage = \"" reason[e] "\"}"
          print "        but got: Status {statusCode = " g ", statusMessage = \"" reason[g] "\"}"
        } else {
          print "       expected: " e; print "        but got: " g
        }
        print ""; print "  To rerun use: --match \"/" group[k] "/" name[k] "/\""
      }
    }
    print ""; print "Finished in 0.0010 seconds"
    ex = (n == 1) ? "example" : "examples"; fl = (failed + 0 == 1) ? "failure" : "failures"
    print n + 0 " " ex ", " failed + 0 " " fl
    exit (failed ? 1 : 0)
  }
' $specs > "$report" || status=$?
cat "$report"
exit "${status:-0}"
