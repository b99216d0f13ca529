
/*
 * Backend reachability probes on nginx peer connections.
 */

#include "ngx_photo_probe.h"


static void ngx_photo_probe_handler(ngx_event_t *ev);
static ngx_int_t ngx_photo_probe_send(ngx_photo_probe_t *p,
    ngx_connection_t *c);
static ngx_int_t ngx_photo_probe_recv(ngx_photo_probe_t *p,
    ngx_connection_t *c);
static void ngx_photo_probe_finish(ngx_photo_probe_t *p, ngx_int_t rc,
    const char *error);


ngx_int_t
ngx_photo_probe_start(ngx_photo_probe_t *p)
{
    ngx_int_t                 rc;
    ngx_connection_t         *c;
    ngx_photo_probe_done_pt   done;

    p->start = ngx_current_msec;
    p->rc = NGX_AGAIN;

    p->peer.sockaddr = p->server->addr->sockaddr;
    p->peer.socklen = p->server->addr->socklen;
    p->peer.name = &p->server->addr->name;
    p->peer.get = ngx_event_get_peer;
    p->peer.log = p->log;
    p->peer.log_error = NGX_ERROR_ERR;

    rc = ngx_event_connect_peer(&p->peer);

    if (rc == NGX_ERROR || rc == NGX_BUSY || rc == NGX_DECLINED) {
        p->peer.connection = NULL;
        p->rc = NGX_ERROR;
        p->error = "connection failed";
        return NGX_ERROR;
    }

    c = p->peer.connection;
    c->data = p;
    c->pool = NULL;
    c->read->handler = ngx_photo_probe_handler;
    c->write->handler = ngx_photo_probe_handler;

    ngx_add_timer(c->write, p->timeout);

    if (rc == NGX_OK) {
        /*
         * Connected at once (loopback): send now rather than wait a turn.
         * A result reached here is returned, not reported through done().
         */
        done = p->done;
        p->done = NULL;
        ngx_photo_probe_handler(c->write);
        p->done = done;
        return p->rc;
    }

    return NGX_AGAIN;
}


static void
ngx_photo_probe_handler(ngx_event_t *ev)
{
    ngx_int_t           rc;
    ngx_connection_t   *c;
    ngx_photo_probe_t  *p;

    c = ev->data;
    p = c->data;

    if (ev->timedout) {
        ngx_log_error(NGX_LOG_ERR, p->log, NGX_ETIMEDOUT,
                      "photo: %s at %V timed out",
                      p->backend, &p->server->name);
        ngx_photo_probe_finish(p, NGX_ERROR, "timed out");
        return;
    }

    if (p->sent < p->ping.len) {
        rc = ngx_photo_probe_send(p, c);

    } else {
        rc = ngx_photo_probe_recv(p, c);
    }

    if (rc == NGX_AGAIN) {
        return;
    }

    if (rc == NGX_OK) {
        ngx_photo_probe_finish(p, NGX_OK, NULL);
        return;
    }

    ngx_photo_probe_finish(p, NGX_ERROR, p->error ? p->error : "failed");
}


static ngx_int_t
ngx_photo_probe_send(ngx_photo_probe_t *p, ngx_connection_t *c)
{
    ssize_t  n;

    while (p->sent < p->ping.len) {
        n = c->send(c, p->ping.data + p->sent, p->ping.len - p->sent);

        if (n == NGX_AGAIN) {
            if (ngx_handle_write_event(c->write, 0) != NGX_OK) {
                return NGX_ERROR;
            }

            return NGX_AGAIN;
        }

        if (n == NGX_ERROR) {
            p->error = "connection failed";
            return NGX_ERROR;
        }

        p->sent += n;
    }

    /* the ping is out: from now on wait for the reply */
    if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
        return NGX_ERROR;
    }

    return c->read->ready ? ngx_photo_probe_recv(p, c) : NGX_AGAIN;
}


static ngx_int_t
ngx_photo_probe_recv(ngx_photo_probe_t *p, ngx_connection_t *c)
{
    ssize_t  n;

    if (!c->read->ready) {
        return NGX_AGAIN;
    }

    while (p->received < p->pong.len) {
        n = c->recv(c, p->reply + p->received, p->pong.len - p->received);

        if (n == NGX_AGAIN) {
            if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
                return NGX_ERROR;
            }

            return NGX_AGAIN;
        }

        if (n == NGX_ERROR) {
            p->error = "connection failed";
            return NGX_ERROR;
        }

        if (n == 0) {
            ngx_log_error(NGX_LOG_ERR, p->log, 0,
                          "photo: %s at %V closed the connection "
                          "before answering", p->backend, &p->server->name);
            p->error = "closed without answering";
            return NGX_ERROR;
        }

        p->received += n;
    }

    if (ngx_memcmp(p->reply, p->pong.data, p->pong.len) != 0
        && (p->pong_alt.len != p->pong.len
            || ngx_memcmp(p->reply, p->pong_alt.data, p->pong.len) != 0))
    {
        ngx_log_error(NGX_LOG_ERR, p->log, 0,
                      "photo: %s at %V answered \"%*s\", expected \"%V\"",
                      p->backend, &p->server->name, p->received, p->reply,
                      &p->pong);
        p->error = "unexpected answer";
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_photo_probe_finish(ngx_photo_probe_t *p, ngx_int_t rc, const char *error)
{
    ngx_photo_probe_abort(p);

    p->rc = rc;
    p->error = error;
    p->elapsed = ngx_current_msec - p->start;

    if (p->done) {
        p->done(p);
    }
}


void
ngx_photo_probe_abort(ngx_photo_probe_t *p)
{
    ngx_connection_t  *c;

    c = p->peer.connection;

    if (c == NULL) {
        return;
    }

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    ngx_close_connection(c);
    p->peer.connection = NULL;
}
