
/*
 * Keepalive caches of idle peer connections, one per backend server in
 * each worker, after nginx's ngx_http_upstream_keepalive_module.
 */

#include "ngx_photo_keepalive.h"
#include "ngx_photo_metrics.h"


#define NGX_PHOTO_KEEPALIVE_TIMEOUT  60000   /* ms an idle connection stays */


/* A slot of a cache: an idle connection, or free. */
typedef struct {
    ngx_queue_t                 queue;
    ngx_connection_t           *connection;
    ngx_photo_keepalive_t      *keepalive;
} ngx_photo_keepalive_idle_t;


static void ngx_photo_keepalive_close_handler(ngx_event_t *ev);
static void ngx_photo_keepalive_dummy_handler(ngx_event_t *ev);
static ngx_int_t ngx_photo_keepalive_peek(ngx_connection_t *c);
static void ngx_photo_keepalive_close(ngx_photo_keepalive_t *ka,
    ngx_connection_t *c);


ngx_int_t
ngx_photo_keepalive_init(ngx_photo_keepalive_t *ka, ngx_cycle_t *cycle,
    ngx_photo_backend_conf_t *bcf, ngx_uint_t index, ngx_uint_t max)
{
    ngx_uint_t                   i;
    ngx_photo_keepalive_idle_t  *idle;

    ka->bcf = bcf;
    ka->index = index;
    ka->server = (ngx_photo_server_t *) bcf->servers->elts + index;
    ka->backend = bcf->name;
    ka->max = max;
    ka->log = cycle->log;

    ngx_queue_init(&ka->cache);
    ngx_queue_init(&ka->free);

    if (max == 0) {
        return NGX_OK;
    }

    idle = ngx_pcalloc(cycle->pool, max * sizeof(ngx_photo_keepalive_idle_t));
    if (idle == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < max; i++) {
        idle[i].keepalive = ka;
        ngx_queue_insert_head(&ka->free, &idle[i].queue);
    }

    return NGX_OK;
}


ngx_int_t
ngx_photo_keepalive_get(ngx_photo_keepalive_t *ka, ngx_peer_connection_t *pc,
    ngx_log_t *log)
{
    ngx_queue_t                 *q;
    ngx_connection_t            *c;
    ngx_photo_keepalive_idle_t  *idle;

    if (ngx_queue_empty(&ka->cache)) {
        return NGX_DECLINED;
    }

    q = ngx_queue_head(&ka->cache);
    ngx_queue_remove(q);
    ngx_queue_insert_head(&ka->free, q);

    idle = ngx_queue_data(q, ngx_photo_keepalive_idle_t, queue);
    c = idle->connection;
    idle->connection = NULL;

    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }

    ngx_photo_metrics_conn(ka->bcf, ka->index, NGX_PHOTO_CONN_TAKEN);

    c->idle = 0;
    c->log = log;
    c->read->log = log;
    c->write->log = log;

    /* it may have been closed by the server: retried, not an error */
    c->log_error = NGX_ERROR_INFO;

    pc->connection = c;
    pc->cached = 1;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, log, 0,
                   "photo %s %V: reusing connection %p",
                   ka->backend, &ka->server->name, c);

    return NGX_OK;
}


