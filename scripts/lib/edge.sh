# The edge tier (PHOTO_EDGE=1), in the role of the ELB: Debian's HAProxy
# terminating TLS on PHOTO_EDGE_PORT (TLS 1.2 and 1.3 only; HTTP/2 or
# HTTP/1.1 by ALPN) in front of the stack's nginx instances with the
# module: the first, the stack's own (PHOTO_NGINX_PORT, run/nginx), and one
# more per port of PHOTO_EDGE_NGINX_PORTS (run/nginx-<n>), each with its
# own workers, all with the same module, backends, uploads and keys.
# HAProxy speaks HTTP/1.1 with keep-alive to them, from an address of its
# own (EDGE_SOURCE), which is the only one nginx believes X-Forwarded-For
# (real_ip) and X-Forwarded-Proto (photo_trusted_proxy) from.
#
# Sourced by scripts/stack, which runs HAProxy as its other services: a
# child in its own session, its pid file, configuration, certificate and
# log under run/edge; ready when an HTTPS GET /health through it answers
# 200. scripts/bench uses the certificate and the configuration. Sourced,
# never run; everything here is a definition.

EDGE=$PHOTO_RUN_DIR/edge
HAPROXY=${PHOTO_HAPROXY_BINARY:-/usr/sbin/haproxy}
# The load balancer's address towards nginx: another loopback address than
# the clients' (127.0.0.1), so that nginx tells the two apart (on a
# deployment, the load balancers' own addresses; conf/haproxy.cfg)
EDGE_SOURCE=127.0.0.2
read -r -a EDGE_NG_PORTS <<<"${PHOTO_EDGE_NGINX_PORTS:-}"

edge_on() { [ "${PHOTO_EDGE:-0}" = 1 ]; }

# the port of nginx instance $1 (2, 3, ...): "-" when the settings name none
edge_ng_port() { echo "${EDGE_NG_PORTS[$(($1 - 2))]:--}"; }

