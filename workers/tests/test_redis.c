/*
 * The workers' Redis (photo_redis.h) against the stack's.  Without a
 * cluster, every key on the one server.  With one (PHOTO_REDIS_CLUSTER=1):
 * each key's commands on the master serving its slot, a pipeline to many
 * keys sent to every master at once; a command sent to the wrong node is
 * answered MOVED, and the next is routed right; and a worker whose master
 * hands its slots to its replica (CLUSTER FAILOVER, then back) applies its
 * job after a retry, the map learned again.
 */

#include "photo_check.h"
#include "photo_harness.h"
#include "photo_contract.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>


#define BASE      7830000000000000000LL
#define FOLLOWER  (BASE + 1)
#define FOLLOWEE  (BASE + 2)
#define PHOTOS    (BASE + 100)
#define RF1       "7830000000000000901"     /* the follow jobs' request ids */
#define RF2       "7830000000000000902"
#define KEYS      3000
#define KEY       "test_redis:{%d}"


/* KEYS keys set through one pipe: how many answered OK */
static int
set_keys(h_t *h)
{
    int                  i, ok;
    char                 key[64];
    redisReply          *r;
    redisContext        *c;
    photo_redis_pipe_t   p;

    photo_redis_pipe_init(&p, &h->redis);

    for (i = 0; i < KEYS; i++) {
        snprintf(key, sizeof(key), KEY, i);

        c = photo_redis_pipe_key(&p, key, strlen(key), 1);
        if (c == NULL) {
            break;
        }

        redisAppendCommand(c, "SET %s %d EX 600", key, i);
    }

    ok = 0;

    while (photo_redis_pipe_reply(&p, &r) == 1) {
        if (r->type == REDIS_REPLY_STATUS && strcmp(r->str, "OK") == 0) {
            ok++;
        } else if (r->type == REDIS_REPLY_ERROR) {
            printf("# %s\n", r->str);
        }

        freeReplyObject(r);
    }

    return p.failed ? -1 : ok;
}


/* the test's keys each node holds, into n[]; how many nodes */
static int
keys_by_node(h_t *h, long *n, int max)
{
    int            i, nodes;
    redisReply    *r;
    redisContext  *c;

    nodes = photo_redis_nodes(&h->redis);

    for (i = 0; i < nodes && i < max; i++) {
        c = photo_redis_node(&h->redis, i);
        r = c ? redisCommand(c, "KEYS test_redis:*") : NULL;
        n[i] = r && r->type == REDIS_REPLY_ARRAY ? (long) r->elements : -1;
        freeReplyObject(r);
    }

    return nodes;
}


static void
check_routing(h_t *h)
{
    int        i, nodes, each;
    long       n[PHOTO_REDIS_CLUSTER_NODES], sum;
    long long  v;

    CHECK(set_keys(h) == KEYS,
          "%d keys set in one pipe, each where its slot is served (no "
          "MOVED)", KEYS);

    nodes = keys_by_node(h, n, PHOTO_REDIS_CLUSTER_NODES);
    sum = 0;
    each = 1;

    for (i = 0; i < nodes; i++) {
        printf("# node %d holds %ld\n", i, n[i]);
        sum += n[i];
        each &= n[i] > 0;
    }

    CHECK(nodes == (h->cf.redis_cluster[0] ? 3 : 1) && each && sum == KEYS,
          "%s: %d node%s, every one holding some of them (%ld in all)",
          h->cf.redis_cluster[0] ? "a cluster" : "one server", nodes,
          nodes == 1 ? "" : "s", sum);

    for (i = 0, each = 1; i < KEYS; i += 97) {
        v = h_redis_int(h, "GET " KEY, i);
        each &= v == i;
    }

    CHECK(each, "and each read back from its node");
}


/* two keys of the test served by two nodes, or -1 */
static int
other_node_key(h_t *h, redisContext **c0, redisContext **c1)
{
    int            i;
    char           key[64];
    redisContext  *c;

    *c0 = photo_redis_key(&h->redis, "test_redis:{0}", 14);

    for (i = 1; i < KEYS; i++) {
        snprintf(key, sizeof(key), KEY, i);

        c = photo_redis_key(&h->redis, key, strlen(key));
        if (c != NULL && c != *c0) {
            *c1 = c;
            return i;
        }
    }

    return -1;
}


