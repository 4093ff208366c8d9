# Builder of checks.x86_64-linux.tests: a tiny Hspec-like runner for Test/*Spec.hs.
# An example is `it "..."` followed by `get "PATH"` and `shouldRespondWith CODE`; the app
# answers 200 for a path that Web/Routes.hs routes and 404 otherwise.
set -eu
mkdir -p "$out"
report=$out/test-report.txt
specs=$(cd "$src" && ls Test/*Spec.hs)
awk -v routes="$src/Web/Routes.hs" '
  BEGIN {
    while ((getline line < routes) > 0)
      if (match(line, /pathPrefix "[^"]*"/)) {
        p = substr(line, RSTART + 12, RLENGTH - 13); routed[p] = 1
      }
  }
  FNR == 1 { file = FILENAME; sub(/.*\/Test\//, "Test/", file) }
  /describe "/ { d = $0; sub(/^[^"]*"/, "", d); sub(/".*$/, "", d); print d }
  /it "/ { n++; name[n] = $0; sub(/^[^"]*"/, "", name[n]); sub(/".*$/, "", name[n]);
           group[n] = d; where[n] = file ":" FNR ":" index($0, "it") }
  /get "/ { p = $0; sub(/^[^"]*"/, "", p); sub(/".*$/, "", p); path[n] = p }
  /shouldRespondWith/ {
    want = $0; sub(/.*shouldRespondWith`? */, "", want); sub(/[^0-9].*$/, "", want)
    got = (path[n] in routed) ? 200 : 404
    if (want == got) { print "  " name[n] " [\342\234\224]" }
    else { print "  " name[n] " [\342\234\230]"; failed++; fw[failed] = n; fe[failed] = want; fg[failed] = got }
  }
  END {
    if (failed) {
      print ""; print "Failures:"
      for (i = 1; i <= failed; i++) {
        k = fw[i]; print ""; print "  " where[k] ": "
        print "  " i ") " group[k] " " name[k]
        print "       expected: " fe[i]; print "        but got: " fg[i]
      }
    }
    print ""; print "Finished in 0.0010 seconds"
    ex = (n == 1) ? "example" : "examples"; fl = (failed + 0 == 1) ? "failure" : "failures"
    print n " " ex ", " failed + 0 " " fl
    exit (failed ? 1 : 0)
  }
' $(for s in $specs; do printf '%s ' "$src/$s"; done) > "$report" || status=$?
cat "$report"
exit "${status:-0}"
