
/*
 * One connection to one Redis (ngx_photo_redis_int.h): hiredis's async
 * context on nginx's events (ngx_photo_redis_adapter.h), reconnected with
 * backoff while the Redis is away, and the memory its replies are read
 * into.
 */

#include "ngx_photo_redis_int.h"
#include "ngx_photo_redis_adapter.h"
#include "ngx_photo_metrics.h"


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


static void ngx_photo_redis_node_closed(void *privdata);
static void ngx_photo_redis_node_schedule(ngx_photo_redis_node_t *node);
static void ngx_photo_redis_node_reconnect(ngx_event_t *ev);
static void ngx_photo_redis_node_on_connect(const redisAsyncContext *ac,
    int status);
static void ngx_photo_redis_node_on_disconnect(const redisAsyncContext *ac,
    int status);
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


static redisReplyObjectFunctions  ngx_photo_redis_reply_functions = {
    ngx_photo_redis_string,
    ngx_photo_redis_array,
    ngx_photo_redis_integer,
    ngx_photo_redis_nil,
    ngx_photo_redis_free_reply
};


/*
 * The node of an address ("ip", port), made and connected the first time
 * it is named.  Nodes live as long as the worker (from the cycle's pool):
 * there are as many as addresses a cluster ever had.  replica: it is to
 * answer reads (READONLY).
 */

ngx_photo_redis_node_t *
ngx_photo_redis_node_get(ngx_photo_redis_t *redis, u_char *host, size_t len,
    int port, ngx_flag_t replica)
{
    u_char                   *p;
    ngx_uint_t                i;
    ngx_photo_server_t       *server;
    ngx_photo_redis_node_t  **nodes, *node;
#if (NGX_HAVE_INET6)
    struct in6_addr           in6;
#endif

    nodes = redis->nodes.elts;

    for (i = 0; i < redis->nodes.nelts; i++) {
        node = nodes[i];

        if (node->port == port && ngx_strlen(node->host) == len
            && ngx_strncmp(node->host, host, len) == 0)
        {
            if (replica && !node->replica) {
                /* a master that came back as a replica: READONLY now */
                node->replica = 1;

                if (node->ac) {
                    (void) redisAsyncCommand(node->ac, NULL, NULL,
                                             "READONLY");
                }
            }

            if (node->retired) {
                node->retired = 0;
                ngx_photo_redis_node_connect(node);
            }

            return node;
        }
    }

    /*
     * an address only: hiredis would resolve a name with a blocking
     * getaddrinfo() in the worker (a cluster announces names with
     * cluster-preferred-endpoint-type hostname; leave it at ip)
     */
    if (ngx_inet_addr(host, len) == INADDR_NONE
#if (NGX_HAVE_INET6)
        && ngx_inet6_addr(host, len, (u_char *) &in6) != NGX_OK
#endif
       )
    {
        ngx_log_error(NGX_LOG_ERR, redis->log, 0,
                      "photo: redis: \"%*s:%d\" is not an address; "
                      "a name is not resolved in the event loop", len, host,
                      port);
        return NULL;
    }

    if (len > NGX_SOCKADDR_STRLEN
        || redis->nodes.nelts >= NGX_PHOTO_REDIS_NO_NODE)
    {
        return NULL;
    }

    node = ngx_pcalloc(redis->pool, sizeof(ngx_photo_redis_node_t));
    p = ngx_pnalloc(redis->pool, len + 1 + NGX_INT_T_LEN);
    nodes = ngx_array_push(&redis->nodes);
    if (node == NULL || p == NULL || nodes == NULL) {
        return NULL;
    }

    *nodes = node;

    node->redis = redis;
    node->replica = replica;
    node->index = redis->nodes.nelts - 1;
    node->port = port;
    ngx_memcpy(node->host, host, len);
    node->host[len] = '\0';

    node->name.data = p;
    node->name.len = ngx_sprintf(p, "%*s:%d", len, host, port) - p;

    /* the metrics count it under its own address when it was configured */
    server = redis->bcf->servers->elts;

    for (i = 0; i < redis->bcf->servers->nelts; i++) {
        if (server[i].name.len == node->name.len
            && ngx_strncmp(server[i].name.data, node->name.data,
                           node->name.len) == 0)
        {
            node->server = i;
            break;
        }
    }

    node->backoff = NGX_PHOTO_REDIS_BACKOFF_MIN;
    node->arena.log = redis->log;

    node->reconnect.handler = ngx_photo_redis_node_reconnect;
    node->reconnect.data = node;
    node->reconnect.log = redis->log;
    node->reconnect.cancelable = 1;

    ngx_photo_redis_node_connect(node);

    return node;
}


