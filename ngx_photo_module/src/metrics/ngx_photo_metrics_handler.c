
/*
 * "photo_metrics": the zone's counters, summed over the worker slots, in
 * Prometheus's text exposition format (version 0.0.4).  Names and units
 * follow Prometheus's naming guide: _total counters, _seconds histograms
 * with cumulative buckets.
 */

#include "ngx_photo_metrics_zone.h"


/* a line at most: the longest name and labels, a server's name aside */
#define NGX_PHOTO_METRICS_LINE  192


typedef struct {
    u_char                     *pos;
    u_char                     *last;
} ngx_photo_expo_t;


static void ngx_photo_expo_histogram(ngx_photo_expo_t *e,
    ngx_photo_metrics_shm_t *shm, size_t offset, const char *name,
    const char *labels, ngx_str_t *label2);
static ngx_atomic_uint_t ngx_photo_expo_sum(ngx_photo_metrics_shm_t *shm,
    size_t offset);


static const char  *ngx_photo_expo_bounds[] = NGX_PHOTO_METRICS_BOUND_NAMES;

static const char  *ngx_photo_expo_counters[NGX_PHOTO_M_N][2] = {
    { "photo_read_objects_requested_total", "" },
    { "photo_read_objects_served_total", "{source=\"object_cache\"}" },
    { "photo_read_objects_served_total", "{source=\"memcached\"}" },
    { "photo_read_objects_served_total", "{source=\"postgres\"}" },
    { "photo_read_objects_written_back_total", "" },
    { "photo_read_list_rebuilds_total", "" },
    { "photo_write_jobs_total", "{outcome=\"submitted\"}" },
    { "photo_write_jobs_total", "{outcome=\"refused\"}" },
    { "photo_write_jobs_total", "{outcome=\"timedout\"}" }
};

static const char  *ngx_photo_expo_help[NGX_PHOTO_M_N] = {
    "Photo objects the pages asked for.",
    "Photo objects served, by where they were found.",
    NULL, NULL,
    "Photo objects read through Postgres and put into memcached.",
    "User photo lists rebuilt from Postgres.",
    "Writes handed to gearmand as jobs, refused by it (or it was away), "
    "or not answered in time.",
    NULL, NULL
};

/* the per-server series but the histogram; one pass each, as a metric's
   lines must stand together */
typedef struct {
    const char                 *name;
    const char                 *type;
    const char                 *help;
    size_t                      offset;
} ngx_photo_expo_series_t;


static const ngx_photo_expo_series_t  ngx_photo_expo_servers[] = {
    { "photo_backend_requests_total", "counter",
      "Calls to a backend server, failed ones included.",
      offsetof(ngx_photo_metrics_server_t, calls) },
    { "photo_backend_errors_total", "counter",
      "Calls that found the server away or had a bad reply.",
      offsetof(ngx_photo_metrics_server_t, errors) },
    { "photo_backend_timeouts_total", "counter",
      "Calls that timed out.",
      offsetof(ngx_photo_metrics_server_t, timeouts) },
    { "photo_backend_reconnects_total", "counter",
      "Connections made again after one was lost.",
      offsetof(ngx_photo_metrics_server_t, reconnects) },
    { "photo_backend_connections", "gauge",
      "Connections to the server: open (idle ones included), idle in "
      "the keepalive cache.",
      offsetof(ngx_photo_metrics_server_t, open) },
    { NULL, NULL, NULL, 0 }
};


#define ngx_photo_expo(e, ...)                                               \
    (e)->pos = ngx_slprintf((e)->pos, (e)->last, __VA_ARGS__)

#define ngx_photo_expo_off(field)                                            \
    offsetof(ngx_photo_metrics_slot_t, field)


