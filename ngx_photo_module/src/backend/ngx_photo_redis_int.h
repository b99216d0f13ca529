
/*
 * The Redis client's insides, shared by its three files:
 *
 *   ngx_photo_redis.c          the directives, and commands: sent, their
 *                              replies delivered in order, timed out
 *   ngx_photo_redis_node.c     one connection to one Redis, reconnected
 *                              with backoff; its replies' memory
 *   ngx_photo_redis_cluster.c  Redis Cluster: the slot map, which node a
 *                              command goes to, MOVED and ASK
 *
 * A worker process has one client (ngx_photo_redis_t): with photo_redis,
 * one node; with photo_redis_cluster, a node per master the slot map names
 * (and the seeds), each one pipelined connection.
 */

#ifndef _NGX_PHOTO_REDIS_INT_H_INCLUDED_
#define _NGX_PHOTO_REDIS_INT_H_INCLUDED_


#include "ngx_photo_redis.h"

#include <hiredis/async.h>


#define NGX_PHOTO_REDIS_NO_NODE   0xffff


typedef struct ngx_photo_redis_s       ngx_photo_redis_t;
typedef struct ngx_photo_redis_node_s  ngx_photo_redis_node_t;
typedef struct ngx_photo_redis_big_s   ngx_photo_redis_big_t;


typedef struct {
    ngx_photo_backend_conf_t        backend;    /* first */
    ngx_flag_t                      cluster;    /* photo_redis_cluster */
    ngx_flag_t                      replicas;   /* photo_redis_read_replicas */
    ngx_photo_redis_t              *state;      /* per worker process */
} ngx_photo_redis_conf_t;


/* a node's reply objects (ngx_photo_redis_node.c) */
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


struct ngx_photo_redis_node_s {
    ngx_photo_redis_t              *redis;
    redisAsyncContext              *ac;         /* NULL: away */
    ngx_event_t                     reconnect;
    ngx_msec_t                      backoff;
    ngx_uint_t                      index;      /* in redis->nodes */
    ngx_uint_t                      server;     /* its block in the metrics:
                                                   the configured server of
                                                   its address, or the first */
    ngx_uint_t                      map;        /* the last map naming it */
    ngx_str_t                       name;       /* "ip:port" */
    int                             port;
    u_char                          host[NGX_SOCKADDR_STRLEN + 1];
    unsigned                        connected:1;    /* once: the next is a
                                                       reconnect */
    unsigned                        retired:1;  /* in no map: not kept
                                                   connected */
    unsigned                        replica:1;  /* READONLY on connect */
    ngx_photo_redis_arena_t         arena;
};


struct ngx_photo_redis_s {
    ngx_log_t                      *log;
    ngx_pool_t                     *pool;       /* the cycle's: nodes */
    ngx_photo_backend_conf_t       *bcf;
    ngx_msec_t                      timeout;
    ngx_array_t                     nodes;      /* of ngx_photo_redis_node_t *,
                                                   never shrinks */
    unsigned                        exiting:1;
    unsigned                        cluster:1;
    unsigned                        replicas:1; /* reads from replicas */

    /* Redis Cluster (ngx_photo_redis_cluster.c) */
    uint16_t                       *slots;      /* a node index per slot */
    uint16_t                       *replica;    /* and of its replica, with
                                                   photo_redis_read_replicas */
    ngx_msec_t                      refreshed;  /* when the map was last
                                                   asked for */
    ngx_uint_t                      map;        /* maps learned */
    ngx_uint_t                      ask;        /* the node asked next */
    unsigned                        refreshing:1;
};


/* ngx_photo_redis_node.c */
ngx_photo_redis_node_t *ngx_photo_redis_node_get(ngx_photo_redis_t *redis,
    u_char *host, size_t len, int port, ngx_flag_t replica);
void ngx_photo_redis_node_connect(ngx_photo_redis_node_t *node);
void ngx_photo_redis_node_drop(ngx_photo_redis_node_t *node);
void ngx_photo_redis_node_close(ngx_photo_redis_node_t *node);

/* ngx_photo_redis_cluster.c */
ngx_int_t ngx_photo_redis_cluster_init(ngx_photo_redis_t *redis);
ngx_photo_redis_node_t *ngx_photo_redis_cluster_route(
    ngx_photo_redis_t *redis, int slot, ngx_flag_t read);
ngx_flag_t ngx_photo_redis_cluster_read(ngx_photo_redis_cmd_t *cmd);
int ngx_photo_redis_cluster_slot(ngx_photo_redis_cmd_t *cmd);
ngx_photo_redis_node_t *ngx_photo_redis_cluster_redirect(
    ngx_photo_redis_t *redis, redisReply *reply, ngx_flag_t *ask);
void ngx_photo_redis_cluster_refresh(ngx_photo_redis_t *redis);

/* ngx_photo_redis.c: commands to one node, whatever their keys */
ngx_int_t ngx_photo_redis_send_to(ngx_photo_redis_node_t *node,
    ngx_photo_result_pt handler, void *data, int argc, const char **argv,
    const size_t *argvlen);


#endif /* _NGX_PHOTO_REDIS_INT_H_INCLUDED_ */
