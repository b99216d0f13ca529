
/*
 * ngx_http_photo_metrics_module: the zone, what the request path and the
 * backends count into it, the request's stages and the slow request's
 * line, and the request id that errors carry.  The exposition is in
 * ngx_photo_metrics_handler.c.
 */

#include "ngx_photo_metrics_zone.h"

#include <time.h>


/* A request of the API as the metrics see it (the main request's ctx). */
typedef struct {
    ngx_photo_usec_t            start;
    ngx_photo_endpoint_e        endpoint;
    int64_t                     user;       /* 0: nobody signed in */

    /* its stages: per backend server, time waited, calls, failures */
    ngx_photo_usec_t           *waited;     /* NULL until a backend call */
    uint32_t                   *calls;
    u_char                     *failed;     /* the worst status seen */
} ngx_photo_metrics_ctx_t;


static void *ngx_photo_metrics_create_main_conf(ngx_conf_t *cf);
static ngx_int_t ngx_photo_metrics_postconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_photo_metrics_init_zone(ngx_shm_zone_t *zone,
    void *data);
static ngx_int_t ngx_photo_metrics_init_process(ngx_cycle_t *cycle);
static ngx_int_t ngx_photo_metrics_log_phase(ngx_http_request_t *r);
static void ngx_photo_metrics_observe(ngx_photo_histogram_t *h,
    ngx_photo_usec_t usec);
static void ngx_photo_metrics_waited(ngx_http_request_t *r,
    ngx_photo_metrics_main_conf_t *mmcf, ngx_uint_t n,
    ngx_photo_status_e status, ngx_photo_usec_t usec);
static void ngx_photo_metrics_slow(ngx_http_request_t *r,
    ngx_photo_metrics_main_conf_t *mmcf, ngx_photo_metrics_ctx_t *ctx,
    ngx_uint_t status, ngx_photo_usec_t elapsed);
static u_char *ngx_photo_metrics_log_error(ngx_http_request_t *r,
    ngx_http_request_t *sr, u_char *buf, size_t len);
static char *ngx_photo_metrics_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);


