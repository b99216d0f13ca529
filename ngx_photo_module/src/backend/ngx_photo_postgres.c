
/*
 * PostgreSQL over libpq, driven by nginx events.
 *
 * Each worker keeps up to "photo_postgres_pool" connections, opened when a
 * query needs one.  A query takes an idle connection or waits, in arrival
 * order, for one to come free; the whole of it (waiting, connecting,
 * running) is bounded by "photo_postgres_timeout".
 *
 * A connection that breaks is closed and the next query opens a new one.
 * A connect that fails, though, stops connecting for a second: until then a
 * query with no live connection to wait for fails at once.  So a request
 * finds out in a moment that Postgres is down (and answers 503 or less),
 * and a Postgres that is down gets one connect a second from each worker,
 * not one per request.
 *
 * A query that times out fails at once, but its connection stays busy
 * until the end of the query has been read and dropped (drained), so that
 * its result cannot reach the next query.  The server ends it soon: every
 * session runs with statement_timeout set to the same timeout, since libpq
 * 15 could only cancel it with a blocking call.  Closing instead would not
 * stop the query any sooner, and would add a backend to a server already
 * too slow.  A query whose request goes away is drained the same way.  A
 * drain that outlasts another timeout closes the connection.
 */

#include "ngx_photo_postgres.h"
#include "ngx_photo_metrics.h"


#define NGX_PHOTO_PG_PORT             5432
#define NGX_PHOTO_PG_SOCKET_DIR       "/var/run/postgresql"   /* Debian's */
#define NGX_PHOTO_PG_POOL_DEFAULT     4     /* connections per worker */
#define NGX_PHOTO_PG_BACKOFF          1000  /* ms without connecting */
#define NGX_PHOTO_PG_DRAIN_SLACK      250   /* ms, for the server's answer */
#define NGX_PHOTO_PG_WAITING_PER_CONN 64    /* queue bound, per connection */
#define NGX_PHOTO_PG_ERRSTR           512   /* libpq's messages, folded */
#define NGX_PHOTO_PG_PARAMS           5     /* connect keywords, with NULL */


typedef enum {
    NGX_PHOTO_PG_CLOSED = 0,
    NGX_PHOTO_PG_CONNECTING,
    NGX_PHOTO_PG_IDLE,
    NGX_PHOTO_PG_BUSY,          /* running a query for a request */
    NGX_PHOTO_PG_DRAINING       /* its request is gone, result to drop */
} ngx_photo_pg_state_e;


typedef struct ngx_photo_pg_conn_s  ngx_photo_pg_conn_t;
typedef struct ngx_photo_pg_pool_s  ngx_photo_pg_pool_t;


typedef struct {
    ngx_photo_backend_conf_t    backend;    /* first */
    ngx_uint_t                  pool;       /* connections per worker */

    ngx_str_t                   conninfo;   /* as written, NUL-terminated */
    char                       *options;    /* its "options", or "" */
    char                       *hostaddr;   /* the address nginx resolved,
                                               or NULL */

    /* PQconnectStartParams()'s, made once the timeout is known */
    const char                 *keywords[NGX_PHOTO_PG_PARAMS];
    const char                 *values[NGX_PHOTO_PG_PARAMS];

    ngx_photo_pg_pool_t        *state;      /* per worker process */
} ngx_photo_pg_conf_t;


typedef struct {
    ngx_http_request_t         *request;
    ngx_photo_pg_pool_t        *pool;
    ngx_photo_pg_conn_t        *conn;       /* running on it */

    char                       *sql;
    char                      **values;
    int                         nparams;

    ngx_photo_result_pt         handler;
    void                       *data;
    ngx_photo_status_e          status;    /* of a failure, while posted */

    ngx_event_t                 ev;         /* waiting timer; failures */
    ngx_queue_t                 queue;      /* in pool->waiting */
    ngx_msec_t                  deadline;
    ngx_photo_usec_t            start;      /* for the metrics */

    unsigned                    waiting:1;
    unsigned                    starting:1; /* inside ngx_photo_pg_query */
    unsigned                    done:1;
} ngx_photo_pg_req_t;


struct ngx_photo_pg_conn_s {
    ngx_photo_pg_pool_t        *pool;
    PGconn                     *pg;
    ngx_connection_t           *c;          /* wraps PQsocket(pg) */
    ngx_file_uniq_t             socket;     /* which socket c wraps */

    ngx_photo_pg_req_t         *req;
    PGresult                   *res;        /* kept until the last one */

    ngx_queue_t                 queue;      /* in pool->idle */
    ngx_msec_t                  deadline;   /* of the connect */
    ngx_photo_pg_state_e        state;
    ngx_log_t                   log;

    unsigned                    flushing:1;
    unsigned                    lost:1;     /* its last connection broke:
                                               the next is a reconnect */
};


struct ngx_photo_pg_pool_s {
    ngx_photo_backend_conf_t   *bcf;        /* its one server, 0 */
    ngx_photo_server_t         *server;
    ngx_msec_t                  timeout;

    ngx_photo_pg_conn_t        *conns;
    ngx_uint_t                  nconns;

    ngx_queue_t                 idle;
    ngx_queue_t                 waiting;    /* first come, first served */
    ngx_uint_t                  nwaiting;
    ngx_uint_t                  max_waiting;

    ngx_msec_t                  retry;      /* no connect before then */
    unsigned                    backoff:1;

    const char                **keywords;
    const char                **values;

    ngx_str_t                   error;      /* why the last connect failed */
    u_char                      error_buf[NGX_PHOTO_PG_ERRSTR];
};


