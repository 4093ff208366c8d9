#!/bin/busybox sh
# Stand-in for IHP's RunProdServer: a static busybox httpd on $PORT (default 8000).
# Like IHP (ihp/IHP/FrameworkConfig.hs, EnvVar.hs, Server.hs; docs/upstream-facts.md):
# IHP_ENV unset is Development; a value other than Development or Production stops the
# app; "Server started" is printed in Development only (Production prints nothing at
# start, then one request log line per answer). A missing or invalid session secret (not
# base64 of 96 bytes) makes the app invent one and print it.
case "${IHP_ENV:-Development}" in
  Development|Production) ;;
  *)
    echo "RunProdServer: Env var 'IHP_ENV' is invalid: Should be set to 'Development' or 'Production'" >&2
    exit 1
    ;;
esac
key_bytes=$(printf '%s' "${IHP_SESSION_SECRET:-}" | /bin/busybox base64 -d 2>/dev/null | /bin/busybox wc -c)
if [ "${key_bytes:-0}" -ne 96 ]; then
  echo "IHP_SESSION_SECRET=$(/bin/busybox head -c 96 /dev/urandom | /bin/busybox base64 -w 0)"
fi
if [ "${IHP_ENV:-Development}" = Development ]; then
  echo "Server started"
fi
exec /bin/busybox httpd -f -v -p "${PORT:-8000}" -h /www