static ngx_command_t  ngx_photo_metrics_commands[] = {

    { ngx_string("photo_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_photo_metrics_directive,
      0,
      0,
      NULL },

    { ngx_string("photo_slow_request"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_photo_metrics_main_conf_t, slow),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_photo_metrics_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_photo_metrics_postconfiguration,   /* postconfiguration */

    ngx_photo_metrics_create_main_conf,    /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_http_photo_metrics_module = {
    NGX_MODULE_V1,
    &ngx_photo_metrics_module_ctx,         /* module context */
    ngx_photo_metrics_commands,            /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_photo_metrics_init_process,        /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_str_t  ngx_photo_metrics_request_id_name =
    ngx_string("request_id");

static const ngx_photo_usec_t  ngx_photo_metrics_bounds[] =
    NGX_PHOTO_METRICS_BOUNDS;

const char  *ngx_photo_endpoint_names[NGX_PHOTO_EP_N] = {
    "other", "health", "feed", "user_photos", "photo", "nearby", "signup",
    "signin", "signout", "media", "post", "delete", "follow", "device",
    "like", "comment", "comments", "activity", "link", "share", "user"
};


static void *
ngx_photo_metrics_create_main_conf(ngx_conf_t *cf)
{
    ngx_photo_metrics_main_conf_t  *mmcf;

    mmcf = ngx_pcalloc(cf->pool, sizeof(ngx_photo_metrics_main_conf_t));
    if (mmcf == NULL) {
        return NULL;
    }

    mmcf->enabled = 0;
    mmcf->slow = NGX_CONF_UNSET_MSEC;

    return mmcf;
}


/*
 * After the http block: every backend's servers are known, so each gets
 * its place in the zone (bcf->metrics), and the zone its size.
 */

static ngx_int_t
ngx_photo_metrics_postconfiguration(ngx_conf_t *cf)
{
    size_t                          size;
    uint32_t                        crc;
    ngx_uint_t                      i;
    ngx_str_t                       name;
    ngx_array_t                     peers;
    ngx_photo_metrics_peer_t       *peer;
    ngx_module_t                  **m;
    ngx_photo_server_t             *server;
    ngx_http_handler_pt            *h;
    ngx_http_core_main_conf_t      *cmcf;
    ngx_photo_backend_conf_t       *bcf;
    ngx_photo_metrics_main_conf_t  *mmcf;

    mmcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_photo_metrics_module);

    if (mmcf->slow == NGX_CONF_UNSET_MSEC) {
        mmcf->slow = 0;
    }

    /* indexed, so that the log and the error's JSON name the same id */
    mmcf->request_id = ngx_http_get_variable_index(cf,
                                               &ngx_photo_metrics_request_id_name);
    if (mmcf->request_id == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (ngx_array_init(&peers, cf->pool, 8, sizeof(ngx_photo_metrics_peer_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_crc32_init(crc);

    for (m = ngx_http_photo_backends; *m; m++) {
        bcf = ngx_http_conf_get_module_main_conf(cf, (**m));
        bcf->metrics = peers.nelts;

        if (bcf->servers == NULL) {
            continue;
        }

        server = bcf->servers->elts;

        for (i = 0; i < bcf->servers->nelts; i++) {
            peer = ngx_array_push(&peers);
            if (peer == NULL) {
                return NGX_ERROR;
            }

            peer->backend = bcf->name;
            peer->name = &server[i].name;

            ngx_crc32_update(&crc, (u_char *) bcf->name,
                             ngx_strlen(bcf->name) + 1);
            ngx_crc32_update(&crc, server[i].name.data,
                             server[i].name.len + 1);
        }
    }

    ngx_crc32_final(crc);
    mmcf->layout = crc;
    mmcf->peers = peers.elts;
    mmcf->nservers = peers.nelts;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_photo_metrics_log_phase;

    if (!mmcf->enabled) {
        return NGX_OK;
    }

    mmcf->slot_size = ngx_align(offsetof(ngx_photo_metrics_slot_t, server)
                                + mmcf->nservers
                                  * sizeof(ngx_photo_metrics_server_t),
                                NGX_CPU_CACHE_LINE * 2);

    /* the counters, one slab allocation, and the slab pool's own pages */
    size = ngx_align(sizeof(ngx_photo_metrics_shm_t)
                     + NGX_PHOTO_METRICS_SLOTS * mmcf->slot_size,
                     ngx_pagesize)
           + 8 * ngx_pagesize;

    /*
     * named after the servers: a reload that changes them makes a new zone
     * (the old workers keep counting into theirs until they exit), one
     * that does not maps the same zone again
     */
    name.data = ngx_pnalloc(cf->pool, sizeof("photo_metrics_") - 1 + 8);
    if (name.data == NULL) {
        return NGX_ERROR;
    }

    name.len = ngx_sprintf(name.data, "photo_metrics_%08xD", mmcf->layout)
               - name.data;

    mmcf->zone = ngx_shared_memory_add(cf, &name, size,
                                       &ngx_http_photo_metrics_module);
    if (mmcf->zone == NULL) {
        return NGX_ERROR;
    }

    mmcf->zone->init = ngx_photo_metrics_init_zone;
    mmcf->zone->data = mmcf;

    return NGX_OK;
}


/*
 * The zone begins with nginx's slab pool (whose mutex the master unlocks
 * when it reaps a worker): the counters are one allocation from it, found
 * again through shpool->data when a reload maps the same zone again (the
 * same servers): the counters go on, as Prometheus expects of a counter.
 */

static ngx_int_t
ngx_photo_metrics_init_zone(ngx_shm_zone_t *zone, void *data)
{
    ngx_photo_metrics_main_conf_t  *mmcf = zone->data;

    size_t                    size;
    ngx_slab_pool_t          *shpool;
    ngx_photo_metrics_shm_t  *shm;

    shpool = (ngx_slab_pool_t *) zone->shm.addr;
    size = sizeof(ngx_photo_metrics_shm_t)
           + NGX_PHOTO_METRICS_SLOTS * mmcf->slot_size;

    if (data != NULL || zone->shm.exists) {
        mmcf->shm = shpool->data;
        return NGX_OK;
    }

    shm = ngx_slab_alloc(shpool, size);
    if (shm == NULL) {
        return NGX_ERROR;
    }

    shpool->data = shm;

    ngx_memzero(shm, size);

    shm->layout = mmcf->layout;
    shm->nservers = mmcf->nservers;
    shm->slot_size = mmcf->slot_size;

    mmcf->shm = shm;

    return NGX_OK;
}


static ngx_int_t
ngx_photo_metrics_init_process(ngx_cycle_t *cycle)
{
    ngx_photo_metrics_main_conf_t  *mmcf;

    mmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_photo_metrics_module);

    if (mmcf == NULL || mmcf->shm == NULL) {
        return NGX_OK;
    }

    mmcf->slot = ngx_photo_metrics_slot(mmcf->shm,
                                        ngx_worker % NGX_PHOTO_METRICS_SLOTS);

    return NGX_OK;
}


static char *
ngx_photo_metrics_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t       *clcf;
    ngx_photo_metrics_main_conf_t  *mmcf;

    mmcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_photo_metrics_module);
    mmcf->enabled = 1;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_photo_metrics_handler;

    return NGX_CONF_OK;
}


ngx_photo_usec_t
ngx_photo_metrics_now(void)
{
    struct timespec  ts;

    /* the vDSO's clock: no system call */
    (void) clock_gettime(CLOCK_MONOTONIC, &ts);

    return (ngx_photo_usec_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}


void
ngx_photo_metrics_request(ngx_http_request_t *r, ngx_photo_endpoint_e ep)
{
    ngx_photo_metrics_ctx_t        *ctx;
    ngx_photo_metrics_main_conf_t  *mmcf;

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_photo_metrics_module);

    if (ctx != NULL) {
        ctx->endpoint = ep;
        return;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_photo_metrics_ctx_t));
    if (ctx == NULL) {
        return;                 /* it goes uncounted, nothing worse */
    }

    ctx->start = ngx_photo_metrics_now();
    ctx->endpoint = ep;

    ngx_http_set_ctx(r->main, ctx, ngx_http_photo_metrics_module);

    /*
     * the module's errors in the log name the request id too: nginx's
     * handler is wrapped (kept in the conf, not the ctx, which an internal
     * redirect clears); it is the same for every request
     */
    mmcf = ngx_http_get_module_main_conf(r, ngx_http_photo_metrics_module);

    if (r->main->log_handler != ngx_photo_metrics_log_error) {
        mmcf->log_handler = r->main->log_handler;
        r->main->log_handler = ngx_photo_metrics_log_error;
    }
}


void
ngx_photo_metrics_user(ngx_http_request_t *r, int64_t user_id)
{
    ngx_photo_metrics_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_photo_metrics_module);

    if (ctx) {
        ctx->user = user_id;
    }
}


void
ngx_photo_metrics_add(ngx_http_request_t *r, ngx_photo_counter_e c,
    ngx_uint_t n)
{
    ngx_photo_metrics_main_conf_t  *mmcf;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_photo_metrics_module);

    if (mmcf->slot && n) {
        (void) ngx_atomic_fetch_add(&mmcf->slot->counter[c], n);
    }
}


void
ngx_photo_metrics_job(ngx_http_request_t *r, ngx_photo_status_e status)
{
    ngx_photo_metrics_add(r, status == NGX_PHOTO_DONE
                             ? NGX_PHOTO_M_JOBS_SUBMITTED
                             : status == NGX_PHOTO_TIMEDOUT
                             ? NGX_PHOTO_M_JOBS_TIMEDOUT
                             : NGX_PHOTO_M_JOBS_REFUSED, 1);
}


void
ngx_photo_metrics_backend(ngx_http_request_t *r,
    ngx_photo_backend_conf_t *bcf, ngx_uint_t server,
    ngx_photo_status_e status, ngx_photo_usec_t start)
{
    ngx_uint_t                      n;
    ngx_photo_usec_t                usec;
    ngx_photo_metrics_server_t     *ms;
    ngx_photo_metrics_main_conf_t  *mmcf;

    mmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_photo_metrics_module);

    n = bcf->metrics + server;
    usec = ngx_photo_metrics_now() - start;

    if (n >= mmcf->nservers) {
        return;
    }

    if (mmcf->slot) {
        ms = &mmcf->slot->server[n];

        (void) ngx_atomic_fetch_add(&ms->calls, 1);

        if (status == NGX_PHOTO_TIMEDOUT) {
            (void) ngx_atomic_fetch_add(&ms->timeouts, 1);

        } else if (status != NGX_PHOTO_DONE) {
            (void) ngx_atomic_fetch_add(&ms->errors, 1);
        }

        ngx_photo_metrics_observe(&ms->duration, usec);
    }

    if (r) {
        ngx_photo_metrics_waited(r, mmcf, n, status, usec);
    }
}


