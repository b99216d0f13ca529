#!/usr/bin/env bash
# The deployment examples pass their server's own check: conf/nginx.conf
# `nginx -t` with the module as built (only the load_module path, the log
# paths and the media and link keys' and the links' secret's paths are
# changed; they are made here), and conf/haproxy.cfg `haproxy -c` (only its
# certificate's path is changed: one is made here, as the stack makes its
# own, scripts/lib/edge.sh).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
module=${1:?usage: conf_example.sh MODULE.so}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0

mkdir -p "$tmp/logs"
openssl rand -out "$tmp/photo_media.key" 32
openssl rand -out "$tmp/photo_link.key" 32
openssl rand -hex 32 >"$tmp/photo_media_link.secret"
sed -e "s|^load_module .*|load_module $module;|" \
    -e "s|/var/log/nginx/|$tmp/logs/|" \
    -e "s|/etc/nginx/photo_media.key|$tmp/photo_media.key|" \
    -e "s|/etc/nginx/photo_link.key|$tmp/photo_link.key|" \
    -e "s|/etc/nginx/photo_media_link.secret|$tmp/photo_media_link.secret|" \
    "$root/conf/nginx.conf" >"$tmp/nginx.conf"
if out=$(/usr/sbin/nginx -t -p "$tmp" -c "$tmp/nginx.conf" -e "$tmp/logs/error.log" 2>&1); then
    echo "$out"; echo "ok - conf/nginx.conf: nginx -t"; passed=$((passed + 1))
else
    echo "$out"; echo "not ok - conf/nginx.conf: nginx -t"; failed=$((failed + 1))
fi

# shellcheck source=../../scripts/lib/edge.sh
PHOTO_RUN_DIR=$tmp . "$root/scripts/lib/edge.sh"
edge_certs "$tmp/edge" >/dev/null 2>&1 || true
sed -e "s|/etc/haproxy/certs/photo.example.com.pem|$tmp/edge/edge.pem|" \
    "$root/conf/haproxy.cfg" >"$tmp/haproxy.cfg"
if out=$("$HAPROXY" -c -f "$tmp/haproxy.cfg" 2>&1); then
    echo "$out"; echo "ok - conf/haproxy.cfg: haproxy -c"; passed=$((passed + 1))
else
    echo "$out"; echo "not ok - conf/haproxy.cfg: haproxy -c"; failed=$((failed + 1))
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
