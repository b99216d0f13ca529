/*
 * Redis Cluster for the workers: the slot map and a connection to each
 * master, one set per photo_redis_t (photo_redis.h), so per thread.
 *
 * The map is learned with CLUSTER SLOTS from a master a connection is
 * held to, else from the first seed of PHOTO_REDIS_CLUSTER_SERVERS that
 * answers
 * (each connected in turn).  A master is connected when a key first needs
 * it, with photo_redis_connect()'s timeouts.  Replicas are never asked:
 * the workers write, and read what they just wrote.
 *
 * The map is learned again, once, before the next key after a failure: a
 * MOVED or ASK redirection, a connection lost or refused, a slot no master
 * serves.  The command that failed is neither sent again nor redirected
 * here: its job fails (PHOTO_JOB_RETRY) and is applied again after the
 * worker's backoff, every job being idempotent, and by then the map is the
 * new one.  So a failover holds the jobs on the failed master's keys until
 * a replica took its slots (cluster-node-timeout and an election), and a
 * slot being migrated holds those on its keys until the migration ends
 * (ASK names where the keys already moved are; we wait for the MOVED).
 * Following ASK (ASKING, then the command, on the other node) is not done:
 * the workers never reshard, a resharding is rare and a retried job is
 * always safe, so it would be code for no gain.
 */

#ifndef PHOTO_REDIS_CLUSTER_H
#define PHOTO_REDIS_CLUSTER_H

#include <hiredis/hiredis.h>

#include "photo_config.h"

#define PHOTO_REDIS_CLUSTER_NODES  64     /* masters at most */
#define PHOTO_REDIS_CLUSTER_PORT   6379   /* a seed's, when it names none */

typedef struct photo_redis_cluster_s  photo_redis_cluster_t;

/* NULL when out of memory (logged); nothing is connected yet */
photo_redis_cluster_t *photo_redis_cluster_create(photo_config_t *cf);
void photo_redis_cluster_free(photo_redis_cluster_t *rc);

/* the connection to the master serving key's slot, or NULL (logged) */
redisContext *photo_redis_cluster_key(photo_redis_cluster_t *rc,
    const char *key, size_t len);

/* a failure was met: the map is learned again before the next key */
void photo_redis_cluster_stale(photo_redis_cluster_t *rc);

/* the masters (0 when the map cannot be learned), and the i-th's
   connection or NULL: for a command each node answers for its own keys */
int photo_redis_cluster_nodes(photo_redis_cluster_t *rc);
redisContext *photo_redis_cluster_node(photo_redis_cluster_t *rc, int i);

#endif /* PHOTO_REDIS_CLUSTER_H */
