
/*
 * Redis Cluster (photo_redis_cluster): which node a command goes to.
 *
 * Each worker keeps the slot map (a node per hash slot) learned with
 * CLUSTER SLOTS from the seeds or a node it knows, and a connection per
 * master.  A command goes to the master of its first key's slot
 * (photo_route_redis_slot(), the contract's; keys read together share a
 * hash tag, photo_keys.h).  A MOVED reply sets that slot's node at once
 * and asks for the whole map again; ASK sends the one command on, after
 * ASKING, and changes nothing.  A node that goes away may be a master that
 * failed over: the map is asked for again then too.  The map is asked for
 * only when something happened, never on a timer: an idle worker sends
 * nothing.  With photo_redis_read_replicas, a command that only reads goes
 * to a replica of its slot's master (connected, after READONLY), or to the
 * master while the replica is away.
 */

#include "ngx_photo_redis_int.h"
#include "photo_route.h"


/* the map is not asked for more often than this (a burst of MOVED, of
   failures while a master is away) */
#define NGX_PHOTO_REDIS_REFRESH_MIN  100


static void ngx_photo_redis_cluster_slots(void *data,
    ngx_photo_result_t *res);
static ngx_int_t ngx_photo_redis_cluster_map(ngx_photo_redis_t *redis,
    ngx_photo_redis_node_t *asked, redisReply *reply);
static ngx_photo_redis_node_t *ngx_photo_redis_cluster_replica(
    ngx_photo_redis_t *redis, ngx_photo_redis_node_t *asked,
    redisReply *range);


ngx_int_t
ngx_photo_redis_cluster_init(ngx_photo_redis_t *redis)
{
    size_t               len;
    u_char               host[NGX_SOCKADDR_STRLEN];
    ngx_uint_t           i;
    ngx_photo_server_t  *server;

    redis->slots = ngx_palloc(redis->pool,
                              PHOTO_REDIS_SLOTS * sizeof(uint16_t));
    if (redis->slots == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < PHOTO_REDIS_SLOTS; i++) {
        redis->slots[i] = NGX_PHOTO_REDIS_NO_NODE;
    }

    if (redis->replicas) {
        redis->replica = ngx_palloc(redis->pool,
                                    PHOTO_REDIS_SLOTS * sizeof(uint16_t));
        if (redis->replica == NULL) {
            return NGX_ERROR;
        }

        for (i = 0; i < PHOTO_REDIS_SLOTS; i++) {
            redis->replica[i] = NGX_PHOTO_REDIS_NO_NODE;
        }
    }

    /* the seeds: the map comes from the first that answers */
    server = redis->bcf->servers->elts;

    for (i = 0; i < redis->bcf->servers->nelts; i++) {
        len = ngx_sock_ntop(server[i].addr->sockaddr, server[i].addr->socklen,
                            host, NGX_SOCKADDR_STRLEN, 0);

        if (ngx_photo_redis_node_get(redis, host, len,
                                     ngx_inet_get_port(server[i].addr->sockaddr),
                                     0)
            == NULL)
        {
            return NGX_ERROR;
        }
    }

    ngx_photo_redis_cluster_refresh(redis);

    return NGX_OK;
}


/*
 * The slot of a command's key: the first argument, or for EVAL and EVALSHA
 * the first of the script's keys; -1 for a command without a key.
 */

int
ngx_photo_redis_cluster_slot(ngx_photo_redis_cmd_t *cmd)
{
    ngx_uint_t  script;

    script = cmd->argc >= 4
             && ((cmd->argvlen[0] == 4
                  && ngx_strncasecmp((u_char *) cmd->argv[0],
                                     (u_char *) "EVAL", 4) == 0)
                 || (cmd->argvlen[0] == 7
                     && ngx_strncasecmp((u_char *) cmd->argv[0],
                                        (u_char *) "EVALSHA", 7) == 0));

    if (script) {
        if (cmd->argvlen[2] == 1 && cmd->argv[2][0] == '0') {
            return -1;
        }

        return photo_route_redis_slot(cmd->argv[3], cmd->argvlen[3]);
    }

    if (cmd->argc < 2) {
        return -1;
    }

    return photo_route_redis_slot(cmd->argv[1], cmd->argvlen[1]);
}


/*
 * The node serving a slot; while the map does not know it (before the
 * first map came, a slot no master serves), any node that may be up: it
 * answers MOVED when it is not the one.
 */

ngx_photo_redis_node_t *
ngx_photo_redis_cluster_route(ngx_photo_redis_t *redis, int slot,
    ngx_flag_t read)
{
    ngx_uint_t               i, n;
    ngx_photo_redis_node_t **nodes;

    nodes = redis->nodes.elts;

    if (read && slot >= 0 && redis->replica[slot] != NGX_PHOTO_REDIS_NO_NODE
        && nodes[redis->replica[slot]]->ac)
    {
        return nodes[redis->replica[slot]];
    }

    if (slot >= 0 && redis->slots[slot] != NGX_PHOTO_REDIS_NO_NODE) {
        return nodes[redis->slots[slot]];
    }

    n = redis->nodes.nelts;

    for (i = 0; i < n; i++) {
        if (nodes[(redis->ask + i) % n]->ac) {
            return nodes[(redis->ask + i) % n];
        }
    }

    return nodes[redis->ask % n];
}


