#!/bin/busybox sh
# Stand-in for IHP's RunProdServer: a static busybox httpd on $PORT (default 8000).
# Like IHP, a missing session secret makes the app invent one and print it.
if [ -z "${IHP_SESSION_SECRET:-}" ]; then
  echo "IHP_SESSION_SECRET=$(/bin/busybox head -c 96 /dev/urandom | /bin/busybox base64 -w 0)"
fi
echo "Server started"
exec /bin/busybox httpd -f -v -p "${PORT:-8000}" -h /www
