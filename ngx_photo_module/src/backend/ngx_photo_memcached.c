
/*
 * The memcached client: multi-key gets parsed in place and fire-and-forget
 * sets, on the connection engine (ngx_photo_conn.c), which keeps idle
 * connections per server in each worker.  This file is memcached's part:
 * its directives, the ketama pool, the commands, the reply's values.
 */

#include "ngx_photo_memcached.h"
#include "ngx_photo_memcached_parser.h"
#include "ngx_photo_conn.h"
#include "photo_ketama.h"


#define NGX_PHOTO_MC_PORT          11211
#define NGX_PHOTO_MC_BUFFER_SIZE   8192    /* a get's receive buffer */
#define NGX_PHOTO_MC_NONE          ((ngx_uint_t) -1)


typedef struct ngx_photo_mc_get_s     ngx_photo_mc_get_t;
typedef struct ngx_photo_mc_pool_s    ngx_photo_mc_pool_t;


typedef struct {
    ngx_photo_backend_conf_t    backend;     /* first */
    ngx_uint_t                  keepalive;   /* idle connections a server */
    time_t                      ttl;         /* of write-backs */
    memcached_st               *hash;        /* ketama, no I/O */
    ngx_photo_mc_pool_t        *state;       /* per worker process */
} ngx_photo_mc_conf_t;


typedef struct {
    ngx_photo_server_t         *conf;
    char                       *get_action;  /* "querying memcached ..." */
    char                       *set_action;
    ngx_photo_peer_t            peer;
} ngx_photo_mc_server_t;


struct ngx_photo_mc_pool_s {
    ngx_photo_mc_server_t      *servers;
    ngx_uint_t                  nservers;
    ngx_photo_mc_conf_t        *conf;
    ngx_log_t                  *log;         /* of sets */
};


/* One server's part of a get: one connection, one command, one reply. */
typedef struct {
    ngx_photo_conn_t            conn;
    ngx_photo_mc_get_t         *get;
    ngx_photo_mc_item_t       **items;       /* in the command's order */
    ngx_uint_t                  nitems;
    ngx_uint_t                  next;        /* where to look for a key */
    ngx_photo_mc_parser_t       parser;
    unsigned                    skipped:1;   /* its server failed lately */
} ngx_photo_mc_exchange_t;


struct ngx_photo_mc_get_s {
    ngx_http_request_t         *request;
    ngx_photo_mc_pool_t        *mc;
    ngx_photo_mc_exchange_t    *exchanges;   /* one per server */
    ngx_uint_t                  pending;
    ngx_photo_result_t          result;
    ngx_photo_result_pt         handler;
    void                       *data;
};


static void *ngx_http_photo_memcached_create_conf(ngx_conf_t *cf);
static char *ngx_http_photo_memcached_init_conf(ngx_conf_t *cf, void *conf);
static ngx_int_t ngx_http_photo_memcached_init_process(ngx_cycle_t *cycle);
static void ngx_http_photo_memcached_exit_process(ngx_cycle_t *cycle);
static void ngx_photo_mc_hash_free(void *data);

static ngx_uint_t ngx_photo_mc_plan(ngx_photo_mc_pool_t *mc,
    ngx_photo_mc_get_t *get, ngx_photo_mc_item_t *items, ngx_uint_t n,
    ngx_uint_t *where);
static ngx_int_t ngx_photo_mc_get_reinit(ngx_photo_conn_t *conn);
static ngx_int_t ngx_photo_mc_get_process(ngx_photo_conn_t *conn);
static ngx_photo_mc_item_t *ngx_photo_mc_get_item(ngx_photo_mc_exchange_t *ex,
    u_char *key, size_t len);
static void ngx_photo_mc_get_finalize(ngx_photo_conn_t *conn,
    ngx_photo_status_e status);
static void ngx_photo_mc_get_cleanup(void *data);
static void ngx_photo_mc_set_finalize(ngx_photo_conn_t *conn,
    ngx_photo_status_e status);

static ngx_uint_t ngx_photo_mc_server(ngx_photo_mc_pool_t *mc,
    ngx_str_t *key);
static ngx_uint_t ngx_photo_mc_valid_key(ngx_str_t *key);


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


