
/*
 * memcached gets, batched across requests.  The keys that the requests of
 * one turn of the event loop ask of a server go out as one "get k1 k2 ..."
 * on one connection, sent from a posted event once the turn's other
 * events are handled: under load memcached, the kernel and nginx then do
 * one exchange for many requests, where each request's own get cost a
 * send, a read and an epoll wake-up on both sides (perf, feed reads
 * without photo_object_cache: memcached took a fifth of the machine).
 * An idle worker's lone request is one batch of its own, sent in the same
 * turn: batching adds no wait.
 *
 * A batch has its own pool: the reply is parsed in place there and the
 * requests' values point into it (zero-copy), so it lives until the last
 * request that took part has ended (refs).  A request that ends first
 * leaves its batch, which goes on for the others.
 */

#include "ngx_photo_memcached_pool.h"
#include "ngx_photo_memcached_parser.h"


/* a batch that holds this many keys or bytes of keys is sent as it is,
   the next get starts another: bounds the command and the reply */
#define NGX_PHOTO_MC_BATCH_KEYS       512
#define NGX_PHOTO_MC_BATCH_KEY_BYTES  16384

/* the reply's buffer: a first guess of what each key brings back */
#define NGX_PHOTO_MC_BUFFER_SIZE      8192
#define NGX_PHOTO_MC_BUFFER_MAX       131072
#define NGX_PHOTO_MC_VALUE_GUESS      320

#define NGX_PHOTO_MC_NONE             ((ngx_uint_t) -1)   /* no server */


typedef struct ngx_photo_mc_get_s  ngx_photo_mc_get_t;


/* One key of a batch, in the command's order. */
typedef struct {
    ngx_str_t                   key;        /* in the batch's pool */
    ngx_photo_mc_item_t        *item;       /* NULL: its request has gone */
    unsigned                    found:1;
} ngx_photo_mc_entry_t;


/* One request's part of a batch: entries first .. first + n - 1. */
typedef struct {
    ngx_photo_mc_get_t         *get;        /* NULL: its request has gone */
    ngx_uint_t                  first;
    ngx_uint_t                  n;
    ngx_photo_usec_t            joined;     /* for the request's stages */
} ngx_photo_mc_waiter_t;


struct ngx_photo_mc_batch_s {
    ngx_photo_conn_t            conn;
    ngx_pool_t                 *pool;       /* the batch itself is in it */
    ngx_photo_mc_pool_t        *mc;
    ngx_photo_mc_server_t      *server;
    ngx_array_t                 entries;    /* ngx_photo_mc_entry_t */
    ngx_array_t                 waiters;    /* ngx_photo_mc_waiter_t */
    size_t                      key_bytes;  /* 1 + each key's length */
    ngx_uint_t                  next;       /* where to look for a key */
    ngx_uint_t                  refs;       /* its exchange, its waiters */
    ngx_photo_mc_parser_t       parser;
    ngx_event_t                 flush;      /* posted: sends it */
};


/* A request's get: a part in a batch for each server it asks. */
typedef struct {
    ngx_photo_mc_batch_t       *batch;      /* NULL: nothing asked there */
    ngx_uint_t                  waiter;     /* index in batch->waiters */
    unsigned                    done:1;     /* its batch has answered */
} ngx_photo_mc_part_t;


struct ngx_photo_mc_get_s {
    ngx_http_request_t         *request;
    ngx_photo_mc_pool_t        *mc;
    ngx_photo_mc_part_t        *parts;      /* one per server */
    ngx_uint_t                  pending;
    ngx_photo_result_t          result;
    ngx_photo_result_pt         handler;
    void                       *data;
};


static ngx_int_t ngx_photo_mc_join(ngx_photo_mc_get_t *get, ngx_uint_t k,
    ngx_photo_mc_item_t *items, ngx_uint_t n, ngx_uint_t *where);
