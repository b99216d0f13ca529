
/*
 * The module's Redis client (see ngx_photo_redis.h).
 */

#include "ngx_photo_redis.h"
#include "ngx_photo_redis_adapter.h"
#include "ngx_photo_read.h"


#define NGX_PHOTO_REDIS_BACKOFF_MIN  100
#define NGX_PHOTO_REDIS_BACKOFF_MAX  5000


struct ngx_photo_redis_s {
    redisAsyncContext              *ac;
    ngx_event_t                     reconnect;
    ngx_msec_t                      backoff;
    ngx_log_t                      *log;
    ngx_photo_server_t             *server;
    ngx_msec_t                      timeout;
    ngx_flag_t                      exiting;
    int                             port;
    u_char                          host[NGX_SOCKADDR_STRLEN + 1];
};


/*
 * A command in flight.  It lives on the heap, not in the request's pool:
 * hiredis calls back when the reply comes, which may be after the request
 * is gone.  Freed in that callback, always.
 */
typedef struct {
    ngx_photo_redis_t              *redis;
    ngx_photo_redis_handler_pt      handler;    /* NULL once not wanted */
    void                           *data;
    ngx_pool_cleanup_t             *cln;        /* in the request's pool */
    ngx_event_t                     timer;
    unsigned                        done:1;
} ngx_photo_redis_call_t;


static void ngx_photo_redis_connect(ngx_photo_redis_t *redis);
static void ngx_photo_redis_schedule(ngx_photo_redis_t *redis);
static void ngx_photo_redis_reconnect(ngx_event_t *ev);
static void ngx_photo_redis_on_connect(const redisAsyncContext *ac,
    int status);
static void ngx_photo_redis_on_disconnect(const redisAsyncContext *ac,
    int status);
static void ngx_photo_redis_reply(redisAsyncContext *ac, void *reply,
    void *privdata);
static ngx_int_t ngx_photo_redis_send(ngx_photo_redis_t *redis,
    ngx_log_t *log, ngx_pool_t *pool, ngx_photo_redis_handler_pt handler,
    void *data, int argc, const char **argv, const size_t *argvlen);
static void ngx_photo_redis_timeout(ngx_event_t *ev);
static void ngx_photo_redis_request_gone(void *data);


ngx_int_t
ngx_photo_redis_init_process(ngx_cycle_t *cycle,
    ngx_http_photo_main_conf_t *pmcf)
{
    size_t              len;
    ngx_photo_redis_t  *redis;

    redis = ngx_pcalloc(cycle->pool, sizeof(ngx_photo_redis_t));
    if (redis == NULL) {
        return NGX_ERROR;
    }

    redis->log = cycle->log;
    redis->server = pmcf->redis;
    redis->timeout = pmcf->redis_timeout;
    redis->backoff = NGX_PHOTO_REDIS_BACKOFF_MIN;

    /* hiredis resolves names itself, blocking: give it the address */
    len = ngx_sock_ntop(redis->server->addr->sockaddr,
                        redis->server->addr->socklen, redis->host,
                        NGX_SOCKADDR_STRLEN, 0);
    redis->host[len] = '\0';
    redis->port = ngx_inet_get_port(redis->server->addr->sockaddr);

    redis->reconnect.handler = ngx_photo_redis_reconnect;
    redis->reconnect.data = redis;
    redis->reconnect.log = cycle->log;
    redis->reconnect.cancelable = 1;

    pmcf->redis_state = redis;

    ngx_photo_redis_connect(redis);

    return NGX_OK;
}


void
ngx_photo_redis_exit_process(ngx_http_photo_main_conf_t *pmcf)
{
    ngx_photo_redis_t  *redis = pmcf->redis_state;

    if (redis == NULL) {
        return;
    }

    redis->exiting = 1;

    if (redis->reconnect.timer_set) {
        ngx_del_timer(&redis->reconnect);
    }

    if (redis->ac) {
        /* pending calls are told nothing: their requests are going too */
        redisAsyncFree(redis->ac);
        redis->ac = NULL;
    }
}


static void
ngx_photo_redis_connect(ngx_photo_redis_t *redis)
{
    redisAsyncContext  *ac;

    ac = redisAsyncConnect((char *) redis->host, redis->port);

    if (ac == NULL || ac->err) {
        ngx_log_error(NGX_LOG_ERR, redis->log, 0,
                      "photo: redis %V: connect failed: %s",
                      &redis->server->name, ac ? ac->errstr : "no memory");
        if (ac) {
            redisAsyncFree(ac);
        }

        ngx_photo_redis_schedule(redis);
        return;
    }

    if (ngx_photo_redis_attach(ac, redis->log) != NGX_OK) {
        redisAsyncFree(ac);
        ngx_photo_redis_schedule(redis);
        return;
    }

    ac->data = redis;
    redisAsyncSetConnectCallback(ac, ngx_photo_redis_on_connect);
    redisAsyncSetDisconnectCallback(ac, ngx_photo_redis_on_disconnect);

    /* commands may be queued now: hiredis writes them once connected */
    redis->ac = ac;
}


static void
ngx_photo_redis_schedule(ngx_photo_redis_t *redis)
{
    redis->ac = NULL;

    if (redis->exiting || redis->reconnect.timer_set) {
        return;
    }

    ngx_add_timer(&redis->reconnect, redis->backoff);

    redis->backoff = ngx_min(redis->backoff * 2, NGX_PHOTO_REDIS_BACKOFF_MAX);
}


static void
ngx_photo_redis_reconnect(ngx_event_t *ev)
{
    ngx_photo_redis_t  *redis = ev->data;

    if (redis->ac == NULL && !redis->exiting) {
        ngx_photo_redis_connect(redis);
    }
}


