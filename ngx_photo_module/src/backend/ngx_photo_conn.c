
/*
 * The connection engine: one exchange (a request, its reply) on an nginx
 * peer connection, for any protocol (see ngx_photo_conn.h).
 */

#include "ngx_photo_conn.h"


static ngx_int_t ngx_photo_conn_connect(ngx_photo_conn_t *conn);
static void ngx_photo_conn_handler(ngx_event_t *ev);
static ngx_int_t ngx_photo_conn_run(ngx_photo_conn_t *conn,
    ngx_event_t *ev);
static ngx_int_t ngx_photo_conn_send(ngx_photo_conn_t *conn,
    ngx_connection_t *c);
static ngx_int_t ngx_photo_conn_read(ngx_photo_conn_t *conn,
    ngx_connection_t *c);
static ngx_int_t ngx_photo_conn_room(ngx_photo_conn_t *conn);
static ngx_int_t ngx_photo_conn_finish(ngx_photo_conn_t *conn,
    ngx_photo_status_e status);
static void ngx_photo_conn_count(ngx_photo_conn_t *conn,
    ngx_photo_conn_event_e ev);
static u_char *ngx_photo_conn_log_error(ngx_log_t *log, u_char *buf,
    size_t len);


ngx_int_t
ngx_photo_peer_init(ngx_photo_peer_t *peer, ngx_cycle_t *cycle,
    ngx_photo_backend_conf_t *bcf, ngx_uint_t index, ngx_uint_t keepalive)
{
    peer->failed = 0;

    return ngx_photo_keepalive_init(&peer->keepalive, cycle, bcf, index,
                                    keepalive);
}


ngx_uint_t
ngx_photo_peer_skip(ngx_photo_peer_t *peer)
{
    return peer->failed
           && (ngx_msec_int_t) (ngx_current_msec - peer->failed_at)
              < NGX_PHOTO_PEER_RETRY_AFTER;
}


void
ngx_photo_peer_close(ngx_photo_peer_t *peer)
{
    ngx_photo_keepalive_close_all(&peer->keepalive);
}


ngx_int_t
ngx_photo_conn_start(ngx_photo_conn_t *conn)
{
    ngx_int_t  rc;

    conn->start = ngx_current_msec;
    conn->starting = 1;

    /* a worker's own exchange (no request's log): its action still names
       the server, as a request's log would */
    if (conn->log.handler == NULL) {
        conn->log.handler = ngx_photo_conn_log_error;
    }

    if (conn->peer) {
        conn->call_start = ngx_photo_metrics_now();
    }

    rc = ngx_photo_conn_connect(conn);

    /* NGX_DONE: finalized, and conn may be gone */
    if (rc == NGX_AGAIN) {
        conn->starting = 0;
    }

    return rc;
}


void
ngx_photo_conn_timer(ngx_photo_conn_t *conn, ngx_msec_t timeout)
{
    if (conn->pc.connection) {
        ngx_add_timer(conn->pc.connection->write, timeout);
    }
}


void
ngx_photo_conn_close(ngx_photo_conn_t *conn)
{
    if (conn->pc.connection) {
        ngx_photo_conn_count(conn, NGX_PHOTO_CONN_CLOSED);
        ngx_close_connection(conn->pc.connection);
        conn->pc.connection = NULL;
    }
}


/* A kept-alive connection, else a new one; then the request goes out. */

static ngx_int_t
ngx_photo_conn_connect(ngx_photo_conn_t *conn)
{
    ngx_int_t          rc;
    ngx_msec_t         elapsed;
    ngx_connection_t  *c;

    conn->sent = 0;

    if (conn->peer && !conn->retried
        && ngx_photo_keepalive_get(&conn->peer->keepalive, &conn->pc,
                                   &conn->log)
           == NGX_OK)
    {
        rc = NGX_OK;

    } else {
        conn->pc.sockaddr = conn->server->addr->sockaddr;
        conn->pc.socklen = conn->server->addr->socklen;
        conn->pc.name = &conn->server->addr->name;
        conn->pc.get = ngx_event_get_peer;
        conn->pc.log = &conn->log;
        conn->pc.log_error = NGX_ERROR_ERR;
        conn->pc.cached = 0;

        rc = ngx_event_connect_peer(&conn->pc);

        if (rc != NGX_OK && rc != NGX_AGAIN) {
            /* nginx has said why, naming the server in the log's action */
            conn->pc.connection = NULL;
            return ngx_photo_conn_finish(conn, NGX_PHOTO_AWAY);
        }

        ngx_photo_conn_count(conn, NGX_PHOTO_CONN_OPENED);
    }

    c = conn->pc.connection;
    c->data = conn;
    c->read->handler = ngx_photo_conn_handler;
    c->write->handler = ngx_photo_conn_handler;

    if (conn->quiet) {
        c->log_error = NGX_ERROR_INFO;
    }

    if (conn->reinit && conn->reinit(conn) != NGX_OK) {
        return ngx_photo_conn_finish(conn, NGX_PHOTO_AWAY);
    }

    /* one timer for connect, send and the whole reply, a retry included */
    elapsed = ngx_current_msec - conn->start;
    ngx_add_timer(c->write,
                  elapsed < conn->timeout ? conn->timeout - elapsed : 1);

    if (rc == NGX_AGAIN) {
        return NGX_AGAIN;
    }

    /* connected at once, or kept alive: send now */
    return ngx_photo_conn_run(conn, c->write);
}