static ngx_photo_mc_batch_t *ngx_photo_mc_batch(ngx_photo_mc_pool_t *mc,
    ngx_photo_mc_server_t *s, ngx_uint_t nkeys, size_t key_bytes);
static void ngx_photo_mc_batch_flush(ngx_event_t *ev);
static ngx_int_t ngx_photo_mc_batch_reinit(ngx_photo_conn_t *conn);
static ngx_int_t ngx_photo_mc_batch_process(ngx_photo_conn_t *conn);
static ngx_photo_mc_entry_t *ngx_photo_mc_batch_entry(
    ngx_photo_mc_batch_t *batch, u_char *key, size_t len);
static void ngx_photo_mc_batch_finalize(ngx_photo_conn_t *conn,
    ngx_photo_status_e status);
static void ngx_photo_mc_batch_release(ngx_photo_mc_batch_t *batch);
static void ngx_photo_mc_get_cleanup(void *data);


ngx_int_t
ngx_photo_mc_get(ngx_http_request_t *r, ngx_photo_mc_item_t *items,
    ngx_uint_t n, ngx_photo_result_pt handler, void *data)
{
    ngx_uint_t             i, k, *where, *count;
    ngx_pool_cleanup_t    *cln;
    ngx_photo_mc_get_t    *get;
    ngx_photo_mc_pool_t   *mc;
    ngx_photo_mc_conf_t   *mcf;

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

    get->parts = ngx_pcalloc(r->pool,
                             mc->nservers * sizeof(ngx_photo_mc_part_t));
    where = ngx_palloc(r->pool, n * sizeof(ngx_uint_t));
    count = ngx_pcalloc(r->pool, mc->nservers * sizeof(ngx_uint_t));

    if (get->parts == NULL || where == NULL || count == NULL) {
        return NGX_ERROR;
    }

    get->request = r;
    get->mc = mc;
    get->handler = handler;
    get->data = data;
    get->result.status = NGX_PHOTO_DONE;
    get->result.backend = "memcached";
    get->result.reply.memcached = items;

    /* before joining anything: a request that goes away leaves its
       batches, and so does one that fails half-way through */
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_photo_mc_get_cleanup;
    cln->data = get;

    for (i = 0; i < n; i++) {
        where[i] = NGX_PHOTO_MC_NONE;

        if (!ngx_photo_mc_valid_key(&items[i].key)) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "memcached: invalid key \"%V\"", &items[i].key);
            items[i].error = 1;
            continue;
        }

        k = ngx_photo_mc_server(mc, &items[i].key);
        where[i] = k;
        count[k]++;
    }

    for (k = 0; k < mc->nservers; k++) {
        if (count[k] == 0) {
            continue;
        }

        if (ngx_photo_peer_skip(&mc->servers[k].peer)) {

            ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "photo memcached %V: failed lately, not asked",
                           &mc->servers[k].conf->name);

            for (i = 0; i < n; i++) {
                if (where[i] == k) {
                    items[i].error = 1;
                }
            }

            /* refused at once: a call that failed, for the metrics */
            ngx_photo_metrics_backend(r, &mc->conf->backend, k,
                                      NGX_PHOTO_AWAY,
                                      ngx_photo_metrics_now());
            continue;
        }

        if (ngx_photo_mc_join(get, k, items, n, where) != NGX_OK) {
            /* its batches must not call back a request that has failed */
            ngx_photo_mc_get_cleanup(get);
            return NGX_ERROR;
        }

        get->pending++;
    }

    return get->pending ? NGX_AGAIN : NGX_DECLINED;
}


/* The request's keys of server k join that server's open batch. */

