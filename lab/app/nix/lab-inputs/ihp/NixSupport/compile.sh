# Stand-in for GHC compiling the app (sourced by server.sh and tests.sh; the lab has no
# GHC). It fails the way GHC would on the faults the lab plants: a module that is imported
# but does not exist, `IHP.HSpec` (IHP's test module is IHP.Hspec) and `pathPrefix` (no
# such function in IHP or attoparsec; the workplan's routing snippet uses it).
# usage: compile_modules FILE...   (paths relative to $src)
compile_modules() {
  for file in "$@"; do
    n=0
    while IFS= read -r line; do
      n=$((n + 1))
      case "$line" in
        "import "*)
          mod=${line#import }
          mod=${mod#qualified }
          mod=${mod%% *}
          case "$mod" in
            Test.Hspec|Test.Hspec.*) ;;
            Web.*|Test.*|Application.*)
              if [ ! -f "$src/$(printf '%s' "$mod" | tr . /).hs" ]; then
                echo "$file:$n:1: error: [GHC-87110]" >&2
                echo "    Could not find module '$mod'." >&2
                exit 1
              fi ;;
            IHP.HSpec)
              echo "$file:$n:1: error: [GHC-87110]" >&2
              echo "    Could not find module 'IHP.HSpec'." >&2
              echo "    Perhaps you meant IHP.Hspec (from ihp-hspec)" >&2
              exit 1 ;;
          esac ;;
        *pathPrefix*)
          case "$line" in *"--"*pathPrefix*) continue ;; esac
          col=${line%%pathPrefix*}
          echo "$file:$n:$((${#col} + 1)): error: [GHC-88464]" >&2
          echo "    Variable not in scope: pathPrefix :: Text -> Parser a0" >&2
          exit 1 ;;
      esac
    done < "$src/$file"
  done
}