ngx_int_t
ngx_photo_mc_get(ngx_http_request_t *r, ngx_photo_mc_item_t *items,
    ngx_uint_t n, ngx_photo_result_pt handler, void *data)
{
    ngx_uint_t                i, *where;
    ngx_pool_cleanup_t       *cln;
    ngx_photo_mc_get_t       *get;
    ngx_photo_mc_pool_t      *mc;
    ngx_photo_mc_conf_t      *mcf;
    ngx_photo_mc_exchange_t  *ex;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_photo_memcached_module);
    mc = mcf->state;

    for (i = 0; i < n; i++) {
        ngx_str_null(&items[i].value);
        items[i].flags = 0;
        items[i].found = 0;
        items[i].error = (mc == NULL);
    }

    if (n == 0 || mc == NULL) {
        return NGX_DECLINED;
    }

    get = ngx_pcalloc(r->pool, sizeof(ngx_photo_mc_get_t));
    if (get == NULL) {
        return NGX_ERROR;
    }

    get->exchanges = ngx_pcalloc(r->pool,
                                 mc->nservers
                                 * sizeof(ngx_photo_mc_exchange_t));
    where = ngx_palloc(r->pool, n * sizeof(ngx_uint_t));

    if (get->exchanges == NULL || where == NULL) {
        return NGX_ERROR;
    }

    get->request = r;
    get->mc = mc;
    get->handler = handler;
    get->data = data;
    get->result.status = NGX_PHOTO_DONE;
    get->result.backend = "memcached";
    get->result.reply.memcached = items;

    get->pending = ngx_photo_mc_plan(mc, get, items, n, where);

    if (get->pending == NGX_PHOTO_MC_NONE) {
        return NGX_ERROR;
    }

    if (get->pending == 0) {
        return NGX_DECLINED;
    }

    /* a request that goes away first takes its connections with it */
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_photo_mc_get_cleanup;
    cln->data = get;

    for (i = 0; i < mc->nservers; i++) {
        ex = &get->exchanges[i];

        if (ex->nitems == 0) {
            continue;
        }

        ex->get = get;

        ex->conn.peer = &mc->servers[i].peer;
        ex->conn.caller = r;
        ex->conn.server = mc->servers[i].conf;
        ex->conn.backend = "memcached";
        ex->conn.log = *r->connection->log;
        ex->conn.log.action = mc->servers[i].get_action;
        ex->conn.pool = r->pool;
        ex->conn.buffer_size = NGX_PHOTO_MC_BUFFER_SIZE;
        ex->conn.timeout = mc->conf->backend.timeout;
        ex->conn.reinit = ngx_photo_mc_get_reinit;
        ex->conn.process = ngx_photo_mc_get_process;
        ex->conn.finalize = ngx_photo_mc_get_finalize;
        ex->conn.data = ex;

        ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "photo memcached %V: get of %ui keys, %uz bytes",
                       &ex->conn.server->name, ex->nitems,
                       ex->conn.request.len);

        (void) ngx_photo_conn_start(&ex->conn);
    }

    /* every exchange ended at once: memcached is away now */
    return get->pending ? NGX_AGAIN : NGX_DECLINED;
}


/*
 * Sorts the items to their servers and writes one "get k1 k2 ...\r\n" per
 * server.  Returns the number of exchanges, or NGX_PHOTO_MC_NONE when out
 * of memory.
 */

static ngx_uint_t
ngx_photo_mc_plan(ngx_photo_mc_pool_t *mc, ngx_photo_mc_get_t *get,
    ngx_photo_mc_item_t *items, ngx_uint_t n, ngx_uint_t *where)
{
    u_char                   *p;
    ngx_uint_t                i, k, nexchanges;
    ngx_photo_mc_exchange_t  *ex;

    for (i = 0; i < n; i++) {
        where[i] = NGX_PHOTO_MC_NONE;

        if (!ngx_photo_mc_valid_key(&items[i].key)) {
            ngx_log_error(NGX_LOG_ERR, get->request->connection->log, 0,
                          "memcached: invalid key \"%V\"", &items[i].key);
            items[i].error = 1;
            continue;
        }

        k = ngx_photo_mc_server(mc, &items[i].key);

        if (ngx_photo_peer_skip(&mc->servers[k].peer)) {
            items[i].error = 1;
            get->exchanges[k].skipped = 1;
            continue;
        }

        where[i] = k;

        ex = &get->exchanges[k];
        ex->nitems++;
        ex->conn.request.len += 1 + items[i].key.len;
    }

    nexchanges = 0;

    for (k = 0; k < mc->nservers; k++) {
        ex = &get->exchanges[k];

        if (ex->nitems == 0) {
            ngx_log_debug1(NGX_LOG_DEBUG_HTTP, get->request->connection->log,
                           0, "photo memcached %V: nothing to get",
                           &mc->servers[k].conf->name);

            /* refused at once: a call that failed, for the metrics */
            if (ex->skipped) {
                ngx_photo_metrics_backend(get->request, &mc->conf->backend,
                                          k, NGX_PHOTO_AWAY,
                                          ngx_photo_metrics_now());
            }

            continue;
        }

        ex->conn.request.len += sizeof("get" CRLF) - 1;

        ex->items = ngx_palloc(get->request->pool,
                               ex->nitems * sizeof(ngx_photo_mc_item_t *));
        ex->conn.request.data = ngx_pnalloc(get->request->pool,
                                            ex->conn.request.len);

        if (ex->items == NULL || ex->conn.request.data == NULL) {
            return NGX_PHOTO_MC_NONE;
        }

        /* few servers: a pass over the items for each is cheap */

        p = ngx_cpymem(ex->conn.request.data, "get", 3);
        ex->nitems = 0;

        for (i = 0; i < n; i++) {
            if (where[i] != k) {
                continue;
            }

            ex->items[ex->nitems++] = &items[i];

            *p++ = ' ';
            p = ngx_cpymem(p, items[i].key.data, items[i].key.len);
        }

        *p++ = CR; *p++ = LF;

        nexchanges++;
    }

    return nexchanges;
}


