
/*
 * The memcached client on nginx peer connections: per-worker keepalive
 * caches of idle connections (one per server, as nginx's upstream keepalive
 * module keeps them), multi-key gets parsed in place, fire-and-forget sets.
 */

#include "ngx_photo_memcached.h"
#include "ngx_photo_memcached_parser.h"
#include "ngx_photo_keepalive.h"
#include "photo_ketama.h"


#define NGX_PHOTO_MC_PORT          11211
#define NGX_PHOTO_MC_BUFFER_SIZE   8192    /* a get's receive buffer */

/*
 * A server that just failed is skipped for this long: its items are errors
 * at once, with no connect, so a dead server costs nothing per request and
 * is not hammered; the first request after that tries it again.
 */
#define NGX_PHOTO_MC_RETRY_AFTER   1000

#define NGX_PHOTO_MC_NONE          ((ngx_uint_t) -1)


typedef struct ngx_photo_mc_server_s  ngx_photo_mc_server_t;
typedef struct ngx_photo_mc_get_s     ngx_photo_mc_get_t;
typedef struct ngx_photo_mc_pool_s    ngx_photo_mc_pool_t;


typedef struct {
    ngx_photo_backend_conf_t    backend;     /* first */
    ngx_uint_t                  keepalive;   /* idle connections a server */
    time_t                      ttl;         /* of write-backs */
    memcached_st               *hash;        /* ketama, no I/O */
    ngx_photo_mc_pool_t        *state;       /* per worker process */
} ngx_photo_mc_conf_t;


struct ngx_photo_mc_server_s {
    ngx_photo_server_t         *conf;
    char                       *get_action;  /* "querying memcached ..." */
    char                       *set_action;
    ngx_photo_keepalive_t       keepalive;
    ngx_msec_t                  failed_at;
    unsigned                    failed:1;
};


struct ngx_photo_mc_pool_s {
    ngx_photo_mc_server_t      *servers;
    ngx_uint_t                  nservers;
    ngx_photo_mc_conf_t        *conf;
    ngx_log_t                  *log;         /* of idle connections, sets */
};


/* One server's part of a get: one connection, one command, one reply. */
typedef struct {
    ngx_photo_mc_get_t         *get;
    ngx_photo_mc_server_t      *server;
    ngx_peer_connection_t       peer;
    ngx_log_t                   log;

    ngx_photo_mc_item_t       **items;       /* in the command's order */
    ngx_uint_t                  nitems;
    ngx_uint_t                  next;        /* where to look for a key */

    ngx_str_t                   cmd;
    size_t                      sent;
    size_t                      received;
    ngx_buf_t                  *buf;         /* pos..last: parser window */
    ngx_photo_mc_parser_t       parser;

    ngx_msec_t                  start;
    unsigned                    pinned:1;    /* buf holds found values */
    unsigned                    retried:1;
} ngx_photo_mc_exchange_t;


struct ngx_photo_mc_get_s {
    ngx_http_request_t         *request;
    ngx_photo_mc_pool_t        *mc;
    ngx_photo_mc_exchange_t    *exchanges;   /* one per server */
    ngx_uint_t                  pending;
    ngx_photo_mc_handler_pt     handler;
    void                       *data;
    unsigned                    starting:1;  /* inside ngx_photo_mc_get() */
};


/* A set on its way; its command follows it in the same allocation. */
typedef struct {
    ngx_photo_mc_server_t      *server;
    ngx_photo_mc_pool_t        *mc;
    ngx_peer_connection_t       peer;
    ngx_log_t                   log;
    ngx_str_t                   key;         /* in cmd, for the log */
    ngx_str_t                   cmd;
    size_t                      sent;
    ngx_msec_t                  start;
    unsigned                    retried:1;
} ngx_photo_mc_set_t;


static void *ngx_http_photo_memcached_create_conf(ngx_conf_t *cf);
static char *ngx_http_photo_memcached_init_conf(ngx_conf_t *cf, void *conf);
static ngx_int_t ngx_http_photo_memcached_init_process(ngx_cycle_t *cycle);
static void ngx_http_photo_memcached_exit_process(ngx_cycle_t *cycle);
static void ngx_photo_mc_hash_free(void *data);