static void
ngx_photo_redis_on_connect(const redisAsyncContext *ac, int status)
{
    ngx_photo_redis_t  *redis = ac->data;

    if (status != REDIS_OK) {
        /* hiredis frees the context after this callback */
        ngx_log_error(NGX_LOG_ERR, redis->log, 0,
                      "photo: redis %V: connect failed: %s",
                      &redis->server->name, ac->errstr);
        ngx_photo_redis_schedule(redis);
        return;
    }

    ngx_log_error(NGX_LOG_INFO, redis->log, 0,
                  "photo: redis %V: connected", &redis->server->name);

    redis->backoff = NGX_PHOTO_REDIS_BACKOFF_MIN;
}


static void
ngx_photo_redis_on_disconnect(const redisAsyncContext *ac, int status)
{
    ngx_photo_redis_t  *redis = ac->data;

    if (redis->exiting) {
        return;
    }

    if (status != REDIS_OK) {
        ngx_log_error(NGX_LOG_ERR, redis->log, 0,
                      "photo: redis %V: connection lost: %s",
                      &redis->server->name, ac->errstr);
    }

    ngx_photo_redis_schedule(redis);
}


ngx_int_t
ngx_photo_redis_command(ngx_http_request_t *r,
    ngx_photo_redis_handler_pt handler, void *data, int argc,
    const char **argv, const size_t *argvlen)
{
    ngx_http_photo_main_conf_t  *pmcf;

    pmcf = ngx_http_get_module_main_conf(r, ngx_http_photo_module);

    return ngx_photo_redis_send(pmcf->redis_state, r->connection->log,
                                r->pool, handler, data, argc, argv, argvlen);
}


ngx_int_t
ngx_photo_redis_worker_command(ngx_http_photo_main_conf_t *pmcf,
    ngx_photo_redis_handler_pt handler, void *data, int argc,
    const char **argv, const size_t *argvlen)
{
    ngx_photo_redis_t  *redis = pmcf->redis_state;

    return ngx_photo_redis_send(redis, redis->log, NULL, handler, data, argc,
                                argv, argvlen);
}


ngx_int_t
ngx_photo_redis_unsent(ngx_http_request_t *r, ngx_int_t rc)
{
    return rc == NGX_DECLINED ? ngx_photo_unavailable(r, "redis")
                              : NGX_HTTP_INTERNAL_SERVER_ERROR;
}


/* pool: the request's, whose end makes the reply unwanted; NULL: none */

static ngx_int_t
ngx_photo_redis_send(ngx_photo_redis_t *redis, ngx_log_t *log,
    ngx_pool_t *pool, ngx_photo_redis_handler_pt handler, void *data,
    int argc, const char **argv, const size_t *argvlen)
{
    ngx_photo_redis_call_t  *call;

    if (redis->ac == NULL) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "photo: redis %V is unreachable, reconnecting",
                      &redis->server->name);
        return NGX_DECLINED;
    }

    call = ngx_calloc(sizeof(ngx_photo_redis_call_t), log);
    if (call == NULL) {
        return NGX_ERROR;
    }

    if (pool) {
        call->cln = ngx_pool_cleanup_add(pool, 0);
        if (call->cln == NULL) {
            ngx_free(call);
            return NGX_ERROR;
        }
    }

    call->redis = redis;
    call->handler = handler;
    call->data = data;

    if (redisAsyncCommandArgv(redis->ac, ngx_photo_redis_reply, call, argc,
                              argv, argvlen)
        != REDIS_OK)
    {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "photo: redis %V: command not sent: %s",
                      &redis->server->name, redis->ac->errstr);
        ngx_free(call);
        return NGX_DECLINED;
    }

    if (call->cln) {
        call->cln->handler = ngx_photo_redis_request_gone;
        call->cln->data = call;
    }

    call->timer.handler = ngx_photo_redis_timeout;
    call->timer.data = call;
    call->timer.log = log;
    ngx_add_timer(&call->timer, redis->timeout);

    return NGX_AGAIN;
}


static void
ngx_photo_redis_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    ngx_photo_redis_call_t  *call = privdata;

    if (!call->done) {
        call->done = 1;

        if (call->timer.timer_set) {
            ngx_del_timer(&call->timer);
        }

        if (call->cln) {
            call->cln->handler = NULL;
        }

        if (call->handler && !call->redis->exiting) {
            if (reply == NULL) {
                ngx_log_error(NGX_LOG_ERR, call->timer.log, 0,
                              "photo: redis %V: no reply, connection lost",
                              &call->redis->server->name);
            }

            call->handler(call->data, reply);
        }
    }

    ngx_free(call);
}


/*
 * A reply late beyond the timeout means a Redis that is stuck or gone: the
 * connection is dropped (every command pending on it fails) and made anew.
 */

static void
ngx_photo_redis_timeout(ngx_event_t *ev)
{
    ngx_photo_redis_call_t  *call = ev->data;

    ngx_photo_redis_t  *redis;

    redis = call->redis;

    ngx_log_error(NGX_LOG_ERR, ev->log, NGX_ETIMEDOUT,
                  "photo: redis %V timed out", &redis->server->name);

    call->done = 1;

    if (call->cln) {
        call->cln->handler = NULL;
    }

    if (call->handler) {
        call->handler(call->data, NULL);
    }

    /* frees call too, through ngx_photo_redis_reply() */
    if (redis->ac) {
        redisAsyncFree(redis->ac);
        ngx_photo_redis_schedule(redis);
    }
}


static void
ngx_photo_redis_request_gone(void *data)
{
    ngx_photo_redis_call_t  *call = data;

    /* the reply, when it comes, frees the call */
    call->handler = NULL;
    call->cln = NULL;

    if (call->timer.timer_set) {
        ngx_del_timer(&call->timer);
    }
}
