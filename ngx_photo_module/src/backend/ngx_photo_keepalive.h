
/*
 * A cache of idle nginx peer connections to one backend server, kept per
 * worker process as nginx's upstream keepalive module keeps them: the
 * connection engine (ngx_photo_conn.c) takes connections from here and
 * gives them back when an exchange has ended cleanly.
 */

#ifndef _NGX_PHOTO_KEEPALIVE_H_INCLUDED_
#define _NGX_PHOTO_KEEPALIVE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_event_connect.h>

#include "ngx_photo_backend.h"


typedef struct {
    ngx_photo_backend_conf_t   *bcf;        /* the metrics count by */
    ngx_uint_t                  index;      /* bcf->servers[index] */
    ngx_photo_server_t         *server;
    const char                 *backend;    /* "memcached", for the log */
    ngx_uint_t                  max;        /* idle connections, 0: none */
    ngx_queue_t                 cache;      /* idle, most recent first */
    ngx_queue_t                 free;
    ngx_log_t                  *log;        /* of idle connections */
} ngx_photo_keepalive_t;


/*
 * From init_process: room for max idle connections to bcf's server index.
 * The cache counts its connections into the metrics as they are kept,
 * taken and closed here; the caller counts the ones it opens and closes.
 */
ngx_int_t ngx_photo_keepalive_init(ngx_photo_keepalive_t *ka,
    ngx_cycle_t *cycle, ngx_photo_backend_conf_t *bcf, ngx_uint_t index,
    ngx_uint_t max);

/*
 * The most recently used idle connection into pc (pc->cached: it may turn
 * out closed by the server, its errors are logged at info, and the caller
 * retries on a new one): NGX_OK, or NGX_DECLINED when there is none.
 */
ngx_int_t ngx_photo_keepalive_get(ngx_photo_keepalive_t *ka,
    ngx_peer_connection_t *pc, ngx_log_t *log);

/*
 * Done with pc's connection: kept if keep is set and it is still good
 * (evicting the least recently used if full), else closed.
 */
void ngx_photo_keepalive_free(ngx_photo_keepalive_t *ka,
    ngx_peer_connection_t *pc, ngx_uint_t keep);

/* Closes the idle connections, for exit_process. */
void ngx_photo_keepalive_close_all(ngx_photo_keepalive_t *ka);



#endif /* _NGX_PHOTO_KEEPALIVE_H_INCLUDED_ */
