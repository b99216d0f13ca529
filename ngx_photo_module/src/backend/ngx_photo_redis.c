
/*
 * The module's Redis client (see ngx_photo_redis.h).
 */

#include "ngx_photo_redis.h"
#include "ngx_photo_redis_adapter.h"
#include "ngx_photo_metrics.h"


#define NGX_PHOTO_REDIS_PORT         6379

/*
 * Reconnecting while Redis is away: 100 ms, doubling, then once a second
 * (a connect a second per worker costs nothing; at 5 s, a Redis back after
 * a restart waited up to 5 s more for the workers to see it, and every
 * read and write failed meanwhile)
 */
#define NGX_PHOTO_REDIS_BACKOFF_MIN  100
#define NGX_PHOTO_REDIS_BACKOFF_MAX  1000

/* the reply arena's block: a page of 100 ids needs about 6 KB */
#define NGX_PHOTO_REDIS_ARENA        16384


/*
 * Reply objects.  hiredis's own reader mallocs every element of a reply
 * (and its string), and frees them all once the reply's callback
 * returned: a page of ids was a hundred mallocs and frees, the most of a
 * worker's profile after the syscalls.  At most one reply is alive at a
 * time (hiredis parses the next only after the callback of the last), so
 * its objects come from one block, handed out in order and taken back at
 * once when hiredis frees the reply; the rare reply that does not fit
 * gets blocks of its own, freed with it.
 */
typedef struct ngx_photo_redis_big_s  ngx_photo_redis_big_t;

struct ngx_photo_redis_big_s {
    ngx_photo_redis_big_t          *next;
};

typedef struct {
    u_char                         *start;
    u_char                         *pos;
    u_char                         *end;
    ngx_photo_redis_big_t          *big;
    ngx_log_t                      *log;
} ngx_photo_redis_arena_t;


typedef struct ngx_photo_redis_s  ngx_photo_redis_t;


typedef struct {
    ngx_photo_backend_conf_t        backend;    /* first */
    ngx_photo_redis_t              *state;      /* per worker process */
} ngx_photo_redis_conf_t;


struct ngx_photo_redis_s {
    redisAsyncContext              *ac;
    ngx_event_t                     reconnect;
    ngx_msec_t                      backoff;
    ngx_log_t                      *log;
    ngx_photo_backend_conf_t       *bcf;        /* its one server, 0 */
    ngx_photo_server_t             *server;
    ngx_msec_t                      timeout;
    ngx_flag_t                      exiting;
    ngx_flag_t                      connected;  /* once: the next is a
                                                   reconnect */
    int                             port;
    u_char                          host[NGX_SOCKADDR_STRLEN + 1];
    ngx_photo_redis_arena_t         arena;
};


/*
 * Commands in flight, one or several sent together.  It lives on the heap,
 * not in the request's pool: hiredis calls back when the replies come,
 * which may be after the request is gone.  Freed in the callback of the
 * last reply, always.
 */
typedef struct {
    ngx_photo_redis_t              *redis;
    ngx_photo_result_pt             handler;    /* for each reply, or NULL */
    void                           *data;
    ngx_http_request_t             *request;    /* NULL: the worker's, or
                                                   gone */
    ngx_pool_cleanup_t             *cln;        /* in the request's pool */
    ngx_event_t                     timer;
    ngx_photo_usec_t                start;      /* for the metrics */
    ngx_uint_t                      n;          /* commands sent */
    ngx_uint_t                      pending;    /* replies still to come */
    unsigned                        done:1;     /* no more calls wanted */
    unsigned                        unsent:1;   /* not all could be sent */
    unsigned                        counted:1;  /* by the metrics */
} ngx_photo_redis_call_t;


static void *ngx_http_photo_redis_create_conf(ngx_conf_t *cf);
static char *ngx_http_photo_redis_init_conf(ngx_conf_t *cf, void *conf);
static ngx_int_t ngx_http_photo_redis_init_process(ngx_cycle_t *cycle);
static void ngx_http_photo_redis_exit_process(ngx_cycle_t *cycle);
static void ngx_photo_redis_connect(ngx_photo_redis_t *redis);
static void *ngx_photo_redis_alloc(const redisReadTask *task, size_t size);
static redisReply *ngx_photo_redis_object(const redisReadTask *task,
    size_t size);
static void *ngx_photo_redis_string(const redisReadTask *task, char *str,
    size_t len);