static ngx_uint_t ngx_photo_mc_plan(ngx_photo_mc_pool_t *mc,
    ngx_photo_mc_get_t *get, ngx_photo_mc_item_t *items, ngx_uint_t n,
    ngx_uint_t *where);
static void ngx_photo_mc_get_start(ngx_photo_mc_exchange_t *ex);
static void ngx_photo_mc_get_handler(ngx_event_t *ev);
static ngx_int_t ngx_photo_mc_get_recv(ngx_photo_mc_exchange_t *ex,
    ngx_connection_t *c);
static ngx_int_t ngx_photo_mc_get_parse(ngx_photo_mc_exchange_t *ex);
static ngx_int_t ngx_photo_mc_get_room(ngx_photo_mc_exchange_t *ex);
static ngx_photo_mc_item_t *ngx_photo_mc_get_item(ngx_photo_mc_exchange_t *ex,
    u_char *key, size_t len);
static void ngx_photo_mc_get_finish(ngx_photo_mc_exchange_t *ex,
    ngx_int_t rc);
static void ngx_photo_mc_get_cleanup(void *data);

static void ngx_photo_mc_set_start(ngx_photo_mc_set_t *st);
static void ngx_photo_mc_set_handler(ngx_event_t *ev);
static void ngx_photo_mc_set_finish(ngx_photo_mc_set_t *st, ngx_err_t err,
    const char *error);

static ngx_uint_t ngx_photo_mc_server(ngx_photo_mc_pool_t *mc,
    ngx_str_t *key);