static void
check_moved(h_t *h)
{
    int            k;
    redisReply    *r;
    redisContext  *c0, *c1, *c;

    k = other_node_key(h, &c0, &c1);
    CHECK(k > 0, "test_redis:{%d} is on another node than test_redis:{0}",
          k);

    if (k < 0) {
        return;
    }

    /* test_redis:{0} to the node of test_redis:{k} */
    r = redisCommand(c1, "SET test_redis:{0} moved EX 600");
    CHECK(r != NULL && r->type == REDIS_REPLY_ERROR
          && strncmp(r->str, "MOVED ", 6) == 0
          && photo_redis_failed(&h->redis, r) == 1,
          "a key sent to another node: MOVED (%s), seen by "
          "photo_redis_failed()", r && r->str ? r->str : "no reply");
    freeReplyObject(r);

    c = photo_redis_key(&h->redis, "test_redis:{0}", 14);
    r = c ? redisCommand(c, "SET test_redis:{0} moved EX 600") : NULL;
    CHECK(c == c0 && r != NULL && r->type == REDIS_REPLY_STATUS,
          "then the map learned again, the key goes to its node, on the "
          "connection kept");
    freeReplyObject(r);

    r = redisCommand(c0, "INCR test_redis:{0}");
    CHECK(r != NULL && r->type == REDIS_REPLY_ERROR
          && photo_redis_failed(&h->redis, r) == 0,
          "an error about the data is no redirection (%s)",
          r && r->str ? r->str : "no reply");
    freeReplyObject(r);
}


static void
forget_keys(h_t *h)
{
    int  i;

    for (i = 0; i < KEYS; i++) {
        h_redis_append(h, "DEL " KEY, i);
    }

    for (i = 0; i < KEYS; i++) {
        freeReplyObject(h_redis_reply(h));
    }
}


/* in the CLUSTER NODES of c, the node at host:port has the flag role */
static int
seen_as(redisContext *c, const char *host, int port, const char *role)
{
    int          ok;
    char         addr[96];
    size_t       len;
    const char  *flags;
    redisReply  *r;

    /* "<id> <host>:<port>@<bus> [myself,]master|slave[,fail...] ..." */
    len = (size_t) snprintf(addr, sizeof(addr), " %s:%d@", host, port);
    r = redisCommand(c, "CLUSTER NODES");
    flags = r && r->type == REDIS_REPLY_STRING ? strstr(r->str, addr) : NULL;

    if (flags != NULL) {
        flags = strchr(flags + len, ' ');
    }

    ok = 0;

    if (flags != NULL) {
        flags++;

        if (strncmp(flags, "myself,", 7) == 0) {
            flags += 7;
        }

        ok = strncmp(flags, role, strlen(role)) == 0;
    }

    freeReplyObject(r);

    return ok;
}


/*
 * Every node of the cluster (its seeds: the stack lists them all) sees
 * host:port as a master and the one at old_host:old_port as its replica,
 * and that replica is in sync with it: a failover is over only then (a
 * master that has not heard of it yet refuses its vote to the next one,
 * and a replica not in sync cannot take over).
 */
static int
settled(h_t *h, const char *host, int port, const char *old_host,
    int old_port)
{
    int            ok, p;
    char           seed[64];
    size_t         len;
    const char    *list, *s;
    redisReply    *r;
    redisContext  *c;

    ok = 1;
    list = h->cf.redis_cluster;

    while (ok && photo_config_server_next(&list, &s, &len, &p, 6379) == 1) {
        snprintf(seed, sizeof(seed), "%.*s", (int) len, s);
        c = photo_redis_connect_to(seed, p);
        ok = c != NULL && seen_as(c, host, port, "master")
             && seen_as(c, old_host, old_port, "slave");
        redisFree(c);
    }

    if (ok) {
        c = photo_redis_connect_to(old_host, old_port);
        r = c ? redisCommand(c, "INFO replication") : NULL;
        ok = r && r->type == REDIS_REPLY_STRING
             && strstr(r->str, "master_link_status:up") != NULL;
        freeReplyObject(r);
        redisFree(c);
    }

    return ok;
}


/*
 * The replica of the master c is connected to takes over its slots
 * (CLUSTER FAILOVER, the clean hand-over: no write lost); host:port the
 * replica's (host of 64 bytes).  0 once every node sees the new roles.
 */