# The numbers of the instances beside the first, one a line: those of
# PHOTO_EDGE_NGINX_PORTS when the edge runs; with "all" (for stop), also
# those whose pid file an earlier start left (other settings, scripts/demo)
edge_instances() {
    local all=${1:-} i f
    {
        if edge_on; then
            for ((i = 2; i <= ${#EDGE_NG_PORTS[@]} + 1; i++)); do echo "$i"; done
        fi
        if [ -n "$all" ]; then
            for f in "$PHOTO_RUN_DIR"/nginx-*/logs/nginx.pid; do
                [ -e "$f" ] || continue
                i=${f%/logs/nginx.pid} && i=${i##*/nginx-}
                if [[ $i =~ ^[0-9]+$ ]] && [ "$i" -ge 2 ]; then echo "$i"; fi
            done
        fi
    } | sort -un
}

# every instance's commands: ng_pidfile_<n> (log, start, ready) of
# scripts/stack's nginx, for instance n
edge_bind() {
    local n
    for n in $(edge_instances all); do bind_instance ng "$n" "$n"; done
}

# scripts/stack's services(): the instances, then HAProxy (started after
# them, stopped before them)
edge_services() {
    local all=${1:-} n
    for n in $(edge_instances "$all"); do
        echo "nginx-$n $(ng_port "$n") ng_pidfile_$n ng_log_$n ng_start_$n ng_ready_$n"
    done
    if edge_on || [ -n "$all" ]; then
        echo "haproxy $PHOTO_EDGE_PORT hap_pidfile hap_log hap_start hap_ready"
    fi
}

# in each instance's nginx.conf (http block): whom to believe
edge_ng_http() {
    edge_on || return 0
    cat <<NGX


    # behind the edge tier's HAProxy, which connects from $EDGE_SOURCE: the
    # client's address from its X-Forwarded-For (HAProxy drops the one a
    # client sends and sets its own), and its X-Forwarded-Proto believed,
    # from that address only
    set_real_ip_from   $EDGE_SOURCE;
    real_ip_header     X-Forwarded-For;
    real_ip_recursive  on;
    photo_trusted_proxy $EDGE_SOURCE;
NGX
}

# Prometheus scrapes every instance (after the first's target)
edge_prom_targets() {
    local n
    edge_on || return 0
    for n in $(edge_instances); do printf ", '%s:%s'" "$PHOTO_HOST" "$(ng_port "$n")"; done
}

# and HAProxy's exporter (a job of its own in prometheus.yml)
edge_prom_job() {
    edge_on || return 0
    cat <<YML

  - job_name: haproxy
    static_configs:
      - targets: ['$PHOTO_HOST:$PHOTO_EDGE_METRICS_PORT']
YML
}

# scripts/stack reload: each instance takes its new nginx.conf in turn, and
# HAProxy its new configuration (USR2 to its master: a new worker, the old
# one finishes its connections)
edge_reload() {
    local n master
    edge_on || return 0
    for n in $(edge_instances); do ng_reload "$n"; done
    pid_alive "$(hap_pidfile)" || die "haproxy is not running"
    master=$(head -n1 "$(hap_pidfile)")
    hap_conf
    kill -USR2 "$master"
    say "haproxy: reloaded (pid $master)"
}

# ------------------------------------------------------------- certificate
# edge_certs DIR: a CA of this machine (DIR/ca.crt, for the clients) and a
# certificate it signs for 127.0.0.1 and localhost, with its key in
# DIR/edge.pem (HAProxy's crt); P-256 keys. Made again only when missing
# or expiring within a day; the CA's key is not kept.
edge_certs() {
    local d=$1
    if [ -s "$d/edge.pem" ] && [ -s "$d/ca.crt" ] \
        && openssl x509 -checkend 86400 -noout -in "$d/edge.pem" >/dev/null 2>&1; then
        return 0
    fi
    mkdir -p "$d"
    (
        set -e
        cd "$d"
        umask 077
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -keyout ca.key -out ca.crt -days 30 -subj "/CN=ngx_photo local edge CA" \
            -addext basicConstraints=critical,CA:TRUE \
            -addext keyUsage=critical,keyCertSign,cRLSign
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -keyout server.key -out server.csr -subj /CN=localhost
        printf '%s\n' 'subjectAltName=IP:127.0.0.1,DNS:localhost' \
            'basicConstraints=critical,CA:FALSE' 'keyUsage=critical,digitalSignature' \
            'extendedKeyUsage=serverAuth' >server.ext
        openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
            -days 30 -out server.crt -extfile server.ext
        cat server.crt server.key >edge.pem.tmp
        mv edge.pem.tmp edge.pem
        rm -f ca.key ca.srl server.csr server.ext server.key
        chmod 644 ca.crt server.crt
    )
}

# ----------------------------------------------------------- configuration
# HAProxy's own metrics for Prometheus (its built-in exporter: every
# frontend, backend and nginx instance, their states, checks, retries and
# timings) on EDGE_METRICS_PORT, when set: a listener of their own, apart
# from the public one
edge_metrics_frontend() {
    [ -n "${EDGE_METRICS_PORT:-}" ] || return 0
    cat <<CFG

frontend metrics
    bind $PHOTO_HOST:$EDGE_METRICS_PORT
    no log
    http-request use-service prometheus-exporter if { path /metrics }
    http-request return status 404
CFG
}

# edge_haproxy_cfg PORT PEM SOCKET NAME=HOST:PORT...: HAProxy's
# configuration, the stack's and the bench's (conf/haproxy.cfg is a
# deployment's, with the same options): TLS on PHOTO_HOST:PORT with the
# certificate and key PEM, the admin socket SOCKET, one server per
# NAME=HOST:PORT.
edge_haproxy_cfg() {
    local port=$1 pem=$2 sock=$3 s
    shift 3
    cat <<CFG
# generated by scripts/lib/edge.sh; conf/haproxy.cfg is the example for a
# deployment (README, "The edge tier")
global
    maxconn  4096
    # old workers of a reload close what they still hold after this
    hard-stop-after  30s
    # the test's and the operator's way in: "show stat", "set server"
    stats socket $sock mode 600 level admin
    # only what went wrong (option dontlog-normal below), to run/edge/haproxy.log
    log stdout format raw local0
    # TLS 1.2 and 1.3 only, forward-secret AEAD ciphers (Mozilla's
    # "intermediate"), no session tickets (their key would never rotate)
    ssl-default-bind-options  ssl-min-ver TLSv1.2 no-tls-tickets
    ssl-default-bind-ciphers  ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305
    ssl-default-bind-ciphersuites  TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256

defaults
    mode  http
    log   global
    # when it was accepted (epoch, ms), who, which server, the timers, the
    # status, the termination state, retries ("+": redispatched)
    log-format  "%Ts.%ms %ci:%cp %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %tsc %ac/%fc/%bc/%sc/%rc %{+Q}r"
    option  dontlog-normal
    option  dontlognull
    timeout connect          1s
    timeout client           60s
    timeout http-request     10s
    timeout http-keep-alive  10s
    # the module answers within its backends' timeouts (sign-in waits for
    # the auth worker up to photo_auth_timeout, 5 s)
    timeout server           30s
    timeout queue            5s
    timeout check            3s
    # a request that could not reach its instance (refused, reset before
    # any answer, no answer) is sent to another one, at once
    retries  3
    option   redispatch 1
    retry-on conn-failure empty-response response-timeout
$(edge_http_errors)

frontend https
    bind $PHOTO_HOST:$port ssl crt $pem alpn h2,http/1.1
    # what a client says of itself is not passed on: the address is the one
    # it connected from, the scheme https
    http-request del-header X-Forwarded-For
    http-request del-header Forwarded
    http-request del-header X-Real-IP
    http-request set-header X-Forwarded-Proto https
    option forwardfor
    # the module's metrics are for the monitoring network, not the public
    http-request deny deny_status 404 if { path /metrics }
    default_backend nginx
$(edge_metrics_frontend)
backend nginx
    balance roundrobin
    http-reuse safe
    source $EDGE_SOURCE
    # an instance is in rotation while its /health answers 200: every
    # backend answers it (503 otherwise)
    option httpchk
    http-check send meth GET uri /health ver HTTP/1.1 hdr Host localhost
    http-check expect status 200
    # retried after a response broke or never came: only what may run
    # twice (reads; a write with an Idempotency-Key, which the module
    # applies once); a write without one only when it was never sent
    acl idempotent method GET HEAD OPTIONS
    acl keyed req.hdr(Idempotency-Key) -m found
    http-request disable-l7-retry unless idempotent || keyed
    # a check every 2 s; after a failure, or an error in live traffic
    # (observe), every 250 ms: down after 2 failures (0.25-0.5 s after the
    # first), up after 2 successes
    default-server check inter 2s fastinter 250ms downinter 1s fall 2 rise 2 observe layer4 error-limit 1 on-error fastinter
    # which instance answered (the stack's tests look at it)
    http-response set-header X-Served-By %[srv_name]
CFG
    for s; do printf '    server %s %s\n' "${s%%=*}" "${s#*=}"; done
    cat <<CFG
    # Failing open, as the ELB does: when no instance passes its check (a
    # backend of all of them is away, e.g. one memcached: /health 503
    # everywhere while the API still answers), every instance takes
    # requests again, unchecked, rather than none
    option allbackups
CFG
    for s; do printf '    server %s-open %s backup no-check\n' "${s%%=*}" "${s#*=}"; done
}

# HAProxy's own answers (a refused path, no instance to answer) in the
# API's shape, {"error":{"code","message"}}, with the codes and words of the
# module's (ngx_photo_error.c)
edge_http_errors() {
    local status code message
    echo "    # HAProxy's own answers in the API's shape (README, \"Faults\")"
    while read -r status code message; do
        printf "    http-error status %s content-type application/json string '%s'\n" "$status" \
            "{\"error\":{\"code\":\"$code\",\"message\":\"$message (HTTP $status)\"}}"
    done <<'ERR'
400 bad_request the request was refused
403 refused the request was refused
404 not_found the request was refused
408 timeout the request was refused
429 too_many_requests too many requests; try again later
500 internal_error the server failed; its log says more
502 unavailable the server failed; its log says more
503 unavailable the server failed; its log says more
504 unavailable the server failed; its log says more
ERR
}

# ----------------------------------------------------------------- haproxy

hap_pidfile() { echo "$EDGE/haproxy.pid"; }
hap_log()     { echo "$EDGE/haproxy.log"; }
hap_ready()   {
    curl -fsS -m 2 -o /dev/null --cacert "$EDGE/ca.crt" \
        "https://$PHOTO_HOST:$PHOTO_EDGE_PORT/health"
}

# the stack's configuration, checked (haproxy -c), in run/edge/haproxy.cfg
hap_conf() {
    local n servers=("nginx-1=$PHOTO_HOST:$PHOTO_NGINX_PORT")
    for n in $(edge_instances); do servers+=("nginx-$n=$PHOTO_HOST:$(ng_port "$n")"); done
    EDGE_METRICS_PORT=$PHOTO_EDGE_METRICS_PORT \
        edge_haproxy_cfg "$PHOTO_EDGE_PORT" "$EDGE/edge.pem" "$EDGE/haproxy.sock" \
        "${servers[@]}" >"$EDGE/haproxy.cfg.new"
    "$HAPROXY" -c -q -f "$EDGE/haproxy.cfg.new" >>"$(hap_log)" 2>&1 \
        || fail haproxy "$(hap_log)" "haproxy -c refused $EDGE/haproxy.cfg.new"
    mv "$EDGE/haproxy.cfg.new" "$EDGE/haproxy.cfg"
}

hap_start() {
    [ -x "$HAPROXY" ] || fail haproxy "$(hap_log)" "no $HAPROXY (scripts/setup installs it)"
    mkdir -p "$EDGE"
    edge_certs "$EDGE" >>"$(hap_log)" 2>&1 \
        || fail haproxy "$(hap_log)" "cannot make the edge's certificate in $EDGE"
    hap_conf
    # master-worker (-W), in the foreground (-db): USR2 reloads, TERM stops
    setsid "$HAPROXY" -W -db -f "$EDGE/haproxy.cfg" </dev/null >>"$(hap_log)" 2>&1 &
    echo $! >"$(hap_pidfile)"
}
