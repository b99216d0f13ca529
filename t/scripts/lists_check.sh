#!/usr/bin/env bash
# scripts/lists-check on the stack's Redis (or its cluster): it finds the
# feeds and users' lists left without their marker, leaves complete lists
# and pending sets alone, and with --delete removes only what it found.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/scripts/lib/common.sh"

fails=0
check() { if eval "$2"; then echo "ok - $1"; else echo "not ok - $1"; fails=$((fails + 1)); fi; }

marker=$(sed -n 's/^#define PHOTO_LIST_COMPLETE *"\([0-9]*\)".*/\1/p' "$root/contract/photo_contract.h")
u=7300000000000000
# a Redis command to the node holding the key (redis-cli -c follows MOVED)
r() {
    if [ "$PHOTO_REDIS_CLUSTER" = 1 ]; then
        redis-cli -c -h "$PHOTO_HOST" -p "${PHOTO_REDIS_CLUSTER_PORTS%% *}" "$@"
    else
        rcli "$PHOTO_REDIS_PORT" "$@"
    fi
}
keys="feed:{${u}001} feed:{${u}002} user_photos:{${u}003} feed:{${u}004}:pending"
cleanup() { for k in $keys; do r DEL "$k" >/dev/null; done; }
trap cleanup EXIT
cleanup

r ZADD "feed:{${u}001}" 0 "$(printf %019d 42)" 0 "$(printf %019d 43)" >/dev/null
r ZADD "feed:{${u}002}" 0 "$marker" 0 "$(printf %019d 42)" >/dev/null
r ZADD "user_photos:{${u}003}" 0 "$(printf %019d 44)" >/dev/null
r ZADD "feed:{${u}004}:pending" 0 "$(printf %019d 45)" >/dev/null

out=$("$root/scripts/lists-check" 2>&1); rc=$?
echo "$out" | sed 's/^/# /'
check "it exits 0" '[ "$rc" = 0 ]'
masters=1
[ "$PHOTO_REDIS_CLUSTER" != 1 ] || masters=$(cluster_masters | wc -l)
check "it looks at every master ($masters)" '[ "$(grep -c "list(s) without" <<<"$out")" = "$masters" ]'
found=$(sed -n 's/.*: \([0-9]*\) list(s) without their marker.*/\1/p' <<<"$out" | awk '{ n += $1 } END { print n + 0 }')
check "it counts the lists without their marker ($found)" '[ "$found" -ge 2 ]'
check "and changes nothing without --delete" \
    '[ "$(r EXISTS "feed:{${u}001}")" = 1 ] && [ "$(r EXISTS "user_photos:{${u}003}")" = 1 ]'

"$root/scripts/lists-check" --delete >/dev/null 2>&1; rc=$?
check "--delete exits 0" '[ "$rc" = 0 ]'
check "--delete removes the feed and the user's list without their marker" \
    '[ "$(r EXISTS "feed:{${u}001}")" = 0 ] && [ "$(r EXISTS "user_photos:{${u}003}")" = 0 ]'
check "a complete list stays, and so does a pending set" \
    '[ "$(r ZCARD "feed:{${u}002}")" = 2 ] && [ "$(r EXISTS "feed:{${u}004}:pending")" = 1 ]'
out=$("$root/scripts/lists-check" 2>&1)
check "then it finds none" '! grep -q "[1-9][0-9]* list(s) without" <<<"$out"'

[ "$fails" = 0 ]
