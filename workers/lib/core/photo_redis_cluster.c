/* Redis Cluster for the workers (see photo_redis_cluster.h). */

#include "photo_redis_cluster.h"
#include "photo_log.h"
#include "photo_redis.h"
#include "photo_route.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


typedef struct {
    char                 host[PHOTO_CONFIG_STR];
    int                  port;
    redisContext        *c;                  /* NULL until a key needs it */
} photo_redis_node_t;

/* the masters, and which one serves each slot: its index, or -1 */
typedef struct {
    int                  nnodes;
    photo_redis_node_t   nodes[PHOTO_REDIS_CLUSTER_NODES];
    int16_t              slots[PHOTO_REDIS_SLOTS];
} photo_redis_map_t;

struct photo_redis_cluster_s {
    photo_config_t      *cf;
    photo_redis_map_t   *map;                /* NULL until learned */
    int                  stale;              /* learn it before next key */
};


static int photo_redis_cluster_learn(photo_redis_cluster_t *rc);
static int photo_redis_cluster_ask(redisContext *c, const char *host,
    int port, photo_redis_map_t *map);
static int photo_redis_cluster_range(const redisReply *e, const char *host,
    photo_redis_map_t *map);
static void photo_redis_cluster_adopt(photo_redis_cluster_t *rc,
    photo_redis_map_t *map);
static int photo_redis_cluster_find(photo_redis_map_t *map,
    const char *host, size_t len, int port, int add);
static redisContext *photo_redis_cluster_connected(photo_redis_cluster_t *rc,
    photo_redis_node_t *node);


photo_redis_cluster_t *
photo_redis_cluster_create(photo_config_t *cf)
{
    photo_redis_cluster_t  *rc;

    rc = calloc(1, sizeof(*rc));
    if (rc == NULL) {
        photo_log_error("redis cluster: out of memory");
        return NULL;
    }

    rc->cf = cf;
    rc->stale = 1;

    return rc;
}


void
photo_redis_cluster_free(photo_redis_cluster_t *rc)
{
    int  i;

    if (rc == NULL) {
        return;
    }

    for (i = 0; rc->map && i < rc->map->nnodes; i++) {
        redisFree(rc->map->nodes[i].c);
    }

    free(rc->map);
    free(rc);
}


redisContext *
photo_redis_cluster_key(photo_redis_cluster_t *rc, const char *key,
    size_t len)
{
    int       i;
    unsigned  slot;

    if (rc->stale && photo_redis_cluster_learn(rc) != 0) {
        return NULL;
    }

    slot = photo_route_redis_slot(key, len);
    i = rc->map->slots[slot];

    if (i < 0) {
        photo_log_error("redis cluster: no master serves slot %u (key %.*s)",
                        slot, (int) len, key);
        rc->stale = 1;
        return NULL;
    }

    return photo_redis_cluster_connected(rc, &rc->map->nodes[i]);
}


void
photo_redis_cluster_stale(photo_redis_cluster_t *rc)
{
    rc->stale = 1;
}


int
photo_redis_cluster_nodes(photo_redis_cluster_t *rc)
{
    if (rc->stale && photo_redis_cluster_learn(rc) != 0) {
        return 0;
    }

    return rc->map->nnodes;
}


redisContext *
photo_redis_cluster_node(photo_redis_cluster_t *rc, int i)
{
    if (rc->map == NULL || i < 0 || i >= rc->map->nnodes) {
        return NULL;
    }

    return photo_redis_cluster_connected(rc, &rc->map->nodes[i]);
}


/*
 * The map, from a master a connection is held to (no connect, and it
 * knows of a failover as soon as the seeds do), else from the seeds in
 * their order.  0, or -1 when none answered (logged).
 */
static int
photo_redis_cluster_learn(photo_redis_cluster_t *rc)
{
    int                  i, ok, port;
    char                 host[PHOTO_CONFIG_STR];
    size_t               len;
    const char          *p, *h;
    redisContext        *c;
    photo_redis_node_t  *node;
    photo_redis_map_t   *map;

    map = malloc(sizeof(*map));
    if (map == NULL) {
        photo_log_error("redis cluster: out of memory for the slot map");
        return -1;
    }

    for (i = 0; rc->map && i < rc->map->nnodes; i++) {
        node = &rc->map->nodes[i];

        if (node->c != NULL && node->c->err == 0
            && photo_redis_cluster_ask(node->c, node->host, node->port, map)
               == 0)
        {
            photo_redis_cluster_adopt(rc, map);
            return 0;
        }
    }

    p = rc->cf->redis_cluster;

    while (photo_config_server_next(&p, &h, &len, &port,
                                    PHOTO_REDIS_CLUSTER_PORT) == 1)
    {
        snprintf(host, sizeof(host), "%.*s", (int) len, h);

        c = photo_redis_connect_to(host, port);
        if (c == NULL) {
            continue;
        }

        ok = photo_redis_cluster_ask(c, host, port, map) == 0;
        redisFree(c);

        if (ok) {
            photo_redis_cluster_adopt(rc, map);
            return 0;
        }
    }

    free(map);
    photo_log_error("redis cluster: no node gave its slot map "
                    "(PHOTO_REDIS_CLUSTER_SERVERS=\"%s\")", rc->cf->redis_cluster);

    return -1;
}


