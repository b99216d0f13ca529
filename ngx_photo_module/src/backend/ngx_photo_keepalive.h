
/*
 * A cache of idle nginx peer connections to one backend server, kept per
 * worker process as nginx's upstream keepalive module keeps them: the
 * memcached and Gearman clients take their connections from here and give
 * them back when an exchange has ended cleanly.
 */

#ifndef _NGX_PHOTO_KEEPALIVE_H_INCLUDED_
#define _NGX_PHOTO_KEEPALIVE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_event_connect.h>

#include "ngx_photo_backend.h"


typedef struct {
    ngx_photo_server_t         *server;
    const char                 *backend;    /* "memcached", for the log */
    ngx_uint_t                  max;        /* idle connections, 0: none */
    ngx_queue_t                 cache;      /* idle, most recent first */
    ngx_queue_t                 free;
    ngx_log_t                  *log;        /* of idle connections */
} ngx_photo_keepalive_t;


/* From init_process: room for max idle connections to server. */
ngx_int_t ngx_photo_keepalive_init(ngx_photo_keepalive_t *ka,
    ngx_cycle_t *cycle, ngx_photo_server_t *server, const char *backend,
    ngx_uint_t max);

/*
 * A connection to the server: the most recently used idle one if reuse is
 * set and there is one (pc->cached: it may turn out closed by the server,
 * its errors are logged at info, and the caller retries on a new one),
 * else a new one.  NGX_OK: connected; NGX_AGAIN: connecting; NGX_ERROR:
 * failed, and nginx has logged why.
 */
ngx_int_t ngx_photo_keepalive_connect(ngx_photo_keepalive_t *ka,
    ngx_peer_connection_t *pc, ngx_log_t *log, ngx_uint_t reuse);

/*
 * Done with pc's connection: kept if keep is set and it is still good
 * (evicting the least recently used if full), else closed.
 */
void ngx_photo_keepalive_free(ngx_photo_keepalive_t *ka,
    ngx_peer_connection_t *pc, ngx_uint_t keep);

/*
 * Sends cmd from *sent on, as far as the socket takes it.  NGX_OK: all
 * sent; NGX_AGAIN: the rest when writable; NGX_ERROR: failed.
 */
ngx_int_t ngx_photo_keepalive_send(ngx_connection_t *c, ngx_str_t *cmd,
    size_t *sent);

/*
 * Reads into b after b->last, as c->recv() does: the bytes read (b->last
 * moved on), 0 when the server has closed the connection, NGX_AGAIN (read
 * events watched) or NGX_ERROR.
 */
ssize_t ngx_photo_keepalive_recv(ngx_connection_t *c, ngx_buf_t *b);

/* Closes the idle connections, for exit_process. */
void ngx_photo_keepalive_close_all(ngx_photo_keepalive_t *ka);

/*
 * Looks at a connection that should have nothing to read.  NGX_AGAIN:
 * nothing; NGX_OK: data; NGX_DONE: closed; NGX_ERROR: failed, with *err.
 */
ngx_int_t ngx_photo_keepalive_peek(ngx_connection_t *c, ngx_err_t *err);


#endif /* _NGX_PHOTO_KEEPALIVE_H_INCLUDED_ */
