# Shared by the scripts: where the checkout is, the stack's settings, messages.
# Sourced, never run.

PHOTO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export PHOTO_ROOT
# shellcheck source=../../conf/stack.env
. "$PHOTO_ROOT/conf/stack.env"

PHOTO_BUILD_DIR=${PHOTO_BUILD_DIR:-$PHOTO_ROOT/build}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
export PHOTO_BUILD_DIR PG_BIN

say()  { printf '%s\n' "$*"; }
warn() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
die()  { warn "$*"; exit 1; }

# wait_for SECONDS COMMAND...: poll until COMMAND succeeds; 1 when it never did.
wait_for() {
    local deadline=$(( $(date +%s) + $1 )); shift
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$deadline" ] || return 1
        sleep 0.1
    done
}

# "host:port ..." of a port list $1 on PHOTO_HOST: nginx.conf's photo_memcached
# and photo_gearman, and the workers' PHOTO_*_SERVERS, in that order
servers_of() {
    local p out=
    for p in $1; do out+="${out:+ }$PHOTO_HOST:$p"; done
    printf '%s\n' "$out"
}

# pid_running PID: a live process, not a zombie (the stack's daemons are
# reparented to PID 1, which may reap them only a while after they exit).
pid_running() {
    local stat
    kill -0 "$1" 2>/dev/null || return 1
    stat=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) || return 1
    [ "$stat" != Z ]
}

# pid_alive PIDFILE: the pid written there is a live process.
pid_alive() {
    local pid rest start mtime
    [ -s "$1" ] && pid=$(head -n1 "$1" 2>/dev/null) && [ -n "$pid" ] && pid_running "$pid" \
        || return 1
    # a process started after the file was written is another that took the
    # PID again (seen: a stand-in's, after it died, by a gearmand that its
    # supervisor restarted), not the one the file names. Its start: field
    # 22 of /proc/PID/stat (after the name, which may hold spaces), in
    # clock ticks since boot
    rest=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null) || return 1
    start=$(awk -v t="$(getconf CLK_TCK)" -v b="$(awk '/^btime/ {print $2}' /proc/stat)" \
        '{print int(b + $20 / t)}' <<<"$rest")
    mtime=$(stat -c %Y "$1" 2>/dev/null) || return 1
    [ "$start" -le $((mtime + 2)) ]
}

# port_owner PORT: "pid=N,cmd" of whatever listens on 127.0.0.1:PORT, or nothing.
port_owner() {
    ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'users:(([^)]*))' | head -n1 || true
}

# tcp_ask PORT REQUEST EXPECT: send REQUEST, succeed if the answer starts with EXPECT.
tcp_ask() {
    local reply
    { exec 3<>"/dev/tcp/$PHOTO_HOST/$1"; } 2>/dev/null || return 1
    printf '%b' "$2" >&3
    IFS= read -r -t 2 reply <&3
    exec 3>&- 3<&-
    [[ $reply == "$3"* ]]
}

# Some folders are used by another user than the caller: PostgreSQL runs
# as `postgres` when we are root (initdb refuses root), and nginx's workers
# as `nobody` (they write uploads and spool request bodies).  A checkout
# under a private home folder (mode 700) is not reachable by them: then
# such a folder goes to a private one under /var/tmp, recorded in the run
# directory.  Permissions of the checkout are never loosened.
reachable_dir() {
    local name=$1 user=$2 d
    if [ -s "$PHOTO_RUN_DIR/$name.location" ]; then
        cat "$PHOTO_RUN_DIR/$name.location"
    elif [ "$(id -u)" -ne 0 ] || runuser -u "$user" -- test -x "$PHOTO_RUN_DIR"; then
        echo "$PHOTO_RUN_DIR/$name"
    else
        d=$(mktemp -d "/var/tmp/ngx_photo-$name.XXXXXX")
        chmod 755 "$d"
        echo "$d" >"$PHOTO_RUN_DIR/$name.location"
        echo "$d"
    fi
}

# redis-cli to the stack's Redis on port $1
rcli() {
    local port=$1
    shift
    redis-cli -h "$PHOTO_HOST" -p "$port" "$@"
}

# the ports of the Redis Cluster's masters now (nodes not marked failed)
cluster_masters() {
    local p
    for p in $PHOTO_REDIS_CLUSTER_PORTS; do
        rcli "$p" cluster nodes 2>/dev/null | tr -d '\r' \
            | awk '$3 ~ /master/ && $3 !~ /fail/ { sub(/@.*/, "", $2); sub(/.*:/, "", $2); print $2 }' \
            | sort -n && return 0
    done
    return 1
}