static ngx_int_t
ngx_photo_mc_join(ngx_photo_mc_get_t *get, ngx_uint_t k,
    ngx_photo_mc_item_t *items, ngx_uint_t n, ngx_uint_t *where)
{
    u_char                 *p;
    size_t                  len;
    ngx_uint_t              i, nkeys, first;
    ngx_photo_mc_batch_t   *batch;
    ngx_photo_mc_entry_t   *e;
    ngx_photo_mc_waiter_t  *w;

    len = 0;
    nkeys = 0;

    for (i = 0; i < n; i++) {
        if (where[i] == k) {
            len += 1 + items[i].key.len;
            nkeys++;
        }
    }

    batch = ngx_photo_mc_batch(get->mc, &get->mc->servers[k], nkeys, len);
    if (batch == NULL) {
        return NGX_ERROR;
    }

    p = ngx_pnalloc(batch->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    e = ngx_array_push_n(&batch->entries, nkeys);
    if (e == NULL) {
        return NGX_ERROR;
    }

    first = batch->entries.nelts - nkeys;

    /* the keys are copied: the batch may outlive the request */
    for (i = 0; i < n; i++) {
        if (where[i] != k) {
            continue;
        }

        e->key.data = p;
        e->key.len = items[i].key.len;
        e->item = &items[i];
        e->found = 0;
        p = ngx_cpymem(p, items[i].key.data, items[i].key.len);
        e++;
    }

    w = ngx_array_push(&batch->waiters);

    if (w == NULL) {
        /* asked for no one: the values will not be put anywhere */
        e = batch->entries.elts;

        for (i = first; i < first + nkeys; i++) {
            e[i].item = NULL;
        }

        return NGX_ERROR;
    }

    w->get = get;
    w->first = first;
    w->n = nkeys;
    w->joined = ngx_photo_metrics_now();

    batch->key_bytes += len;
    batch->refs++;

    get->parts[k].batch = batch;
    get->parts[k].waiter = batch->waiters.nelts - 1;

    return NGX_OK;
}


/* The server's open batch with room for nkeys more, else a new one. */

static ngx_photo_mc_batch_t *
ngx_photo_mc_batch(ngx_photo_mc_pool_t *mc, ngx_photo_mc_server_t *s,
    ngx_uint_t nkeys, size_t key_bytes)
{
    ngx_pool_t            *pool;
    ngx_photo_mc_batch_t  *batch;

    batch = s->open;

    if (batch
        && batch->entries.nelts + nkeys <= NGX_PHOTO_MC_BATCH_KEYS
        && batch->key_bytes + key_bytes <= NGX_PHOTO_MC_BATCH_KEY_BYTES)
    {
        return batch;
    }

    /* the full one stays posted: it goes out in this turn too */

    pool = ngx_create_pool(NGX_DEFAULT_POOL_SIZE, mc->log);
    if (pool == NULL) {
        return NULL;
    }

    batch = ngx_pcalloc(pool, sizeof(ngx_photo_mc_batch_t));

    if (batch == NULL
        || ngx_array_init(&batch->entries, pool, 64,
                          sizeof(ngx_photo_mc_entry_t))
           != NGX_OK
        || ngx_array_init(&batch->waiters, pool, 16,
                          sizeof(ngx_photo_mc_waiter_t))
           != NGX_OK)
    {
        ngx_destroy_pool(pool);
        return NULL;
    }

    batch->pool = pool;
    batch->mc = mc;
    batch->server = s;
    batch->refs = 1;                    /* its exchange, until it ends */

    batch->flush.handler = ngx_photo_mc_batch_flush;
    batch->flush.data = batch;
    batch->flush.log = mc->log;

    ngx_post_event(&batch->flush, &ngx_posted_events);

    s->open = batch;

    return batch;
}


/* Posted: the turn's gets have joined; one command goes out. */

static void
ngx_photo_mc_batch_flush(ngx_event_t *ev)
{
    ngx_photo_mc_batch_t *batch = ev->data;

    u_char                 *p;
    size_t                  size;
    ngx_uint_t              i;
    ngx_photo_conn_t       *conn;
    ngx_photo_mc_entry_t   *e;
    ngx_photo_mc_server_t  *s;

    s = batch->server;

    if (s->open == batch) {
        s->open = NULL;
    }

    conn = &batch->conn;
    conn->server = s->conf;
    conn->data = batch;             /* finalize's, from here on */

    if (batch->entries.nelts == 0) {
        /* every join failed (out of memory): nothing to ask */
        ngx_photo_mc_batch_finalize(conn, NGX_PHOTO_DONE);
        return;
    }

    conn->request.len = sizeof("get" CRLF) - 1 + batch->key_bytes;
    conn->request.data = ngx_pnalloc(batch->pool, conn->request.len);

    if (conn->request.data == NULL) {
        /* its waiters learn it as a failure of the server's */
        ngx_photo_mc_batch_finalize(conn, NGX_PHOTO_AWAY);
        return;
    }

    p = ngx_cpymem(conn->request.data, "get", 3);
    e = batch->entries.elts;

    for (i = 0; i < batch->entries.nelts; i++) {
        *p++ = ' ';
        p = ngx_cpymem(p, e[i].key.data, e[i].key.len);
    }

    *p++ = CR; *p++ = LF;

    size = batch->entries.nelts * NGX_PHOTO_MC_VALUE_GUESS;
    size = ngx_max(size, NGX_PHOTO_MC_BUFFER_SIZE);
    size = ngx_min(size, NGX_PHOTO_MC_BUFFER_MAX);

    conn->peer = &s->peer;
    conn->caller = NULL;                /* many: each is told its wait */
    conn->backend = "memcached";
    conn->log = *batch->mc->log;
    conn->log.action = s->get_action;
    conn->pool = batch->pool;
    conn->buffer_size = size;
    conn->timeout = batch->mc->conf->backend.timeout;
    conn->reinit = ngx_photo_mc_batch_reinit;
    conn->process = ngx_photo_mc_batch_process;
    conn->finalize = ngx_photo_mc_batch_finalize;

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, batch->mc->log, 0,
                   "photo memcached %V: get of %ui keys for %ui requests, "
                   "%uz bytes", &s->conf->name, batch->entries.nelts,
                   batch->waiters.nelts, conn->request.len);

    (void) ngx_photo_conn_start(conn);
}


