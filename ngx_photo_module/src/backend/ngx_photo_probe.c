
/*
 * Backend reachability probes on the connection engine: the protocol is a
 * ping and the start of its answer.
 */

#include "ngx_photo_probe.h"


#define NGX_PHOTO_PROBE_BUFFER  32          /* an answer's first bytes */


static ngx_int_t ngx_photo_probe_process(ngx_photo_conn_t *conn);
static void ngx_photo_probe_finalize(ngx_photo_conn_t *conn,
    ngx_photo_status_e status);


ngx_int_t
ngx_photo_probe_start(ngx_photo_probe_t *p, ngx_photo_backend_conf_t *bcf,
    ngx_photo_server_t *server, ngx_log_t *log, ngx_pool_t *pool,
    ngx_photo_result_pt handler, void *data)
{
    u_char  *action;

    /* errors on the probe's connection say which backend they are about */
    action = ngx_pnalloc(pool, sizeof("probing  at ") + ngx_strlen(bcf->name)
                               + server->name.len);
    if (action == NULL) {
        p->error = "out of memory";
        return NGX_ERROR;
    }

    *ngx_sprintf(action, "probing %s at %V", bcf->name, &server->name) = '\0';

    p->conn.server = server;
    p->conn.backend = bcf->name;
    p->conn.log = *log;
    p->conn.log.action = (char *) action;
    p->conn.request = bcf->ping;
    p->conn.pool = pool;
    p->conn.buffer_size = NGX_PHOTO_PROBE_BUFFER;
    p->conn.timeout = bcf->timeout;
    p->conn.process = ngx_photo_probe_process;
    p->conn.finalize = ngx_photo_probe_finalize;
    p->conn.data = p;

    p->pong = bcf->pong;
    p->pong_alt = bcf->pong_alt;
    p->pong_line = bcf->pong_line;
    p->result.backend = bcf->name;
    p->handler = handler;
    p->data = data;

    return ngx_photo_conn_start(&p->conn) == NGX_DONE ? NGX_DECLINED
                                                     : NGX_AGAIN;
}


void
ngx_photo_probe_abort(ngx_photo_probe_t *p)
{
    ngx_photo_conn_close(&p->conn);
}


static ngx_int_t
ngx_photo_probe_process(ngx_photo_conn_t *conn)
{
    ngx_photo_probe_t *p = conn->data;

    u_char     *nl;
    ngx_buf_t  *b;

    b = conn->buffer;

    if (p->pong_line) {
        nl = ngx_strlchr(b->pos, b->last, '\n');

        if (nl == NULL) {
            if (b->last - b->pos >= NGX_PHOTO_PROBE_BUFFER / 2) {
                return NGX_ERROR;       /* not a length line */
            }

            conn->need = b->last - b->pos + 1;
            return NGX_AGAIN;
        }

        if ((size_t) (b->last - nl - 1) < p->pong.len) {
            conn->need = nl + 1 - b->pos + p->pong.len;
            return NGX_AGAIN;
        }

        b->pos = nl + 1;

    } else if ((size_t) (b->last - b->pos) < p->pong.len) {
        conn->need = p->pong.len;
        return NGX_AGAIN;
    }

    if (ngx_memcmp(b->pos, p->pong.data, p->pong.len) != 0
        && (p->pong_alt.len != p->pong.len
            || ngx_memcmp(b->pos, p->pong_alt.data, p->pong.len) != 0))
    {
        ngx_log_error(NGX_LOG_ERR, &conn->log, 0,
                      "photo: %s at %V answered \"%*s\", expected \"%V\"",
                      conn->backend, &conn->server->name, p->pong.len,
                      b->pos, &p->pong);
        return NGX_ERROR;
    }

    /* the rest of the answer is of no interest: the connection closes */
    b->pos = b->last;

    return NGX_OK;
}


static void
ngx_photo_probe_finalize(ngx_photo_conn_t *conn, ngx_photo_status_e status)
{
    ngx_photo_probe_t *p = conn->data;

    switch (status) {

    case NGX_PHOTO_DONE:
        p->error = NULL;
        break;

    case NGX_PHOTO_TIMEDOUT:
        p->error = "timed out";
        break;

    case NGX_PHOTO_BAD_REPLY:
        p->error = "unexpected answer";
        break;

    default: /* NGX_PHOTO_AWAY */
        p->error = conn->closed ? "closed without answering"
                                : "connection failed";
    }

    p->result.status = status;

    if (!conn->starting) {
        p->handler(p->data, &p->result);
    }
}