void
ngx_photo_metrics_wait(ngx_http_request_t *r, ngx_photo_backend_conf_t *bcf,
    ngx_uint_t server, ngx_photo_status_e status, ngx_photo_usec_t start)
{
    ngx_uint_t                      n;
    ngx_photo_metrics_main_conf_t  *mmcf;

    mmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_photo_metrics_module);

    n = bcf->metrics + server;

    if (n < mmcf->nservers) {
        ngx_photo_metrics_waited(r, mmcf, n, status,
                                 ngx_photo_metrics_now() - start);
    }
}


/* Into the request's stages: usec on server n (an index of the zone's). */

static void
ngx_photo_metrics_waited(ngx_http_request_t *r,
    ngx_photo_metrics_main_conf_t *mmcf, ngx_uint_t n,
    ngx_photo_status_e status, ngx_photo_usec_t usec)
{
    ngx_photo_metrics_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_photo_metrics_module);
    if (ctx == NULL) {
        return;
    }

    if (ctx->waited == NULL) {
        ctx->waited = ngx_pcalloc(r->pool, mmcf->nservers
                                  * (sizeof(ngx_photo_usec_t)
                                     + sizeof(uint32_t) + 1));
        if (ctx->waited == NULL) {
            return;
        }

        ctx->calls = (uint32_t *) (ctx->waited + mmcf->nservers);
        ctx->failed = (u_char *) (ctx->calls + mmcf->nservers);
    }

    ctx->waited[n] += usec;
    ctx->calls[n]++;

    if (status > ctx->failed[n]) {
        ctx->failed[n] = (u_char) status;
    }
}