static ngx_uint_t ngx_photo_mc_skip(ngx_photo_mc_server_t *s);
static void ngx_photo_mc_server_done(ngx_photo_mc_server_t *s, ngx_int_t rc);
static ngx_uint_t ngx_photo_mc_valid_key(ngx_str_t *key);
static ngx_msec_t ngx_photo_mc_time_left(ngx_msec_t start,
    ngx_msec_t timeout);


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

    mcf = ngx_http_cycle_get_module_main_conf(cycle,
                                              ngx_http_photo_memcached_module);

    if (mcf == NULL || !mcf->backend.used) {
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

        if (ngx_photo_keepalive_init(&s->keepalive, cycle, &conf[i],
                                     "memcached", mcf->keepalive)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
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

    mcf = ngx_http_cycle_get_module_main_conf(cycle,
                                              ngx_http_photo_memcached_module);

    if (mcf == NULL || mcf->state == NULL) {
        return;
    }

    for (i = 0; i < mcf->state->nservers; i++) {
        ngx_photo_keepalive_close_all(&mcf->state->servers[i].keepalive);
    }

    mcf->state = NULL;
}


ngx_int_t
ngx_photo_mc_get(ngx_http_request_t *r, ngx_photo_mc_item_t *items,
    ngx_uint_t n, ngx_photo_mc_handler_pt handler, void *data)
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
        return NGX_OK;
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

    get->pending = ngx_photo_mc_plan(mc, get, items, n, where);

    if (get->pending == NGX_PHOTO_MC_NONE) {
        return NGX_ERROR;
    }

    if (get->pending == 0) {
        return NGX_OK;
    }

    /* a request that goes away first takes its connections with it */
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_photo_mc_get_cleanup;
    cln->data = get;

    /* exchanges that end at once must not call handler from in here */
    get->starting = 1;

    for (i = 0; i < mc->nservers; i++) {
        ex = &get->exchanges[i];

        if (ex->nitems == 0) {
            continue;
        }

        ex->get = get;
        ex->server = &mc->servers[i];
        ex->start = ngx_current_msec;

        ex->log = *r->connection->log;
        ex->log.action = ex->server->get_action;

        ngx_photo_mc_parser_init(&ex->parser, NGX_PHOTO_MC_VALUE_MAX);

        ngx_log_debug3(NGX_LOG_DEBUG_HTTP, &ex->log, 0,
                       "photo memcached %V: get of %ui keys, %uz bytes",
                       &ex->server->conf->name, ex->nitems, ex->cmd.len);

        ngx_photo_mc_get_start(ex);
    }

    get->starting = 0;

    return get->pending ? NGX_AGAIN : NGX_OK;
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

        if (ngx_photo_mc_skip(&mc->servers[k])) {
            items[i].error = 1;
            continue;
        }

        where[i] = k;

        ex = &get->exchanges[k];
        ex->nitems++;
        ex->cmd.len += 1 + items[i].key.len;
    }

    nexchanges = 0;

    for (k = 0; k < mc->nservers; k++) {
        ex = &get->exchanges[k];

        if (ex->nitems == 0) {
            ngx_log_debug1(NGX_LOG_DEBUG_HTTP, get->request->connection->log,
                           0, "photo memcached %V: nothing to get",
                           &mc->servers[k].conf->name);
            continue;
        }

        ex->cmd.len += sizeof("get" CRLF) - 1;

        ex->items = ngx_palloc(get->request->pool,
                               ex->nitems * sizeof(ngx_photo_mc_item_t *));
        ex->cmd.data = ngx_pnalloc(get->request->pool, ex->cmd.len);

        if (ex->items == NULL || ex->cmd.data == NULL) {
            return NGX_PHOTO_MC_NONE;
        }

        /* few servers: a pass over the items for each is cheap */

        p = ngx_cpymem(ex->cmd.data, "get", 3);
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


static void
ngx_photo_mc_get_start(ngx_photo_mc_exchange_t *ex)
{
    ngx_int_t          rc;
    ngx_connection_t  *c;

    rc = ngx_photo_keepalive_connect(&ex->server->keepalive, &ex->peer,
                                     &ex->log, !ex->retried);

    if (rc == NGX_ERROR) {
        ngx_photo_mc_get_finish(ex, NGX_ERROR);
        return;
    }

    c = ex->peer.connection;
    c->data = ex;
    c->read->handler = ngx_photo_mc_get_handler;
    c->write->handler = ngx_photo_mc_get_handler;

    /* one timer for connect, send and the whole reply, retry included */
    ngx_add_timer(c->write,
                  ngx_photo_mc_time_left(ex->start,
                                         ex->get->mc->conf->backend.timeout));

    if (rc == NGX_OK) {
        /* connected at once, or kept alive: send now */
        ngx_photo_mc_get_handler(c->write);
    }
}


static void
ngx_photo_mc_get_handler(ngx_event_t *ev)
{
    ngx_int_t                 rc;
    ngx_connection_t         *c;
    ngx_photo_mc_exchange_t  *ex;

    c = ev->data;
    ex = c->data;

    if (ev->timedout) {
        ex->log.action = NULL;
        ngx_log_error(NGX_LOG_ERR, &ex->log, NGX_ETIMEDOUT,
                      "memcached %V timed out", &ex->server->conf->name);
        ngx_photo_mc_get_finish(ex, NGX_ERROR);
        return;
    }

    if (ex->sent < ex->cmd.len) {
        rc = ngx_photo_keepalive_send(c, &ex->cmd, &ex->sent);

        if (rc == NGX_OK) {
            rc = ngx_photo_mc_get_recv(ex, c);
        }

    } else if (!ev->write) {
        rc = ngx_photo_mc_get_recv(ex, c);

    } else {
        return;
    }

    if (rc == NGX_AGAIN) {
        return;
    }

    if (rc != NGX_OK && ex->peer.cached && ex->received == 0) {

        /*
         * A kept-alive connection that the server had closed (restarted,
         * or timed it out) before we knew: once more on a new one.
         */

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, &ex->log, 0,
                       "photo memcached %V: stale keepalive connection",
                       &ex->server->conf->name);

        ngx_close_connection(c);
        ex->peer.connection = NULL;
        ex->retried = 1;
        ex->sent = 0;

        ngx_photo_mc_get_start(ex);
        return;
    }

    if (rc == NGX_DECLINED) {
        ex->log.action = NULL;
        ngx_log_error(NGX_LOG_ERR, &ex->log, 0,
                      "memcached %V closed the connection prematurely",
                      &ex->server->conf->name);
        rc = NGX_ERROR;
    }

    ngx_photo_mc_get_finish(ex, rc);
}


