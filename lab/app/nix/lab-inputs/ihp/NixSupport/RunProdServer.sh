#!/bin/busybox sh
# Stand-in for IHP's RunProdServer: a static busybox httpd on $PORT (default 8000).
# Like IHP, a missing or invalid session secret (not base64 of 96 bytes) makes the app
# invent one and print it.
key_bytes=$(printf '%s' "${IHP_SESSION_SECRET:-}" | /bin/busybox base64 -d 2>/dev/null | /bin/busybox wc -c)
if [ "${key_bytes:-0}" -ne 96 ]; then
  echo "IHP_SESSION_SECRET=$(/bin/busybox head -c 96 /dev/urandom | /bin/busybox base64 -w 0)"
fi
echo "Server started"
exec /bin/busybox httpd -f -v -p "${PORT:-8000}" -h /www
