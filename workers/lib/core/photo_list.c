/* The Redis id lists (see photo_list.h). */

#include "photo_list.h"
#include "photo_contract.h"
#include "photo_keys.h"
#include "photo_id.h"
#include "photo_log.h"
#include "photo_metrics.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#define PHOTO_LIST_KEY  64


static photo_metric_t  *photo_list_inserts;


static int photo_list_each(photo_redis_t *rd, const char *prefix,
    const int64_t *owners, size_t n, const int64_t *ids, size_t nids,
    int cap);
static void photo_list_trim(redisContext *c, const char *key, size_t len,
    int cap);
static int photo_list_replies(photo_redis_pipe_t *p);
static int photo_list_transient(const redisReply *r);
static int photo_list_ids(photo_redis_t *rd, const char *cmd,
    const char *key, const int64_t *ids, size_t n, int cap);


void
photo_list_metrics(void)
{
    photo_list_inserts = photo_metrics_counter(
        "photo_fanout_feed_inserts_total",
        "Photo ids put into followers' feeds (ZADD), by the fan-out worker "
        "and by the persist worker's own fan-out.", "");
}


int
photo_list_fanout(photo_redis_t *rd, const char *prefix,
    const int64_t *owners, size_t n, int64_t id, int cap)
{
    int  rc;

    rc = photo_list_each(rd, prefix, owners, n, &id, 1, cap);
    if (rc != 0) {
        return rc;
    }

    photo_metrics_add(photo_list_inserts, n);

    return 0;
}


int
photo_list_unfanout(photo_redis_t *rd, const char *prefix,
    const int64_t *owners, size_t n, int64_t id)
{
    return photo_list_each(rd, prefix, owners, n, &id, 1, 0);
}


int
photo_list_add_each(photo_redis_t *rd, const char *prefix,
    const int64_t *owners, const int64_t *ids, size_t n, int cap)
{
    return photo_list_each(rd, prefix, owners, n, ids, n, cap);
}


/*
 * ZADD + trim to cap, or ZREM when cap is 0, on <prefix><owner> of each:
 * the one id (nids 1), or each owner's own (nids n).  Each owner's
 * commands are appended to its node's connection; a batch's replies are
 * read once its commands are all appended.
 */
static int
photo_list_each(photo_redis_t *rd, const char *prefix, const int64_t *owners,
    size_t n, const int64_t *ids, size_t nids, int cap)
{
    int                  argc;
    char                 key[PHOTO_LIST_KEY], member[PHOTO_ID_BUF];
    size_t               i;
    const char          *argv[4];
    size_t               argvlen[4];
    redisContext        *c;
    photo_redis_pipe_t   p;

    photo_id_pad(member, ids[0]);

    if (cap) {
        argv[0] = "ZADD";
        argvlen[0] = 4;
        argv[2] = "0";
        argvlen[2] = 1;
        argv[3] = member;
        argvlen[3] = PHOTO_ID_MAX_DIGITS;
        argc = 4;

    } else {
        argv[0] = "ZREM";
        argvlen[0] = 4;
        argv[2] = member;
        argvlen[2] = PHOTO_ID_MAX_DIGITS;
        argc = 3;
    }

    argv[1] = key;
    photo_redis_pipe_init(&p, rd);

    for (i = 0; i < n; i++) {
        argvlen[1] = (size_t) photo_key_list(key, sizeof(key), prefix,
                                             owners[i]);

        if (nids > 1) {
            photo_id_pad(member, ids[i]);
        }

        c = photo_redis_pipe_key(&p, key, argvlen[1], cap ? 2 : 1);
        if (c == NULL) {
            break;
        }

        if (redisAppendCommandArgv(c, argc, argv, argvlen) != REDIS_OK) {
            photo_log_error("redis: %s", c->errstr);
            p.failed = 1;
            break;
        }

        if (cap) {
            photo_list_trim(c, key, argvlen[1], cap);
        }

        /* one round trip per batch: each node's replies read in order */
        if (p.replies >= 2 * PHOTO_LIST_BATCH || i == n - 1) {
            if (photo_list_replies(&p) != 0) {
                return -1;
            }
        }
    }

    if (!p.failed) {
        return 0;
    }

    /* what went to the other nodes is read, or their connections would
       give those replies to the next commands */
    (void) photo_list_replies(&p);

    return p.away ? PHOTO_LIST_AWAY : -1;
}


int
photo_list_add(photo_redis_t *rd, const char *key, const int64_t *ids,
    size_t n, int cap)
{
    return photo_list_ids(rd, "ZADD", key, ids, n, cap);
}