static void
ngx_photo_conn_handler(ngx_event_t *ev)
{
    ngx_connection_t  *c;

    c = ev->data;

    (void) ngx_photo_conn_run(c->data, ev);
}


/* One step of the exchange: NGX_AGAIN, or NGX_DONE (finalized). */

static ngx_int_t
ngx_photo_conn_run(ngx_photo_conn_t *conn, ngx_event_t *ev)
{
    ngx_int_t          rc;
    ngx_uint_t         level;
    ngx_connection_t  *c;

    c = conn->pc.connection;
    level = conn->quiet ? NGX_LOG_WARN : NGX_LOG_ERR;

    if (ev->timedout) {
        conn->log.action = NULL;
        ngx_log_error(level, &conn->log, NGX_ETIMEDOUT,
                      "%s at %V timed out", conn->backend,
                      &conn->server->name);
        return ngx_photo_conn_finish(conn, NGX_PHOTO_TIMEDOUT);
    }

    if (conn->sent < conn->request.len) {
        rc = ngx_photo_conn_send(conn, c);

        if (rc == NGX_OK && conn->noreply) {
            return ngx_photo_conn_finish(conn, NGX_PHOTO_DONE);
        }

        if (rc == NGX_OK) {
            /* from the start call, the reply cannot be there yet: its
               read event comes when it is */
            rc = conn->starting
                 ? (ngx_handle_read_event(c->read, 0) == NGX_OK ? NGX_AGAIN
                                                                : NGX_ERROR)
                 : ngx_photo_conn_read(conn, c);
        }

    } else if (!ev->write) {
        rc = ngx_photo_conn_read(conn, c);

    } else {
        return NGX_AGAIN;
    }

    if (rc == NGX_AGAIN) {
        return NGX_AGAIN;
    }

    if (rc == NGX_OK) {
        return ngx_photo_conn_finish(conn, NGX_PHOTO_DONE);
    }

    if (conn->pc.cached && conn->received == 0) {

        /*
         * A kept-alive connection that the server had closed (restarted,
         * or timed it out) before we knew: once more on a new one.
         * Nothing was answered.
         */

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, &conn->log, 0,
                       "photo %s %V: stale keepalive connection",
                       conn->backend, &conn->server->name);

        ngx_photo_conn_count(conn, NGX_PHOTO_CONN_CLOSED);
        ngx_photo_conn_count(conn, NGX_PHOTO_CONN_RECONNECT);

        ngx_close_connection(c);
        conn->pc.connection = NULL;
        conn->retried = 1;

        return ngx_photo_conn_connect(conn);
    }

    if (rc == NGX_DECLINED) {
        conn->closed = 1;
        conn->log.action = NULL;
        ngx_log_error(level, &conn->log, 0,
                      "%s at %V closed the connection prematurely",
                      conn->backend, &conn->server->name);
    }

    return ngx_photo_conn_finish(conn, rc == NGX_ABORT ? NGX_PHOTO_BAD_REPLY
                                                       : NGX_PHOTO_AWAY);
}


/* NGX_OK: all sent; NGX_AGAIN: the rest when writable; NGX_ERROR. */

static ngx_int_t
ngx_photo_conn_send(ngx_photo_conn_t *conn, ngx_connection_t *c)
{
    ssize_t  n;

    while (conn->sent < conn->request.len) {
        n = c->send(c, conn->request.data + conn->sent,
                    conn->request.len - conn->sent);

        if (n == NGX_AGAIN) {
            return ngx_handle_write_event(c->write, 0) == NGX_OK ? NGX_AGAIN
                                                                 : NGX_ERROR;
        }

        if (n == NGX_ERROR) {
            return NGX_ERROR;
        }

        conn->sent += n;
    }

    /* all sent: stop watching writability (matters for level events) */
    return ngx_handle_write_event(c->write, 0) == NGX_OK ? NGX_OK : NGX_ERROR;
}


/*
 * Reads and processes until the reply is complete or the socket is
 * drained.  NGX_OK: complete; NGX_AGAIN: more to come; NGX_ABORT: a bad
 * reply (logged by the protocol); NGX_DECLINED: closed by the server;
 * NGX_ERROR: failed (I/O errors logged by nginx itself).
 */

