
/*
 * The module's Redis client (see ngx_photo_redis.h and, for its parts,
 * ngx_photo_redis_int.h): the directives, and commands sent, their replies
 * delivered to the handler in order, and timed out.
 */

#include "ngx_photo_redis_int.h"
#include "ngx_photo_metrics.h"


#define NGX_PHOTO_REDIS_PORT         6379

/* redirections one command may follow (a slot moving twice at most) */
#define NGX_PHOTO_REDIS_REDIRECTS    5


typedef struct ngx_photo_redis_call_s  ngx_photo_redis_call_t;


/*
 * A command of a call: its reply's tag (hiredis's privdata) and, with a
 * cluster, a copy of it as sent, to send again after a redirection and to
 * send at all when it goes to another node than the ones before it.
 */
typedef struct {
    ngx_photo_redis_call_t         *call;
    ngx_uint_t                      index;
    int                             slot;       /* -1: no key */
    ngx_flag_t                      read;       /* a replica may answer */
    char                           *cmd;        /* formatted, malloc()ed */
    int                             len;
    redisReply                     *held;       /* its reply, come before
                                                   one it must follow */
} ngx_photo_redis_one_t;


/*
 * Commands in flight, one or several sent together.  It lives on the heap,
 * not in the request's pool: hiredis calls back when the replies come,
 * which may be after the request is gone.  Freed once it is done and the
 * last reply it waits for came, always.
 *
 * The commands go out in order, all of those for one node at once (a
 * pipeline); the commands after them, for another node, once the first
 * ones are answered (with a cluster only; the feed's commands share a
 * node by their keys' tags).
 */
struct ngx_photo_redis_call_s {
    ngx_photo_redis_t              *redis;
    ngx_photo_redis_node_t         *node;       /* sent to last */
    ngx_photo_result_pt             handler;    /* for each reply, or NULL */
    void                           *data;
    ngx_http_request_t             *request;    /* NULL: the worker's, or
                                                   gone */
    ngx_pool_cleanup_t             *cln;        /* in the request's pool */
    ngx_event_t                     timer;
    ngx_photo_usec_t                start;      /* for the metrics */
    ngx_uint_t                      n;          /* commands */
    ngx_uint_t                      sent;       /* sent, from the first */
    ngx_uint_t                      next;       /* the next to deliver */
    ngx_uint_t                      pending;    /* replies still to come */
    ngx_uint_t                      redirects;
    unsigned                        done:1;     /* no more calls wanted */
    unsigned                        unsent:1;   /* not all could be sent */
    unsigned                        counted:1;  /* by the metrics */
    ngx_photo_redis_one_t           one[1];     /* n of them */
};