static void *ngx_photo_redis_array(const redisReadTask *task, int elements);
static void *ngx_photo_redis_integer(const redisReadTask *task,
    long long value);
static void *ngx_photo_redis_nil(const redisReadTask *task);
static void ngx_photo_redis_free_reply(void *reply);
static void ngx_photo_redis_closed(void *privdata);
static void ngx_photo_redis_schedule(ngx_photo_redis_t *redis);
static void ngx_photo_redis_reconnect(ngx_event_t *ev);
static void ngx_photo_redis_on_connect(const redisAsyncContext *ac,
    int status);
static void ngx_photo_redis_on_disconnect(const redisAsyncContext *ac,
    int status);
static void ngx_photo_redis_reply(redisAsyncContext *ac, void *reply,
    void *privdata);
static void ngx_photo_redis_deliver(ngx_photo_redis_call_t *call,
    redisReply *reply, ngx_photo_status_e status);
static ngx_int_t ngx_photo_redis_send(ngx_photo_redis_t *redis,
    ngx_log_t *log, ngx_http_request_t *r, ngx_photo_result_pt handler,
    void *data, ngx_uint_t n, ngx_photo_redis_cmd_t *cmds);
static void ngx_photo_redis_count(ngx_photo_redis_call_t *call,
    ngx_photo_status_e status);
static void ngx_photo_redis_timeout(ngx_event_t *ev);
static void ngx_photo_redis_request_gone(void *data);


static redisReplyObjectFunctions  ngx_photo_redis_reply_functions = {
    ngx_photo_redis_string,
    ngx_photo_redis_array,
    ngx_photo_redis_integer,
    ngx_photo_redis_nil,
    ngx_photo_redis_free_reply
};