/*
 * Reads and parses until the reply is complete or the socket is drained.
 * NGX_OK: complete; NGX_AGAIN: more to come; NGX_ERROR: failed and logged
 * (I/O errors by nginx itself); NGX_DECLINED: closed by the server, not
 * logged yet.
 */

static ngx_int_t
ngx_photo_mc_get_recv(ngx_photo_mc_exchange_t *ex, ngx_connection_t *c)
{
    ssize_t    n;
    ngx_int_t  rc;

    for ( ;; ) {

        if (ex->buf) {
            rc = ngx_photo_mc_get_parse(ex);

            if (rc != NGX_AGAIN) {
                return rc;
            }
        }

        if (ngx_photo_mc_get_room(ex) != NGX_OK) {
            return NGX_ERROR;
        }

        n = ngx_photo_keepalive_recv(c, ex->buf);

        if (n == NGX_AGAIN || n == NGX_ERROR) {
            return n;
        }

        if (n == 0) {
            return NGX_DECLINED;
        }

        ex->received += n;
    }
}


static ngx_int_t
ngx_photo_mc_get_parse(ngx_photo_mc_exchange_t *ex)
{
    ngx_buf_t              *b;
    ngx_photo_mc_item_t    *item;
    ngx_photo_mc_parser_t  *p;

    b = ex->buf;
    p = &ex->parser;

    for ( ;; ) {

        switch (ngx_photo_mc_parse(p, b->pos, b->last - b->pos)) {

        case NGX_PHOTO_MC_PARSE_AGAIN:
            return NGX_AGAIN;

        case NGX_PHOTO_MC_PARSE_VALUE:
            item = ngx_photo_mc_get_item(ex, b->pos + p->key, p->key_len);

            if (item == NULL) {
                ex->log.action = NULL;
                ngx_log_error(NGX_LOG_ERR, &ex->log, 0,
                              "memcached %V sent \"%*s\", not asked for",
                              &ex->server->conf->name, p->key_len,
                              b->pos + p->key);
                return NGX_ERROR;
            }

            /* zero-copy: the value stays where it was read */
            item->value.data = b->pos + p->value;
            item->value.len = p->value_len;
            item->flags = p->flags;
            item->found = 1;

            ex->pinned = 1;
            b->pos += p->consumed;
            break;

        case NGX_PHOTO_MC_PARSE_END:
            b->pos += p->consumed;

            if (b->pos != b->last || ex->sent < ex->cmd.len) {
                ex->log.action = NULL;
                ngx_log_error(NGX_LOG_ERR, &ex->log, 0,
                              "memcached %V sent more than its reply",
                              &ex->server->conf->name);
                return NGX_ERROR;
            }

            return NGX_OK;

        default: /* NGX_PHOTO_MC_PARSE_ERROR */
            ex->log.action = NULL;

            if (p->line_len) {
                ngx_log_error(NGX_LOG_ERR, &ex->log, 0,
                              "memcached %V answered \"%*s\"",
                              &ex->server->conf->name, p->line_len, b->pos);

            } else {
                ngx_log_error(NGX_LOG_ERR, &ex->log, 0,
                              "memcached %V sent an invalid reply: %s",
                              &ex->server->conf->name, p->error);
            }

            return NGX_ERROR;
        }
    }
}


/*
 * Makes room to read into, with the parser's window (b->pos..b->last)
 * whole and at least parser.need bytes long.  Values already found point
 * into the buffer, so a buffer holding some never moves: the window goes
 * to a new buffer from the request's pool, where the values live too.
 */