static ngx_int_t
ngx_photo_mc_batch_reinit(ngx_photo_conn_t *conn)
{
    ngx_photo_mc_batch_t *batch = conn->data;

    ngx_photo_mc_parser_init(&batch->parser, NGX_PHOTO_MC_VALUE_MAX);

    return NGX_OK;
}


static ngx_int_t
ngx_photo_mc_batch_process(ngx_photo_conn_t *conn)
{
    ngx_photo_mc_batch_t *batch = conn->data;

    ngx_buf_t              *b;
    ngx_photo_mc_entry_t   *e;
    ngx_photo_mc_parser_t  *p;

    b = conn->buffer;
    p = &batch->parser;

    for ( ;; ) {

        switch (ngx_photo_mc_parse(p, b->pos, b->last - b->pos)) {

        case NGX_PHOTO_MC_PARSE_AGAIN:
            conn->need = p->need;
            return NGX_AGAIN;

        case NGX_PHOTO_MC_PARSE_VALUE:
            e = ngx_photo_mc_batch_entry(batch, b->pos + p->key, p->key_len);

            if (e == NULL) {
                conn->log.action = NULL;
                ngx_log_error(NGX_LOG_ERR, &conn->log, 0,
                              "memcached %V sent \"%*s\", not asked for",
                              &conn->server->name, p->key_len,
                              b->pos + p->key);
                return NGX_ERROR;
            }

            e->found = 1;

            /* zero-copy: the value stays where it was read */
            if (e->item) {
                e->item->value.data = b->pos + p->value;
                e->item->value.len = p->value_len;
                e->item->flags = p->flags;
                e->item->found = 1;
            }

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


/*
 * memcached answers in the order asked, so the next entry is usually it;
 * a key asked twice (two requests, one photo) is answered twice.
 */

static ngx_photo_mc_entry_t *
ngx_photo_mc_batch_entry(ngx_photo_mc_batch_t *batch, u_char *key,
    size_t len)
{
    ngx_uint_t             i, j, n;
    ngx_photo_mc_entry_t  *e;

    e = batch->entries.elts;
    n = batch->entries.nelts;

    for (j = 0; j < n; j++) {
        i = (batch->next + j) % n;

        if (!e[i].found
            && e[i].key.len == len
            && ngx_memcmp(e[i].key.data, key, len) == 0)
        {
            batch->next = i + 1;
            return &e[i];
        }
    }

    return NULL;
}


/*
 * The batch has answered, or failed: each request still there learns its
 * part.  Items its server did not give are errors, not misses (values
 * parsed before a failure are complete and kept).
 */

static void
ngx_photo_mc_batch_finalize(ngx_photo_conn_t *conn, ngx_photo_status_e status)
{
    ngx_photo_mc_batch_t *batch = conn->data;

    ngx_uint_t              i, j, index;
    ngx_connection_t       *c;
    ngx_photo_mc_get_t     *get;
    ngx_photo_mc_entry_t   *e;
    ngx_photo_mc_waiter_t  *w;

    e = batch->entries.elts;
    w = batch->waiters.elts;
    index = batch->server->index;

    /* a handler may end its request, which leaves the batch: held until
       every waiter has been told */
    batch->refs++;

    for (i = 0; i < batch->waiters.nelts; i++) {
        get = w[i].get;

        if (get == NULL) {
            continue;
        }

        w[i].get = NULL;
        get->parts[index].done = 1;

        if (status != NGX_PHOTO_DONE) {
            get->result.status = status;

            for (j = w[i].first; j < w[i].first + w[i].n; j++) {
                if (!e[j].found) {
                    e[j].item->error = 1;
                }
            }
        }

        ngx_photo_metrics_wait(get->request, &batch->mc->conf->backend,
                               index, status, w[i].joined);

        if (--get->pending == 0) {
            c = get->request->connection;

            /* the request may be gone after this */
            get->handler(get->data, &get->result);

            /* from an event, not from a request's handler: what its
               finalize posted runs now (ngx_photo_redis.c says why) */
            ngx_http_run_posted_requests(c);
        }
    }

    ngx_photo_mc_batch_release(batch);    /* the hold */
    ngx_photo_mc_batch_release(batch);    /* its exchange */
}


static void
ngx_photo_mc_batch_release(ngx_photo_mc_batch_t *batch)
{
    if (--batch->refs == 0) {
        ngx_destroy_pool(batch->pool);
    }
}


/* The request has ended: it leaves its batches, answered or not. */

static void
ngx_photo_mc_get_cleanup(void *data)
{
    ngx_photo_mc_get_t *get = data;

    ngx_uint_t              k, j;
    ngx_photo_mc_part_t    *part;
    ngx_photo_mc_entry_t   *e;
    ngx_photo_mc_waiter_t  *w;

    for (k = 0; k < get->mc->nservers; k++) {
        part = &get->parts[k];

        if (part->batch == NULL) {
            continue;
        }

        if (!part->done) {
            ngx_log_debug1(NGX_LOG_DEBUG_HTTP, get->request->connection->log,
                           0, "photo memcached %V: request gone, its keys "
                           "left in the batch",
                           &part->batch->server->conf->name);

            w = part->batch->waiters.elts;
            w = &w[part->waiter];
            w->get = NULL;

            e = part->batch->entries.elts;

            for (j = w->first; j < w->first + w->n; j++) {
                e[j].item = NULL;
            }
        }

        ngx_photo_mc_batch_release(part->batch);
        part->batch = NULL;
    }
}
