
/*
 * A reachability probe: connect to a backend over an nginx peer connection,
 * send one protocol-level ping, and check the first bytes of the answer.
 * Non-blocking, bounded by one timer.
 */

#ifndef _NGX_PHOTO_PROBE_H_INCLUDED_
#define _NGX_PHOTO_PROBE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_event_connect.h>

#include "ngx_photo_backend.h"


#define NGX_PHOTO_PROBE_REPLY_MAX  16


typedef struct ngx_photo_probe_s  ngx_photo_probe_t;

typedef void (*ngx_photo_probe_done_pt)(ngx_photo_probe_t *p);


struct ngx_photo_probe_s {
    ngx_peer_connection_t       peer;
    ngx_photo_server_t         *server;
    const char                 *backend;    /* "redis", "postgres", ... */

    ngx_str_t                   ping;       /* bytes sent */
    ngx_str_t                   pong;       /* expected start of the reply */
    ngx_str_t                   pong_alt;   /* another good one, same size */
    ngx_msec_t                  timeout;

    size_t                      sent;
    size_t                      received;
    u_char                      reply[NGX_PHOTO_PROBE_REPLY_MAX];

    ngx_msec_t                  start;
    ngx_msec_t                  elapsed;
    ngx_int_t                   rc;         /* NGX_AGAIN while running,
                                               then NGX_OK or NGX_ERROR */
    const char                 *error;      /* why it failed */

    ngx_photo_probe_done_pt     done;       /* called once, if it ran */
    void                       *data;
    ngx_log_t                  *log;
};


/* NGX_AGAIN: running, done() will be called; otherwise already finished. */
ngx_int_t ngx_photo_probe_start(ngx_photo_probe_t *p);
void ngx_photo_probe_abort(ngx_photo_probe_t *p);


#endif /* _NGX_PHOTO_PROBE_H_INCLUDED_ */
