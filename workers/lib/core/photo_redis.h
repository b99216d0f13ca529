/*
 * Redis for workers (hiredis, blocking: a worker does one job at a time).
 *
 * A thread's Redis is a photo_redis_t: the one server of PHOTO_REDIS_HOST
 * and PHOTO_REDIS_PORT, or, when PHOTO_REDIS_CLUSTER_SERVERS lists seed nodes, the
 * masters of a Redis Cluster (photo_redis_cluster.h).  Either way a
 * command goes to the connection photo_redis_key() gives for its key: the
 * keys one command, script or pipeline touches together share a hash tag
 * (photo_keys.h), so one connection serves them all.
 */

#ifndef PHOTO_REDIS_H
#define PHOTO_REDIS_H

#include <hiredis/hiredis.h>

#include "photo_config.h"
#include "photo_redis_cluster.h"

typedef struct {
    photo_config_t         *cf;
    redisContext           *one;        /* without a cluster: the server */
    photo_redis_cluster_t  *cluster;    /* with one: made on first use */
} photo_redis_t;

void photo_redis_init(photo_redis_t *rd, photo_config_t *cf);
void photo_redis_free(photo_redis_t *rd);

/*
 * The connection serving key (made now if need be), or NULL: Redis, or
 * the key's node, cannot be reached (logged).  A connection given stays
 * valid until a later call learns the cluster's slot map again, which only
 * a failure makes due (told by photo_redis_failed(), or met here): so a
 * caller that stops at its first failure may pipeline commands to the
 * connections of several keys at once.
 */
redisContext *photo_redis_key(photo_redis_t *rd, const char *key,
    size_t len);

/*
 * A command's reply r was not the one expected (r NULL: none came).  1
 * when the cause is where the command went: no reply (the connection
 * failed) or a MOVED or ASK redirection (the key's slot is served
 * elsewhere now); then the slot map is learned again before the next key,
 * and the job is to be retried.  0 for another reply (an error about the
 * command or its data, or Redis's state: OOM, LOADING...).
 */
int photo_redis_failed(photo_redis_t *rd, const redisReply *r);

/* the masters (1 without a cluster; 0 when none is known), and the i-th's
   connection or NULL: for a command about no key, each node answering for
   its own (KEYS) */
int photo_redis_nodes(photo_redis_t *rd);
redisContext *photo_redis_node(photo_redis_t *rd, int i);

/* one server, with the timeouts every worker connection has */
redisContext *photo_redis_connect(photo_config_t *cf);
redisContext *photo_redis_connect_to(const char *host, int port);
redisContext *photo_redis_ensure(photo_config_t *cf, redisContext **rc);


/*
 * Commands to many keys, pipelined per node: each appended (by the
 * caller) to the connection photo_redis_pipe_key() gave for its key, then
 * every node's commands sent, then the replies read node after node, in
 * each node's order: the nodes work at once, a round trip in all.  Without
 * a cluster, one connection and a plain pipeline.
 */
typedef struct {
    redisContext           *c;
    size_t                  replies;     /* yet to read */
} photo_redis_pipe_node_t;

typedef struct {
    photo_redis_t          *rd;
    size_t                  replies;     /* yet to read, of all nodes */
    int                     failed;      /* a connection failed, or
                                            could not be had (logged):
                                            set until photo_redis_pipe_init */
    int                     away;        /* one could not be had at all */
    int                     sent;        /* the reading has begun */
    size_t                  n;           /* nodes in node[] */
    size_t                  next;        /* the node read now: the one
                                            photo_redis_pipe_reply()'s
                                            last reply came from */
    photo_redis_pipe_node_t node[PHOTO_REDIS_CLUSTER_NODES];
} photo_redis_pipe_t;

void photo_redis_pipe_init(photo_redis_pipe_t *p, photo_redis_t *rd);

/*
 * The connection to append key's next n commands to, counted as n replies
 * to read; NULL when it cannot be had (p->failed and p->away set): stop
 * appending, and read what was appended.
 */
redisContext *photo_redis_pipe_key(photo_redis_pipe_t *p, const char *key,
    size_t len, size_t n);

/*
 * The next reply: 1 and *r (the caller frees it); 0 when all were read,
 * the pipe then empty for more.  A connection that fails on the way
 * (logged; photo_redis_failed()) has its other replies skipped, and
 * p->failed is set.
 */
int photo_redis_pipe_reply(photo_redis_pipe_t *p, redisReply **r);

#endif /* PHOTO_REDIS_H */