void
ngx_photo_metrics_conn(ngx_photo_backend_conf_t *bcf, ngx_uint_t server,
    ngx_photo_conn_event_e ev)
{
    ngx_uint_t                      n;
    ngx_photo_metrics_server_t     *ms;
    ngx_photo_metrics_main_conf_t  *mmcf;

    mmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_photo_metrics_module);

    n = bcf->metrics + server;

    if (mmcf->slot == NULL || n >= mmcf->nservers) {
        return;
    }

    ms = &mmcf->slot->server[n];

    switch (ev) {

    case NGX_PHOTO_CONN_OPENED:
        (void) ngx_atomic_fetch_add(&ms->open, 1);
        break;

    case NGX_PHOTO_CONN_CLOSED:
        (void) ngx_atomic_fetch_add(&ms->open, (ngx_atomic_int_t) -1);
        break;

    case NGX_PHOTO_CONN_KEPT:
        (void) ngx_atomic_fetch_add(&ms->idle, 1);
        break;

    case NGX_PHOTO_CONN_TAKEN:
        (void) ngx_atomic_fetch_add(&ms->idle, (ngx_atomic_int_t) -1);
        break;

    case NGX_PHOTO_CONN_RECONNECT:
        (void) ngx_atomic_fetch_add(&ms->reconnects, 1);
        break;
    }
}


ngx_int_t
ngx_photo_metrics_request_id(ngx_http_request_t *r, ngx_str_t *id)
{
    ngx_http_variable_value_t      *v;
    ngx_photo_metrics_main_conf_t  *mmcf;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_photo_metrics_module);

    v = ngx_http_get_indexed_variable(r->main, mmcf->request_id);

    if (v == NULL || v->not_found) {
        return NGX_DECLINED;
    }

    id->data = v->data;
    id->len = v->len;

    return NGX_OK;
}


static void
ngx_photo_metrics_observe(ngx_photo_histogram_t *h, ngx_photo_usec_t usec)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_PHOTO_METRICS_BUCKETS; i++) {
        if (usec <= ngx_photo_metrics_bounds[i]) {
            break;
        }
    }

    (void) ngx_atomic_fetch_add(&h->bucket[i], 1);
    (void) ngx_atomic_fetch_add(&h->sum, (ngx_atomic_int_t) usec);
}


/*
 * The log phase: the request counted by endpoint and status class, its
 * time into the endpoint's histogram, and over photo_slow_request, the
 * line that says where the time went.
 */