/* CLUSTER SLOTS of c, the node at host:port, into map: 0, or -1 */
static int
photo_redis_cluster_ask(redisContext *c, const char *host, int port,
    photo_redis_map_t *map)
{
    int          served;
    size_t       i;
    redisReply  *r;

    r = redisCommand(c, "CLUSTER SLOTS");

    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
        photo_log_warn("redis %s:%d: CLUSTER SLOTS: %s", host, port,
                       r == NULL ? c->errstr
                       : r->type == REDIS_REPLY_ERROR ? r->str
                       : "no slot is served");
        freeReplyObject(r);
        return -1;
    }

    map->nnodes = 0;
    memset(map->slots, 0xff, sizeof(map->slots));           /* all -1 */

    for (i = 0; i < r->elements; i++) {
        if (photo_redis_cluster_range(r->element[i], host, map) != 0) {
            photo_log_warn("redis %s:%d: CLUSTER SLOTS: range %zu not "
                           "understood, or more than %d masters", host,
                           port, i, PHOTO_REDIS_CLUSTER_NODES);
            freeReplyObject(r);
            return -1;
        }
    }

    freeReplyObject(r);

    for (i = 0, served = 0; i < PHOTO_REDIS_SLOTS; i++) {
        served += map->slots[i] >= 0;
    }

    if (served < PHOTO_REDIS_SLOTS) {
        photo_log_warn("redis cluster: %d of %d slots served (map from "
                       "%s:%d)", served, PHOTO_REDIS_SLOTS, host, port);
    }

    photo_log_info("redis cluster: slot map from %s:%d, %d masters", host,
                   port, map->nnodes);

    return 0;
}


/*
 * One range of CLUSTER SLOTS, [start, end, [endpoint, port, id, ...],
 * replicas...], into map: 0, or -1 when it is not one.  The endpoint is
 * null (or empty) when the node does not know it: then the one asked
 * (host) is meant; "?" is a host name the node does not know, and its
 * slots are left unserved (a key there makes the map learned again).
 */
static int
photo_redis_cluster_range(const redisReply *e, const char *host,
    photo_redis_map_t *map)
{
    int                j;
    long long          start, end, s;
    const redisReply  *m, *ep;

    if (e->type != REDIS_REPLY_ARRAY || e->elements < 3
        || e->element[0]->type != REDIS_REPLY_INTEGER
        || e->element[1]->type != REDIS_REPLY_INTEGER
        || e->element[2]->type != REDIS_REPLY_ARRAY
        || e->element[2]->elements < 2)
    {
        return -1;
    }

    start = e->element[0]->integer;
    end = e->element[1]->integer;
    m = e->element[2];
    ep = m->element[0];

    if (start < 0 || end < start || end >= PHOTO_REDIS_SLOTS
        || m->element[1]->type != REDIS_REPLY_INTEGER
        || (ep->type != REDIS_REPLY_STRING && ep->type != REDIS_REPLY_NIL))
    {
        return -1;
    }

    if (ep->type == REDIS_REPLY_STRING && strcmp(ep->str, "?") == 0) {
        return 0;
    }

    if (ep->type == REDIS_REPLY_STRING && ep->len > 0) {
        j = photo_redis_cluster_find(map, ep->str, ep->len,
                                     (int) m->element[1]->integer, 1);
    } else {
        j = photo_redis_cluster_find(map, host, strlen(host),
                                     (int) m->element[1]->integer, 1);
    }

    if (j < 0) {
        return -1;
    }

    for (s = start; s <= end; s++) {
        map->slots[s] = (int16_t) j;
    }

    return 0;
}


/* map in place of the old one: the connections to masters still in it
   kept, the others closed */
static void
photo_redis_cluster_adopt(photo_redis_cluster_t *rc, photo_redis_map_t *map)
{
    int                  i, j;
    photo_redis_node_t  *old;

    for (i = 0; rc->map && i < rc->map->nnodes; i++) {
        old = &rc->map->nodes[i];

        if (old->c == NULL) {
            continue;
        }

        j = photo_redis_cluster_find(map, old->host, strlen(old->host),
                                     old->port, 0);

        if (j >= 0 && old->c->err == 0) {
            map->nodes[j].c = old->c;
        } else {
            redisFree(old->c);
        }
    }

    free(rc->map);
    rc->map = map;
    rc->stale = 0;
}


/* the index of host:port among map's masters (added when add), or -1 */
static int
photo_redis_cluster_find(photo_redis_map_t *map, const char *host,
    size_t len, int port, int add)
{
    int                  i;
    photo_redis_node_t  *node;

    for (i = 0; i < map->nnodes; i++) {
        node = &map->nodes[i];

        if (node->port == port && strlen(node->host) == len
            && memcmp(node->host, host, len) == 0)
        {
            return i;
        }
    }

    if (!add || map->nnodes == PHOTO_REDIS_CLUSTER_NODES
        || len >= sizeof(node->host))
    {
        return -1;
    }

    node = &map->nodes[map->nnodes];
    memcpy(node->host, host, len);
    node->host[len] = '\0';
    node->port = port;
    node->c = NULL;

    return map->nnodes++;
}


/*
 * node's connection, made now if need be.  One lost since its last use
 * (and not told of: photo_redis_failed()) is made again, as
 * photo_redis_ensure() does; one that cannot be made may mean a
 * failover: the map is learned again before the next key.
 */
static redisContext *
photo_redis_cluster_connected(photo_redis_cluster_t *rc,
    photo_redis_node_t *node)
{
    if (node->c != NULL && node->c->err == 0) {
        return node->c;
    }

    if (node->c != NULL) {
        photo_log_warn("redis %s:%d: connection lost (%s), reconnecting",
                       node->host, node->port, node->c->errstr);
        redisFree(node->c);
    }

    node->c = photo_redis_connect_to(node->host, node->port);

    if (node->c == NULL) {
        rc->stale = 1;
    }

    return node->c;
}