static int
failover(h_t *h, redisContext *c, char host[64], int *port)
{
    int            i, ok, found, attempt;
    char           id[64];
    double         deadline;
    redisReply    *r;
    redisContext  *rc;

    found = 0;
    r = redisCommand(c, "CLUSTER MYID");
    ok = r && r->type == REDIS_REPLY_STRING && r->len < sizeof(id);
    if (ok) {
        memcpy(id, r->str, r->len + 1);
    }

    freeReplyObject(r);

    /* "<id> <host>:<port>@<bus> slave ...": a master that just took over
       may not list its replica yet */
    for (i = 0; ok && i < 1000; i++) {
        r = redisCommand(c, "CLUSTER REPLICAS %s", id);
        found = r && r->type == REDIS_REPLY_ARRAY && r->elements > 0
                && sscanf(r->element[0]->str, "%*s %63[^:]:%d", host,
                          port) == 2;
        freeReplyObject(r);

        if (found) {
            break;
        }

        h_sleep_ms(10);
    }

    if (!ok || !found) {
        return -1;
    }

    /*
     * The masters vote for the replicas of one master once in twice the
     * cluster-node-timeout: a hand-over soon after one of the same master
     * (a run of this test just before) is refused, times out (5 s), and
     * is asked for again.
     */
    for (attempt = 0; attempt < 4; attempt++) {
        rc = photo_redis_connect_to(host, *port);
        r = rc ? redisCommand(rc, "CLUSTER FAILOVER") : NULL;
        ok = r && r->type == REDIS_REPLY_STATUS;
        printf("# CLUSTER FAILOVER on %s:%d: %s\n", host, *port,
               r && r->str ? r->str : "no reply");
        freeReplyObject(r);
        redisFree(rc);

        deadline = h_now() + 6;

        while (ok && h_now() < deadline) {
            if (settled(h, host, *port, c->tcp.host, c->tcp.port)) {
                return 0;
            }

            h_sleep_ms(10);
        }
    }

    return -1;
}


static int
feed_has(h_t *h, void *arg)
{
    return h_redis_int(h, "ZLEXCOUNT feed:{%lld} [%s [%s", FOLLOWER,
                       h_pad(PHOTOS + 1), h_pad(PHOTOS + 1))
           == *(long long *) arg;
}


static void
check_failover(h_t *h)
{
    int            port, learned;
    char           key[64], host[64];
    pid_t          w;
    long long      want;
    redisContext  *c;

    host[0] = '\0';
    port = 0;

    h_users(h, BASE, 3);
    h_feeds_complete(h, FOLLOWER, 1);   /* read lately: a follow adds */
    PQclear(h_sql(h, "insert into photos (id, user_id, media_path,"
                     " image_url, width, height) values (%lld, %lld, 'm',"
                     " 'i', 1, 1)", PHOTOS + 1, FOLLOWEE));

    w = h_worker(h, "photo_follow", NULL);

    /* the worker learns the map and holds a connection to the master */
    h_follow(h, RF1, FOLLOWER, FOLLOWEE, "follow");
    want = 1;
    CHECK(h_wait(h, feed_has, &want, 10000),
          "a follow: the photo in the follower's feed");

    snprintf(key, sizeof(key), "feed:{%lld}", FOLLOWER);
    c = photo_redis_key(&h->redis, key, strlen(key));

    CHECK(c != NULL && failover(h, c, host, &port) == 0,
          "the feed's master hands its slots to its replica (%s:%d)",
          host, port);

    /* the harness was told nothing either */
    (void) photo_redis_failed(&h->redis, NULL);

    h_follow(h, RF2, FOLLOWER, FOLLOWEE, "unfollow");
    want = 0;
    CHECK(h_wait(h, feed_has, &want, 10000)
          && h_wait_drained(h, PHOTO_JOB_FOLLOW, 5000),
          "an unfollow after it: applied, on the new master");

    learned = h_log_count(h, w, "photo_follow", "slot map from");
    CHECK(h_log_has(h, w, "photo_follow", "MOVED") && learned >= 2
          && h_log_has(h, w, "photo_follow",
                       "(photo_follow " RF2 ", attempt 1)")
          && !h_log_has(h, w, "photo_follow", RF2 ", attempt 3"),
          "the worker met MOVED once, learned the map again (%d maps), and "
          "the retry was applied", learned);

    /* as it was: the old master takes its slots back */
    snprintf(key, sizeof(key), "feed:{%lld}", FOLLOWER);
    c = photo_redis_key(&h->redis, key, strlen(key));
    CHECK(c != NULL && failover(h, c, host, &port) == 0,
          "and back (%s:%d)", host, port);
    (void) photo_redis_failed(&h->redis, NULL);

    h_worker_stop(h, w, SIGTERM, 5000);
    h_forget(h, BASE, 3);
}


int
main(void)
{
    h_t  h;

    h_init(&h, "redis");

    check_routing(&h);

    if (h.cf.redis_cluster[0]) {
        check_moved(&h);
        check_failover(&h);
    } else {
        printf("# one Redis server: no MOVED, no failover to check\n");
    }

    forget_keys(&h);
    h_done(&h, photo_check_failed);

    return CHECK_DONE();
}
