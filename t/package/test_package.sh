#!/usr/bin/env bash
# The Debian packages (debian/): built from a copy of the checkout with
# dpkg-buildpackage, checked by lintian, installed (no service may start
# meanwhile: policy-rc.d), their files where Debian puts them, Debian's
# nginx -t with the packaged module loaded, systemd-analyze verify of the
# installed units, a worker run as photo-worker@persist-1.service would run
# it (against a gearmand of its own), then purged: the machine is left as
# it was.  Root only (it installs packages); exit 77 (skipped) when a tool
# is missing or a package is already installed.
#
#   t/package/test_package.sh            (ctest -L package)
#   KEEP=1 t/package/test_package.sh     keeps the temporary folder
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PKGS=(libnginx-mod-http-photo photo-workers)
INSTANCE=persist-1                 # the unit instance the worker runs as
MODULE=/usr/lib/nginx/modules/ngx_http_photo_module.so
SNIPPET=/usr/share/nginx/modules-available/mod-http-photo.conf
ENABLED=/etc/nginx/modules-enabled/50-mod-http-photo.conf
POLICY=/usr/sbin/policy-rc.d
POLICY_SAVED=/usr/sbin/policy-rc.d.photo-test-saved
UNIT_DIR=/lib/systemd/system

skip() { echo "SKIP: $*"; exit 77; }

[ "$(id -u)" = 0 ] || skip "installs packages: run as root"
for tool in dpkg-buildpackage dh lintian apt-get gearmand curl ss setpriv; do
    command -v "$tool" >/dev/null \
        || skip "$tool not found (apt-get install dpkg-dev debhelper lintian gearman-job-server curl iproute2 util-linux)"
done
for p in "${PKGS[@]}"; do
    if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
        skip "$p is installed already: this test installs and purges it, so it leaves it alone (a run killed midway leaves it: apt-get purge ${PKGS[*]})"
    fi
done
# a run killed while its policy-rc.d was in place: the one it set aside back
if [ -e "$POLICY_SAVED" ] && { [ ! -e "$POLICY" ] || grep -q 't/package/test_package.sh' "$POLICY"; }; then
    mv "$POLICY_SAVED" "$POLICY"
fi

# ------------------------------------------------------------------ steps
passed=0 failed=0 step_no=0 step_name='' step_start=''
T0=$EPOCHREALTIME

elapsed() { awk -v now="$EPOCHREALTIME" -v t="$1" 'BEGIN { printf "%.1f", now - t }'; }
step() { step_no=$((step_no + 1)) step_name=$1 step_start=$EPOCHREALTIME; echo "# $step_no. $1"; }
ok()   { passed=$((passed + 1)); echo "ok $step_no - $step_name ($(elapsed "$step_start") s)"; }
fail() {
    failed=$((failed + 1))
    echo "not ok $step_no - $step_name ($(elapsed "$step_start") s): $*"
    exit 1
}
check() { local what=$1; shift; "$@" || fail "$what"; }

# ---------------------------------------------------------------- cleanup
# under /tmp whatever TMPDIR says: apt's _apt user reads the .debs here
TMP=$(mktemp -d /tmp/photo-package.XXXXXX)
chmod 755 "$TMP"
GEARMAND_PID='' WORKER_PID='' POLICY_MINE=0 USER_BEFORE=0 GROUP_BEFORE=0
INSTANCE_CONF=/etc/photo/workers.d/$INSTANCE.conf
getent passwd photo >/dev/null && USER_BEFORE=1
getent group photo >/dev/null && GROUP_BEFORE=1
dpkg-query -W -f='${Package}\n' | sort >"$TMP/packages.before"
PORT80_BEFORE=$(ss -Hltn 'sport = :80' | wc -l)

stop_pid() {                       # stop_pid PID: TERM, then KILL after 10 s
    local pid=$1
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
}

