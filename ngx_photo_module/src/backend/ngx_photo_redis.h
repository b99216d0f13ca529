
/*
 * The module's Redis client: one hiredis async connection per worker
 * process, driven by nginx events (ngx_photo_redis_adapter.h), shared by all
 * requests of that worker, so commands of concurrent requests pipeline on
 * it.  Every command has a timer; a Redis that went away is reconnected
 * with backoff, and while it is away commands fail at once.
 */

#ifndef _NGX_PHOTO_REDIS_H_INCLUDED_
#define _NGX_PHOTO_REDIS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <hiredis/hiredis.h>

#include "ngx_photo_backend.h"


/* a command of those sent together */
typedef struct {
    int                         argc;
    const char                **argv;
    const size_t               *argvlen;
} ngx_photo_redis_cmd_t;


/* photo_redis, photo_redis_timeout; ngx_photo_backend_conf_t first */
extern ngx_module_t  ngx_http_photo_redis_module;


/*
 * A command, returning as every client's start call (ngx_photo_backend.h):
 * NGX_DECLINED when Redis is away right now.  The handler (or NULL: fire
 * and forget) gets the reply in reply.redis, an error reply included
 * (REDIS_REPLY_ERROR, with NGX_PHOTO_DONE: Redis answered); it fails with
 * NGX_PHOTO_AWAY (connection lost) or NGX_PHOTO_TIMEDOUT, logged.
 */
ngx_int_t ngx_photo_redis_command(ngx_http_request_t *r,
    ngx_photo_result_pt handler, void *data, int argc, const char **argv,
    const size_t *argvlen);

/*
 * n commands sent at once (pipelined), under one timeout, the handler
 * called for each reply in order (index i of n); a result other than
 * NGX_PHOTO_DONE is the last call.  Commands that do not depend on each
 * other's answers go out in one round trip, each a native command (a Lua
 * script costs Redis several times more).
 */
ngx_int_t ngx_photo_redis_commands(ngx_http_request_t *r,
    ngx_photo_result_pt handler, void *data, ngx_uint_t n,
    ngx_photo_redis_cmd_t *cmds);

/* photo_redis_cluster: keys read together must share a slot */
ngx_flag_t ngx_photo_redis_is_cluster(ngx_http_request_t *r);

/*
 * The same for the worker process rather than a request (the reply is for
 * no request in particular): handler is always called, unless the process
 * exits first.  Logged to the cycle's log.
 */
ngx_int_t ngx_photo_redis_worker_command(ngx_photo_result_pt handler,
    void *data, int argc, const char **argv, const size_t *argvlen);


#endif /* _NGX_PHOTO_REDIS_H_INCLUDED_ */