static void *ngx_http_photo_postgres_create_conf(ngx_conf_t *cf);
static char *ngx_http_photo_postgres_init_conf(ngx_conf_t *cf, void *conf);
static char *ngx_http_photo_postgres(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_photo_postgres_init_process(ngx_cycle_t *cycle);
static void ngx_http_photo_postgres_exit_process(ngx_cycle_t *cycle);

static void ngx_photo_pg_dispatch(ngx_photo_pg_pool_t *pool);
static ngx_int_t ngx_photo_pg_connect(ngx_photo_pg_conn_t *pc);
static void ngx_photo_pg_connect_poll(ngx_photo_pg_conn_t *pc);
static void ngx_photo_pg_connect_failed(ngx_photo_pg_conn_t *pc,
    ngx_err_t err, const char *why);
static ngx_int_t ngx_photo_pg_attach(ngx_photo_pg_conn_t *pc);
static void ngx_photo_pg_detach(ngx_photo_pg_conn_t *pc);
static ngx_int_t ngx_photo_pg_wait(ngx_photo_pg_conn_t *pc, ngx_uint_t read,
    ngx_uint_t write);
static void ngx_photo_pg_close(ngx_photo_pg_conn_t *pc);

static void ngx_photo_pg_send(ngx_photo_pg_conn_t *pc,
    ngx_photo_pg_req_t *req);
static ngx_int_t ngx_photo_pg_flush(ngx_photo_pg_conn_t *pc);
static void ngx_photo_pg_event_handler(ngx_event_t *ev);
static void ngx_photo_pg_process(ngx_photo_pg_conn_t *pc);
static void ngx_photo_pg_idle(ngx_photo_pg_conn_t *pc);
static void ngx_photo_pg_done(ngx_photo_pg_conn_t *pc);
static void ngx_photo_pg_broken(ngx_photo_pg_conn_t *pc);
static void ngx_photo_pg_drain(ngx_photo_pg_conn_t *pc);
static void ngx_photo_pg_timeout(ngx_photo_pg_conn_t *pc);

static void ngx_photo_pg_req_handler(ngx_event_t *ev);
static void ngx_photo_pg_fail(ngx_photo_pg_req_t *req,
    ngx_photo_status_e status);
static void ngx_photo_pg_finish(ngx_photo_pg_req_t *req, PGresult *res,
    ngx_photo_status_e status);
static void ngx_photo_pg_cleanup(void *data);

static void ngx_photo_pg_notice(void *arg, const PGresult *res);
static u_char *ngx_photo_pg_log_error(ngx_log_t *log, u_char *buf,
    size_t len);
static void ngx_photo_pg_fold(ngx_str_t *text, const char *msg, u_char *buf);


static ngx_conf_num_bounds_t  ngx_http_photo_postgres_pool_bounds = {
    ngx_conf_check_num_bounds, 1, 256
};


static ngx_command_t  ngx_http_photo_postgres_commands[] = {

    { ngx_string("photo_postgres"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_photo_postgres,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("photo_postgres_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_photo_pg_conf_t, backend.timeout),
      NULL },

    { ngx_string("photo_postgres_pool"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_photo_pg_conf_t, pool),
      &ngx_http_photo_postgres_pool_bounds },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_photo_postgres_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */

    ngx_http_photo_postgres_create_conf,   /* create main configuration */
    ngx_http_photo_postgres_init_conf,     /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_http_photo_postgres_module = {
    NGX_MODULE_V1,
    &ngx_http_photo_postgres_module_ctx,   /* module context */
    ngx_http_photo_postgres_commands,      /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_photo_postgres_init_process,  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_photo_postgres_exit_process,  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static void *
ngx_http_photo_postgres_create_conf(ngx_conf_t *cf)
{
    ngx_photo_pg_conf_t  *pgcf;

    pgcf = ngx_pcalloc(cf->pool, sizeof(ngx_photo_pg_conf_t));
    if (pgcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     pgcf->backend.servers = NULL;
     *     pgcf->backend.used = 0;
     *     pgcf->conninfo = { 0, NULL };
     *     pgcf->hostaddr = NULL;
     *     pgcf->state = NULL;
     */

    pgcf->backend.name = "postgres";
    pgcf->backend.directive = "photo_postgres";
    pgcf->backend.timeout = NGX_CONF_UNSET_MSEC;

    /*
     * PostgreSQL answers an SSLRequest with one byte, 'N' or 'S', before
     * any authentication, and does not log a client that then hangs up.
     */
    ngx_str_set(&pgcf->backend.ping, "\x00\x00\x00\x08\x04\xd2\x16\x2f");
    ngx_str_set(&pgcf->backend.pong, "N");
    ngx_str_set(&pgcf->backend.pong_alt, "S");

    pgcf->pool = NGX_CONF_UNSET_UINT;

    return pgcf;
}


/*
 * The conninfo is parsed by libpq itself (no I/O), once: so that nginx -t
 * rejects what libpq would, and the server's address is known (for the
 * probe, and for libpq, which would resolve a host name itself, blocking,
 * on every connect).
 */

static char *
ngx_http_photo_postgres(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_photo_pg_conf_t *pgcf = conf;

    char                *err;
    size_t               n;
    u_char              *p;
    ngx_str_t           *value, addr;
    struct sockaddr     *sa;
    const char          *host, *hostaddr, *port, *options;
    PQconninfoOption    *opts, *o;
    ngx_photo_server_t  *server;
    u_char               text[NGX_SOCKADDR_STRLEN];

    if (pgcf->backend.servers != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    p = ngx_pnalloc(cf->pool, value[1].len + 1);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    (void) ngx_cpystrn(p, value[1].data, value[1].len + 1);

    err = NULL;
    opts = PQconninfoParse((char *) p, &err);

    if (opts == NULL) {
        n = err ? ngx_strlen(err) : 0;

        /* libpq ends its messages with a newline; a log line must not */
        while (n && (err[n - 1] == '\n' || err[n - 1] == ' ')) {
            n--;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid conninfo \"%V\": %*s", &value[1],
                           n, err ? err : "");
        if (err) {
            PQfreemem(err);
        }

        return NGX_CONF_ERROR;
    }

    pgcf->conninfo.data = p;
    pgcf->conninfo.len = value[1].len;

    host = NULL;
    hostaddr = NULL;
    port = "5432";
    options = "";

    for (o = opts; o->keyword; o++) {
        if (o->val == NULL || o->val[0] == '\0') {
            continue;
        }

        if (ngx_strcmp(o->keyword, "host") == 0) {
            host = o->val;

        } else if (ngx_strcmp(o->keyword, "hostaddr") == 0) {
            hostaddr = o->val;

        } else if (ngx_strcmp(o->keyword, "port") == 0) {
            port = o->val;

        } else if (ngx_strcmp(o->keyword, "options") == 0) {
            options = o->val;
        }
    }

    /* libpq's order: hostaddr, then host, then its Unix socket directory */
    p = (u_char *) (hostaddr ? hostaddr : host ? host
                                                : NGX_PHOTO_PG_SOCKET_DIR);

    n = ngx_strlen(options) + 1;
    pgcf->options = ngx_pnalloc(cf->pool, n);

    addr.len = sizeof("unix:/.s.PGSQL.") + ngx_strlen(p) + ngx_strlen(port);
    addr.data = ngx_pnalloc(cf->pool, addr.len);

    if (pgcf->options == NULL || addr.data == NULL) {
        PQconninfoFree(opts);
        return NGX_CONF_ERROR;
    }

    ngx_memcpy(pgcf->options, options, n);

    addr.len = ngx_sprintf(addr.data, p[0] == '/' ? "unix:%s/.s.PGSQL.%s"
                                                  : "%s:%s",
                           p, port)
               - addr.data;

    server = ngx_photo_backend_add_server(cf, &pgcf->backend, &addr,
                                          NGX_PHOTO_PG_PORT);
    if (server == NULL) {
        PQconninfoFree(opts);
        return NGX_CONF_ERROR;
    }

    /*
     * libpq resolves a host name with a blocking getaddrinfo() on every
     * connect: give it the address nginx resolved now instead, as for any
     * upstream.  Not for lists of hosts or Unix sockets.
     */

    sa = server->addr->sockaddr;

    if (host != NULL && hostaddr == NULL
        && host[0] != '/' && host[0] != '@' && ngx_strchr(host, ',') == NULL
        && (sa->sa_family == AF_INET
#if (NGX_HAVE_INET6)
            || sa->sa_family == AF_INET6
#endif
           ))
    {
        n = ngx_sock_ntop(sa, server->addr->socklen, text,
                          NGX_SOCKADDR_STRLEN, 0);

        pgcf->hostaddr = ngx_pnalloc(cf->pool, n + 1);
        if (pgcf->hostaddr == NULL) {
            PQconninfoFree(opts);
            return NGX_CONF_ERROR;
        }

        (void) ngx_cpystrn((u_char *) pgcf->hostaddr, text, n + 1);
    }

    PQconninfoFree(opts);

    return NGX_CONF_OK;
}


/*
 * Our own settings go after the conninfo ("dbname", expanded), so that they
 * win: libpq keeps the last value of a keyword.
 */

static char *
ngx_http_photo_postgres_init_conf(ngx_conf_t *cf, void *conf)
{
    ngx_photo_pg_conf_t *pgcf = conf;

    u_char      *p;
    size_t       len;
    ngx_uint_t   n;

    ngx_conf_init_msec_value(pgcf->backend.timeout, 2000);
    ngx_conf_init_uint_value(pgcf->pool, NGX_PHOTO_PG_POOL_DEFAULT);

    if (pgcf->backend.servers == NULL) {
        return NGX_CONF_OK;
    }

    n = 0;

    pgcf->keywords[n] = "dbname";
    pgcf->values[n++] = (char *) pgcf->conninfo.data;

    pgcf->keywords[n] = "fallback_application_name";
    pgcf->values[n++] = "ngx_photo";

    /* the server gives up on a query when we do (see the top) */
    len = ngx_strlen(pgcf->options) + sizeof(" -c statement_timeout=")
          + NGX_INT_T_LEN;

    p = ngx_pnalloc(cf->pool, len);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_sprintf(p, "%s%s-c statement_timeout=%M%Z", pgcf->options,
                pgcf->options[0] ? " " : "", pgcf->backend.timeout);

    pgcf->keywords[n] = "options";
    pgcf->values[n++] = (char *) p;

    if (pgcf->hostaddr) {
        pgcf->keywords[n] = "hostaddr";
        pgcf->values[n++] = pgcf->hostaddr;
    }

    pgcf->keywords[n] = NULL;
    pgcf->values[n] = NULL;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_photo_postgres_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t            i, n;
    ngx_photo_pg_conf_t  *pgcf;
    ngx_photo_pg_conn_t  *pc;
    ngx_photo_pg_pool_t  *pool;

    pgcf = ngx_photo_backend_used(cycle, &ngx_http_photo_postgres_module);

    if (pgcf == NULL) {
        return NGX_OK;
    }

    n = pgcf->pool;

    pool = ngx_pcalloc(cycle->pool, sizeof(ngx_photo_pg_pool_t));
    pc = ngx_pcalloc(cycle->pool, n * sizeof(ngx_photo_pg_conn_t));

    if (pool == NULL || pc == NULL) {
        return NGX_ERROR;
    }

    pool->bcf = &pgcf->backend;
    pool->server = pgcf->backend.servers->elts;
    pool->timeout = pgcf->backend.timeout;
    pool->conns = pc;
    pool->nconns = n;
    pool->max_waiting = n * NGX_PHOTO_PG_WAITING_PER_CONN;
    pool->keywords = pgcf->keywords;
    pool->values = pgcf->values;

    ngx_queue_init(&pool->idle);
    ngx_queue_init(&pool->waiting);

    for (i = 0; i < n; i++) {
        pc[i].pool = pool;
        pc[i].log = *cycle->log;
        pc[i].log.handler = ngx_photo_pg_log_error;
        pc[i].log.data = &pc[i];
    }

    pgcf->state = pool;

    return NGX_OK;
}


static void
ngx_http_photo_postgres_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t            i;
    ngx_photo_pg_conf_t  *pgcf;
    ngx_photo_pg_pool_t  *pool;

    pgcf = ngx_photo_backend_used(cycle, &ngx_http_photo_postgres_module);

    if (pgcf == NULL || pgcf->state == NULL) {
        return;
    }

    pool = pgcf->state;

    /* nginx counts sockets still open at exit as leaks: close them first */

    for (i = 0; i < pool->nconns; i++) {
        ngx_photo_pg_close(&pool->conns[i]);
    }

    pgcf->state = NULL;
}


ngx_int_t
ngx_photo_pg_query(ngx_http_request_t *r, const char *sql, int nparams,
    const char *const *values, ngx_photo_result_pt handler, void *data)
{
    int                   i;
    size_t                len;
    ngx_pool_cleanup_t   *cln;
    ngx_photo_pg_req_t   *req;
    ngx_photo_pg_conf_t  *pgcf;
    ngx_photo_pg_pool_t  *pool;

    pgcf = ngx_http_get_module_main_conf(r, ngx_http_photo_postgres_module);
    pool = pgcf->state;

    if (pool == NULL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "photo: no \"photo_postgres\" to query");
        return NGX_ERROR;
    }

    req = ngx_pcalloc(r->pool, sizeof(ngx_photo_pg_req_t));
    if (req == NULL) {
        return NGX_ERROR;
    }

    /* a query may wait in the queue longer than the caller's buffers live */

    len = ngx_strlen(sql) + 1;
    req->sql = ngx_pnalloc(r->pool, len);
    if (req->sql == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(req->sql, sql, len);

    if (nparams > 0) {
        req->values = ngx_pcalloc(r->pool, nparams * sizeof(char *));
        if (req->values == NULL) {
            return NGX_ERROR;
        }

        for (i = 0; i < nparams; i++) {
            if (values[i] == NULL) {
                continue;                       /* SQL NULL */
            }

            len = ngx_strlen(values[i]) + 1;
            req->values[i] = ngx_pnalloc(r->pool, len);
            if (req->values[i] == NULL) {
                return NGX_ERROR;
            }

            ngx_memcpy(req->values[i], values[i], len);
        }
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_photo_pg_cleanup;
    cln->data = req;

    req->request = r;
    req->pool = pool;
    req->nparams = nparams;
    req->handler = handler;
    req->data = data;
    req->deadline = ngx_current_msec + pool->timeout;
    req->start = ngx_photo_metrics_now();

    req->ev.handler = ngx_photo_pg_req_handler;
    req->ev.data = req;
    req->ev.log = r->connection->log;

    if (pool->nwaiting >= pool->max_waiting) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "photo: postgres at %V: %ui queries already wait "
                      "for a connection", &pool->server->name,
                      pool->nwaiting);
        req->done = 1;
        ngx_photo_metrics_backend(r, pool->bcf, 0, NGX_PHOTO_AWAY,
                                  req->start);
        return NGX_DECLINED;
    }

    ngx_queue_insert_tail(&pool->waiting, &req->queue);
    pool->nwaiting++;
    req->waiting = 1;

    ngx_add_timer(&req->ev, pool->timeout);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "photo postgres query: \"%s\", waiting: %ui",
                   req->sql, pool->nwaiting);

    /* a query that fails in here (Postgres known down, or the send) is
       said by the return value, not by the handler */
    req->starting = 1;

    ngx_photo_pg_dispatch(pool);

    if (req->done) {
        ngx_photo_metrics_backend(r, pool->bcf, 0, req->status, req->start);
        return NGX_DECLINED;
    }

    req->starting = 0;

    return NGX_AGAIN;
}


/*
 * After any change: idle connections to waiting queries, oldest first,
 * then new connections for the queries left, if allowed.  Called last by
 * every handler that changes the pool; never calls a query's handler.
 */

static void
ngx_photo_pg_dispatch(ngx_photo_pg_pool_t *pool)
{
    ngx_uint_t            i, live, connecting;
    ngx_queue_t          *q;
    ngx_photo_pg_req_t   *req;
    ngx_photo_pg_conn_t  *pc;

    while (!ngx_queue_empty(&pool->waiting)
           && !ngx_queue_empty(&pool->idle))
    {
        q = ngx_queue_head(&pool->waiting);
        ngx_queue_remove(q);
        pool->nwaiting--;

        req = ngx_queue_data(q, ngx_photo_pg_req_t, queue);
        req->waiting = 0;

        q = ngx_queue_head(&pool->idle);
        ngx_queue_remove(q);

        pc = ngx_queue_data(q, ngx_photo_pg_conn_t, queue);

        ngx_photo_metrics_conn(pool->bcf, 0, NGX_PHOTO_CONN_TAKEN);

        ngx_photo_pg_send(pc, req);
    }

    if (ngx_queue_empty(&pool->waiting)) {
        return;
    }

    live = 0;
    connecting = 0;

    for (i = 0; i < pool->nconns; i++) {
        switch (pool->conns[i].state) {

        case NGX_PHOTO_PG_CLOSED:
            break;

        case NGX_PHOTO_PG_CONNECTING:
            connecting++;
            break;

        default:
            live++;
        }
    }

    if (pool->backoff
        && (ngx_msec_int_t) (pool->retry - ngx_current_msec) <= 0)
    {
        pool->backoff = 0;
    }

    for (i = 0; i < pool->nconns && connecting < pool->nwaiting; i++) {

        if (pool->backoff) {
            break;
        }

        if (pool->conns[i].state == NGX_PHOTO_PG_CLOSED
            && ngx_photo_pg_connect(&pool->conns[i]) == NGX_OK)
        {
            connecting++;
        }
    }

    if (live + connecting > 0) {
        return;
    }

    /* nothing will come free: Postgres is down, fail fast */

    while (!ngx_queue_empty(&pool->waiting)) {
        q = ngx_queue_head(&pool->waiting);
        ngx_queue_remove(q);
        pool->nwaiting--;

        req = ngx_queue_data(q, ngx_photo_pg_req_t, queue);
        req->waiting = 0;

        ngx_log_error(NGX_LOG_ERR, req->request->connection->log, 0,
                      "photo: postgres at %V is unavailable: %V",
                      &pool->server->name, &pool->error);

        ngx_photo_pg_fail(req, NGX_PHOTO_AWAY);
    }
}


/*
 * NGX_ERROR: failed at once, logged, and the pool backs off.  For the
 * metrics a connection is open from here until ngx_photo_pg_close(), and
 * idle while in pool->idle.
 */

static ngx_int_t
ngx_photo_pg_connect(ngx_photo_pg_conn_t *pc)
{
    ngx_photo_pg_pool_t  *pool;

    pool = pc->pool;

    ngx_photo_metrics_conn(pool->bcf, 0, NGX_PHOTO_CONN_OPENED);

    pc->state = NGX_PHOTO_PG_CONNECTING;
    pc->log.action = "connecting to postgres";
    pc->deadline = ngx_current_msec + pool->timeout;

    /* only the "dbname" conninfo is expanded; the rest are plain values */
    pc->pg = PQconnectStartParams(pool->keywords, pool->values, 1);

    if (pc->pg == NULL) {
        ngx_photo_pg_connect_failed(pc, 0, "out of memory");
        return NGX_ERROR;
    }

    PQsetNoticeReceiver(pc->pg, ngx_photo_pg_notice, pc);

    /* as documented: poll as if PQconnectPoll() said "writing" */

    if (PQstatus(pc->pg) == CONNECTION_BAD
        || ngx_photo_pg_attach(pc) != NGX_OK
        || ngx_photo_pg_wait(pc, 0, 1) != NGX_OK)
    {
        ngx_photo_pg_connect_failed(pc, 0, NULL);
        return NGX_ERROR;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, &pc->log, 0,
                   "photo postgres connect: fd:%d", pc->c->fd);

    return NGX_OK;
}


static void
ngx_photo_pg_connect_poll(ngx_photo_pg_conn_t *pc)
{
    PostgresPollingStatusType  rc;

    rc = PQconnectPoll(pc->pg);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, &pc->log, 0,
                   "photo postgres connect poll: %d", rc);

    switch (rc) {

    case PGRES_POLLING_READING:
    case PGRES_POLLING_WRITING:

        /* each step may move to another socket: the next host, no SSL */

        if (ngx_photo_pg_attach(pc) != NGX_OK
            || ngx_photo_pg_wait(pc, rc == PGRES_POLLING_READING,
                                 rc == PGRES_POLLING_WRITING)
               != NGX_OK)
        {
            goto failed;
        }

        return;

    case PGRES_POLLING_OK:
        break;

    default: /* PGRES_POLLING_FAILED */
        goto failed;
    }

    if (ngx_photo_pg_attach(pc) != NGX_OK
        || PQsetnonblocking(pc->pg, 1) != 0
        || ngx_photo_pg_wait(pc, 1, 0) != NGX_OK)
    {
        goto failed;
    }

    if (pc->c->read->timer_set) {
        ngx_del_timer(pc->c->read);
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, &pc->log, 0,
                   "photo postgres connected, backend pid: %d",
                   PQbackendPID(pc->pg));

    pc->pool->backoff = 0;

    if (pc->lost) {
        pc->lost = 0;
        ngx_photo_metrics_conn(pc->pool->bcf, 0, NGX_PHOTO_CONN_RECONNECT);
    }

    pc->state = NGX_PHOTO_PG_IDLE;
    pc->log.action = "keeping a connection to postgres";
    ngx_queue_insert_tail(&pc->pool->idle, &pc->queue);
    ngx_photo_metrics_conn(pc->pool->bcf, 0, NGX_PHOTO_CONN_KEPT);

    ngx_photo_pg_dispatch(pc->pool);

    return;

failed:

    ngx_photo_pg_connect_failed(pc, 0, NULL);
    ngx_photo_pg_dispatch(pc->pool);
}


/* Logs why (libpq's words unless given), closes, and starts the backoff. */

static void
ngx_photo_pg_connect_failed(ngx_photo_pg_conn_t *pc, ngx_err_t err,
    const char *why)
{
    ngx_photo_pg_pool_t  *pool;

    pool = pc->pool;

    if (why == NULL) {
        why = pc->pg ? PQerrorMessage(pc->pg) : "failed";
    }

    ngx_photo_pg_fold(&pool->error, why, pool->error_buf);

    ngx_log_error(NGX_LOG_ERR, &pc->log, err,
                  "photo: could not connect to postgres: %V", &pool->error);

    ngx_photo_pg_close(pc);

    pool->backoff = 1;
    pool->retry = ngx_current_msec + NGX_PHOTO_PG_BACKOFF;
}


/*
 * libpq owns the socket; nginx only gets a connection wrapping it, which is
 * swapped when PQconnectPoll() has closed the socket and opened another.
 * The number alone does not tell: the new socket often gets the old one's.
 */

static ngx_int_t
ngx_photo_pg_attach(ngx_photo_pg_conn_t *pc)
{
    int                s;
    ngx_msec_int_t     left;
    ngx_file_info_t    fi;
    ngx_connection_t  *c;

    s = PQsocket(pc->pg);

    if (s == -1) {
        return NGX_ERROR;
    }

    if (ngx_fd_info(s, &fi) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, &pc->log, ngx_errno,
                      ngx_fd_info_n " of postgres socket %d failed", s);
        return NGX_ERROR;
    }

    if (pc->c != NULL
        && pc->c->fd == s
        && pc->socket == ngx_file_uniq(&fi))
    {
        return NGX_OK;
    }

    ngx_photo_pg_detach(pc);

    c = ngx_get_connection(s, &pc->log);
    if (c == NULL) {
        return NGX_ERROR;
    }

    c->data = pc;
    c->number = ngx_atomic_fetch_add(ngx_connection_counter, 1);
    c->read->handler = ngx_photo_pg_event_handler;
    c->write->handler = ngx_photo_pg_event_handler;
    c->read->log = &pc->log;
    c->write->log = &pc->log;

    pc->c = c;
    pc->socket = ngx_file_uniq(&fi);
    pc->log.connection = c->number;

    left = pc->deadline - ngx_current_msec;
    ngx_add_timer(c->read, left > 0 ? (ngx_msec_t) left : 1);

    return NGX_OK;
}


/* Forgets the socket on the nginx side; closing it is libpq's business. */

static void
ngx_photo_pg_detach(ngx_photo_pg_conn_t *pc)
{
    ngx_connection_t  *c;

    c = pc->c;

    if (c == NULL) {
        return;
    }

    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    /* closed or about to be: the kernel drops it from epoll by itself */

    if (ngx_del_conn) {
        ngx_del_conn(c, NGX_CLOSE_EVENT);

    } else {
        if (c->read->active || c->read->disabled) {
            ngx_del_event(c->read, NGX_READ_EVENT, NGX_CLOSE_EVENT);
        }

        if (c->write->active || c->write->disabled) {
            ngx_del_event(c->write, NGX_WRITE_EVENT, NGX_CLOSE_EVENT);
        }
    }

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    c->read->closed = 1;
    c->write->closed = 1;

    ngx_free_connection(c);

    c->fd = (ngx_socket_t) -1;
    pc->c = NULL;
}


/*
 * Level-triggered, unlike the rest of nginx: PQconsumeInput() reads once,
 * not until EAGAIN, and PQconnectPoll() may ask to wait until writable a
 * socket that already is.  An edge-triggered epoll would report neither.
 * So each direction is registered only while libpq waits on it.
 */

static ngx_int_t
ngx_photo_pg_wait(ngx_photo_pg_conn_t *pc, ngx_uint_t read, ngx_uint_t write)
{
    ngx_event_t  *rev, *wev;

    rev = pc->c->read;
    wev = pc->c->write;

    if (read && !rev->active) {
        if (ngx_add_event(rev, NGX_READ_EVENT, NGX_LEVEL_EVENT) != NGX_OK) {
            return NGX_ERROR;
        }

    } else if (!read && rev->active) {
        if (ngx_del_event(rev, NGX_READ_EVENT, 0) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (write && !wev->active) {
        if (ngx_add_event(wev, NGX_WRITE_EVENT, NGX_LEVEL_EVENT) != NGX_OK) {
            return NGX_ERROR;
        }

    } else if (!write && wev->active) {
        if (ngx_del_event(wev, NGX_WRITE_EVENT, 0) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* Back to unused; the request it ran for, if any, is the caller's. */

static void
ngx_photo_pg_close(ngx_photo_pg_conn_t *pc)
{
    if (pc->state == NGX_PHOTO_PG_CLOSED) {
        return;
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, &pc->log, 0,
                   "photo postgres close");

    if (pc->state == NGX_PHOTO_PG_IDLE) {
        ngx_queue_remove(&pc->queue);
        ngx_photo_metrics_conn(pc->pool->bcf, 0, NGX_PHOTO_CONN_TAKEN);
    }

    /* one that was up is closed only when it broke (or at exit) */
    if (pc->state != NGX_PHOTO_PG_CONNECTING) {
        pc->lost = 1;
    }

    ngx_photo_metrics_conn(pc->pool->bcf, 0, NGX_PHOTO_CONN_CLOSED);

    if (pc->req) {
        pc->req->conn = NULL;
        pc->req = NULL;
    }

    if (pc->res) {
        PQclear(pc->res);
        pc->res = NULL;
    }

    ngx_photo_pg_detach(pc);

    if (pc->pg) {
        PQfinish(pc->pg);
        pc->pg = NULL;
    }

    pc->state = NGX_PHOTO_PG_CLOSED;
    pc->flushing = 0;
    pc->log.action = NULL;
}


/* On an idle connection; a failure is posted, never reported from here. */

static void
ngx_photo_pg_send(ngx_photo_pg_conn_t *pc, ngx_photo_pg_req_t *req)
{
    u_char          buf[NGX_PHOTO_PG_ERRSTR];
    ngx_str_t       text;
    ngx_msec_int_t  left;

    if (req->ev.timer_set) {
        ngx_del_timer(&req->ev);
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, req->request->connection->log, 0,
                   "photo postgres send: \"%s\"", req->sql);

    pc->state = NGX_PHOTO_PG_BUSY;
    pc->log.action = "querying postgres";
    pc->req = req;
    req->conn = pc;

    left = req->deadline - ngx_current_msec;
    ngx_add_timer(pc->c->read, left > 0 ? (ngx_msec_t) left : 1);

    if (PQsendQueryParams(pc->pg, req->sql, req->nparams, NULL,
                          (const char *const *) req->values, NULL, NULL, 0)
        && ngx_photo_pg_flush(pc) == NGX_OK)
    {
        return;
    }

    ngx_photo_pg_fold(&text, PQerrorMessage(pc->pg), buf);

    ngx_log_error(NGX_LOG_ERR, req->request->connection->log, 0,
                  "photo: postgres at %V: could not send query: %V",
                  &pc->pool->server->name, &text);

    ngx_photo_pg_close(pc);
    ngx_photo_pg_fail(req, NGX_PHOTO_AWAY);
}


/* PQflush() until it has sent everything, waiting for the socket between. */

static ngx_int_t
ngx_photo_pg_flush(ngx_photo_pg_conn_t *pc)
{
    switch (PQflush(pc->pg)) {

    case 0:
        pc->flushing = 0;
        break;

    case 1:
        pc->flushing = 1;
        break;

    default:
        return NGX_ERROR;
    }

    return ngx_photo_pg_wait(pc, 1, pc->flushing);
}


static void
ngx_photo_pg_event_handler(ngx_event_t *ev)
{
    ngx_connection_t     *c;
    ngx_photo_pg_conn_t  *pc;

    c = ev->data;
    pc = c->data;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, &pc->log, 0,
                   "photo postgres event: %s, state: %d, timedout: %d",
                   ev->write ? "write" : "read", pc->state, ev->timedout);

    if (ev->timedout) {
        ev->timedout = 0;
        ngx_photo_pg_timeout(pc);
        return;
    }

    switch (pc->state) {

    case NGX_PHOTO_PG_CONNECTING:
        ngx_photo_pg_connect_poll(pc);
        return;

    case NGX_PHOTO_PG_IDLE:
        ngx_photo_pg_idle(pc);
        return;

    case NGX_PHOTO_PG_BUSY:
    case NGX_PHOTO_PG_DRAINING:
        ngx_photo_pg_process(pc);
        return;

    default:
        /* a stale event: the connection was released in this round */
        return;
    }
}


/*
 * The socket is readable, or writable while flushing: read what there is
 * and take the results libpq can give without blocking.  A query has one
 * result, then NULL once the server is ready for the next.
 */

static void
ngx_photo_pg_process(ngx_photo_pg_conn_t *pc)
{
    PGresult  *res;

    if (pc->flushing && ngx_photo_pg_flush(pc) != NGX_OK) {
        ngx_photo_pg_broken(pc);
        return;
    }

    if (!PQconsumeInput(pc->pg)) {
        ngx_photo_pg_broken(pc);
        return;
    }

    while (!PQisBusy(pc->pg)) {
        res = PQgetResult(pc->pg);

        if (res == NULL) {
            ngx_photo_pg_done(pc);
            return;
        }

        if (pc->res == NULL) {
            pc->res = res;

        } else {
            PQclear(res);
        }
    }
}


/*
 * Nothing is expected on an idle connection but the server's goodbye (a
 * restart, idle_session_timeout): notices go to the notice receiver, and
 * the end of the connection closes ours.
 */

static void
ngx_photo_pg_idle(ngx_photo_pg_conn_t *pc)
{
    u_char      buf[NGX_PHOTO_PG_ERRSTR];
    PGresult   *res;
    ngx_str_t   text;

    if (PQconsumeInput(pc->pg)) {
        while (!PQisBusy(pc->pg) && (res = PQgetResult(pc->pg)) != NULL) {
            PQclear(res);
        }

        if (PQstatus(pc->pg) == CONNECTION_OK) {
            return;
        }
    }

    ngx_photo_pg_fold(&text, PQerrorMessage(pc->pg), buf);

    ngx_log_error(NGX_LOG_WARN, &pc->log, 0,
                  "photo: postgres closed an idle connection: %V", &text);

    ngx_photo_pg_close(pc);
}


static void
ngx_photo_pg_done(ngx_photo_pg_conn_t *pc)
{
    u_char                buf[NGX_PHOTO_PG_ERRSTR];
    PGresult             *res;
    ngx_str_t             text;
    const char           *msg;
    ExecStatusType        status;
    ngx_photo_pg_req_t   *req;
    ngx_photo_pg_pool_t  *pool;

    pool = pc->pool;
    req = pc->req;
    res = pc->res;

    pc->req = NULL;
    pc->res = NULL;

    if (pc->c->read->timer_set) {
        ngx_del_timer(pc->c->read);
    }

    /* a FATAL error ends the session too */

    if (PQstatus(pc->pg) == CONNECTION_OK) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, &pc->log, 0,
                       "photo postgres idle");

        pc->state = NGX_PHOTO_PG_IDLE;
        pc->log.action = "keeping a connection to postgres";
        ngx_queue_insert_tail(&pool->idle, &pc->queue);
        ngx_photo_metrics_conn(pool->bcf, 0, NGX_PHOTO_CONN_KEPT);

    } else {
        ngx_photo_pg_close(pc);
    }

    ngx_photo_pg_dispatch(pool);

    if (req == NULL) {
        /* drained: nobody is waiting for it any more */
        PQclear(res);
        return;
    }

    req->conn = NULL;

    status = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;

    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
        msg = res ? PQresultErrorMessage(res) : "";

        if (msg[0] == '\0') {
            msg = PQresStatus(status);
        }

        ngx_photo_pg_fold(&text, msg, buf);

        ngx_log_error(NGX_LOG_ERR, req->request->connection->log, 0,
                      "photo: postgres at %V: query failed: %V",
                      &pool->server->name, &text);

        ngx_photo_pg_finish(req, NULL, NGX_PHOTO_BAD_REPLY);
        PQclear(res);
        return;
    }

    ngx_photo_pg_finish(req, res, NGX_PHOTO_DONE);
    PQclear(res);
}


/*
 * The connection failed while running or draining a query.  A FATAL error
 * (pg_terminate_backend(), a shutdown) comes as a result, then the end of
 * the connection: the result says why, libpq only that it ended.
 */

static void
ngx_photo_pg_broken(ngx_photo_pg_conn_t *pc)
{
    u_char                buf[NGX_PHOTO_PG_ERRSTR];
    ngx_str_t             text;
    const char           *msg;
    ngx_photo_pg_req_t   *req;
    ngx_photo_pg_pool_t  *pool;

    pool = pc->pool;
    req = pc->req;

    msg = pc->res ? PQresultErrorMessage(pc->res) : "";

    if (msg[0] == '\0') {
        msg = PQerrorMessage(pc->pg);
    }

    ngx_photo_pg_fold(&text, msg, buf);

    if (req) {
        ngx_log_error(NGX_LOG_ERR, req->request->connection->log, 0,
                      "photo: postgres at %V: query failed: %V",
                      &pool->server->name, &text);

    } else {
        ngx_log_error(NGX_LOG_WARN, &pc->log, 0,
                      "photo: postgres connection failed: %V", &text);
    }

    ngx_photo_pg_close(pc);
    ngx_photo_pg_dispatch(pool);

    if (req) {
        ngx_photo_pg_finish(req, NULL, NGX_PHOTO_AWAY);
    }
}


static void
ngx_photo_pg_timeout(ngx_photo_pg_conn_t *pc)
{
    ngx_photo_pg_req_t   *req;
    ngx_photo_pg_pool_t  *pool;

    pool = pc->pool;
    req = pc->req;

    switch (pc->state) {

    case NGX_PHOTO_PG_CONNECTING:
        ngx_photo_pg_connect_failed(pc, NGX_ETIMEDOUT, "timed out");
        ngx_photo_pg_dispatch(pool);
        return;

    case NGX_PHOTO_PG_BUSY:
        ngx_log_error(NGX_LOG_ERR, req->request->connection->log,
                      NGX_ETIMEDOUT, "photo: postgres at %V timed out",
                      &pool->server->name);

        ngx_photo_pg_drain(pc);
        ngx_photo_pg_finish(req, NULL, NGX_PHOTO_TIMEDOUT);
        return;

    default: /* NGX_PHOTO_PG_DRAINING */

        /* not even statement_timeout ended it: the server is in trouble */

        ngx_log_error(NGX_LOG_ERR, &pc->log, NGX_ETIMEDOUT,
                      "photo: postgres timed out");

        ngx_photo_pg_close(pc);
        ngx_photo_pg_dispatch(pool);
        return;
    }
}


/*
 * Its request is gone or has given up: the rest of the query is read and
 * dropped.  By the timeout, counted from now, the server has ended the
 * query (statement_timeout); the slack is for its answer to arrive.
 */

static void
ngx_photo_pg_drain(ngx_photo_pg_conn_t *pc)
{
    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, &pc->log, 0,
                   "photo postgres draining");

    pc->req->conn = NULL;
    pc->req = NULL;
    pc->state = NGX_PHOTO_PG_DRAINING;
    pc->log.action = "draining an abandoned query from postgres";

    ngx_add_timer(pc->c->read, pc->pool->timeout + NGX_PHOTO_PG_DRAIN_SLACK);
}


/* Timed out while waiting for a connection, or failed and posted. */

static void
ngx_photo_pg_req_handler(ngx_event_t *ev)
{
    ngx_uint_t            i, live;
    ngx_photo_pg_req_t   *req;
    ngx_photo_pg_pool_t  *pool;

    req = ev->data;
    pool = req->pool;

    if (ev->timedout && req->waiting) {
        ev->timedout = 0;
        req->status = NGX_PHOTO_TIMEDOUT;

        ngx_queue_remove(&req->queue);
        pool->nwaiting--;
        req->waiting = 0;

        live = 0;

        for (i = 0; i < pool->nconns; i++) {
            if (pool->conns[i].state > NGX_PHOTO_PG_CONNECTING) {
                live++;
            }
        }

        /* all busy, or a server that accepts and then says nothing */

        if (live) {
            ngx_log_error(NGX_LOG_ERR, req->request->connection->log,
                          NGX_ETIMEDOUT,
                          "photo: postgres at %V timed out waiting for one "
                          "of %ui connections", &pool->server->name, live);

        } else {
            ngx_log_error(NGX_LOG_ERR, req->request->connection->log,
                          NGX_ETIMEDOUT,
                          "photo: postgres at %V timed out connecting",
                          &pool->server->name);
        }
    }

    ngx_photo_pg_finish(req, NULL, req->status);
}


/*
 * The handler must not run from inside ngx_photo_pg_query(), which says
 * so itself; from elsewhere it is posted, as the caller is in the midst of
 * the pool's changes.
 */

static void
ngx_photo_pg_fail(ngx_photo_pg_req_t *req, ngx_photo_status_e status)
{
    if (req->ev.timer_set) {
        ngx_del_timer(&req->ev);
    }

    req->status = status;

    if (req->starting) {
        req->done = 1;
        return;
    }

    ngx_post_event(&req->ev, &ngx_posted_events);
}


static void
ngx_photo_pg_finish(ngx_photo_pg_req_t *req, PGresult *res,
    ngx_photo_status_e status)
{
    ngx_connection_t    *c;
    ngx_photo_result_t   result;

    if (req->ev.timer_set) {
        ngx_del_timer(&req->ev);
    }

    if (req->ev.posted) {
        ngx_delete_posted_event(&req->ev);
    }

    req->done = 1;

    c = req->request->connection;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "photo postgres finish: %d", status);

    ngx_photo_metrics_backend(req->request, req->pool->bcf, 0, status,
                              req->start);

    result.status = status;
    result.backend = "postgres";
    result.index = 0;
    result.reply.postgres = res;

    /* req and r may be freed by the handler */

    req->handler(req->data, &result);

    ngx_http_run_posted_requests(c);
}


/* r->pool is going away: the handler must never be called now. */

static void
ngx_photo_pg_cleanup(void *data)
{
    ngx_photo_pg_req_t  *req = data;

    if (req->done) {
        return;
    }

    req->done = 1;

    if (req->ev.timer_set) {
        ngx_del_timer(&req->ev);
    }

    if (req->ev.posted) {
        ngx_delete_posted_event(&req->ev);
    }

    if (req->waiting) {
        ngx_queue_remove(&req->queue);
        req->pool->nwaiting--;
        req->waiting = 0;
    }

    if (req->conn) {
        ngx_photo_pg_drain(req->conn);
    }
}


static void
ngx_photo_pg_notice(void *arg, const PGresult *res)
{
    ngx_photo_pg_conn_t *pc = arg;

    u_char       buf[NGX_PHOTO_PG_ERRSTR];
    ngx_str_t    text;
    ngx_uint_t   level;
    const char  *severity;

    severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);

    level = (severity == NULL
             || ngx_strcmp(severity, "NOTICE") == 0
             || ngx_strcmp(severity, "INFO") == 0
             || ngx_strcmp(severity, "LOG") == 0
             || ngx_strncmp(severity, "DEBUG", 5) == 0)
            ? NGX_LOG_NOTICE : NGX_LOG_WARN;

    ngx_photo_pg_fold(&text, PQresultErrorMessage(res), buf);

    ngx_log_error(level, &pc->log, 0, "photo: postgres says: %V", &text);
}


static u_char *
ngx_photo_pg_log_error(ngx_log_t *log, u_char *buf, size_t len)
{
    ngx_photo_pg_conn_t  *pc;

    pc = log->data;

    if (log->action == NULL) {
        return buf;
    }

    return ngx_snprintf(buf, len, " while %s at %V", log->action,
                        &pc->pool->server->name);
}


/*
 * libpq's messages end in a newline and may hold more lines ("\n\tIs the
 * server running...") and double spaces: a log entry is one line.
 */

static void
ngx_photo_pg_fold(ngx_str_t *text, const char *msg, u_char *buf)
{
    u_char  *p, *last, ch;

    p = buf;
    last = buf + NGX_PHOTO_PG_ERRSTR;

    for ( /* void */ ; *msg && p < last; msg++) {
        ch = (u_char) *msg;

        if (ch == '\n' || ch == '\r' || ch == '\t') {
            ch = ' ';
        }

        if (ch == ' ' && (p == buf || p[-1] == ' ')) {
            continue;
        }

        *p++ = ch;
    }

    while (p > buf && p[-1] == ' ') {
        p--;
    }

    if (p == buf) {
        ngx_str_set(text, "no message from libpq");
        return;
    }

    text->data = buf;
    text->len = p - buf;
}
