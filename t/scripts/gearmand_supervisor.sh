#!/usr/bin/env bash
# scripts/lib/gearmand-supervisor with a gearmand that reports a queue error
# and exits at once (as one does when Redis is away): the supervisor starts
# it again, less and less often, and stays there itself; SIGTERM stops it.
# (It used to read gearmand's log through a coproc, whose variables bash
# unsets when it reaps the process: with a gearmand that exits quickly the
# supervisor died on an unbound variable, and gearmand stayed down.)
# A stand-in on PATH, no stack needed.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d /var/tmp/ngx_photo-supervisor-test.XXXXXX)
sup=

fails=0
check() { if eval "$2"; then echo "ok - $1"; else echo "not ok - $1"; fails=$((fails + 1)); fi; }

cleanup() {
    [ -n "$sup" ] && kill -KILL "$sup" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

mkdir "$tmp/bin"
cat >"$tmp/bin/gearmand" <<SH
#!/bin/sh
echo \$\$ >>"$tmp/starts"
echo "  ERROR failed to insert 'q' into redis _hiredis_add(QUEUE_ERROR)"
exit 1
SH
chmod +x "$tmp/bin/gearmand"

PATH=$tmp/bin:$PATH setsid "$root/scripts/lib/gearmand-supervisor" \
    "$tmp/pid" "$tmp/log" -- --port 1 </dev/null >/dev/null 2>&1 &
sup=$!

sleep 3
starts=$(wc -l <"$tmp/starts" 2>/dev/null || echo 0)
check "a gearmand that exits at once is started again ($starts starts in 3 s)" \
      '[ "$starts" -ge 4 ]'
check "less and less often (the delay grows to 2 s: at most 8 in 3 s)" \
      '[ "$starts" -le 8 ]'
check "the supervisor is still there" 'kill -0 "$sup" 2>/dev/null'
check "its pid file names it" '[ "$(cat "$tmp/pid" 2>/dev/null)" = "$sup" ]'

kill -TERM "$sup"
for _ in $(seq 30); do kill -0 "$sup" 2>/dev/null || break; sleep 0.1; done
check "SIGTERM stops it" '! kill -0 "$sup" 2>/dev/null'
sup=
check "and it says so in the log" 'grep -q "supervisor: stopped" "$tmp/log"'

echo "$((6 - fails)) passed, $fails failed"
[ "$fails" = 0 ]
