# Routes of IHP's routes DSL (IHP 1.6, `[routes|Header ... |]` in Web/Routes.hs), for the
# lab's stand-in builds: prints "METHOD PATH ACTION" per method of every route line.
# A line is `METHOD[|METHOD...] /path Action`; `--` starts a comment; the header (the text
# after `[routes|`: a controller, `for App` or nothing) is not a route. Only what the lab's
# sample app writes is understood; the plugin reads routes with a real parser
# (pytest_irp/appcode/routes.py), this is the stand-in server's own reading.
/\[routes\|/ { inblock = 1; next }
inblock && /^[ \t]*\|\]/ { inblock = 0; next }
inblock {
  line = $0
  sub(/--.*/, "", line)
  n = split(line, word, /[ \t]+/)
  k = 0
  for (i = 1; i <= n; i++) if (word[i] != "") field[++k] = word[i]
  if (k >= 3 && field[2] ~ /^\//) {
    m = split(field[1], method, "|")
    for (j = 1; j <= m; j++) print method[j], field[2], field[3]
  }
}