# what the test added, taken away again; also after a failure
purge_all() {
    local extra installed=() rc=0
    [ -z "$WORKER_PID" ] || { stop_pid "$WORKER_PID"; WORKER_PID=; }
    [ -z "$GEARMAND_PID" ] || { stop_pid "$GEARMAND_PID"; GEARMAND_PID=; }
    rm -f "$INSTANCE_CONF"
    for p in "${PKGS[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'installed\|config-files' \
            && installed+=("$p")
    done
    # anything apt pulled in for them (nothing, when their dependencies
    # are installed already: the build dependencies bring them)
    extra=$(dpkg-query -W -f='${Package}\n' | sort \
            | comm -13 "$TMP/packages.before" - | grep -vxF -e "${PKGS[0]}" -e "${PKGS[1]}" || true)
    if [ ${#installed[@]} -gt 0 ] || [ -n "$extra" ]; then
        # shellcheck disable=SC2086
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 \
            purge -y -q "${installed[@]}" $extra >"$TMP/purge.log" 2>&1 \
            || { cat "$TMP/purge.log"; rc=1; }
    fi
    # Debian keeps a package's system user on purge; this test made it
    if [ "$USER_BEFORE" = 0 ] && getent passwd photo >/dev/null; then
        deluser --system --quiet photo >/dev/null 2>&1 || userdel photo
    fi
    if [ "$GROUP_BEFORE" = 0 ] && getent group photo >/dev/null; then
        delgroup --system --quiet photo >/dev/null 2>&1 || groupdel photo
    fi
    if [ "$POLICY_MINE" = 1 ]; then
        rm -f "$POLICY"
        [ ! -e "$POLICY_SAVED" ] || mv "$POLICY_SAVED" "$POLICY"
        POLICY_MINE=0
    fi
    return $rc
}

on_exit() {
    local rc=$?
    trap - EXIT
    purge_all || { echo "# cleanup failed: check with dpkg -l ${PKGS[*]}"; rc=1; }
    if [ "${KEEP:-0}" = 1 ]; then
        echo "# kept $TMP"
    elif [ "$rc" != 0 ] && [ "$rc" != 77 ]; then
        rm -rf "$TMP/src"          # the logs stay, for the failure
        echo "# logs kept in $TMP"
    else
        rm -rf "$TMP"
    fi
    echo "$passed passed, $failed failed ($(elapsed "$T0") s)"
    exit $rc
}
trap on_exit EXIT
trap 'exit 130' INT TERM

# -------------------------------------------------------------------- build
step "build the packages (dpkg-buildpackage -b) from a copy of the checkout"
mkdir "$TMP/src"
if git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1; then
    # tracked and untracked-but-not-ignored files, as they are in the
    # working tree (so build/, run/, build-asan/ stay out)
    git -C "$ROOT" ls-files -z --cached --others --exclude-standard \
        | (cd "$ROOT" && while IFS= read -r -d '' f; do
               [ -e "$f" ] && printf '%s\0' "$f"; done) \
        | tar -C "$ROOT" --null -T - -cf - | tar -C "$TMP/src" -xf -
else
    tar -C "$ROOT" --exclude=./build --exclude='./build-*' --exclude=./run \
        --exclude=./.git --exclude='./t/servroot*' -cf - . | tar -C "$TMP/src" -xf -
fi
(cd "$TMP/src" && dpkg-buildpackage -us -uc -b -j2) >"$TMP/build.log" 2>&1 \
    || { tail -n 40 "$TMP/build.log"; fail "dpkg-buildpackage failed ($TMP/build.log)"; }
mkdir "$TMP/debs"
for p in "${PKGS[@]}"; do
    debs=("$TMP/${p}"_*.deb)
    [ -f "${debs[0]}" ] || fail "no ${p}_*.deb built"
    cp "${debs[0]}" "$TMP/debs/"
done
chmod 755 "$TMP/debs"; chmod 644 "$TMP"/debs/*.deb
for deb in "$TMP"/debs/*.deb; do echo "#   ${deb##*/}: $(stat -c %s "$deb") bytes"; done
ok

# ------------------------------------------------------------------ lintian
step "lintian: no errors"
lintian --fail-on error --display-info --show-overrides "$TMP"/debs/*.deb >"$TMP/lintian.log" 2>&1 \
    || { cat "$TMP/lintian.log"; fail "lintian found errors"; }
grep -v 'running with root privileges' "$TMP/lintian.log" | sed 's/^/#   /' || true
echo "#   $(grep -c '^E:' "$TMP/lintian.log" || true) errors, $(grep -c '^W:' "$TMP/lintian.log" || true) warnings, $(grep -c '^I:' "$TMP/lintian.log" || true) infos, $(grep -c '^O:' "$TMP/lintian.log" || true) overridden (debian/*.lintian-overrides)"
ok

# ------------------------------------------------------------------ install
# (policy-rc.d stays until the packages are purged, in purge_all)
step "install both with apt-get; policy-rc.d lets no service start"
nginx_default_ok=0
/usr/sbin/nginx -t -q >/dev/null 2>&1 && nginx_default_ok=1
if [ -e "$POLICY" ] && { "$POLICY" nginx start >/dev/null 2>&1; [ $? = 101 ]; }; then
    echo "#   $POLICY already denies service starts: kept as it is"
else
    [ ! -e "$POLICY_SAVED" ] || fail "$POLICY_SAVED is there already: which policy-rc.d is the machine's?"
    [ ! -e "$POLICY" ] || mv "$POLICY" "$POLICY_SAVED"
    POLICY_MINE=1
    printf '#!/bin/sh\n# t/package/test_package.sh: no service starts while it installs\nexit 101\n' >"$POLICY"
    chmod 755 "$POLICY"
fi
DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 install -y -q \
    --no-install-recommends "$TMP"/debs/*.deb >"$TMP/install.log" 2>&1 \
    || { cat "$TMP/install.log"; fail "apt-get install failed"; }
grep -E '^(Setting up|Selecting|N:|W:|E:)' "$TMP/install.log" | sed 's/^/#   /' || true
ok

# -------------------------------------------------------------------- files
step "the module's files, where Debian's libnginx-mod-* put theirs"
check "$MODULE missing" test -f "$MODULE"
check "$SNIPPET is not the load_module line" \
    grep -qxF 'load_module modules/ngx_http_photo_module.so;' "$SNIPPET"
check "$ENABLED is not a link to $SNIPPET" \
    test "$(readlink "$ENABLED")" = "$SNIPPET"
abi=$(dpkg-query -W -f='${Depends}' libnginx-mod-http-photo | grep -o 'nginx-abi-[^ ,]*') \
    || fail "no nginx-abi-* in the module's Depends"
check "installed nginx does not provide $abi" \
    grep -qw -- "$abi" <<<"$(dpkg-query -W -f='${Provides}' nginx)"
echo "#   Depends: $abi; $ENABLED -> $SNIPPET"
ok

step "the workers' files, user and units"
for k in persist fanout follow device auth social share index notify reindex; do
    check "/usr/lib/photo/photo_$k missing" test -x "/usr/lib/photo/photo_$k"
done
# and every worker binary the build made (a new kind too)
for w in "$TMP"/src/debian/build/workers/photo_*; do
    if [ ! -f "$w" ] || [ ! -x "$w" ]; then continue; fi
    check "${w##*/} was built but is not packaged" test -x "/usr/lib/photo/${w##*/}"
done
check "/usr/lib/photo/photo-worker missing" test -x /usr/lib/photo/photo-worker
check "workers.conf is not a conffile" \
    grep -q '/etc/photo/workers.conf' <<<"$(dpkg-query -W -f='${Conffiles}' photo-workers)"
check "/etc/photo/workers.d missing" test -d /etc/photo/workers.d
# settings may hold secrets: root and the workers' group only
check "workers.conf is not root:photo 640" \
    test "$(stat -c '%U:%G %a' /etc/photo/workers.conf)" = "root:photo 640"
check "workers.d is not root:photo 750" \
    test "$(stat -c '%U:%G %a' /etc/photo/workers.d)" = "root:photo 750"
for u in photo-worker@.service photo-workers.target; do
    check "$UNIT_DIR/$u missing" test -f "$UNIT_DIR/$u"
done
check "photo-workers.target not enabled" \
    test -L /etc/systemd/system/multi-user.target.wants/photo-workers.target
for f in "$ROOT"/sql/*.sql; do
    check "/usr/share/photo/sql/${f##*/} differs" cmp -s "$f" "/usr/share/photo/sql/${f##*/}"
done
uid=$(id -u photo) || fail "no photo user"
check "photo is not a system user (uid $uid)" test "$uid" -lt 1000
check "photo has a login shell" grep -q 'nologin\|/bin/false' <<<"$(getent passwd photo)"
# every setting workers.conf names is one the workers read
while read -r key; do
    check "workers.conf names $key, which no worker reads" \
        grep -qaF "$key" /usr/lib/photo/photo_persist
done < <(sed -n 's/^#\{0,1\}\(PHOTO_[A-Z0-9_]*\)=.*/\1/p' /etc/photo/workers.conf | sort -u)
echo "#   $(find /usr/lib/photo -type f | wc -l) files in /usr/lib/photo, user photo uid $uid," \
     "$(grep -c '^#PHOTO_' /etc/photo/workers.conf) settings in workers.conf"
ok

# -------------------------------------------------------------------- nginx
step "nginx -t: a configuration of its own with the module's directives"
mkdir "$TMP/nginx"
cat >"$TMP/nginx/nginx.conf" <<EOF
# the module as Debian's nginx.conf loads it, and a few of its directives
include $ENABLED;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log;
events { worker_connections 64; }
http {
    access_log off;
    photo_redis      127.0.0.1:6379;
    photo_memcached  127.0.0.1:11211 127.0.0.1:11212;
    photo_postgres   "host=127.0.0.1 port=5432 user=photo dbname=photo";
    photo_gearman    127.0.0.1:4730;
    server {
        listen 127.0.0.1:8080;
        location / { photo_api; }
        location = /metrics { photo_metrics; }
    }
}
EOF
out=$(/usr/sbin/nginx -t -c "$TMP/nginx/nginx.conf" 2>&1) || { echo "$out"; fail "nginx -t failed"; }
printf '#   %s\n' "${out//$'\n'/$'\n'#   }"
# a directive of the module's without it loaded is refused: it was loaded
sed -i "s|^include $ENABLED;|# (not loaded)|" "$TMP/nginx/nginx.conf"
if /usr/sbin/nginx -t -c "$TMP/nginx/nginx.conf" >/dev/null 2>&1; then
    fail "nginx -t passes without the module too: the test proves nothing"
fi
ok

step "nginx -t: Debian's own nginx.conf, with the module enabled"
if [ "$nginx_default_ok" = 1 ]; then
    out=$(/usr/sbin/nginx -t 2>&1) || { echo "$out"; fail "nginx -t of /etc/nginx/nginx.conf fails with the module enabled"; }
    printf '#   %s\n' "${out//$'\n'/$'\n'#   }"
    check "Debian's nginx.conf does not load the module" \
        grep -q 'ngx_http_photo_module' <<<"$(/usr/sbin/nginx -T 2>/dev/null)"
else
    echo "#   /etc/nginx/nginx.conf failed nginx -t before the install already: not checked"
fi
ok

# ------------------------------------------------------------------ systemd
step "systemd-analyze verify of the installed units"
pid1=$(ps -p 1 -o comm= || echo '?')
if [ -d /run/systemd/system ]; then
    echo "#   systemd runs this machine (PID 1: $pid1)"
else
    echo "#   no running systemd here (PID 1: $pid1): the units are checked" \
         "offline, and the worker is started below as they would start it"
fi
command -v systemd-analyze >/dev/null || fail "systemd-analyze not found (apt-get install systemd)"
out=$(cd / && systemd-analyze verify "$UNIT_DIR/photo-workers.target" \
          "photo-worker@$INSTANCE.service" 2>&1) \
    || { echo "$out"; fail "systemd-analyze verify failed"; }
# it also exits 0 on what it only warns about: none expected either
[ -z "$out" ] || { echo "$out"; fail "systemd-analyze verify warned"; }
echo "#   photo-workers.target, photo-worker@$INSTANCE.service: verified"
if out=$(systemd-analyze security --offline=yes --no-pager \
             "$UNIT_DIR/photo-worker@.service" 2>/dev/null); then
    echo "#   systemd-analyze security: $(grep -i 'overall exposure' <<<"$out" | sed 's/^[→ ]*//')"
fi
ok

# ------------------------------------------------------------------- worker
# the unit's settings, as systemd reads them (%i: the instance)
unit_values() {                    # unit_values KEY: its values, one a line
    sed -n "s/^$1=//p" "$UNIT_DIR/photo-worker@.service" | sed "s/%i/$INSTANCE/g"
}

# KEY=VALUE lines of an EnvironmentFile= (comments, blank lines, quotes)
env_file() {
    local line key value
    while IFS= read -r line || [ -n "$line" ]; do
        [[ $line =~ ^[[:space:]]*([#\;].*)?$ ]] && continue
        key=${line%%=*} value=${line#*=}
        key=${key//[[:space:]]/}
        [[ $value =~ ^\"(.*)\"$ || $value =~ ^\'(.*)\'$ ]] && value=${BASH_REMATCH[1]}
        printf '%s=%s\n' "$key" "$value"
    done <"$1"
}

free_port() {
    local p
    for _ in $(seq 50); do
        p=$((20000 + RANDOM % 20000))
        [ -z "$(ss -Hltn "sport = :$p")" ] && { echo "$p"; return; }
    done
    return 1
}

step "photo-worker@$INSTANCE as the unit runs it: user, settings, command line"
gport=$(free_port) || fail "no free port"
mport=$(free_port) || fail "no free port"
[ "$gport" != "$mport" ] || mport=$((gport + 1))
gearmand --listen 127.0.0.1 --port "$gport" --log-file "$TMP/gearmand.log" \
    >/dev/null 2>&1 &
GEARMAND_PID=$!
for _ in $(seq 50); do
    [ -n "$(ss -Hltn "sport = :$gport")" ] && break; sleep 0.1
done
[ -n "$(ss -Hltn "sport = :$gport")" ] || fail "gearmand did not listen on $gport ($TMP/gearmand.log)"
# this instance's own settings, where workers.conf says they go
printf 'PHOTO_GEARMAN_SERVERS=127.0.0.1:%s\nPHOTO_METRICS_PORT=%s\n' "$gport" "$mport" \
    >"$INSTANCE_CONF"

mapfile -t exec_start < <(unit_values ExecStart)
user=$(unit_values User) group=$(unit_values Group)
umask_=$(unit_values UMask) nice_=$(unit_values Nice)
if [ ${#exec_start[@]} != 1 ] || [ -z "$user" ] || [ -z "$group" ]; then
    fail "ExecStart, User or Group missing from the unit"
fi
read -r -a argv <<<"${exec_start[0]}"
envs=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8)
while IFS= read -r f; do
    optional=0
    [[ $f == -* ]] && { optional=1; f=${f#-}; }
    if [ -r "$f" ]; then
        mapfile -t -O "${#envs[@]}" envs < <(env_file "$f")
    elif [ "$optional" = 0 ]; then
        fail "EnvironmentFile $f missing"
    fi
done < <(unit_values EnvironmentFile)
echo "#   ExecStart: ${argv[*]}; User=$user Group=$group UMask=${umask_:--} Nice=${nice_:-0};" \
     "settings: $(printf '%s ' "${envs[@]}" | grep -o 'PHOTO_[A-Z_]*=[^ ]*' | tr '\n' ' ')"

# what of the unit's sandbox can be had without systemd: its user and
# group, no new privileges, no capabilities, its umask and nice.  It execs:
# call it in a subshell only (&, $(...)), where the worker keeps its PID.
as_unit() {
    umask "${umask_:-0022}"
    exec env -i "${envs[@]}" nice -n "${nice_:-0}" \
        setpriv --reuid="$user" --regid="$group" --init-groups \
            --no-new-privs --inh-caps=-all --bounding-set=-all -- "$@"
}
as_unit "${argv[@]}" >"$TMP/worker.log" 2>&1 </dev/null &
WORKER_PID=$!

# taking jobs: gearmand lists it by its identifier, photo_persist-PID
registered=0
for _ in $(seq 100); do
    kill -0 "$WORKER_PID" 2>/dev/null || break
    if { exec 3<>"/dev/tcp/127.0.0.1/$gport"; } 2>/dev/null; then
        printf 'workers\n' >&3
        list=$(timeout 2 sed '/^\.$/q' <&3 || true)
        exec 3>&- 3<&-
        grep -q " photo_persist-$WORKER_PID : .*photo_persist" <<<"$list" && { registered=1; break; }
    fi
    sleep 0.1
done
[ "$registered" = 1 ] || { cat "$TMP/worker.log"; fail "the worker did not register with gearmand"; }
status=$(cat "/proc/$WORKER_PID/status")
check "the worker does not run as $user" \
    test "$(awk '/^Uid:/ {print $2}' <<<"$status")" = "$(id -u "$user")"
check "the worker may gain privileges (NoNewPrivs)" \
    test "$(awk '/^NoNewPrivs:/ {print $2}' <<<"$status")" = 1
check "the worker has capabilities (CapBnd)" \
    test "$(awk '/^CapBnd:/ {print $2}' <<<"$status")" = 0000000000000000
metrics=$(curl -fsS -m 5 "http://127.0.0.1:$mport/metrics") \
    || { cat "$TMP/worker.log"; fail "no metrics on its port $mport"; }
check "its metrics lack photo_worker_jobs_total" grep -q '^photo_worker_jobs_total{' <<<"$metrics"
echo "#   pid $WORKER_PID, uid $(id -u "$user") ($user), registered with gearmand 127.0.0.1:$gport, metrics on $mport"

# stopped as systemd stops it (KillSignal=SIGTERM): exits 0, in time
kill -TERM "$WORKER_PID"
t_stop=$EPOCHREALTIME
rc=0
for _ in $(seq 100); do kill -0 "$WORKER_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$WORKER_PID" 2>/dev/null && fail "still running 10 s after SIGTERM"
wait "$WORKER_PID" || rc=$?
WORKER_PID=
check "exit status $rc after SIGTERM" test "$rc" = 0
sed 's/^/#   /' "$TMP/worker.log"
echo "#   stopped $(elapsed "$t_stop") s after SIGTERM, exit status 0"
ok

step "an instance of an unknown kind: a clear error, exit status 2"
rc=0
out=$(as_unit "${argv[0]}" nosuch-1 2>&1) || rc=$?
echo "#   $out"
check "exit status $rc, not 2" test "$rc" = 2
check "the error does not name the kinds" grep -q 'persist' <<<"$out"
ok

# ------------------------------------------------------------------ purge
step "purge: nothing of the packages left"
stop_pid "$GEARMAND_PID"; GEARMAND_PID=
purge_all || fail "apt-get purge failed"
for f in "$MODULE" "$SNIPPET" "$ENABLED" "$ENABLED.removed" /etc/photo \
         /usr/lib/photo "$UNIT_DIR/photo-worker@.service" \
         /etc/systemd/system/multi-user.target.wants/photo-workers.target; do
    check "$f is left" test ! -e "$f" -a ! -L "$f"
done
if [ "$USER_BEFORE" = 0 ] && getent passwd photo >/dev/null; then
    fail "the photo user is left"
fi
check "packages differ from before the test" \
    cmp -s "$TMP/packages.before" <(dpkg-query -W -f='${Package}\n' | sort)
check "something listens on port 80 now" test "$(ss -Hltn 'sport = :80' | wc -l)" = "$PORT80_BEFORE"
check "policy-rc.d not restored" test ! -e "$POLICY_SAVED"
check "statoverrides of /etc/photo left" \
    test -z "$(dpkg-statoverride --list '/etc/photo/*')"
ok
