
/*
 * The memcached client's directives, its ketama pool, each worker's
 * servers, and the fire-and-forget sets; the gets, batched, are in
 * ngx_photo_memcached_get.c.  All on the connection engine
 * (ngx_photo_conn.c), which keeps idle connections per server in each
 * worker.
 */

#include "ngx_photo_memcached_pool.h"
#include "ngx_photo_memcached_parser.h"
#include "photo_ketama.h"


#define NGX_PHOTO_MC_PORT          11211


static void *ngx_http_photo_memcached_create_conf(ngx_conf_t *cf);
static char *ngx_http_photo_memcached_init_conf(ngx_conf_t *cf, void *conf);
static ngx_int_t ngx_http_photo_memcached_init_process(ngx_cycle_t *cycle);
static void ngx_http_photo_memcached_exit_process(ngx_cycle_t *cycle);
static void ngx_photo_mc_hash_free(void *data);

static void ngx_photo_mc_set_finalize(ngx_photo_conn_t *conn,
    ngx_photo_status_e status);


static ngx_command_t  ngx_http_photo_memcached_commands[] = {

    { ngx_string("photo_memcached"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_photo_backend_servers,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      (void *) NGX_PHOTO_MC_PORT },

    { ngx_string("photo_memcached_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_photo_mc_conf_t, backend.timeout),
      NULL },

    { ngx_string("photo_memcached_keepalive"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_photo_mc_conf_t, keepalive),
      NULL },

    { ngx_string("photo_memcached_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_photo_mc_conf_t, ttl),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_photo_memcached_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */

    ngx_http_photo_memcached_create_conf,  /* create main configuration */
    ngx_http_photo_memcached_init_conf,    /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_http_photo_memcached_module = {
    NGX_MODULE_V1,
    &ngx_http_photo_memcached_module_ctx,  /* module context */
    ngx_http_photo_memcached_commands,     /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_photo_memcached_init_process, /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_photo_memcached_exit_process, /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static void *
ngx_http_photo_memcached_create_conf(ngx_conf_t *cf)
{
    ngx_photo_mc_conf_t  *mcf;

    mcf = ngx_pcalloc(cf->pool, sizeof(ngx_photo_mc_conf_t));
    if (mcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     mcf->backend.servers = NULL;
     *     mcf->backend.pong_alt = { 0, NULL };
     *     mcf->backend.used = 0;
     *     mcf->hash = NULL;
     *     mcf->state = NULL;
     */

    mcf->backend.name = "memcached";
    mcf->backend.directive = "photo_memcached";
    mcf->backend.timeout = NGX_CONF_UNSET_MSEC;
    ngx_str_set(&mcf->backend.ping, "version\r\n");
    ngx_str_set(&mcf->backend.pong, "VERSION ");
    mcf->keepalive = NGX_CONF_UNSET_UINT;
    mcf->ttl = NGX_CONF_UNSET;

    return mcf;
}


/*
 * The ketama continuum, as libmemcached computes it for the workers: the
 * same servers, in the same order, each named by its host as written and
 * its port (photo_ketama_add_server()); no I/O, only the hashing is used.
 */

static char *
ngx_http_photo_memcached_init_conf(ngx_conf_t *cf, void *conf)
{
    ngx_photo_mc_conf_t *mcf = conf;

    ngx_uint_t           i;
    memcached_st        *mc;
    ngx_pool_cleanup_t  *cln;
    ngx_photo_server_t  *server;

    ngx_conf_init_msec_value(mcf->backend.timeout, 500);
    ngx_conf_init_uint_value(mcf->keepalive, 16);
    ngx_conf_init_value(mcf->ttl, 86400);

    if (mcf->backend.servers == NULL) {
        return NGX_CONF_OK;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NGX_CONF_ERROR;
    }

    mc = memcached_create(NULL);
    if (mc == NULL) {
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_photo_mc_hash_free;
    cln->data = mc;

    if (photo_ketama_configure(mc) != MEMCACHED_SUCCESS) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cannot set up the memcached hash");
        return NGX_CONF_ERROR;
    }

    server = mcf->backend.servers->elts;

    for (i = 0; i < mcf->backend.servers->nelts; i++) {
        if (photo_ketama_add_server(mc, (const char *) server[i].host.data,
                                    server[i].host.len, server[i].port)
            != MEMCACHED_SUCCESS)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "cannot add memcached server \"%V\"",
                               &server[i].name);
            return NGX_CONF_ERROR;
        }
    }

    mcf->hash = mc;

    return NGX_CONF_OK;
}


static void
ngx_photo_mc_hash_free(void *data)
{
    memcached_free(data);
}


static ngx_int_t
ngx_http_photo_memcached_init_process(ngx_cycle_t *cycle)
{
    size_t                  len;
    ngx_uint_t              i, n;
    ngx_photo_server_t     *conf;
    ngx_photo_mc_conf_t    *mcf;
    ngx_photo_mc_pool_t    *mc;
    ngx_photo_mc_server_t  *s;

    mcf = ngx_photo_backend_used(cycle, &ngx_http_photo_memcached_module);

    if (mcf == NULL) {
        return NGX_OK;
    }

    n = mcf->backend.servers->nelts;

    mc = ngx_pcalloc(cycle->pool, sizeof(ngx_photo_mc_pool_t));
    if (mc == NULL) {
        return NGX_ERROR;
    }

    mc->servers = ngx_pcalloc(cycle->pool, n * sizeof(ngx_photo_mc_server_t));
    if (mc->servers == NULL) {
        return NGX_ERROR;
    }

    conf = mcf->backend.servers->elts;

    for (i = 0; i < n; i++) {
        s = &mc->servers[i];
        s->conf = &conf[i];
        s->index = i;

        len = sizeof("storing to memcached ") + conf[i].name.len;

        s->get_action = ngx_pnalloc(cycle->pool, len);
        s->set_action = ngx_pnalloc(cycle->pool, len);
        if (s->get_action == NULL || s->set_action == NULL) {
            return NGX_ERROR;
        }

        ngx_sprintf((u_char *) s->get_action, "querying memcached %V%Z",
                    &conf[i].name);
        ngx_sprintf((u_char *) s->set_action, "storing to memcached %V%Z",
                    &conf[i].name);

        if (ngx_photo_peer_init(&s->peer, cycle, &mcf->backend, i,
                                mcf->keepalive)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        /* a memcached that does not answer in time is as good as away */
        s->peer.timeout_fails = 1;
    }

    mc->nservers = n;
    mc->conf = mcf;
    mc->log = cycle->log;

    mcf->state = mc;

    return NGX_OK;
}


static void
ngx_http_photo_memcached_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t            i;
    ngx_photo_mc_conf_t  *mcf;

    mcf = ngx_photo_backend_used(cycle, &ngx_http_photo_memcached_module);

    if (mcf == NULL || mcf->state == NULL) {
        return;
    }

    for (i = 0; i < mcf->state->nservers; i++) {
        ngx_photo_peer_close(&mcf->state->servers[i].peer);
    }

    mcf->state = NULL;
}


void
ngx_photo_mc_set(ngx_log_t *log, ngx_flag_t add, ngx_str_t *key,
    ngx_str_t *value, uint32_t flags, time_t until)
{
    u_char                 *p;
    size_t                  len;
    time_t                  ttl;
    ngx_photo_conn_t       *st;
    ngx_photo_mc_pool_t    *mc;
    ngx_photo_mc_conf_t    *mcf;
    ngx_photo_mc_server_t  *s;

    /* a write-back outlives its request: the worker's own state */
    mcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                              ngx_http_photo_memcached_module);
    mc = mcf->state;

    if (mc == NULL) {
        return;
    }

    if (!ngx_photo_mc_valid_key(key) || value->len > NGX_PHOTO_MC_VALUE_MAX) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "memcached: not storing \"%V\": invalid key, "
                      "or value of %uz bytes", key, value->len);
        return;
    }

    s = &mc->servers[ngx_photo_mc_server(mc, key)];

    if (ngx_photo_peer_skip(&s->peer)) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, log, 0,
                       "photo memcached %V: failed lately, set skipped",
                       &s->conf->name);

        ngx_photo_metrics_backend(NULL, &mcf->backend, s - mc->servers,
                                  NGX_PHOTO_AWAY, ngx_photo_metrics_now());
        return;
    }

    ttl = mc->conf->ttl;

    if (until && until - ngx_time() < ttl) {
        ttl = ngx_max(until - ngx_time(), 1);
    }

    len = sizeof("set     noreply" CRLF CRLF) - 1 + key->len + NGX_INT32_LEN
          + NGX_TIME_T_LEN + NGX_SIZE_T_LEN + value->len;

    /* the set outlives its caller: its own memory, freed when done */
    st = ngx_alloc(sizeof(ngx_photo_conn_t) + len, log);
    if (st == NULL) {
        return;
    }

    ngx_memzero(st, sizeof(ngx_photo_conn_t));

    st->request.data = (u_char *) (st + 1);
    /* "set" and "add" are as long */
    p = ngx_sprintf(st->request.data, "%s %V %uD %T %uz noreply" CRLF,
                    add ? "add" : "set", key, flags, ttl,
                    value->len);
    p = ngx_cpymem(p, value->data, value->len);
    *p++ = CR; *p++ = LF;
    st->request.len = p - st->request.data;

    st->peer = &s->peer;
    st->server = s->conf;
    st->backend = "memcached";
    st->log = *mc->log;
    st->log.action = s->set_action;
    st->timeout = mc->conf->backend.timeout;
    st->finalize = ngx_photo_mc_set_finalize;
    st->noreply = 1;
    st->quiet = 1;              /* a cache fill: failures are warnings */

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, log, 0,
                   "photo memcached %V: set \"%V\"", &s->conf->name, key);

    (void) ngx_photo_conn_start(st);
}


static void
ngx_photo_mc_set_finalize(ngx_photo_conn_t *conn, ngx_photo_status_e status)
{
    ngx_free(conn);
}


ngx_uint_t
ngx_photo_mc_server(ngx_photo_mc_pool_t *mc, ngx_str_t *key)
{
    uint32_t  k;

    if (mc->nservers == 1) {
        return 0;
    }

    k = memcached_generate_hash(mc->conf->hash, (const char *) key->data,
                                key->len);

    return k < mc->nservers ? k : 0;
}


ngx_uint_t
ngx_photo_mc_valid_key(ngx_str_t *key)
{
    size_t  i;

    if (key->len == 0 || key->len > NGX_PHOTO_MC_KEY_MAX) {
        return 0;
    }

    for (i = 0; i < key->len; i++) {
        if (key->data[i] <= ' ' || key->data[i] == 0x7f) {
            return 0;
        }
    }

    return 1;
}