ngx_int_t
ngx_photo_metrics_handler(ngx_http_request_t *r)
{
    size_t                          size, off;
    ngx_int_t                       rc;
    ngx_buf_t                      *b;
    ngx_str_t                       ep, label;
    ngx_uint_t                      i, k, n;
    ngx_chain_t                     out;
    ngx_photo_expo_t                e;
    ngx_photo_metrics_shm_t        *shm;
    ngx_photo_metrics_peer_t       *peer;
    ngx_photo_metrics_main_conf_t  *mmcf;
    const ngx_photo_expo_series_t  *sv;
    u_char                          labels[NGX_PHOTO_METRICS_LINE];

    static const char  *classes[] = { "1xx", "2xx", "3xx", "4xx", "5xx" };

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_photo_metrics_module);
    shm = mmcf->shm;

    /* every line's room: the endpoints', the counters', the servers' */
    size = (NGX_PHOTO_EP_N * (5 + 1 + NGX_PHOTO_METRICS_BUCKETS + 3) + 40)
           * NGX_PHOTO_METRICS_LINE;

    for (n = 0; n < mmcf->nservers; n++) {
        size += (6 + NGX_PHOTO_METRICS_BUCKETS + 3)
                * (NGX_PHOTO_METRICS_LINE + mmcf->peers[n].name->len);
    }

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    e.pos = b->pos;
    e.last = b->end;

    /* the API's requests */

    ngx_photo_expo(&e,
        "# HELP photo_http_requests_total Requests the photo API answered, "
        "by endpoint and status class.\n"
        "# TYPE photo_http_requests_total counter\n");

    for (i = 0; i < NGX_PHOTO_EP_N; i++) {
        for (k = 0; k < 5; k++) {
            ngx_photo_expo(&e,
                "photo_http_requests_total{endpoint=\"%s\",code=\"%s\"} %uA\n",
                ngx_photo_endpoint_names[i], classes[k],
                ngx_photo_expo_sum(shm,
                                   ngx_photo_expo_off(endpoint[i].requests[k])));
        }
    }

    ngx_photo_expo(&e,
        "# HELP photo_http_slow_requests_total Requests slower than "
        "photo_slow_request, by endpoint.\n"
        "# TYPE photo_http_slow_requests_total counter\n");

    for (i = 0; i < NGX_PHOTO_EP_N; i++) {
        ngx_photo_expo(&e, "photo_http_slow_requests_total{endpoint=\"%s\"} "
                       "%uA\n", ngx_photo_endpoint_names[i],
                       ngx_photo_expo_sum(shm,
                                      ngx_photo_expo_off(endpoint[i].slow)));
    }

    ngx_photo_expo(&e,
        "# HELP photo_http_request_duration_seconds Time from the router to "
        "the log phase, by endpoint.\n"
        "# TYPE photo_http_request_duration_seconds histogram\n");

    for (i = 0; i < NGX_PHOTO_EP_N; i++) {
        ep.data = (u_char *) ngx_photo_endpoint_names[i];
        ep.len = ngx_strlen(ep.data);

        ngx_photo_expo_histogram(&e, shm,
                                 ngx_photo_expo_off(endpoint[i].duration),
                                 "photo_http_request_duration_seconds",
                                 "endpoint", &ep);
    }

    /* the read and write paths' counters */

    for (i = 0; i < NGX_PHOTO_M_N; i++) {
        if (ngx_photo_expo_help[i]) {
            ngx_photo_expo(&e, "# HELP %s %s\n# TYPE %s counter\n",
                           ngx_photo_expo_counters[i][0],
                           ngx_photo_expo_help[i],
                           ngx_photo_expo_counters[i][0]);
        }

        ngx_photo_expo(&e, "%s%s %uA\n", ngx_photo_expo_counters[i][0],
                       ngx_photo_expo_counters[i][1],
                       ngx_photo_expo_sum(shm,
                                          ngx_photo_expo_off(counter[i])));
    }

    /* the backends' servers */

    for (k = 0; ngx_photo_expo_servers[k].name; k++) {
        sv = &ngx_photo_expo_servers[k];

        ngx_photo_expo(&e, "# HELP %s %s\n# TYPE %s %s\n",
                       sv->name, sv->help, sv->name, sv->type);

        for (n = 0; n < mmcf->nservers; n++) {
            peer = &mmcf->peers[n];
            off = ngx_photo_expo_off(server[n]);

            if (sv->offset != offsetof(ngx_photo_metrics_server_t, open)) {
                ngx_photo_expo(&e, "%s{backend=\"%s\",server=\"%V\"} %uA\n",
                               sv->name, peer->backend, peer->name,
                               ngx_photo_expo_sum(shm, off + sv->offset));
                continue;
            }

            /* gauges: the sums of +1 and -1, signed */

            ngx_photo_expo(&e,
                "%s{backend=\"%s\",server=\"%V\",state=\"open\"} %A\n"
                "%s{backend=\"%s\",server=\"%V\",state=\"idle\"} %A\n",
                sv->name, peer->backend, peer->name,
                (ngx_atomic_int_t) ngx_photo_expo_sum(shm, off
                    + offsetof(ngx_photo_metrics_server_t, open)),
                sv->name, peer->backend, peer->name,
                (ngx_atomic_int_t) ngx_photo_expo_sum(shm, off
                    + offsetof(ngx_photo_metrics_server_t, idle)));
        }
    }

    ngx_photo_expo(&e,
        "# HELP photo_backend_request_duration_seconds Time from a call to "
        "its answer (or failure), by backend server.\n"
        "# TYPE photo_backend_request_duration_seconds histogram\n");

    for (n = 0; n < mmcf->nservers; n++) {
        peer = &mmcf->peers[n];

        /* backend="redis",server="..." as the histogram's labels */
        label.data = labels;
        label.len = ngx_snprintf(labels, sizeof(labels), "%s\",server=\"%V",
                                 peer->backend, peer->name)
                    - labels;

        ngx_photo_expo_histogram(&e, shm,
                                 ngx_photo_expo_off(server[n].duration),
                                 "photo_backend_request_duration_seconds",
                                 "backend", &label);
    }

    b->last = e.pos;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;
    ngx_str_set(&r->headers_out.content_type,
                "text/plain; version=0.0.4; charset=utf-8");
    r->headers_out.content_type_len = sizeof("text/plain") - 1;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/* label="value" into the buckets' lines, cumulative as Prometheus counts */

