# Builder of the stand-in IHP flake module's checks.<system>.tests (IHP 1.5+: builds
# Test/Main.hs and runs its Hspec specs). The lab has no GHC: this is a tiny Hspec-like
# runner for the spec modules Test/Main.hs imports. It "compiles" them (compile.sh) and
# runs each example (`it "..."`):
#   IHP's way (IHP.Hspec): `callAction A` (or `callAction $ A`) answers 200 when A is an
#     action of Web/Types.hs (callAction runs the action itself, not the router; the
#     stand-in has no database, so a query answers an empty table);
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
             if (m !~ /^Test\.Hspec/) { gsub(/\./, "/", m); print m ".hs" } }' Test/Main.hs)
compile_modules Test/Main.hs $specs
awk -f "$routesAwk" Web/Routes.hs > routes.txt
awk '/^data / { inside = 1 } inside { for (i = 1; i <= NF; i++) if ($i ~ /Action$/) print $i }
     /deriving/ { inside = 0 }' Web/Types.hs | sed 's/^[|=(]*//' > actions.txt
awk -v routesfile=routes.txt -v actionsfile=actions.txt '
  BEGIN {
    while ((getline line < routesfile) > 0) { split(line, r, " "); if (r[1] == "GET") routed[r[2]] = 1 }
    while ((getline line < actionsfile) > 0) action[line] = 1
    reason[200] = "OK"; reason[201] = "Created"; reason[404] = "Not Found"; reason[500] = "Internal Server Error"
  }
  /^[ \t]*--/ { next }
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
        if (kind[k] == "ihp") {
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