static ngx_int_t
ngx_photo_mc_get_reinit(ngx_photo_conn_t *conn)
{
    ngx_photo_mc_exchange_t *ex = conn->data;

    ngx_photo_mc_parser_init(&ex->parser, NGX_PHOTO_MC_VALUE_MAX);

    return NGX_OK;
}


static ngx_int_t
ngx_photo_mc_get_process(ngx_photo_conn_t *conn)
{
    ngx_photo_mc_exchange_t *ex = conn->data;

    ngx_buf_t              *b;
    ngx_photo_mc_item_t    *item;
    ngx_photo_mc_parser_t  *p;

    b = conn->buffer;
    p = &ex->parser;

    for ( ;; ) {

        switch (ngx_photo_mc_parse(p, b->pos, b->last - b->pos)) {

        case NGX_PHOTO_MC_PARSE_AGAIN:
            conn->need = p->need;
            return NGX_AGAIN;

        case NGX_PHOTO_MC_PARSE_VALUE:
            item = ngx_photo_mc_get_item(ex, b->pos + p->key, p->key_len);

            if (item == NULL) {
                conn->log.action = NULL;
                ngx_log_error(NGX_LOG_ERR, &conn->log, 0,
                              "memcached %V sent \"%*s\", not asked for",
                              &conn->server->name, p->key_len,
                              b->pos + p->key);
                return NGX_ERROR;
            }

            /* zero-copy: the value stays where it was read */
            item->value.data = b->pos + p->value;
            item->value.len = p->value_len;
            item->flags = p->flags;
            item->found = 1;

            conn->pinned = 1;
            b->pos += p->consumed;
            break;

        case NGX_PHOTO_MC_PARSE_END:
            b->pos += p->consumed;

            if (b->pos != b->last || conn->sent < conn->request.len) {
                conn->log.action = NULL;
                ngx_log_error(NGX_LOG_ERR, &conn->log, 0,
                              "memcached %V sent more than its reply",
                              &conn->server->name);
                return NGX_ERROR;
            }

            return NGX_OK;

        default: /* NGX_PHOTO_MC_PARSE_ERROR */
            conn->log.action = NULL;

            if (p->line_len) {
                ngx_log_error(NGX_LOG_ERR, &conn->log, 0,
                              "memcached %V answered \"%*s\"",
                              &conn->server->name, p->line_len, b->pos);

            } else {
                ngx_log_error(NGX_LOG_ERR, &conn->log, 0,
                              "memcached %V sent an invalid reply: %s",
                              &conn->server->name, p->error);
            }

            return NGX_ERROR;
        }
    }
}


/* memcached answers in the order asked, so the next item is usually it */

static ngx_photo_mc_item_t *
ngx_photo_mc_get_item(ngx_photo_mc_exchange_t *ex, u_char *key, size_t len)
{
    ngx_uint_t            i, j;
    ngx_photo_mc_item_t  *item;

    for (j = 0; j < ex->nitems; j++) {
        i = (ex->next + j) % ex->nitems;
        item = ex->items[i];

        if (!item->found
            && item->key.len == len
            && ngx_memcmp(item->key.data, key, len) == 0)
        {
            ex->next = i + 1;
            return item;
        }
    }

    return NULL;
}


/* Items its server did not give are errors, not misses (values parsed
   before a failure are complete and kept). */

static void
ngx_photo_mc_get_finalize(ngx_photo_conn_t *conn, ngx_photo_status_e status)
{
    ngx_photo_mc_exchange_t *ex = conn->data;

    ngx_uint_t           i;
    ngx_photo_mc_get_t  *get;

    get = ex->get;

    if (status != NGX_PHOTO_DONE) {
        get->result.status = status;

        for (i = 0; i < ex->nitems; i++) {
            if (!ex->items[i]->found) {
                ex->items[i]->error = 1;
            }
        }
    }

    if (--get->pending == 0 && !conn->starting) {
        /* the request may be gone after this: nothing may follow */
        get->handler(get->data, &get->result);
    }
}


static void
ngx_photo_mc_get_cleanup(void *data)
{
    ngx_photo_mc_get_t *get = data;

    ngx_uint_t  i;

    if (get->pending == 0) {
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, get->request->connection->log, 0,
                   "photo memcached: request gone, %ui exchanges closed",
                   get->pending);

    /* a reply not read to its end cannot be reused */
    for (i = 0; i < get->mc->nservers; i++) {
        ngx_photo_conn_close(&get->exchanges[i].conn);
    }
}


void
ngx_photo_mc_set(ngx_log_t *log, ngx_flag_t add, ngx_str_t *key,
    ngx_str_t *value, uint32_t flags)
{
    u_char                 *p;
    size_t                  len;
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
                    add ? "add" : "set", key, flags, mc->conf->ttl,
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


/* The index of the key's server: ketama, as libmemcached computes it. */

static ngx_uint_t
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


/* What the text protocol can carry: 1-250 bytes, no spaces or controls. */

static ngx_uint_t
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
