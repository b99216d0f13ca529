#!/usr/bin/env bash
# scripts/stack start, when another process holds one of its ports: a clear
# error naming the service and the port, that process untouched, and
# scripts/stack stop cleans up what had been started before the clash.
# Runs in its own run directory on its own ports, beside the test stack.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d /var/tmp/ngx_photo-port-test.XXXXXX)
chmod 755 "$tmp"
holder=

fails=0
check() { if eval "$2"; then echo "ok - $1"; else echo "not ok - $1"; fails=$((fails + 1)); fi; }

cleanup() {
    [ -n "$holder" ] && kill "$holder" 2>/dev/null
    PHOTO_RUN_DIR=$tmp/run "$root/scripts/stack" clean >/dev/null 2>&1
    rm -rf "$tmp"
}
trap cleanup EXIT

# A free port the kernel picks, held by a plain listener (bounded life).
python3 - "$tmp/port" >/dev/null 2>&1 <<'PY' &
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(8)
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1]))
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(120)
PY
holder=$!
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

export PHOTO_RUN_DIR=$tmp/run
export PHOTO_PG_PORT=$(free_port) PHOTO_MEMCACHED_PORTS="$(free_port) $(free_port)"
export PHOTO_GEARMAN_PORT=$(free_port) PHOTO_NGINX_PORT=$(free_port)
PHOTO_REDIS_PORT=$(cat "$tmp/port")
export PHOTO_REDIS_PORT

out=$("$root/scripts/stack" start 2>&1); rc=$?
echo "$out" | sed 's/^/    | /'

check "start fails when redis's port is taken" '[ $rc -ne 0 ]'
check "the error names redis and port $PHOTO_REDIS_PORT" \
    'echo "$out" | grep -q "redis: port $PHOTO_REDIS_PORT on 127.0.0.1 is already in use by another process"'
check "the error names the process holding it" 'echo "$out" | grep -q "python3"'
check "the process holding the port is untouched" 'kill -0 $holder'
check "it still holds the port" \
    'ss -Hltnp "sport = :$PHOTO_REDIS_PORT" | grep -q "pid=$holder,"'
check "nothing was started after the clash" \
    '! ss -Hltn "sport = :$PHOTO_GEARMAN_PORT" | grep -q .'

"$root/scripts/stack" stop >/dev/null 2>&1
check "stop leaves no postgres of this run behind" \
    '! ss -Hltn "sport = :$PHOTO_PG_PORT" | grep -q .'
check "the holder survives stop too" 'kill -0 $holder'

echo "$(( 8 - fails )) passed, $fails failed"
[ $fails -eq 0 ]