int
photo_list_remove(photo_redis_t *rd, const char *key, const int64_t *ids,
    size_t n)
{
    return photo_list_ids(rd, "ZREM", key, ids, n, 0);
}


/* ZADD key 0 id 0 id ... or ZREM key id id ..., then the trim if cap */
static int
photo_list_ids(photo_redis_t *rd, const char *cmd, const char *key,
    const int64_t *ids, size_t n, int cap)
{
    int                  zadd, rc;
    char                *members;
    size_t               i, argc, *argvlen;
    const char         **argv;
    redisContext        *c;
    photo_redis_pipe_t   p;

    if (n == 0) {
        return 0;
    }

    zadd = strcmp(cmd, "ZADD") == 0;

    argv = malloc((2 * n + 2) * sizeof(char *));
    argvlen = malloc((2 * n + 2) * sizeof(size_t));
    members = malloc(n * PHOTO_ID_BUF);

    if (argv == NULL || argvlen == NULL || members == NULL) {
        photo_log_error("redis: out of memory for %zu ids", n);
        rc = -1;
        goto done;
    }

    argv[0] = cmd;
    argvlen[0] = strlen(cmd);
    argv[1] = key;
    argvlen[1] = strlen(key);
    argc = 2;

    for (i = 0; i < n; i++) {
        if (zadd) {
            argv[argc] = "0";
            argvlen[argc++] = 1;
        }

        photo_id_pad(members + i * PHOTO_ID_BUF, ids[i]);
        argv[argc] = members + i * PHOTO_ID_BUF;
        argvlen[argc++] = PHOTO_ID_MAX_DIGITS;
    }

    photo_redis_pipe_init(&p, rd);

    c = photo_redis_pipe_key(&p, key, argvlen[1], cap > 0 ? 2 : 1);
    if (c == NULL) {
        rc = PHOTO_LIST_AWAY;
        goto done;
    }

    if (redisAppendCommandArgv(c, (int) argc, argv, argvlen) != REDIS_OK) {
        photo_log_error("redis: %s", c->errstr);
        rc = -1;
        goto done;
    }

    if (cap > 0) {
        photo_list_trim(c, key, argvlen[1], cap);
    }

    rc = photo_list_replies(&p);

done:

    free(argv);
    free(argvlen);
    free(members);

    return rc;
}


/*
 * ZREMRANGEBYRANK key 1 -(cap+1): rank 0 is the lowest member, the marker
 * when the list is complete, and stays with the cap newest ids.  An append
 * that fails shows in c->err and in the next read.
 */
static void
photo_list_trim(redisContext *c, const char *key, size_t len, int cap)
{
    char         stop[16];
    const char  *argv[4];
    size_t       argvlen[4];

    argv[0] = "ZREMRANGEBYRANK";
    argvlen[0] = sizeof("ZREMRANGEBYRANK") - 1;
    argv[1] = key;
    argvlen[1] = len;
    argv[2] = "1";
    argvlen[2] = 1;
    argv[3] = stop;
    argvlen[3] = (size_t) snprintf(stop, sizeof(stop), "%d", -(cap + 1));

    (void) redisAppendCommandArgv(c, 4, argv, argvlen);
}


/* reads the pipelined replies; -1 if Redis cannot be used now */
static int
photo_list_replies(photo_redis_pipe_t *p)
{
    int               rc;
    redisReply       *r;
    struct timespec   start;

    rc = 0;
    photo_metrics_call_begin(&start);

    while (photo_redis_pipe_reply(p, &r) == 1) {
        if (r->type == REDIS_REPLY_ERROR) {
            /* MOVED, ASK: the map is learned again for the retry */
            if (photo_redis_failed(p->rd, r) || photo_list_transient(r)) {
                photo_log_error("redis: %s", r->str);
                rc = -1;                /* read the rest: keep the stream */
            } else {
                photo_log_error("redis: %s (key skipped)", r->str);
            }
        }

        freeReplyObject(r);
    }

    photo_metrics_call_end(PHOTO_BACKEND_REDIS, &start);

    /* a connection failed (logged): it is made again on next use */
    return p->failed ? -1 : rc;
}


/* errors about the server's state, not the key: they pass */
static int
photo_list_transient(const redisReply *r)
{
    static const char  *prefixes[] = {
        "OOM", "LOADING", "BUSY", "READONLY", "MASTERDOWN", "TRYAGAIN",
        "CLUSTERDOWN", "NOREPLICAS", "MISCONF", NULL
    };

    int  i;

    for (i = 0; prefixes[i]; i++) {
        if (strncmp(r->str, prefixes[i], strlen(prefixes[i])) == 0) {
            return 1;
        }
    }

    return 0;
}
