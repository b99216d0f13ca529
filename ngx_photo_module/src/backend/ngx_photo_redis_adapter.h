
/*
 * A hiredis async adapter for nginx's event loop, in the shape of hiredis's
 * own adapters (adapters/libevent.h): the context's socket is wrapped in an
 * ngx_connection_t, and hiredis turns its read and write events on and off.
 * No protocol logic here.
 *
 * The events are level-triggered: redisAsyncHandleRead() reads at most one
 * buffer per call, so an edge-triggered event could leave replies unread.
 */

#ifndef _NGX_PHOTO_REDIS_ADAPTER_H_INCLUDED_
#define _NGX_PHOTO_REDIS_ADAPTER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>


static void
ngx_photo_redis_event_handler(ngx_event_t *ev)
{
    ngx_connection_t   *c = ev->data;
    redisAsyncContext  *ac = c->data;

    /* hiredis may free the context (and with it c) in here: touch neither
     * afterwards */

    if (ev->write) {
        redisAsyncHandleWrite(ac);

    } else {
        redisAsyncHandleRead(ac);
    }
}


static void
ngx_photo_redis_add_read(void *privdata)
{
    ngx_connection_t  *c = privdata;

    if (!c->read->active) {
        (void) ngx_add_event(c->read, NGX_READ_EVENT, NGX_LEVEL_EVENT);
    }
}


static void
ngx_photo_redis_del_read(void *privdata)
{
    ngx_connection_t  *c = privdata;

    if (c->read->active) {
        (void) ngx_del_event(c->read, NGX_READ_EVENT, 0);
    }
}


static void
ngx_photo_redis_add_write(void *privdata)
{
    ngx_connection_t  *c = privdata;

    if (!c->write->active) {
        (void) ngx_add_event(c->write, NGX_WRITE_EVENT, NGX_LEVEL_EVENT);
    }
}


static void
ngx_photo_redis_del_write(void *privdata)
{
    ngx_connection_t  *c = privdata;

    if (c->write->active) {
        (void) ngx_del_event(c->write, NGX_WRITE_EVENT, 0);
    }
}


/* hiredis closes the socket itself after this: only give back the slot */
static void
ngx_photo_redis_cleanup(void *privdata)
{
    ngx_connection_t  *c = privdata;

    ngx_photo_redis_del_read(c);
    ngx_photo_redis_del_write(c);

    ngx_free_connection(c);

    /* not ours to close, and not an "open socket left" at worker exit */
    c->fd = (ngx_socket_t) -1;
}


static ngx_int_t
ngx_photo_redis_attach(redisAsyncContext *ac, ngx_log_t *log)
{
    ngx_connection_t  *c;

    if (ac->ev.data != NULL) {
        return NGX_ERROR;
    }

    c = ngx_get_connection(ac->c.fd, log);
    if (c == NULL) {
        return NGX_ERROR;
    }

    c->data = ac;
    c->read->handler = ngx_photo_redis_event_handler;
    c->write->handler = ngx_photo_redis_event_handler;
    c->read->log = log;
    c->write->log = log;

    ac->ev.addRead = ngx_photo_redis_add_read;
    ac->ev.delRead = ngx_photo_redis_del_read;
    ac->ev.addWrite = ngx_photo_redis_add_write;
    ac->ev.delWrite = ngx_photo_redis_del_write;
    ac->ev.cleanup = ngx_photo_redis_cleanup;
    ac->ev.data = c;

    return NGX_OK;
}


#endif /* _NGX_PHOTO_REDIS_ADAPTER_H_INCLUDED_ */
