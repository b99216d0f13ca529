
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


/*
 * reply is NULL when the command failed (Redis away, timed out, connection
 * lost; already logged).  It is valid only during the call.
 */
typedef void (*ngx_photo_redis_handler_pt)(void *data, redisReply *reply);

/* the replies of commands sent together: reply i of n, in order; a NULL
   reply (failed) is the last call */
typedef void (*ngx_photo_redis_each_pt)(void *data, ngx_uint_t i,
    redisReply *reply);

/* a command of those sent together */
typedef struct {
    int                         argc;
    const char                **argv;
    const size_t               *argvlen;
} ngx_photo_redis_cmd_t;


/* photo_redis, photo_redis_timeout; ngx_photo_backend_conf_t first */
extern ngx_module_t  ngx_http_photo_redis_module;


/*
 * NGX_AGAIN: handler will be called once, later, unless the request goes
 * away first; NGX_DECLINED: Redis is away right now (answer at once);
 * NGX_ERROR: no memory.
 */
ngx_int_t ngx_photo_redis_command(ngx_http_request_t *r,
    ngx_photo_redis_handler_pt handler, void *data, int argc,
    const char **argv, const size_t *argvlen);

/*
 * n commands sent at once (pipelined), under one timeout, with one handler
 * called for each reply in order (ngx_photo_redis_each_pt); return values
 * as ngx_photo_redis_command's.  Commands that do not depend on each
 * other's answers go out in one round trip, each a native command (a
 * Lua script costs Redis several times more).
 */
ngx_int_t ngx_photo_redis_commands(ngx_http_request_t *r,
    ngx_photo_redis_each_pt handler, void *data, ngx_uint_t n,
    ngx_photo_redis_cmd_t *cmds);

/* The answer for a command that was not sent (rc): 503 JSON when Redis is
 * away, 500 else. */
ngx_int_t ngx_photo_redis_unsent(ngx_http_request_t *r, ngx_int_t rc);

/*
 * The same for the worker process rather than a request (the reply is for
 * no request in particular): handler is always called, unless the process
 * exits first.  Logged to the cycle's log.
 */
ngx_int_t ngx_photo_redis_worker_command(ngx_photo_redis_handler_pt handler,
    void *data, int argc, const char **argv, const size_t *argvlen);


#endif /* _NGX_PHOTO_REDIS_H_INCLUDED_ */