static void *ngx_http_photo_redis_create_conf(ngx_conf_t *cf);
static char *ngx_http_photo_redis_init_conf(ngx_conf_t *cf, void *conf);
static char *ngx_http_photo_redis_cluster(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_http_photo_redis_init_process(ngx_cycle_t *cycle);
static void ngx_http_photo_redis_exit_process(ngx_cycle_t *cycle);
static ngx_int_t ngx_photo_redis_send(ngx_photo_redis_t *redis,
    ngx_photo_redis_node_t *to, ngx_log_t *log, ngx_http_request_t *r,
    ngx_photo_result_pt handler, void *data, ngx_uint_t n,
    ngx_photo_redis_cmd_t *cmds);
static ngx_int_t ngx_photo_redis_send_next(ngx_photo_redis_call_t *call,
    ngx_photo_redis_node_t *to, ngx_photo_redis_cmd_t *cmds);
static ngx_int_t ngx_photo_redis_send_one(ngx_photo_redis_call_t *call,
    ngx_photo_redis_node_t *node, ngx_uint_t i, ngx_photo_redis_cmd_t *cmd);
static void ngx_photo_redis_reply(redisAsyncContext *ac, void *reply,
    void *privdata);
static void ngx_photo_redis_deliver(ngx_photo_redis_call_t *call,
    redisReply *reply, ngx_photo_status_e status);
static void ngx_photo_redis_free_call(ngx_photo_redis_call_t *call);
static redisReply *ngx_photo_redis_copy(redisReply *r, ngx_log_t *log);
static void ngx_photo_redis_free_copy(redisReply *r);
static void ngx_photo_redis_count(ngx_photo_redis_call_t *call,
    ngx_photo_status_e status);
static void ngx_photo_redis_timeout(ngx_event_t *ev);
static void ngx_photo_redis_request_gone(void *data);


static ngx_command_t  ngx_http_photo_redis_commands[] = {

    { ngx_string("photo_redis"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_photo_backend_servers,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      (void *) NGX_PHOTO_REDIS_PORT },

    { ngx_string("photo_redis_cluster"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_photo_redis_cluster,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      (void *) NGX_PHOTO_REDIS_PORT },

    { ngx_string("photo_redis_read_replicas"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_photo_redis_conf_t, replicas),
      NULL },

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
     *     rcf->cluster = 0;
     *     rcf->state = NULL;
     */

    rcf->backend.name = "redis";
    rcf->backend.directive = "photo_redis";
    rcf->backend.timeout = NGX_CONF_UNSET_MSEC;
    rcf->replicas = NGX_CONF_UNSET;
    ngx_str_set(&rcf->backend.ping, "PING\r\n");
    ngx_str_set(&rcf->backend.pong, "+PONG");

    return rcf;
}


static char *
ngx_http_photo_redis_init_conf(ngx_conf_t *cf, void *conf)
{
    ngx_photo_redis_conf_t *rcf = conf;

    ngx_conf_init_msec_value(rcf->backend.timeout, 1000);
    ngx_conf_init_value(rcf->replicas, 0);

    if (rcf->replicas && rcf->backend.servers && !rcf->cluster) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"photo_redis_read_replicas\" needs "
                           "\"photo_redis_cluster\"");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* photo_redis_cluster seed ...;  the servers of photo_redis, a cluster's */

static char *
ngx_http_photo_redis_cluster(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_photo_redis_conf_t *rcf = conf;

    char  *rv;

    if (rcf->backend.servers) {
        return rcf->cluster ? "is duplicate"
                            : "cannot be given with \"photo_redis\"";
    }

    rv = ngx_photo_backend_servers(cf, cmd, conf);

    if (rv == NGX_CONF_OK) {
        rcf->cluster = 1;

        /* /health asks the cluster, not a node: a node that died and was
           replaced by its replica is down, and the cluster serves on */
        ngx_str_set(&rcf->backend.ping, "CLUSTER INFO\r\n");
        ngx_str_set(&rcf->backend.pong, "cluster_state:ok");
        rcf->backend.pong_line = 1;
        rcf->backend.health_any = 1;
    }

    return rv;
}


static ngx_int_t
ngx_http_photo_redis_init_process(ngx_cycle_t *cycle)
{
    size_t                   len;
    u_char                   host[NGX_SOCKADDR_STRLEN];
    ngx_photo_redis_t       *redis;
    ngx_photo_server_t      *server;
    ngx_photo_redis_conf_t  *rcf;

    rcf = ngx_photo_backend_used(cycle, &ngx_http_photo_redis_module);

    if (rcf == NULL) {
        return NGX_OK;
    }

    redis = ngx_pcalloc(cycle->pool, sizeof(ngx_photo_redis_t));
    if (redis == NULL
        || ngx_array_init(&redis->nodes, cycle->pool,
                          rcf->backend.servers->nelts,
                          sizeof(ngx_photo_redis_node_t *))
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    redis->log = cycle->log;
    redis->pool = cycle->pool;
    redis->bcf = &rcf->backend;
    redis->timeout = rcf->backend.timeout;
    redis->cluster = rcf->cluster;
    redis->replicas = rcf->replicas;

    rcf->state = redis;

    if (redis->cluster) {
        return ngx_photo_redis_cluster_init(redis);
    }

    /* hiredis resolves names itself, blocking: give it the address */
    server = rcf->backend.servers->elts;
    len = ngx_sock_ntop(server->addr->sockaddr, server->addr->socklen, host,
                        NGX_SOCKADDR_STRLEN, 0);

    if (ngx_photo_redis_node_get(redis, host, len,
                                 ngx_inet_get_port(server->addr->sockaddr), 0)
        == NULL)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_photo_redis_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                i;
    ngx_photo_redis_t        *redis;
    ngx_photo_redis_conf_t   *rcf;
    ngx_photo_redis_node_t  **nodes;

    rcf = ngx_photo_backend_used(cycle, &ngx_http_photo_redis_module);

    if (rcf == NULL || rcf->state == NULL) {
        return;
    }

    redis = rcf->state;
    redis->exiting = 1;

    /* pending calls are told nothing: their requests are going too */
    nodes = redis->nodes.elts;

    for (i = 0; i < redis->nodes.nelts; i++) {
        ngx_photo_redis_node_close(nodes[i]);
    }
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

    return ngx_photo_redis_send(rcf->state, NULL, r->connection->log, r,
                                handler, data, n, cmds);
}


ngx_flag_t
ngx_photo_redis_is_cluster(ngx_http_request_t *r)
{
    ngx_photo_redis_conf_t  *rcf;

    rcf = ngx_http_get_module_main_conf(r, ngx_http_photo_redis_module);

    return rcf->cluster;
}


ngx_int_t
ngx_photo_redis_worker_command(ngx_photo_result_pt handler, void *data,
    int argc, const char **argv, const size_t *argvlen)
{
    ngx_photo_redis_cmd_t    cmd;
    ngx_photo_redis_conf_t  *rcf;

    rcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                              ngx_http_photo_redis_module);

    cmd.argc = argc;
    cmd.argv = argv;
    cmd.argvlen = argvlen;

    return ngx_photo_redis_send(rcf->state, NULL, rcf->state->log, NULL,
                                handler, data, 1, &cmd);
}


ngx_int_t
ngx_photo_redis_send_to(ngx_photo_redis_node_t *node,
    ngx_photo_result_pt handler, void *data, int argc, const char **argv,
    const size_t *argvlen)
{
    ngx_photo_redis_cmd_t  cmd;

    cmd.argc = argc;
    cmd.argv = argv;
    cmd.argvlen = argvlen;

    return ngx_photo_redis_send(node->redis, node, node->redis->log, NULL,
                                handler, data, 1, &cmd);
}


/*
 * to: the node, whatever the keys; NULL: as the keys say.  r: the request,
 * whose pool's end makes the replies unwanted; NULL: the worker's.  The
 * commands sent together are one call of the metrics.
 */

static ngx_int_t
ngx_photo_redis_send(ngx_photo_redis_t *redis, ngx_photo_redis_node_t *to,
    ngx_log_t *log, ngx_http_request_t *r, ngx_photo_result_pt handler,
    void *data, ngx_uint_t n, ngx_photo_redis_cmd_t *cmds)
{
    ngx_int_t                rc;
    ngx_uint_t               i;
    ngx_photo_redis_call_t  *call;

    call = ngx_alloc(sizeof(ngx_photo_redis_call_t)
                     + (n - 1) * sizeof(ngx_photo_redis_one_t), log);
    if (call == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(call, sizeof(ngx_photo_redis_call_t)
                      + (n - 1) * sizeof(ngx_photo_redis_one_t));

    call->redis = redis;
    call->handler = handler;
    call->data = data;
    call->request = r;
    call->start = ngx_photo_metrics_now();
    call->n = n;

    call->timer.handler = ngx_photo_redis_timeout;
    call->timer.data = call;
    call->timer.log = log;

    for (i = 0; i < n; i++) {
        call->one[i].call = call;
        call->one[i].index = i;
        call->one[i].slot = -1;

        /* a cluster's commands may be sent later, or again: kept */
        if (redis->cluster) {
            if (to == NULL) {
                call->one[i].slot = ngx_photo_redis_cluster_slot(&cmds[i]);
                call->one[i].read = redis->replicas
                                    && ngx_photo_redis_cluster_read(&cmds[i]);
            }

            call->one[i].len = redisFormatCommandArgv(&call->one[i].cmd,
                                                      cmds[i].argc,
                                                      cmds[i].argv,
                                                      cmds[i].argvlen);
            if (call->one[i].len < 0) {
                call->done = 1;
                ngx_photo_redis_free_call(call);
                return NGX_ERROR;
            }
        }
    }

    if (r) {
        call->cln = ngx_pool_cleanup_add(r->pool, 0);
        if (call->cln == NULL) {
            call->done = 1;
            ngx_photo_redis_free_call(call);
            return NGX_ERROR;
        }
    }

    rc = ngx_photo_redis_send_next(call, to, cmds);

    if (rc != NGX_AGAIN) {
        call->cln = NULL;
        call->done = 1;
        ngx_photo_redis_count(call, NGX_PHOTO_AWAY);
        ngx_photo_redis_free_call(call);
        return rc;
    }

    if (call->cln) {
        call->cln->handler = ngx_photo_redis_request_gone;
        call->cln->data = call;
    }

    ngx_add_timer(&call->timer, redis->timeout);

    return NGX_AGAIN;
}


/*
 * The next commands not sent yet, all those for the node of the first of
 * them (to: that node).  NGX_AGAIN, or NGX_DECLINED when none could go
 * (the node away; logged).
 */

static ngx_int_t
ngx_photo_redis_send_next(ngx_photo_redis_call_t *call,
    ngx_photo_redis_node_t *to, ngx_photo_redis_cmd_t *cmds)
{
    ngx_uint_t               first;
    ngx_photo_redis_t       *redis;
    ngx_photo_redis_node_t  *node, **nodes;

    redis = call->redis;
    first = call->sent;

    if (to) {
        node = to;

    } else if (redis->cluster) {
        node = ngx_photo_redis_cluster_route(redis, call->one[first].slot,
                                             call->one[first].read);

    } else {
        nodes = redis->nodes.elts;
        node = nodes[0];
    }

    call->node = node;

    if (node->ac == NULL) {
        ngx_log_error(NGX_LOG_ERR, call->timer.log, 0,
                      "photo: redis %V is unreachable, reconnecting",
                      &node->name);

        if (redis->cluster) {
            ngx_photo_redis_cluster_refresh(redis);
        }

        return NGX_DECLINED;
    }

    while (call->sent < call->n) {

        if (call->sent > first && redis->cluster && to == NULL
            && ngx_photo_redis_cluster_route(redis,
                                             call->one[call->sent].slot,
                                             call->one[call->sent].read)
               != node)
        {
            break;
        }

        if (ngx_photo_redis_send_one(call, node, call->sent,
                                     cmds ? &cmds[call->sent] : NULL)
            != NGX_OK)
        {
            if (call->sent == first) {
                return NGX_DECLINED;
            }

            /* those sent are answered; the handler hears of the others
               after them */
            call->unsent = 1;
            break;
        }

        call->sent++;
    }

    return NGX_AGAIN;
}


/* command i to node: as given (cmd), or as formatted before */

static ngx_int_t
ngx_photo_redis_send_one(ngx_photo_redis_call_t *call,
    ngx_photo_redis_node_t *node, ngx_uint_t i, ngx_photo_redis_cmd_t *cmd)
{
    int                     rc;
    ngx_photo_redis_one_t  *one;

    one = &call->one[i];

    if (one->cmd) {
        rc = redisAsyncFormattedCommand(node->ac, ngx_photo_redis_reply, one,
                                        one->cmd, one->len);

    } else {
        rc = redisAsyncCommandArgv(node->ac, ngx_photo_redis_reply, one,
                                   cmd->argc, cmd->argv, cmd->argvlen);
    }

    if (rc != REDIS_OK) {
        ngx_log_error(NGX_LOG_ERR, call->timer.log, 0,
                      "photo: redis %V: command not sent: %s", &node->name,
                      node->ac->errstr);
        return NGX_ERROR;
    }

    call->pending++;

    return NGX_OK;
}


static void
ngx_photo_redis_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    ngx_photo_redis_one_t  *one = privdata;

    ngx_flag_t               ask;
    ngx_photo_redis_call_t  *call;
    ngx_photo_redis_node_t  *to;

    call = one->call;
    call->pending--;

    if (call->redis->exiting) {
        call->done = 1;
    }

    if (call->done) {
        ngx_photo_redis_free_call(call);
        return;
    }

    if (reply == NULL) {
        ngx_log_error(NGX_LOG_ERR, call->timer.log, 0,
                      "photo: redis %V: no reply, connection lost",
                      &((ngx_photo_redis_node_t *) ac->data)->name);
        ngx_photo_redis_deliver(call, NULL, NGX_PHOTO_AWAY);
        ngx_photo_redis_free_call(call);
        return;
    }

    /* a cluster's redirection: the command again, to the node it names */
    to = call->redis->cluster
         ? ngx_photo_redis_cluster_redirect(call->redis, reply, &ask) : NULL;

    if (to) {
        if (++call->redirects > NGX_PHOTO_REDIS_REDIRECTS || to->ac == NULL
            || (ask && redisAsyncCommand(to->ac, NULL, NULL, "ASKING")
                       != REDIS_OK)
            || ngx_photo_redis_send_one(call, to, one->index, NULL)
               != NGX_OK)
        {
            ngx_log_error(NGX_LOG_ERR, call->timer.log, 0,
                          "photo: redis: \"%*s\" not followed",
                          ((redisReply *) reply)->len,
                          ((redisReply *) reply)->str);
            ngx_photo_redis_deliver(call, NULL, NGX_PHOTO_AWAY);
        }

        call->node = to;
        ngx_photo_redis_free_call(call);
        return;
    }

    if (one->index != call->next) {
        /*
         * an earlier command of the call was redirected and its reply is
         * yet to come (while a slot migrates, its keys answer from two
         * nodes): this one waits for it, copied, as hiredis frees replies
         */
        one->held = ngx_photo_redis_copy(reply, call->timer.log);

        if (one->held == NULL) {
            ngx_photo_redis_deliver(call, NULL, NGX_PHOTO_AWAY);
        }

        ngx_photo_redis_free_call(call);
        return;
    }

    ngx_photo_redis_deliver(call, reply, NGX_PHOTO_DONE);

    /* the replies that came before it, in order */
    while (!call->done && call->next < call->n
           && call->one[call->next].held)
    {
        reply = call->one[call->next].held;
        call->one[call->next].held = NULL;
        ngx_photo_redis_deliver(call, reply, NGX_PHOTO_DONE);
        ngx_photo_redis_free_copy(reply);
    }

    /* the commands for the next node, once these are all answered */
    if (!call->done && call->next == call->sent && call->sent < call->n) {
        if (call->unsent
            || ngx_photo_redis_send_next(call, NULL, NULL) != NGX_AGAIN)
        {
            ngx_photo_redis_deliver(call, NULL, NGX_PHOTO_AWAY);
        }
    }

    ngx_photo_redis_free_call(call);
}


/*
 * The next reply to the handler, or a failure (reply NULL) for all those
 * not given yet; the last one ends the call's timer and its tie to the
 * request first, as the handler may end the request.
 */
static void
ngx_photo_redis_deliver(ngx_photo_redis_call_t *call, redisReply *reply,
    ngx_photo_status_e status)
{
    ngx_uint_t          i, last;
    ngx_connection_t   *c;
    ngx_photo_result_t  res;

    i = call->next++;
    last = status != NGX_PHOTO_DONE || i == call->n - 1;

    if (last) {
        call->done = 1;

        if (call->timer.timer_set) {
            ngx_del_timer(&call->timer);
        }

        if (call->cln) {
            call->cln->handler = NULL;
            call->cln = NULL;
        }

        /* while its request is sure to be there: the handler may end it */
        ngx_photo_redis_count(call, status);
    }

    if (call->handler == NULL) {
        return;
    }

    res.status = status;
    res.backend = "redis";
    res.index = i;
    res.reply.redis = reply;

    c = call->request ? call->request->connection : NULL;

    call->handler(call->data, &res);

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


/* once done and no reply is still to come */

static void
ngx_photo_redis_free_call(ngx_photo_redis_call_t *call)
{
    ngx_uint_t  i;

    if (!call->done || call->pending) {
        return;
    }

    /* a request that went first: counted with Redis's answer */
    ngx_photo_redis_count(call, NGX_PHOTO_DONE);

    for (i = 0; i < call->n; i++) {
        if (call->one[i].cmd) {
            redisFreeCommand(call->one[i].cmd);
        }

        if (call->one[i].held) {
            ngx_photo_redis_free_copy(call->one[i].held);
        }
    }

    ngx_free(call);
}


/* a reply's copy on the heap, each element its own allocation */

static redisReply *
ngx_photo_redis_copy(redisReply *r, ngx_log_t *log)
{
    size_t       i, size;
    redisReply  *c;

    size = sizeof(redisReply) + r->elements * sizeof(redisReply *)
           + (r->str ? r->len + 1 : 0);

    c = ngx_alloc(size, log);
    if (c == NULL) {
        return NULL;
    }

    ngx_memcpy(c, r, sizeof(redisReply));
    c->element = NULL;
    c->elements = 0;

    if (r->str) {
        c->str = (char *) (c + 1) + r->elements * sizeof(redisReply *);
        ngx_memcpy(c->str, r->str, r->len + 1);
    }

    if (r->elements) {
        c->element = (redisReply **) (c + 1);

        for (i = 0; i < r->elements; i++) {
            c->element[i] = ngx_photo_redis_copy(r->element[i], log);

            if (c->element[i] == NULL) {
                ngx_photo_redis_free_copy(c);
                return NULL;
            }

            c->elements++;
        }
    }

    return c;
}


static void
ngx_photo_redis_free_copy(redisReply *r)
{
    size_t  i;

    for (i = 0; i < r->elements; i++) {
        ngx_photo_redis_free_copy(r->element[i]);
    }

    ngx_free(r);
}


/*
 * A reply late beyond the timeout means a Redis that is stuck or gone: the
 * connection is dropped (every command pending on it fails) and made anew.
 */

static void
ngx_photo_redis_timeout(ngx_event_t *ev)
{
    ngx_photo_redis_call_t  *call = ev->data;

    ngx_photo_redis_node_t  *node;

    node = call->node;

    ngx_log_error(NGX_LOG_ERR, ev->log, NGX_ETIMEDOUT,
                  "photo: redis %V timed out", &node->name);

    ngx_photo_redis_deliver(call, NULL, NGX_PHOTO_TIMEDOUT);

    /* frees call too, through ngx_photo_redis_reply() */
    ngx_photo_redis_node_drop(node);
}


/* The call's end for the metrics, once: its replies, or its failure. */

static void
ngx_photo_redis_count(ngx_photo_redis_call_t *call, ngx_photo_status_e status)
{
    if (call->counted || call->redis->exiting) {
        return;
    }

    call->counted = 1;

    ngx_photo_metrics_backend(call->request, call->redis->bcf,
                              call->node ? call->node->server : 0, status,
                              call->start);
}


static void
ngx_photo_redis_request_gone(void *data)
{
    ngx_photo_redis_call_t  *call = data;

    /* the last reply, when it comes, counts and frees the call */
    call->handler = NULL;
    call->request = NULL;
    call->done = 1;
    call->cln = NULL;

    if (call->timer.timer_set) {
        ngx_del_timer(&call->timer);
    }
}