static ngx_int_t
ngx_photo_metrics_log_phase(ngx_http_request_t *r)
{
    ngx_uint_t                      status, class;
    ngx_photo_usec_t                elapsed;
    ngx_photo_metrics_ep_t         *ep;
    ngx_photo_metrics_ctx_t        *ctx;
    ngx_photo_metrics_main_conf_t  *mmcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_photo_metrics_module);
    if (ctx == NULL) {
        return NGX_OK;          /* not the API's */
    }

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_photo_metrics_module);

    elapsed = ngx_photo_metrics_now() - ctx->start;

    /* as the access log has it: 499 for a client that left */
    status = r->err_status ? r->err_status : r->headers_out.status;

    if (mmcf->slot) {
        class = status / 100;

        /* no answer at all (000 in the access log): the client left */
        if (class < 1 || class > 5) {
            class = 4;
        }

        ep = &mmcf->slot->endpoint[ctx->endpoint];

        (void) ngx_atomic_fetch_add(&ep->requests[class - 1], 1);
        ngx_photo_metrics_observe(&ep->duration, elapsed);

        if (mmcf->slow && elapsed >= (ngx_photo_usec_t) mmcf->slow * 1000) {
            (void) ngx_atomic_fetch_add(&ep->slow, 1);
        }
    }

    if (mmcf->slow && elapsed >= (ngx_photo_usec_t) mmcf->slow * 1000) {
        ngx_photo_metrics_slow(r, mmcf, ctx, status, elapsed);
    }

    return NGX_OK;
}


/*
 * Dogslow's snapshot, as one line: the request (the log's context names
 * it, its client and its id), who, and where the time went: before the
 * module had it (reading the request, nginx's queue), each backend server
 * it waited on, and the rest (the module's own work, the client's
 * reading).  Calls to different memcached servers overlap, so the parts
 * may add up to more than the whole.
 */

#define NGX_PHOTO_SLOW_LINE_MAX  2048

static void
ngx_photo_metrics_slow(ngx_http_request_t *r,
    ngx_photo_metrics_main_conf_t *mmcf, ngx_photo_metrics_ctx_t *ctx,
    ngx_uint_t status, ngx_photo_usec_t elapsed)
{
    u_char            *p, *last;
    ngx_int_t          queued;
    ngx_uint_t         n;
    ngx_time_t        *tp;
    ngx_photo_usec_t   waited;
    u_char             line[NGX_PHOTO_SLOW_LINE_MAX];

    static const char  *failed[] = { "", " (away)", " (bad reply)",
                                     " (timed out)" };

    tp = ngx_timeofday();

    /* $request_time minus the module's time, in ms as nginx keeps it */
    queued = (ngx_int_t) ((tp->sec - r->start_sec) * 1000
                          + (tp->msec - r->start_msec))
             - (ngx_int_t) (elapsed / 1000);
    if (queued < 0) {
        queued = 0;
    }

    p = line;
    last = line + sizeof(line);
    waited = 0;

    for (n = 0; ctx->waited && n < mmcf->nservers; n++) {
        if (ctx->calls[n] == 0) {
            continue;
        }

        waited += ctx->waited[n];

        p = ngx_slprintf(p, last, ", %s %V %uD call%s %uL.%03uL ms%s",
                         mmcf->peers[n].backend, mmcf->peers[n].name,
                         ctx->calls[n], ctx->calls[n] == 1 ? "" : "s",
                         ctx->waited[n] / 1000, ctx->waited[n] % 1000,
                         failed[ctx->failed[n] & 3]);
    }

    if (waited == 0) {
        p = ngx_slprintf(p, last, ", no backend");
    }

    waited = waited < elapsed ? elapsed - waited : 0;

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "slow request: %uL.%03uL ms in the module (over %M ms), "
                  "endpoint %s, user %L, status %ui; queued %i ms%*s, "
                  "elsewhere %uL.%03uL ms",
                  elapsed / 1000, elapsed % 1000, mmcf->slow,
                  ngx_photo_endpoint_names[ctx->endpoint], ctx->user,
                  status, queued, p - line, line,
                  waited / 1000, waited % 1000);
}


static u_char *
ngx_photo_metrics_log_error(ngx_http_request_t *r, ngx_http_request_t *sr,
    u_char *buf, size_t len)
{
    u_char                         *p;
    ngx_str_t                       id;
    ngx_photo_metrics_main_conf_t  *mmcf;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_photo_metrics_module);

    p = mmcf->log_handler(r, sr, buf, len);

    if (ngx_photo_metrics_request_id(r, &id) == NGX_OK) {
        len -= p - buf;
        p = ngx_snprintf(p, len, ", request_id: \"%V\"", &id);
    }

    return p;
}