static ngx_command_t  ngx_http_photo_redis_commands[] = {

    { ngx_string("photo_redis"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_photo_backend_servers,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      (void *) NGX_PHOTO_REDIS_PORT },

    { ngx_string("photo_redis_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_photo_redis_conf_t, backend.timeout),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_photo_redis_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */

    ngx_http_photo_redis_create_conf,      /* create main configuration */
    ngx_http_photo_redis_init_conf,        /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_http_photo_redis_module = {
    NGX_MODULE_V1,
    &ngx_http_photo_redis_module_ctx,      /* module context */
    ngx_http_photo_redis_commands,         /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_photo_redis_init_process,     /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_photo_redis_exit_process,     /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static void *
ngx_http_photo_redis_create_conf(ngx_conf_t *cf)
{
    ngx_photo_redis_conf_t  *rcf;

    rcf = ngx_pcalloc(cf->pool, sizeof(ngx_photo_redis_conf_t));
    if (rcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     rcf->backend.servers = NULL;
     *     rcf->backend.pong_alt = { 0, NULL };
     *     rcf->backend.used = 0;
     *     rcf->state = NULL;
     */

    rcf->backend.name = "redis";
    rcf->backend.directive = "photo_redis";
    rcf->backend.timeout = NGX_CONF_UNSET_MSEC;
    ngx_str_set(&rcf->backend.ping, "PING\r\n");
    ngx_str_set(&rcf->backend.pong, "+PONG");

    return rcf;
}


static char *
ngx_http_photo_redis_init_conf(ngx_conf_t *cf, void *conf)
{
    ngx_photo_redis_conf_t *rcf = conf;

    ngx_conf_init_msec_value(rcf->backend.timeout, 1000);

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_photo_redis_init_process(ngx_cycle_t *cycle)
{
    size_t                   len;
    ngx_photo_redis_t       *redis;
    ngx_photo_redis_conf_t  *rcf;

    rcf = ngx_photo_backend_used(cycle, &ngx_http_photo_redis_module);

    if (rcf == NULL) {
        return NGX_OK;
    }

    redis = ngx_pcalloc(cycle->pool, sizeof(ngx_photo_redis_t));
    if (redis == NULL) {
        return NGX_ERROR;
    }

    redis->log = cycle->log;
    redis->arena.log = cycle->log;
    redis->bcf = &rcf->backend;
    redis->server = rcf->backend.servers->elts;
    redis->timeout = rcf->backend.timeout;
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

    rcf->state = redis;

    ngx_photo_redis_connect(redis);

    return NGX_OK;
}


static void
ngx_http_photo_redis_exit_process(ngx_cycle_t *cycle)
{
    ngx_photo_redis_t       *redis;
    ngx_photo_redis_conf_t  *rcf;

    rcf = ngx_photo_backend_used(cycle, &ngx_http_photo_redis_module);

    if (rcf == NULL || rcf->state == NULL) {
        return;
    }

    redis = rcf->state;

    redis->exiting = 1;

    if (redis->reconnect.timer_set) {
        ngx_del_timer(&redis->reconnect);
    }

    if (redis->ac) {
        /* pending calls are told nothing: their requests are going too */
        redisAsyncFree(redis->ac);
        redis->ac = NULL;
    }

    if (redis->arena.start) {
        ngx_free(redis->arena.start);
        redis->arena.start = NULL;
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

    /*
     * hiredis runs the cleanup once whenever it frees the context, and the
     * disconnect callback only for one that had connected: the cleanup is
     * where the metrics see the socket closed
     */
    ac->ev.cleanup = ngx_photo_redis_closed;
    ngx_photo_metrics_conn(redis->bcf, 0, NGX_PHOTO_CONN_OPENED);

    /* replies from the arena (no free needed: hiredis calls back) */
    ac->c.reader->fn = &ngx_photo_redis_reply_functions;
    ac->c.reader->privdata = &redis->arena;

    ac->data = redis;
    redisAsyncSetConnectCallback(ac, ngx_photo_redis_on_connect);
    redisAsyncSetDisconnectCallback(ac, ngx_photo_redis_on_disconnect);

    /* commands may be queued now: hiredis writes them once connected */
    redis->ac = ac;
}


static void
ngx_photo_redis_closed(void *privdata)
{
    ngx_connection_t  *c = privdata;

    redisAsyncContext  *ac;
    ngx_photo_redis_t  *redis;

    ac = c->data;
    redis = ac->data;

    ngx_photo_metrics_conn(redis->bcf, 0, NGX_PHOTO_CONN_CLOSED);

    ngx_photo_redis_cleanup(privdata);
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

    if (redis->connected) {
        ngx_photo_metrics_conn(redis->bcf, 0, NGX_PHOTO_CONN_RECONNECT);
    }

    redis->connected = 1;
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
ngx_photo_redis_command(ngx_http_request_t *r, ngx_photo_result_pt handler,
    void *data, int argc, const char **argv, const size_t *argvlen)
{
    ngx_photo_redis_cmd_t  cmd;

    cmd.argc = argc;
    cmd.argv = argv;
    cmd.argvlen = argvlen;

    return ngx_photo_redis_commands(r, handler, data, 1, &cmd);
}


/* for a request: its log, its pool's end makes the replies unwanted */
ngx_int_t
ngx_photo_redis_commands(ngx_http_request_t *r, ngx_photo_result_pt handler,
    void *data, ngx_uint_t n, ngx_photo_redis_cmd_t *cmds)
{
    ngx_photo_redis_conf_t  *rcf;

    rcf = ngx_http_get_module_main_conf(r, ngx_http_photo_redis_module);

    return ngx_photo_redis_send(rcf->state, r->connection->log, r, handler,
                                data, n, cmds);
}


ngx_int_t
ngx_photo_redis_worker_command(ngx_photo_result_pt handler, void *data,
    int argc, const char **argv, const size_t *argvlen)
{
    ngx_photo_redis_t       *redis;
    ngx_photo_redis_cmd_t    cmd;
    ngx_photo_redis_conf_t  *rcf;

    rcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                              ngx_http_photo_redis_module);
    redis = rcf->state;

    cmd.argc = argc;
    cmd.argv = argv;
    cmd.argvlen = argvlen;

    return ngx_photo_redis_send(redis, redis->log, NULL, handler, data, 1,
                                &cmd);
}


/*
 * r: the request, whose pool's end makes the replies unwanted; NULL: the
 * worker's.  The commands sent together are one call of the metrics.
 */

static ngx_int_t
ngx_photo_redis_send(ngx_photo_redis_t *redis, ngx_log_t *log,
    ngx_http_request_t *r, ngx_photo_result_pt handler, void *data,
    ngx_uint_t n, ngx_photo_redis_cmd_t *cmds)
{
    ngx_uint_t               i;
    ngx_photo_usec_t         start;
    ngx_photo_redis_call_t  *call;

    start = ngx_photo_metrics_now();

    if (redis->ac == NULL) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "photo: redis %V is unreachable, reconnecting",
                      &redis->server->name);
        ngx_photo_metrics_backend(r, redis->bcf, 0, NGX_PHOTO_AWAY, start);
        return NGX_DECLINED;
    }

    call = ngx_alloc(sizeof(ngx_photo_redis_call_t), log);
    if (call == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(call, sizeof(ngx_photo_redis_call_t));

    call->handler = handler;
    call->data = data;
    call->request = r;
    call->start = start;

    if (r) {
        call->cln = ngx_pool_cleanup_add(r->pool, 0);
        if (call->cln == NULL) {
            ngx_free(call);
            return NGX_ERROR;
        }
    }

    call->redis = redis;

    for (i = 0; i < n; i++) {
        if (redisAsyncCommandArgv(redis->ac, ngx_photo_redis_reply, call,
                                  cmds[i].argc, cmds[i].argv,
                                  cmds[i].argvlen)
            != REDIS_OK)
        {
            ngx_log_error(NGX_LOG_ERR, log, 0,
                          "photo: redis %V: command not sent: %s",
                          &redis->server->name, redis->ac->errstr);

            if (i == 0) {
                ngx_photo_redis_count(call, NGX_PHOTO_AWAY);
                ngx_free(call);
                return NGX_DECLINED;
            }

            /* the ones sent are answered (the last answer frees the
               call); the handler hears of the others after them */
            break;
        }

        call->n++;
    }

    call->pending = call->n;
    call->unsent = call->n < n;

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
        if (reply == NULL) {
            ngx_log_error(NGX_LOG_ERR, call->timer.log, 0,
                          "photo: redis %V: no reply, connection lost",
                          &call->redis->server->name);
        }

        ngx_photo_redis_deliver(call, reply, reply ? NGX_PHOTO_DONE
                                                   : NGX_PHOTO_AWAY);
    }

    if (--call->pending == 0) {
        /* not counted yet: its request went first, and the call ends
           with Redis's answer */
        if (!call->redis->exiting) {
            ngx_photo_redis_count(call, reply ? NGX_PHOTO_DONE
                                              : NGX_PHOTO_AWAY);
        }

        ngx_free(call);
    }
}


/*
 * The next reply to the handler; the last one (or a failure) ends the
 * call's timer and its tie to the request first, as the handler may end
 * the request.
 */
static void
ngx_photo_redis_deliver(ngx_photo_redis_call_t *call, redisReply *reply,
    ngx_photo_status_e status)
{
    ngx_uint_t          i, last;
    ngx_connection_t   *c;
    ngx_photo_result_t  res;

    i = call->n - call->pending;
    last = status != NGX_PHOTO_DONE || (i == call->n - 1 && !call->unsent);

    if (last || i == call->n - 1) {
        call->done = 1;

        if (call->timer.timer_set) {
            ngx_del_timer(&call->timer);
        }

        if (call->cln) {
            call->cln->handler = NULL;
            call->cln = NULL;
        }

        /* while its request is sure to be there: the handler may end it */
        if (!call->redis->exiting) {
            ngx_photo_redis_count(call, last ? status : NGX_PHOTO_AWAY);
        }
    }

    if (call->redis->exiting || call->handler == NULL) {
        return;
    }

    res.status = status;
    res.backend = "redis";
    res.index = i;
    res.reply.redis = reply;

    c = call->request ? call->request->connection : NULL;

    call->handler(call->data, &res);

    /* some were never sent: the handler hears it after the last sent */
    if (!last && i == call->n - 1) {
        res.status = NGX_PHOTO_AWAY;
        res.index = i + 1;
        res.reply.redis = NULL;

        call->handler(call->data, &res);
    }

    /*
     * From Redis's event or the call's timer, never from inside a request's
     * own handler: what the handler's finalize posted runs now, as after
     * each of nginx's upstream events (a response that could not be
     * written to a client that had gone posts its request's end, and left
     * to itself the connection was never closed)
     */
    if (c) {
        ngx_http_run_posted_requests(c);
    }
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

    ngx_photo_redis_deliver(call, NULL, NGX_PHOTO_TIMEDOUT);

    /* frees call too, through ngx_photo_redis_reply() */
    if (redis->ac) {
        redisAsyncFree(redis->ac);
        ngx_photo_redis_schedule(redis);
    }
}


/* The call's end for the metrics, once: its replies, or its failure. */

static void
ngx_photo_redis_count(ngx_photo_redis_call_t *call, ngx_photo_status_e status)
{
    if (call->counted) {
        return;
    }

    call->counted = 1;

    ngx_photo_metrics_backend(call->request, call->redis->bcf, 0, status,
                              call->start);
}


static void
ngx_photo_redis_request_gone(void *data)
{
    ngx_photo_redis_call_t  *call = data;

    /* the last reply, when it comes, frees the call (and counts it) */
    call->handler = NULL;
    call->request = NULL;
    call->done = 1;
    call->cln = NULL;

    if (call->timer.timer_set) {
        ngx_del_timer(&call->timer);
    }
}


/* reply objects from the connection's arena (see the top of this file) */

static void *
ngx_photo_redis_alloc(const redisReadTask *task, size_t size)
{
    u_char                   *p;
    ngx_photo_redis_big_t    *big;
    ngx_photo_redis_arena_t  *a;

    a = task->privdata;
    size = ngx_align(size, sizeof(void *));

    if (a->start == NULL) {
        a->start = ngx_alloc(NGX_PHOTO_REDIS_ARENA, a->log);
        if (a->start == NULL) {
            return NULL;
        }

        a->pos = a->start;
        a->end = a->start + NGX_PHOTO_REDIS_ARENA;
    }

    if ((size_t) (a->end - a->pos) >= size) {
        p = a->pos;
        a->pos += size;
        return p;
    }

    big = ngx_alloc(sizeof(ngx_photo_redis_big_t) + size, a->log);
    if (big == NULL) {
        return NULL;
    }

    big->next = a->big;
    a->big = big;

    return big + 1;
}


/*
 * A reply's object: in the parent array's place, as hiredis's own
 * functions do; a root (the reply itself) has its arena just before it,
 * for ngx_photo_redis_free_reply(), which hiredis gives nothing else.
 */
static redisReply *
ngx_photo_redis_object(const redisReadTask *task, size_t size)
{
    u_char       *p;
    redisReply   *r, *parent;

    if (task->parent) {
        r = ngx_photo_redis_alloc(task, size);
        if (r == NULL) {
            return NULL;
        }

        parent = task->parent->obj;
        parent->element[task->idx] = r;

    } else {
        p = ngx_photo_redis_alloc(task, sizeof(void *) + size);
        if (p == NULL) {
            return NULL;
        }

        *(ngx_photo_redis_arena_t **) p = task->privdata;
        r = (redisReply *) (p + sizeof(void *));
    }

    ngx_memzero(r, sizeof(redisReply));
    r->type = task->type;

    return r;
}


static void *
ngx_photo_redis_string(const redisReadTask *task, char *str, size_t len)
{
    redisReply  *r;

    r = ngx_photo_redis_object(task, sizeof(redisReply) + len + 1);
    if (r == NULL) {
        return NULL;
    }

    r->str = (char *) (r + 1);
    r->len = len;
    ngx_memcpy(r->str, str, len);
    r->str[len] = '\0';

    return r;
}


static void *
ngx_photo_redis_array(const redisReadTask *task, int elements)
{
    redisReply  *r;

    r = ngx_photo_redis_object(task, sizeof(redisReply)
                                     + elements * sizeof(redisReply *));
    if (r == NULL) {
        return NULL;
    }

    r->type = REDIS_REPLY_ARRAY;
    r->elements = elements;

    if (elements > 0) {
        r->element = (redisReply **) (r + 1);
        ngx_memzero(r->element, elements * sizeof(redisReply *));
    }

    return r;
}


static void *
ngx_photo_redis_integer(const redisReadTask *task, long long value)
{
    redisReply  *r;

    r = ngx_photo_redis_object(task, sizeof(redisReply));
    if (r == NULL) {
        return NULL;
    }

    r->type = REDIS_REPLY_INTEGER;
    r->integer = value;

    return r;
}


static void *
ngx_photo_redis_nil(const redisReadTask *task)
{
    redisReply  *r;

    /* the task's type is the bulk's, a string: nil is said here */
    r = ngx_photo_redis_object(task, sizeof(redisReply));
    if (r != NULL) {
        r->type = REDIS_REPLY_NIL;
    }

    return r;
}


/* hiredis frees only a whole reply (after its callback, or one a broken
   stream left half made): all of the arena is free again */
static void
ngx_photo_redis_free_reply(void *reply)
{
    ngx_photo_redis_big_t    *big;
    ngx_photo_redis_arena_t  *a;

    a = *(ngx_photo_redis_arena_t **) ((u_char *) reply - sizeof(void *));

    a->pos = a->start;

    while (a->big) {
        big = a->big;
        a->big = big->next;
        ngx_free(big);
    }
}

