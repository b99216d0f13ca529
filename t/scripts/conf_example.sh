#!/usr/bin/env bash
# conf/nginx.conf, the deployment example, passes `nginx -t` with the module
# as built (only the load_module path, the log paths and the media and link
# keys' and the links' secret's paths are changed; they are made here).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
module=${1:?usage: conf_example.sh MODULE.so}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
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
out=$(/usr/sbin/nginx -t -p "$tmp" -c "$tmp/nginx.conf" -e "$tmp/logs/error.log" 2>&1) || {
    echo "$out"; echo "0 passed, 1 failed"; exit 1; }
echo "$out"
echo "1 passed, 0 failed"
