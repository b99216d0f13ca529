
/*
 * A reachability probe, for /health: a new connection to one backend
 * server (never a kept one), one protocol-level ping, the first bytes of
 * the answer (or of its second line) checked, on the connection engine,
 * bounded by one timer.
 */

#ifndef _NGX_PHOTO_PROBE_H_INCLUDED_
#define _NGX_PHOTO_PROBE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_photo_backend.h"
#include "ngx_photo_conn.h"


typedef struct {
    ngx_photo_conn_t            conn;
    ngx_str_t                   pong;
    ngx_str_t                   pong_alt;
    ngx_flag_t                  pong_line;
    const char                 *error;      /* why not, once it failed */
    ngx_photo_result_t          result;     /* the status alone */
    ngx_photo_result_pt         handler;
    void                       *data;
} ngx_photo_probe_t;


/*
 * Probes server as its backend's conf says (ping, answer, timeout); log is
 * copied, its action naming the backend and the server.  Returns as every
 * client's start call (ngx_photo_backend.h); on NGX_DECLINED, p->error
 * says why.
 */
ngx_int_t ngx_photo_probe_start(ngx_photo_probe_t *p,
    ngx_photo_backend_conf_t *bcf, ngx_photo_server_t *server,
    ngx_log_t *log, ngx_pool_t *pool, ngx_photo_result_pt handler,
    void *data);

/* Its caller is gone: closed, the handler not called. */
void ngx_photo_probe_abort(ngx_photo_probe_t *p);


#endif /* _NGX_PHOTO_PROBE_H_INCLUDED_ */