static ngx_int_t
ngx_photo_mc_get_room(ngx_photo_mc_exchange_t *ex)
{
    size_t       size, window;
    ngx_buf_t   *b, *nb;
    ngx_pool_t  *pool;

    b = ex->buf;
    pool = ex->get->request->pool;

    if (b == NULL) {
        ex->buf = ngx_create_temp_buf(pool, NGX_PHOTO_MC_BUFFER_SIZE);
        return ex->buf ? NGX_OK : NGX_ERROR;
    }

    window = b->last - b->pos;

    if (b->last < b->end && (size_t) (b->end - b->pos) >= ex->parser.need) {
        return NGX_OK;
    }

    size = ngx_max(ex->parser.need, NGX_PHOTO_MC_BUFFER_SIZE);

    if (!ex->pinned && (size_t) (b->end - b->start) >= size) {
        b->last = ngx_movemem(b->start, b->pos, window);
        b->pos = b->start;
        return NGX_OK;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, &ex->log, 0,
                   "photo memcached %V: new %uz-byte buffer for %uz bytes",
                   &ex->server->conf->name, size, window);

    nb = ngx_create_temp_buf(pool, size);
    if (nb == NULL) {
        return NGX_ERROR;
    }

    nb->last = ngx_cpymem(nb->pos, b->pos, window);

    if (!ex->pinned) {
        ngx_pfree(pool, b->start);
    }

    ex->buf = nb;
    ex->pinned = 0;

    return NGX_OK;
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


static void
ngx_photo_mc_get_finish(ngx_photo_mc_exchange_t *ex, ngx_int_t rc)
{
    ngx_uint_t           i;
    ngx_photo_mc_get_t  *get;

    get = ex->get;

    if (rc != NGX_OK) {
        for (i = 0; i < ex->nitems; i++) {
            if (!ex->items[i]->found) {
                ex->items[i]->error = 1;
            }
        }
    }

    ngx_photo_mc_server_done(ex->server, rc);
    ngx_photo_keepalive_free(&ex->server->keepalive, &ex->peer, rc == NGX_OK);

    if (--get->pending == 0 && !get->starting) {
        /* the request may be gone after this: nothing may follow */
        get->handler(get->data);
    }
}


static void
ngx_photo_mc_get_cleanup(void *data)
{
    ngx_photo_mc_get_t *get = data;

    ngx_uint_t                i;
    ngx_photo_mc_exchange_t  *ex;

    if (get->pending == 0) {
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, get->request->connection->log, 0,
                   "photo memcached: request gone, %ui exchanges closed",
                   get->pending);

    for (i = 0; i < get->mc->nservers; i++) {
        ex = &get->exchanges[i];

        /* a reply not read to its end cannot be reused */
        if (ex->peer.connection) {
            ngx_close_connection(ex->peer.connection);
            ex->peer.connection = NULL;
        }
    }
}


void
ngx_photo_mc_set(ngx_log_t *log, ngx_flag_t add, ngx_str_t *key,
    ngx_str_t *value, uint32_t flags)
{
    u_char                 *p;
    size_t                  len;
    ngx_photo_mc_set_t     *st;
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

    if (ngx_photo_mc_skip(s)) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, log, 0,
                       "photo memcached %V: failed lately, set skipped",
                       &s->conf->name);
        return;
    }

    len = sizeof("set     noreply" CRLF CRLF) - 1 + key->len + NGX_INT32_LEN
          + NGX_TIME_T_LEN + NGX_SIZE_T_LEN + value->len;

    /* the set outlives its caller: its own memory, freed when done */
    st = ngx_alloc(sizeof(ngx_photo_mc_set_t) + len, log);
    if (st == NULL) {
        return;
    }

    ngx_memzero(st, sizeof(ngx_photo_mc_set_t));

    st->cmd.data = (u_char *) (st + 1);
    /* "set" and "add" are as long */
    p = ngx_sprintf(st->cmd.data, "%s %V %uD %T %uz noreply" CRLF,
                    add ? "add" : "set", key, flags, mc->conf->ttl,
                    value->len);
    p = ngx_cpymem(p, value->data, value->len);
    *p++ = CR; *p++ = LF;
    st->cmd.len = p - st->cmd.data;

    st->key.data = st->cmd.data + sizeof("set ") - 1;
    st->key.len = key->len;

    st->server = s;
    st->mc = mc;
    st->start = ngx_current_msec;

    st->log = *mc->log;
    st->log.action = s->set_action;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, log, 0,
                   "photo memcached %V: set \"%V\"", &s->conf->name, key);

    ngx_photo_mc_set_start(st);
}


