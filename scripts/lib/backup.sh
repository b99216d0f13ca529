# What scripts/backup and scripts/restore share: where the stack keeps each
# piece of state that matters (as scripts/stack lays it out), the backup's
# format, and a Redis of our own that loads an RDB. Sourced after
# common.sh, never run.
#
# A backup is a folder, photo-<UTC time>, mode 700:
#
#   manifest.json            what, when, from which versions and settings,
#                            the figures; every file below with its size
#                            and SHA-256
#   SHA256SUMS               the same sums, for sha256sum -c
#   postgres/base.tar.gz     pg_basebackup -Ft -X fetch (then gzip): the
#                            cluster, with the WAL that makes it consistent
#   postgres/backup_manifest pg_basebackup's own
#   redis/dump.rdb           the Redis of PHOTO_REDIS_PORT: every key, and
#                            gearmand's queues (gearman_queue_<port>-*)
#   redis-cluster/<port>/dump.rdb   (PHOTO_REDIS_CLUSTER=1) each master's
#   redis-cluster/<port>/nodes.conf every node's: the slots, who replicates
#                            whom
#   media.tar                the uploads (photo_media_root), as nginx wrote
#                            them
#   media.sha256             each upload's SHA-256, as in media.tar
#   s3.tar                   (PHOTO_S3=1) the bucket: s3rver's folder, its
#                            objects with their metadata
#   s3.sha256                each object's SHA-256, by bucket key
#   secrets/                 the stack's keys that the data depends on:
#                            upload names (media.key), links
#                            (media-link.secret), sealed credentials
#                            (link.key)
#
# It holds password hashes, sessions and the key to the sealed
# credentials: keep it as private as the stack itself.

BK_FORMAT="ngx_photo-backup 1"

# the stack's keys the data depends on, under the run directory
BK_SECRETS=(nginx/media.key nginx/media-link.secret share/link.key)

bk_pg_data()    { echo "$(reachable_dir pg postgres)/data"; }
bk_shared()     { reachable_dir nginx-shared nobody; }       # uploads in ./media
bk_redis_dir()  { echo "$PHOTO_RUN_DIR/redis"; }
bk_node_dir()   { echo "$PHOTO_RUN_DIR/redis-cluster/$1"; }
bk_s3_dir()     { echo "$PHOTO_RUN_DIR/s3"; }                # objects in ./data

# field $2 of INFO persistence of the Redis that rcli-like command $1 reaches
bk_info() {
    $1 info persistence | tr -d '\r' | sed -n "s/^$2://p"
}

# the seconds since the epoch, to the millisecond
bk_now() { date +%s.%3N; }

# seconds from $1 to now, one decimal
bk_since() { awk -v a="$1" -v b="$(bk_now)" 'BEGIN { printf "%.1f", b - a }'; }

# ------------------------------------------------------ a Redis of our own
# Loads an RDB with AOF off (an RDB is ignored by a Redis started with
# appendonly yes, and when it finds no AOF it makes an empty one), on a
# Unix socket only: no port to collide with, nothing else reaches it.
# scripts/backup loads each RDB it took to count what is in it;
# scripts/restore to turn it into the AOF the stack's Redis starts from.

BK_PRIVATE_SOCK=
BK_PRIVATE_PID=

bk_private_cli() { redis-cli -s "$BK_PRIVATE_SOCK" "$@"; }

bk_private_up() { [ "$(bk_private_cli ping 2>/dev/null)" = PONG ]; }

# bk_private_start DIR [aof]: a Redis loading DIR/dump.rdb, or with "aof"
# the AOF of DIR/appendonlydir as the stack's Redis would; DIR is its folder
bk_private_start() {
    local dir=$1 aof=no sockdir
    [ "${2:-}" != aof ] || aof=yes
    # a short path: a Unix socket's is at most 107 bytes
    sockdir=$(mktemp -d /tmp/ngx_photo-rdb.XXXXXX)
    BK_PRIVATE_SOCK=$sockdir/redis.sock
    redis-server --port 0 --unixsocket "$BK_PRIVATE_SOCK" --unixsocketperm 700 \
        --dir "$dir" --dbfilename dump.rdb --appendonly "$aof" --save '' \
        --daemonize yes --pidfile "$sockdir/redis.pid" \
        --logfile "$dir/load.log" >/dev/null 2>&1 9>&- \
        || die "redis-server would not start on $dir (see $dir/load.log)"
    wait_for 5 test -s "$sockdir/redis.pid" \
        || die "redis-server did not start on $dir (see $dir/load.log)"
    BK_PRIVATE_PID=$(head -n1 "$sockdir/redis.pid")
    # PING answers LOADING until the whole RDB is in
    wait_for 600 bk_private_up \
        || die "redis-server did not load $dir/dump.rdb (see $dir/load.log)"
}

# shut it down (nothing saved: with AOF on, the AOF is written and fsynced)
bk_private_stop() {
    [ -n "$BK_PRIVATE_PID" ] || return 0
    bk_private_cli shutdown nosave >/dev/null 2>&1 || true
    wait_for 30 eval "! pid_running $BK_PRIVATE_PID" \
        || kill -KILL "$BK_PRIVATE_PID" 2>/dev/null || true
    rm -rf "${BK_PRIVATE_SOCK%/*}"
    BK_PRIVATE_PID='' BK_PRIVATE_SOCK=''
}

# the keys it holds
bk_private_keys() { bk_private_cli dbsize | tr -d '\r'; }

# AOF on, as the stack runs Redis: Redis writes the AOF's base from what
# it holds (a rewrite); done once that rewrite is
bk_private_aof_on() {
    local rewrites
    rewrites=$(bk_info bk_private_cli aof_rewrites)
    [ "$(bk_private_cli config set appendonly yes | tr -d '\r')" = OK ] \
        || die "redis-server refused CONFIG SET appendonly yes"
    wait_for 600 bk_private_aof_done "$rewrites" \
        || die "the AOF rewrite did not finish within 600 s"
    [ "$(bk_info bk_private_cli aof_last_bgrewrite_status)" = ok ] \
        || die "the AOF rewrite failed (aof_last_bgrewrite_status)"
}

bk_private_aof_done() {
    [ "$(bk_info bk_private_cli aof_rewrite_in_progress)" = 0 ] \
        && [ "$(bk_info bk_private_cli aof_rewrite_scheduled)" = 0 ] \
        && [ "$(bk_info bk_private_cli aof_rewrites)" -gt "$1" ]
}

# gearmand's queued jobs in it, per port: "port count" lines (the Redis
# queue keeps a job as the hash gearman_queue_<port>-<function>-<unique>)
bk_private_queued() {
    bk_private_cli --scan --pattern 'gearman_queue_*' \
        | sed -n 's/^gearman_queue_\([0-9]*\)-.*/\1/p' | sort | uniq -c \
        | awk '{ print $2, $1 }'
}