void
ngx_photo_redis_node_connect(ngx_photo_redis_node_t *node)
{
    redisAsyncContext  *ac;
    ngx_photo_redis_t  *redis;

    redis = node->redis;

    if (node->ac || node->retired || redis->exiting) {
        return;
    }

    /* an address, never a name: hiredis would resolve it, blocking */
    ac = redisAsyncConnect((char *) node->host, node->port);

    if (ac == NULL || ac->err) {
        ngx_log_error(NGX_LOG_ERR, redis->log, 0,
                      "photo: redis %V: connect failed: %s", &node->name,
                      ac ? ac->errstr : "no memory");
        if (ac) {
            redisAsyncFree(ac);
        }

        ngx_photo_redis_node_schedule(node);
        return;
    }

    if (ngx_photo_redis_attach(ac, redis->log) != NGX_OK) {
        redisAsyncFree(ac);
        ngx_photo_redis_node_schedule(node);
        return;
    }

    /*
     * hiredis runs the cleanup once whenever it frees the context, and the
     * disconnect callback only for one that had connected: the cleanup is
     * where the metrics see the socket closed
     */
    ac->ev.cleanup = ngx_photo_redis_node_closed;
    ngx_photo_metrics_conn(redis->bcf, node->server, NGX_PHOTO_CONN_OPENED);

    /* replies from the arena (no free needed: hiredis calls back) */
    ac->c.reader->fn = &ngx_photo_redis_reply_functions;
    ac->c.reader->privdata = &node->arena;

    ac->data = node;
    redisAsyncSetConnectCallback(ac, ngx_photo_redis_node_on_connect);
    redisAsyncSetDisconnectCallback(ac, ngx_photo_redis_node_on_disconnect);

    /* a replica answers reads of its master's slots only after READONLY
       (a master ignores it: one promoted keeps working) */
    if (node->replica
        && redisAsyncCommand(ac, NULL, NULL, "READONLY") != REDIS_OK)
    {
        redisAsyncFree(ac);
        ngx_photo_redis_node_schedule(node);
        return;
    }

    /* commands may be queued now: hiredis writes them once connected */
    node->ac = ac;
}


/* after a timeout: every command pending on it fails, and it is made anew */

void
ngx_photo_redis_node_drop(ngx_photo_redis_node_t *node)
{
    if (node->ac) {
        redisAsyncFree(node->ac);
        ngx_photo_redis_node_schedule(node);
    }
}


/* the worker exits, or the node is in no map any more: not reconnected */

void
ngx_photo_redis_node_close(ngx_photo_redis_node_t *node)
{
    node->retired = 1;

    if (node->reconnect.timer_set) {
        ngx_del_timer(&node->reconnect);
    }

    if (node->ac) {
        redisAsyncFree(node->ac);
        node->ac = NULL;
    }

    if (node->redis->exiting && node->arena.start) {
        ngx_free(node->arena.start);
        node->arena.start = NULL;
    }
}


static void
ngx_photo_redis_node_closed(void *privdata)
{
    ngx_connection_t  *c = privdata;

    redisAsyncContext       *ac;
    ngx_photo_redis_node_t  *node;

    ac = c->data;
    node = ac->data;

    ngx_photo_metrics_conn(node->redis->bcf, node->server,
                           NGX_PHOTO_CONN_CLOSED);

    ngx_photo_redis_cleanup(privdata);
}


static void
ngx_photo_redis_node_schedule(ngx_photo_redis_node_t *node)
{
    ngx_photo_redis_t  *redis;

    redis = node->redis;
    node->ac = NULL;

    if (redis->exiting || node->retired || node->reconnect.timer_set) {
        return;
    }

    ngx_add_timer(&node->reconnect, node->backoff);

    node->backoff = ngx_min(node->backoff * 2, NGX_PHOTO_REDIS_BACKOFF_MAX);

    /* a node away may be a master that failed over: the map may say */
    if (redis->cluster) {
        ngx_photo_redis_cluster_refresh(redis);
    }
}


static void
ngx_photo_redis_node_reconnect(ngx_event_t *ev)
{
    ngx_photo_redis_node_connect(ev->data);
}


static void
ngx_photo_redis_node_on_connect(const redisAsyncContext *ac, int status)
{
    ngx_photo_redis_node_t  *node = ac->data;

    if (status != REDIS_OK) {
        /* hiredis frees the context after this callback */
        ngx_log_error(NGX_LOG_ERR, node->redis->log, 0,
                      "photo: redis %V: connect failed: %s", &node->name,
                      ac->errstr);
        ngx_photo_redis_node_schedule(node);
        return;
    }

    ngx_log_error(NGX_LOG_INFO, node->redis->log, 0,
                  "photo: redis %V: connected", &node->name);

    if (node->connected) {
        ngx_photo_metrics_conn(node->redis->bcf, node->server,
                               NGX_PHOTO_CONN_RECONNECT);
    }

    node->connected = 1;
    node->backoff = NGX_PHOTO_REDIS_BACKOFF_MIN;
}


static void
ngx_photo_redis_node_on_disconnect(const redisAsyncContext *ac, int status)
{
    ngx_photo_redis_node_t  *node = ac->data;

    if (node->redis->exiting || node->retired) {
        return;
    }

    if (status != REDIS_OK) {
        ngx_log_error(NGX_LOG_ERR, node->redis->log, 0,
                      "photo: redis %V: connection lost: %s", &node->name,
                      ac->errstr);
    }

    ngx_photo_redis_node_schedule(node);
}


/*
 * Reply objects.  hiredis's own reader mallocs every element of a reply
 * (and its string), and frees them all once the reply's callback
 * returned: a page of ids was a hundred mallocs and frees, the most of a
 * worker's profile after the syscalls.  At most one reply of a connection
 * is alive at a time (hiredis parses the next only after the callback of
 * the last), so its objects come from one block, handed out in order and
 * taken back at once when hiredis frees the reply; the rare reply that
 * does not fit gets blocks of its own, freed with it.
 */

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