void
ngx_photo_keepalive_free(ngx_photo_keepalive_t *ka, ngx_peer_connection_t *pc,
    ngx_uint_t keep)
{
    ngx_queue_t                 *q;
    ngx_connection_t            *c;
    ngx_photo_keepalive_idle_t  *idle;

    c = pc->connection;
    pc->connection = NULL;

    if (c == NULL) {
        return;
    }

    if (!keep
        || ka->max == 0
        || c->read->eof
        || c->read->error
        || c->read->timedout
        || c->write->error
        || c->write->timedout
        || ngx_terminate
        || ngx_exiting)
    {
        goto close;
    }

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
        goto close;
    }

    if (ngx_queue_empty(&ka->free)) {
        q = ngx_queue_last(&ka->cache);
        ngx_queue_remove(q);

        idle = ngx_queue_data(q, ngx_photo_keepalive_idle_t, queue);
        ngx_photo_keepalive_close(ka, idle->connection);

    } else {
        q = ngx_queue_head(&ka->free);
        ngx_queue_remove(q);

        idle = ngx_queue_data(q, ngx_photo_keepalive_idle_t, queue);
    }

    ngx_queue_insert_head(&ka->cache, q);
    idle->connection = c;

    /* before the check below, which may close it at once */
    ngx_photo_metrics_conn(ka->bcf, ka->index, NGX_PHOTO_CONN_KEPT);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "photo %s %V: keeping connection %p",
                   ka->backend, &ka->server->name, c);

    c->read->handler = ngx_photo_keepalive_close_handler;
    c->write->handler = ngx_photo_keepalive_dummy_handler;

    /* its request's log may be freed: the cycle's from now on */
    c->data = idle;
    c->idle = 1;
    c->log = ka->log;
    c->read->log = ka->log;
    c->write->log = ka->log;

    ngx_add_timer(c->read, NGX_PHOTO_KEEPALIVE_TIMEOUT);

    if (c->read->ready) {
        ngx_photo_keepalive_close_handler(c->read);
    }

    return;

close:

    ngx_photo_metrics_conn(ka->bcf, ka->index, NGX_PHOTO_CONN_CLOSED);
    ngx_close_connection(c);
}


void
ngx_photo_keepalive_close_all(ngx_photo_keepalive_t *ka)
{
    ngx_queue_t                 *q;
    ngx_photo_keepalive_idle_t  *idle;

    while (!ngx_queue_empty(&ka->cache)) {
        q = ngx_queue_head(&ka->cache);
        ngx_queue_remove(q);
        ngx_queue_insert_head(&ka->free, q);

        idle = ngx_queue_data(q, ngx_photo_keepalive_idle_t, queue);
        ngx_photo_keepalive_close(ka, idle->connection);
        idle->connection = NULL;
    }
}


/* NGX_AGAIN: nothing to read, as it should be; else data, a close or an
   error: the connection is of no more use */

static ngx_int_t
ngx_photo_keepalive_peek(ngx_connection_t *c)
{
    char     buf[1];
    ssize_t  n;

    n = recv(c->fd, buf, 1, MSG_PEEK);

    if (n == -1 && ngx_socket_errno == NGX_EAGAIN) {
        c->read->ready = 0;

        return ngx_handle_read_event(c->read, 0) == NGX_OK ? NGX_AGAIN
                                                           : NGX_ERROR;
    }

    return NGX_ERROR;
}


/*
 * An idle connection is closed when the server closes it or sends
 * anything, when it has been idle too long, and when the worker exits
 * (ngx_close_idle_connections() sets c->close).
 */

static void
ngx_photo_keepalive_close_handler(ngx_event_t *ev)
{
    ngx_connection_t            *c;
    ngx_photo_keepalive_t       *ka;
    ngx_photo_keepalive_idle_t  *idle;

    c = ev->data;

    if (!c->close
        && !ev->timedout
        && ngx_photo_keepalive_peek(c) == NGX_AGAIN)
    {
        return;
    }

    idle = c->data;
    ka = idle->keepalive;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                   "photo %s %V: closing idle connection %p",
                   ka->backend, &ka->server->name, c);

    ngx_queue_remove(&idle->queue);
    ngx_queue_insert_head(&ka->free, &idle->queue);
    idle->connection = NULL;

    ngx_photo_keepalive_close(ka, c);
}


/* An idle connection leaves the cache closed: both gauges go down. */

static void
ngx_photo_keepalive_close(ngx_photo_keepalive_t *ka, ngx_connection_t *c)
{
    ngx_photo_metrics_conn(ka->bcf, ka->index, NGX_PHOTO_CONN_TAKEN);
    ngx_photo_metrics_conn(ka->bcf, ka->index, NGX_PHOTO_CONN_CLOSED);

    ngx_close_connection(c);
}


static void
ngx_photo_keepalive_dummy_handler(ngx_event_t *ev)
{
#if (NGX_DEBUG)
    ngx_connection_t            *c;
    ngx_photo_keepalive_idle_t  *idle;

    c = ev->data;
    idle = c->data;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                   "photo %s: idle connection writable",
                   idle->keepalive->backend);
#endif
}