/* a command that only reads, which a replica may answer */

ngx_flag_t
ngx_photo_redis_cluster_read(ngx_photo_redis_cmd_t *cmd)
{
    ngx_uint_t  i;

    static ngx_str_t  reads[] = {
        ngx_string("GET"), ngx_string("MGET"), ngx_string("EXISTS"),
        ngx_string("ZSCORE"), ngx_string("ZCARD"), ngx_string("ZRANGE"),
        ngx_string("ZREVRANGE"), ngx_string("ZRANGEBYLEX"),
        ngx_string("ZREVRANGEBYLEX"), ngx_string("HGET"),
        ngx_string("HMGET"), ngx_string("HGETALL"), ngx_string("LRANGE"),
        ngx_string("TTL"), ngx_string("PTTL")
    };

    for (i = 0; i < sizeof(reads) / sizeof(reads[0]); i++) {
        if (cmd->argvlen[0] == reads[i].len
            && ngx_strncasecmp((u_char *) cmd->argv[0], reads[i].data,
                               reads[i].len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/*
 * "MOVED <slot> <ip>:<port>" or "ASK <slot> <ip>:<port>": the node to send
 * the command to instead (MOVED also sets the slot's node and asks for the
 * map), or NULL when the reply is no redirection.
 */

ngx_photo_redis_node_t *
ngx_photo_redis_cluster_redirect(ngx_photo_redis_t *redis, redisReply *reply,
    ngx_flag_t *ask)
{
    u_char                  *p, *last, *sp, *addr, *port;
    ngx_int_t                slot, n;
    ngx_photo_redis_node_t  *node;

    if (reply->type != REDIS_REPLY_ERROR) {
        return NULL;
    }

    p = (u_char *) reply->str;
    last = p + reply->len;

    if (reply->len > 6 && ngx_strncmp(p, "MOVED ", 6) == 0) {
        *ask = 0;
        p += 6;

    } else if (reply->len > 4 && ngx_strncmp(p, "ASK ", 4) == 0) {
        *ask = 1;
        p += 4;

    } else {
        return NULL;
    }

    /* "<slot> <ip>:<port>" */
    sp = ngx_strlchr(p, last, ' ');
    slot = sp ? ngx_atoi(p, sp - p) : NGX_ERROR;
    addr = sp ? sp + 1 : last;

    for (port = last; port > addr && port[-1] != ':'; port--) {
        /* void */
    }

    n = (port > addr + 1) ? ngx_atoi(port, last - port) : NGX_ERROR;

    if (slot == NGX_ERROR || slot >= PHOTO_REDIS_SLOTS
        || n == NGX_ERROR || n < 1 || n > 65535)
    {
        ngx_log_error(NGX_LOG_ERR, redis->log, 0,
                      "photo: redis: a redirection not understood: \"%*s\"",
                      reply->len, reply->str);
        return NULL;
    }

    node = ngx_photo_redis_node_get(redis, addr, port - 1 - addr, (int) n, 0);
    if (node == NULL) {
        return NULL;
    }

    if (!*ask) {
        ngx_log_error(NGX_LOG_INFO, redis->log, 0,
                      "photo: redis: slot %i moved to %V", slot, &node->name);
        redis->slots[slot] = (uint16_t) node->index;
        ngx_photo_redis_cluster_refresh(redis);
    }

    return node;
}


/* CLUSTER SLOTS to the next node that may answer, unless one is out */

void
ngx_photo_redis_cluster_refresh(ngx_photo_redis_t *redis)
{
    ngx_uint_t                i, n;
    ngx_photo_redis_node_t  **nodes, *node;

    static const char   *argv[] = { "CLUSTER", "SLOTS" };
    static const size_t  argvlen[] = { 7, 5 };

    if (redis->refreshing || redis->exiting
        || ngx_current_msec - redis->refreshed < NGX_PHOTO_REDIS_REFRESH_MIN)
    {
        return;
    }

    nodes = redis->nodes.elts;
    n = redis->nodes.nelts;
    node = NULL;

    /* a node connected and in the map first, then any */
    for (i = 0; i < n && node == NULL; i++) {
        if (nodes[(redis->ask + i) % n]->ac
            && !nodes[(redis->ask + i) % n]->retired)
        {
            node = nodes[(redis->ask + i) % n];
        }
    }

    if (node == NULL) {
        node = nodes[redis->ask % n];

        if (node->retired) {
            node->retired = 0;
            ngx_photo_redis_node_connect(node);
        }
    }

    redis->ask = node->index + 1;
    redis->refreshed = ngx_current_msec;

    if (ngx_photo_redis_send_to(node, ngx_photo_redis_cluster_slots, node,
                                2, argv, argvlen)
        == NGX_AGAIN)
    {
        redis->refreshing = 1;
    }
}


static void
ngx_photo_redis_cluster_slots(void *data, ngx_photo_result_t *res)
{
    ngx_photo_redis_node_t  *asked = data;

    ngx_photo_redis_t  *redis;

    redis = asked->redis;
    redis->refreshing = 0;

    if (res->status != NGX_PHOTO_DONE) {
        /* said in the log; the next failure asks another node */
        return;
    }

    if (ngx_photo_redis_cluster_map(redis, asked, res->reply.redis)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, redis->log, 0,
                      "photo: redis %V: CLUSTER SLOTS not understood",
                      &asked->name);
    }
}


/*
 * CLUSTER SLOTS: an array of {first slot, last slot, {ip, port, id, ...}
 * of the master, the replicas' after it}.  The new map replaces the old at
 * once; a node no slot names any more (a master that failed over, one
 * emptied by a reshard) is closed and no longer reconnected.
 */

static ngx_int_t
ngx_photo_redis_cluster_map(ngx_photo_redis_t *redis,
    ngx_photo_redis_node_t *asked, redisReply *reply)
{
    u_char                  *host;
    size_t                   len;
    ngx_uint_t               i, s, served;
    redisReply              *range, *master;
    ngx_photo_redis_node_t **nodes, *node, *replica;

    if (reply->type != REDIS_REPLY_ARRAY) {
        return NGX_ERROR;
    }

    redis->map++;
    served = 0;

    for (i = 0; i < reply->elements; i++) {
        range = reply->element[i];

        if (range->type != REDIS_REPLY_ARRAY || range->elements < 3
            || range->element[0]->type != REDIS_REPLY_INTEGER
            || range->element[1]->type != REDIS_REPLY_INTEGER
            || range->element[2]->type != REDIS_REPLY_ARRAY
            || range->element[2]->elements < 2
            || range->element[0]->integer < 0
            || range->element[1]->integer >= PHOTO_REDIS_SLOTS
            || range->element[0]->integer > range->element[1]->integer)
        {
            return NGX_ERROR;
        }

        master = range->element[2];

        if (master->element[0]->type != REDIS_REPLY_STRING
            || master->element[1]->type != REDIS_REPLY_INTEGER)
        {
            return NGX_ERROR;
        }

        host = (u_char *) master->element[0]->str;
        len = master->element[0]->len;

        /* no address: the node asked (it does not know its own) */
        if (len == 0 || (len == 1 && host[0] == '?')) {
            host = asked->host;
            len = ngx_strlen(asked->host);
        }

        node = ngx_photo_redis_node_get(redis, host, len,
                                        (int) master->element[1]->integer,
                                        0);
        if (node == NULL) {
            return NGX_ERROR;
        }

        node->map = redis->map;
        replica = ngx_photo_redis_cluster_replica(redis, asked, range);

        for (s = range->element[0]->integer;
             s <= (ngx_uint_t) range->element[1]->integer;
             s++)
        {
            redis->slots[s] = (uint16_t) node->index;

            if (redis->replicas) {
                redis->replica[s] = replica ? (uint16_t) replica->index
                                            : NGX_PHOTO_REDIS_NO_NODE;
            }

            served++;
        }
    }

    nodes = redis->nodes.elts;

    for (i = 0; i < redis->nodes.nelts; i++) {
        if (nodes[i]->map != redis->map && !nodes[i]->retired) {
            ngx_log_error(NGX_LOG_INFO, redis->log, 0,
                          "photo: redis %V serves no slot: closed",
                          &nodes[i]->name);
            ngx_photo_redis_node_close(nodes[i]);
        }
    }

    ngx_log_error((served == PHOTO_REDIS_SLOTS ? NGX_LOG_INFO : NGX_LOG_WARN),
                  redis->log, 0, "photo: redis cluster map from %V: "
                  "%ui of %d slots served, %ui nodes known",
                  &asked->name, served, PHOTO_REDIS_SLOTS,
                  redis->nodes.nelts);

    return NGX_OK;
}


/* with photo_redis_read_replicas, the first replica a range names */

static ngx_photo_redis_node_t *
ngx_photo_redis_cluster_replica(ngx_photo_redis_t *redis,
    ngx_photo_redis_node_t *asked, redisReply *range)
{
    u_char                  *host;
    size_t                   len;
    redisReply              *r;
    ngx_photo_redis_node_t  *node;

    if (!redis->replicas || range->elements < 4) {
        return NULL;
    }

    r = range->element[3];

    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2
        || r->element[0]->type != REDIS_REPLY_STRING
        || r->element[1]->type != REDIS_REPLY_INTEGER)
    {
        return NULL;
    }

    host = (u_char *) r->element[0]->str;
    len = r->element[0]->len;

    if (len == 0) {
        host = asked->host;
        len = ngx_strlen(asked->host);
    }

    node = ngx_photo_redis_node_get(redis, host, len,
                                    (int) r->element[1]->integer, 1);
    if (node) {
        node->map = redis->map;
    }

    return node;
}
