#!/usr/bin/env bash
# conf/nginx.conf, the deployment example, passes `nginx -t` with the module
# as built (only the load_module path and the log paths are changed).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
module=${1:?usage: conf_example.sh MODULE.so}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/logs"
sed -e "s|^load_module .*|load_module $module;|" \
    -e "s|/var/log/nginx/|$tmp/logs/|" "$root/conf/nginx.conf" >"$tmp/nginx.conf"
out=$(/usr/sbin/nginx -t -p "$tmp" -c "$tmp/nginx.conf" -e "$tmp/logs/error.log" 2>&1) || {
    echo "$out"; echo "0 passed, 1 failed"; exit 1; }
echo "$out"
echo "1 passed, 0 failed"