static void
ngx_photo_mc_set_start(ngx_photo_mc_set_t *st)
{
    ngx_int_t          rc;
    ngx_connection_t  *c;

    rc = ngx_photo_keepalive_connect(&st->server->keepalive, &st->peer,
                                     &st->log, !st->retried);

    if (rc == NGX_ERROR) {
        /* nginx has said why, as for any peer connection */
        ngx_photo_mc_set_finish(st, 0, NULL);
        return;
    }

    c = st->peer.connection;
    c->data = st;
    c->read->handler = ngx_photo_mc_set_handler;
    c->write->handler = ngx_photo_mc_set_handler;

    /* a set is a cache fill: its failures are warnings, not errors */
    if (!st->peer.cached) {
        c->log_error = NGX_ERROR_INFO;
    }

    ngx_add_timer(c->write,
                  ngx_photo_mc_time_left(st->start,
                                         st->mc->conf->backend.timeout));

    if (rc == NGX_OK) {
        ngx_photo_mc_set_handler(c->write);
    }
}


static void
ngx_photo_mc_set_handler(ngx_event_t *ev)
{
    ngx_int_t            rc;
    ngx_err_t            err;
    const char          *error;
    ngx_connection_t    *c;
    ngx_photo_mc_set_t  *st;

    c = ev->data;
    st = c->data;

    if (ev->timedout) {
        ngx_photo_mc_set_finish(st, NGX_ETIMEDOUT, "timed out");
        return;
    }

    err = 0;

    if (ev->write) {
        rc = ngx_photo_keepalive_send(c, &st->cmd, &st->sent);
        error = "connection failed";

    } else {
        /* "noreply": anything to read is an error, a close or an answer */
        rc = ngx_photo_keepalive_peek(c, &err);
        error = rc == NGX_ERROR ? "connection failed"
                : rc == NGX_DONE ? "connection closed"
                : "unexpected answer";

        if (rc == NGX_OK || rc == NGX_DONE) {
            rc = NGX_ERROR;
        }
    }

    if (rc == NGX_AGAIN) {
        return;
    }

    if (rc == NGX_OK) {
        ngx_photo_mc_set_finish(st, 0, NULL);
        return;
    }

    if (st->peer.cached) {
        /* stale keepalive connection: once more on a new one */
        ngx_close_connection(c);
        st->peer.connection = NULL;
        st->retried = 1;
        st->sent = 0;

        ngx_photo_mc_set_start(st);
        return;
    }

    ngx_photo_mc_set_finish(st, err, error);
}


/* error: why it failed, NULL when it did not or when nginx has said why */

static void
ngx_photo_mc_set_finish(ngx_photo_mc_set_t *st, ngx_err_t err,
    const char *error)
{
    ngx_uint_t  ok;

    ok = (error == NULL && st->sent == st->cmd.len);

    if (error) {
        st->log.action = NULL;
        ngx_log_error(NGX_LOG_WARN, &st->log, err,
                      "memcached %V: set \"%V\" failed: %s",
                      &st->server->conf->name, &st->key, error);
    }

    ngx_photo_mc_server_done(st->server, ok ? NGX_OK : NGX_ERROR);
    ngx_photo_keepalive_free(&st->server->keepalive, &st->peer, ok);

    ngx_free(st);
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


static ngx_uint_t
ngx_photo_mc_skip(ngx_photo_mc_server_t *s)
{
    return s->failed
           && (ngx_msec_int_t) (ngx_current_msec - s->failed_at)
              < NGX_PHOTO_MC_RETRY_AFTER;
}


static void
ngx_photo_mc_server_done(ngx_photo_mc_server_t *s, ngx_int_t rc)
{
    if (rc == NGX_OK) {
        s->failed = 0;
        return;
    }

    s->failed = 1;
    s->failed_at = ngx_current_msec;
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


static ngx_msec_t
ngx_photo_mc_time_left(ngx_msec_t start, ngx_msec_t timeout)
{
    ngx_msec_t  elapsed;

    elapsed = ngx_current_msec - start;

    return elapsed < timeout ? timeout - elapsed : 1;
}
