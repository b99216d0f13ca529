/* Redis for workers (see photo_redis.h). */

#include "photo_redis.h"
#include "photo_log.h"

#include <string.h>


#define PHOTO_REDIS_TIMEOUT_S  5


static int photo_redis_moved(const redisReply *r);
static int photo_redis_pipe_lost(photo_redis_pipe_t *p);
static void photo_redis_pipe_send(photo_redis_pipe_t *p);


void
photo_redis_init(photo_redis_t *rd, photo_config_t *cf)
{
    memset(rd, 0, sizeof(*rd));
    rd->cf = cf;
}


void
photo_redis_free(photo_redis_t *rd)
{
    redisFree(rd->one);
    photo_redis_cluster_free(rd->cluster);
    memset(rd, 0, sizeof(*rd));
}


redisContext *
photo_redis_key(photo_redis_t *rd, const char *key, size_t len)
{
    if (rd->cf->redis_cluster[0] == '\0') {
        return photo_redis_ensure(rd->cf, &rd->one);
    }

    if (rd->cluster == NULL) {
        rd->cluster = photo_redis_cluster_create(rd->cf);
        if (rd->cluster == NULL) {
            return NULL;
        }
    }

    return photo_redis_cluster_key(rd->cluster, key, len);
}


int
photo_redis_failed(photo_redis_t *rd, const redisReply *r)
{
    if (r != NULL && !photo_redis_moved(r)) {
        return 0;
    }

    /* without a cluster, photo_redis_ensure() reconnects by itself */
    if (rd->cluster != NULL) {
        photo_redis_cluster_stale(rd->cluster);
    }

    return 1;
}


/* "MOVED <slot> <host>:<port>", "ASK <slot> <host>:<port>" */
static int
photo_redis_moved(const redisReply *r)
{
    return r->type == REDIS_REPLY_ERROR
           && (strncmp(r->str, "MOVED ", 6) == 0
               || strncmp(r->str, "ASK ", 4) == 0);
}


int
photo_redis_nodes(photo_redis_t *rd)
{
    if (rd->cf->redis_cluster[0] == '\0') {
        return 1;
    }

    if (rd->cluster == NULL) {
        rd->cluster = photo_redis_cluster_create(rd->cf);
        if (rd->cluster == NULL) {
            return 0;
        }
    }

    return photo_redis_cluster_nodes(rd->cluster);
}


redisContext *
photo_redis_node(photo_redis_t *rd, int i)
{
    if (rd->cf->redis_cluster[0] == '\0') {
        return i == 0 ? photo_redis_ensure(rd->cf, &rd->one) : NULL;
    }

    return rd->cluster ? photo_redis_cluster_node(rd->cluster, i) : NULL;
}


redisContext *
photo_redis_connect(photo_config_t *cf)
{
    return photo_redis_connect_to(photo_config_host(cf, redis_host),
                                  cf->redis_port);
}


redisContext *
photo_redis_connect_to(const char *host, int port)
{
    redisContext    *c;
    struct timeval   tv = { PHOTO_REDIS_TIMEOUT_S, 0 };

    c = redisConnectWithTimeout(host, port, tv);

    if (c == NULL || c->err) {
        photo_log_error("redis %s:%d: %s", host, port,
                        c ? c->errstr : "out of memory");
        redisFree(c);
        return NULL;
    }

    /* a reply that never comes is an error, not a hang */
    if (redisSetTimeout(c, tv) != REDIS_OK) {
        photo_log_error("redis: cannot set timeout: %s", c->errstr);
        redisFree(c);
        return NULL;
    }

    return c;
}


redisContext *
photo_redis_ensure(photo_config_t *cf, redisContext **rc)
{
    if (*rc != NULL && (*rc)->err == 0) {
        return *rc;
    }

    if (*rc != NULL) {
        photo_log_warn("redis: connection lost (%s), reconnecting",
                       (*rc)->errstr);
        redisFree(*rc);
    }

    *rc = photo_redis_connect(cf);

    return *rc;
}


void
photo_redis_pipe_init(photo_redis_pipe_t *p, photo_redis_t *rd)
{
    p->rd = rd;
    p->replies = 0;
    p->failed = 0;
    p->away = 0;
    p->sent = 0;
    p->n = 0;
    p->next = 0;
}


redisContext *
photo_redis_pipe_key(photo_redis_pipe_t *p, const char *key, size_t len,
    size_t n)
{
    size_t         i;
    redisContext  *c;

    /* a lookup may replace a connection that failed: not one of ours */
    if (photo_redis_pipe_lost(p)) {
        p->failed = 1;
        return NULL;
    }

    c = photo_redis_key(p->rd, key, len);
    if (c == NULL) {
        p->failed = 1;
        p->away = 1;
        return NULL;
    }

    for (i = 0; i < p->n && p->node[i].c != c; i++) { /* void */ }

    if (i == p->n) {
        if (p->n == PHOTO_REDIS_CLUSTER_NODES) {
            photo_log_error("redis: a pipeline to more than %d nodes",
                            PHOTO_REDIS_CLUSTER_NODES);
            p->failed = 1;
            return NULL;
        }

        p->node[i].c = c;
        p->node[i].replies = 0;
        p->n++;
    }

    p->node[i].replies += n;
    p->replies += n;

    return c;
}


/* a connection holding our commands failed (an append out of memory) */
static int
photo_redis_pipe_lost(photo_redis_pipe_t *p)
{
    size_t  i;

    for (i = 0; i < p->n; i++) {
        if (p->node[i].c->err) {
            return 1;
        }
    }

    return 0;
}


int
photo_redis_pipe_reply(photo_redis_pipe_t *p, redisReply **r)
{
    void                     *reply;
    photo_redis_pipe_node_t  *node;

    if (!p->sent) {
        photo_redis_pipe_send(p);
    }

    for ( ;; ) {
        if (p->next == p->n) {
            p->n = 0;
            p->next = 0;
            p->replies = 0;
            p->sent = 0;
            return 0;
        }

        node = &p->node[p->next];

        if (node->replies == 0) {
            p->next++;
            continue;
        }

        if (redisGetReply(node->c, &reply) == REDIS_OK) {
            node->replies--;
            p->replies--;
            *r = reply;
            return 1;
        }

        photo_log_error("redis: %s", node->c->errstr);
        (void) photo_redis_failed(p->rd, NULL);
        p->failed = 1;
        p->replies -= node->replies;
        node->replies = 0;
    }
}


/*
 * Every node's commands out before any reply is read, so that the nodes
 * work at once (redisGetReply() would send one node's only when its
 * replies are asked for).  A write that fails shows in the read.
 */
static void
photo_redis_pipe_send(photo_redis_pipe_t *p)
{
    int     done;
    size_t  i;

    p->sent = 1;

    if (p->n < 2) {
        return;                         /* redisGetReply() sends it */
    }

    for (i = 0; i < p->n; i++) {
        do {
            if (redisBufferWrite(p->node[i].c, &done) != REDIS_OK) {
                break;
            }
        } while (!done);
    }
}
