
/*
 * The connection engine of the clients that speak a protocol over nginx
 * peer connections (memcached, gearmand, the /health probe), after nginx's
 * upstream: the engine connects (a kept-alive connection when there is
 * one), sends the request, reads the reply into a buffer that grows as
 * the parser asks, retries once on a fresh connection when a kept one
 * turns out closed, bounds it all with one timer, keeps the connection
 * when the reply ended cleanly, and remembers a server that failed.  A
 * protocol plugs in its callbacks (reinit, process, finalize) and is left
 * with its request and its parser.  An exchange with a peer is one call of
 * the metrics, and the peer's connections are counted there.
 */

#ifndef _NGX_PHOTO_CONN_H_INCLUDED_
#define _NGX_PHOTO_CONN_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_event_connect.h>

#include "ngx_photo_backend.h"
#include "ngx_photo_keepalive.h"
#include "ngx_photo_metrics.h"


/*
 * A server that just failed is skipped for this long (ngx_photo_peer_skip):
 * a dead server then costs nothing per request and is not hammered; the
 * first exchange after that tries it again.
 */
#define NGX_PHOTO_PEER_RETRY_AFTER  1000


typedef struct ngx_photo_conn_s  ngx_photo_conn_t;


/* One server as a worker process sees it: idle connections, failures. */
typedef struct {
    ngx_photo_keepalive_t       keepalive;  /* names it to the metrics */
    ngx_msec_t                  failed_at;
    unsigned                    failed:1;
    unsigned                    timeout_fails:1;  /* a timeout is a failure
                                                     (not for a server whose
                                                     disk may be slow) */
} ngx_photo_peer_t;


/*
 * reinit: on each connection the exchange gets (a retry's too), before
 *   anything is sent on it; pc.cached tells a kept one.  NGX_OK or
 *   NGX_ERROR.
 * process: the reply so far, buffer->pos .. buffer->last: NGX_AGAIN (more
 *   to read: set need), NGX_OK (complete, consumed up to buffer->pos) or
 *   NGX_ERROR (a bad reply, logged; server_ok set if the server is fine).
 * finalize: called exactly once, with the connection already kept or
 *   closed; from inside ngx_photo_conn_start() when the exchange ends in
 *   there (starting is set then).  The exchange may be freed in it.
 */
typedef ngx_int_t (*ngx_photo_conn_reinit_pt)(ngx_photo_conn_t *conn);
typedef ngx_int_t (*ngx_photo_conn_process_pt)(ngx_photo_conn_t *conn);
typedef void (*ngx_photo_conn_finalize_pt)(ngx_photo_conn_t *conn,
    ngx_photo_status_e status);


struct ngx_photo_conn_s {
    ngx_photo_peer_t           *peer;       /* NULL: a new connection, never
                                               kept, failures not counted,
                                               nor the metrics (a probe) */
    ngx_http_request_t         *caller;     /* the request it is for, whose
                                               stages get its time; NULL:
                                               the worker's own */
    ngx_photo_server_t         *server;
    const char                 *backend;    /* "memcached", for the log */
    ngx_log_t                   log;        /* its action names the server */
    ngx_peer_connection_t       pc;

    ngx_str_t                   request;
    size_t                      sent;       /* reinit may skip a part */
    size_t                      received;

    ngx_pool_t                 *pool;       /* of the buffer */
    ngx_buf_t                  *buffer;     /* pos..last: the parser's */
    size_t                      buffer_size;
    size_t                      need;       /* the window must hold this */

    ngx_msec_t                  start;
    ngx_msec_t                  timeout;    /* connect, send and reply, a
                                               retry included */
    ngx_photo_usec_t            call_start; /* for the metrics */

    ngx_photo_conn_reinit_pt    reinit;     /* or NULL */
    ngx_photo_conn_process_pt   process;
    ngx_photo_conn_finalize_pt  finalize;
    void                       *data;

    unsigned                    noreply:1;  /* done once sent */
    unsigned                    quiet:1;    /* failures are warnings (a
                                               cache fill) */
    unsigned                    pinned:1;   /* the buffer holds values the
                                               caller keeps: never moved */
    unsigned                    server_ok:1;
    unsigned                    closed:1;   /* by the server, early */
    unsigned                    retried:1;
    unsigned                    starting:1;
};


/* From init_process: room for keepalive idle connections to bcf's server
   index. */
ngx_int_t ngx_photo_peer_init(ngx_photo_peer_t *peer, ngx_cycle_t *cycle,
    ngx_photo_backend_conf_t *bcf, ngx_uint_t index, ngx_uint_t keepalive);

/* It failed less than NGX_PHOTO_PEER_RETRY_AFTER ago: do not ask it. */
ngx_uint_t ngx_photo_peer_skip(ngx_photo_peer_t *peer);

/* From exit_process: closes the idle connections. */
void ngx_photo_peer_close(ngx_photo_peer_t *peer);

/*
 * Runs the exchange, its fields set: NGX_AGAIN, finalize comes later from
 * an event handler; NGX_DONE, it has ended in here (a failure at once, or
 * a noreply request sent) and finalize has been called.  The reply is
 * never read in here, so only a failure or a noreply request ends at once.
 */
ngx_int_t ngx_photo_conn_start(ngx_photo_conn_t *conn);

/* The timer from now on, e.g. for a wait that begins mid-exchange. */
void ngx_photo_conn_timer(ngx_photo_conn_t *conn, ngx_msec_t timeout);

/* Its caller is gone: the connection is closed (an answer may still come,
   so it is never kept); finalize is not called. */
void ngx_photo_conn_close(ngx_photo_conn_t *conn);


#endif /* _NGX_PHOTO_CONN_H_INCLUDED_ */