static ngx_int_t
ngx_photo_conn_read(ngx_photo_conn_t *conn, ngx_connection_t *c)
{
    ssize_t     n;
    ngx_int_t   rc;
    ngx_buf_t  *b;

    for ( ;; ) {

        if (conn->buffer) {
            rc = conn->process(conn);

            if (rc == NGX_OK) {
                return NGX_OK;
            }

            if (rc != NGX_AGAIN) {
                return NGX_ABORT;
            }
        }

        if (ngx_photo_conn_room(conn) != NGX_OK) {
            return NGX_ERROR;
        }

        b = conn->buffer;

        n = c->recv(c, b->last, b->end - b->last);

        if (n == NGX_AGAIN) {
            return ngx_handle_read_event(c->read, 0) == NGX_OK ? NGX_AGAIN
                                                               : NGX_ERROR;
        }

        if (n == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (n == 0) {
            return NGX_DECLINED;
        }

        /* the server answers: a kept connection's errors are errors now */
        c->log_error = NGX_ERROR_ERR;

        b->last += n;
        conn->received += n;
    }
}


/*
 * Makes room to read into, with the parser's window (b->pos..b->last)
 * whole and at least need bytes long.  A pinned buffer holds values its
 * caller keeps, so it never moves: the window goes to a new buffer.
 */

static ngx_int_t
ngx_photo_conn_room(ngx_photo_conn_t *conn)
{
    size_t      size, window;
    ngx_buf_t  *b, *nb;

    b = conn->buffer;
    size = ngx_max(conn->need, conn->buffer_size);

    if (b == NULL) {
        conn->buffer = ngx_create_temp_buf(conn->pool, size);
        return conn->buffer ? NGX_OK : NGX_ERROR;
    }

    if (b->last < b->end && (size_t) (b->end - b->pos) >= conn->need) {
        return NGX_OK;
    }

    window = b->last - b->pos;

    if (!conn->pinned && (size_t) (b->end - b->start) >= size) {
        b->last = ngx_movemem(b->start, b->pos, window);
        b->pos = b->start;
        return NGX_OK;
    }

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, &conn->log, 0,
                   "photo %s %V: new %uz-byte buffer for %uz bytes",
                   conn->backend, &conn->server->name, size, window);

    nb = ngx_create_temp_buf(conn->pool, size);
    if (nb == NULL) {
        return NGX_ERROR;
    }

    nb->last = ngx_cpymem(nb->pos, b->pos, window);

    if (!conn->pinned) {
        ngx_pfree(conn->pool, b->start);
    }

    conn->buffer = nb;
    conn->pinned = 0;

    return NGX_OK;
}


/*
 * The exchange has ended: the server's own failures start its skip
 * window and its answers end it; the connection is kept when the reply
 * ended cleanly with nothing after it, else closed; the call is counted
 * while its request is sure to be there; then the protocol's finalize,
 * last (conn may be freed in it).
 */

static ngx_int_t
ngx_photo_conn_finish(ngx_photo_conn_t *conn, ngx_photo_status_e status)
{
    ngx_uint_t         keep, failed;
    ngx_photo_peer_t  *peer;

    peer = conn->peer;

    keep = status == NGX_PHOTO_DONE
           && (conn->buffer == NULL
               || conn->buffer->pos == conn->buffer->last);

    if (peer) {
        failed = status == NGX_PHOTO_AWAY
                 || (status == NGX_PHOTO_BAD_REPLY && !conn->server_ok)
                 || (status == NGX_PHOTO_TIMEDOUT && peer->timeout_fails);

        if (failed) {
            peer->failed = 1;
            peer->failed_at = ngx_current_msec;

        } else if (status == NGX_PHOTO_DONE || conn->received) {
            peer->failed = 0;
        }

        ngx_photo_keepalive_free(&peer->keepalive, &conn->pc, keep);

        ngx_photo_metrics_backend(conn->caller, peer->keepalive.bcf,
                                  peer->keepalive.index, status,
                                  conn->call_start);

    } else {
        ngx_photo_conn_close(conn);
    }

    conn->finalize(conn, status);

    return NGX_DONE;
}


/* The peer's connections for the metrics (a probe's are not counted). */

static void
ngx_photo_conn_count(ngx_photo_conn_t *conn, ngx_photo_conn_event_e ev)
{
    if (conn->peer) {
        ngx_photo_metrics_conn(conn->peer->keepalive.bcf,
                               conn->peer->keepalive.index, ev);
    }
}


static u_char *
ngx_photo_conn_log_error(ngx_log_t *log, u_char *buf, size_t len)
{
    if (log->action == NULL) {
        return buf;
    }

    return ngx_snprintf(buf, len, " while %s", log->action);
}