static void
ngx_photo_expo_histogram(ngx_photo_expo_t *e, ngx_photo_metrics_shm_t *shm,
    size_t offset, const char *name, const char *label, ngx_str_t *value)
{
    ngx_uint_t         i;
    ngx_atomic_uint_t  count, sum;

    count = 0;

    for (i = 0; i <= NGX_PHOTO_METRICS_BUCKETS; i++) {
        count += ngx_photo_expo_sum(shm, offset
                                    + offsetof(ngx_photo_histogram_t, bucket)
                                    + i * sizeof(ngx_atomic_t));

        ngx_photo_expo(e, "%s_bucket{%s=\"%V\",le=\"%s\"} %uA\n", name,
                       label, value,
                       i < NGX_PHOTO_METRICS_BUCKETS
                       ? ngx_photo_expo_bounds[i] : "+Inf",
                       count);
    }

    sum = ngx_photo_expo_sum(shm, offset + offsetof(ngx_photo_histogram_t,
                                                    sum));

    ngx_photo_expo(e, "%s_sum{%s=\"%V\"} %uA.%06uA\n%s_count{%s=\"%V\"} %uA\n",
                   name, label, value, sum / 1000000, sum % 1000000,
                   name, label, value, count);
}


/* one counter over every worker slot */

static ngx_atomic_uint_t
ngx_photo_expo_sum(ngx_photo_metrics_shm_t *shm, size_t offset)
{
    ngx_uint_t         i;
    ngx_atomic_uint_t  sum;

    sum = 0;

    for (i = 0; i < NGX_PHOTO_METRICS_SLOTS; i++) {
        sum += *(ngx_atomic_t *) ((u_char *) ngx_photo_metrics_slot(shm, i)
                                  + offset);
    }

    return sum;
}
