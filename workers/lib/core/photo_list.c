/* The Redis id lists (see photo_list.h). */

#include "photo_list.h"
#include "photo_contract.h"
#include "photo_keys.h"
#include "photo_id.h"
#include "photo_log.h"
#include "photo_metrics.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>


#define PHOTO_LIST_KEY  64


static photo_metric_t  *photo_list_inserts;

/* PHOTO_LIST_ADD_SCRIPT's SHA-1 in hex, for EVALSHA: set once */
static pthread_once_t   photo_list_sha_once = PTHREAD_ONCE_INIT;
static char             photo_list_sha[2 * SHA_DIGEST_LENGTH + 1];

static const char       photo_list_add_script[] = PHOTO_LIST_ADD_SCRIPT;


static void photo_list_sha_init(void);
static int photo_list_each(photo_redis_t *rd, const char *prefix,
    const int64_t *owners, size_t n, const int64_t *ids, size_t nids,
    int cap, size_t *added);
static int photo_list_add_batch(photo_redis_pipe_t *p, const char *prefix,
    const int64_t *owners, const int64_t *ids, size_t nids, size_t from,
    size_t to, int cap, size_t *added);
static int photo_list_complete(photo_redis_pipe_t *p, const char *prefix,
    const int64_t *owners, size_t from, size_t to, unsigned char *marked);
static void photo_list_trim(redisContext *c, const char *key, size_t len,
    int cap);
static int photo_list_replies(photo_redis_pipe_t *p, size_t *added,
    int *noscript);
static int photo_list_transient(const redisReply *r);
static int photo_list_ids(photo_redis_t *rd, const char *cmd,
    const char *key, const int64_t *ids, size_t n, int cap);


void
photo_list_metrics(void)
{
    photo_list_inserts = photo_metrics_counter(
        "photo_fanout_feed_inserts_total",
        "Photo ids put into followers' feeds (those complete, not their "
        "pending sets), by the fan-out worker and by the persist worker's "
        "own fan-out.", "");
}


int
photo_list_fanout(photo_redis_t *rd, const char *prefix,
    const int64_t *owners, size_t n, int64_t id, int cap)
{
    int     rc;
    size_t  added;

    added = 0;

    rc = photo_list_each(rd, prefix, owners, n, &id, 1, cap, &added);
    if (rc != 0) {
        return rc;
    }

    photo_metrics_add(photo_list_inserts, added);

    return 0;
}


int
photo_list_unfanout(photo_redis_t *rd, const char *prefix,
    const int64_t *owners, size_t n, int64_t id)
{
    return photo_list_each(rd, prefix, owners, n, &id, 1, 0, NULL);
}


int
photo_list_add_each(photo_redis_t *rd, const char *prefix,
    const int64_t *owners, const int64_t *ids, size_t n, int cap)
{
    return photo_list_each(rd, prefix, owners, n, ids, n, cap, NULL);
}


static void
photo_list_sha_init(void)
{
    size_t         i;
    unsigned char  md[SHA_DIGEST_LENGTH];

    SHA1((const unsigned char *) photo_list_add_script,
         sizeof(photo_list_add_script) - 1, md);

    for (i = 0; i < SHA_DIGEST_LENGTH; i++) {
        snprintf(photo_list_sha + 2 * i, 3, "%02x", md[i]);
    }
}


/*
 * Adds when cap > 0 (cap: the lists', added: how many went to a list, not
 * its pending set), else ZREM, on <prefix><owner> of each: the one id
 * (nids 1), or each owner's own (nids n).  Each owner's commands are
 * appended to its node's connection; a batch's replies are read once its
 * commands are all appended.
 */
static int
photo_list_each(photo_redis_t *rd, const char *prefix, const int64_t *owners,
    size_t n, const int64_t *ids, size_t nids, int cap, size_t *added)
{
    int                  rc, noscript;
    char                 key[PHOTO_LIST_KEY], pending[PHOTO_LIST_KEY];
    char                 member[PHOTO_ID_BUF];
    size_t               i, start, keylen;
    const char          *argv[3];
    size_t               argvlen[3];
    redisContext        *c;
    photo_redis_pipe_t   p;

    photo_redis_pipe_init(&p, rd);

    if (cap) {
        for (start = 0; start < n; start += PHOTO_LIST_BATCH) {
            rc = photo_list_add_batch(&p, prefix, owners, ids, nids, start,
                                      start + PHOTO_LIST_BATCH < n
                                      ? start + PHOTO_LIST_BATCH : n,
                                      cap, added);
            if (rc != 0) {
                return rc;
            }
        }

        return 0;
    }

    /* ZREM from the list and from its pending set: an id held for a list
       not in Redis must not come back with the list's rebuild */
    photo_id_pad(member, ids[0]);

    argv[0] = "ZREM";
    argvlen[0] = 4;
    argv[2] = member;
    argvlen[2] = PHOTO_ID_MAX_DIGITS;

    for (i = 0; i < n; i++) {
        keylen = (size_t) photo_key_list(key, sizeof(key), prefix,
                                         owners[i]);

        if (nids > 1) {
            photo_id_pad(member, ids[i]);
        }

        c = photo_redis_pipe_key(&p, key, keylen, 2);
        if (c == NULL) {
            break;
        }

        argv[1] = key;
        argvlen[1] = keylen;

        if (redisAppendCommandArgv(c, 3, argv, argvlen) != REDIS_OK) {
            photo_log_error("redis: %s", c->errstr);
            p.failed = 1;
            break;
        }

        argv[1] = pending;
        argvlen[1] = (size_t) snprintf(pending, sizeof(pending), "%s%s", key,
                                       PHOTO_LIST_PENDING);

        if (redisAppendCommandArgv(c, 3, argv, argvlen) != REDIS_OK) {
            photo_log_error("redis: %s", c->errstr);
            p.failed = 1;
            break;
        }

        /* one round trip per batch: each node's replies read in order */
        if (p.replies >= 2 * PHOTO_LIST_BATCH || i == n - 1) {
            rc = photo_list_replies(&p, NULL, &noscript);
            if (rc != 0) {
                return rc;
            }
        }
    }

    if (!p.failed) {
        return 0;
    }

    /* what went to the other nodes is read, or their connections would
       give those replies to the next commands */
    (void) photo_list_replies(&p, NULL, &noscript);

    return p.away ? PHOTO_LIST_AWAY : -1;
}


/*
 * Owners from..to-1, two round trips.  First, which lists are complete
 * (photo_list_complete()).  Then a complete list gets ZADD and the trim,
 * native commands (a third of what a script costs Redis); any other the
 * add script (PHOTO_LIST_ADD_SCRIPT), which looks again and puts the id in
 * the list or its pending set at once, so that a rebuild stored meanwhile
 * is seen.  A complete list evicted between the two rounds is made again
 * with the id alone, without its marker: the reader takes a short list
 * without its marker for one to rebuild.  The script is sent as EVALSHA,
 * and the round again as EVAL to a Redis that does not know it.
 */
static int
photo_list_add_batch(photo_redis_pipe_t *p, const char *prefix,
    const int64_t *owners, const int64_t *ids, size_t nids, size_t from,
    size_t to, int cap, size_t *added)
{
    int            rc, noscript, eval;
    char           key[PHOTO_LIST_KEY], pending[PHOTO_LIST_KEY];
    char           member[PHOTO_ID_BUF], capstr[16];
    size_t         i, keylen, done;
    const char    *argv[7];
    size_t         argvlen[7];
    redisContext  *c;
    unsigned char  marked[PHOTO_LIST_BATCH];

    rc = photo_list_complete(p, prefix, owners, from, to, marked);
    if (rc != 0) {
        return rc;
    }

    (void) pthread_once(&photo_list_sha_once, photo_list_sha_init);

    argvlen[5] = (size_t) snprintf(capstr, sizeof(capstr), "%d", cap);
    photo_id_pad(member, ids[0]);
    eval = 0;

again:

    done = 0;

    for (i = from; i < to; i++) {
        keylen = (size_t) photo_key_list(key, sizeof(key), prefix,
                                         owners[i]);

        if (nids > 1) {
            photo_id_pad(member, ids[i]);
        }

        c = photo_redis_pipe_key(p, key, keylen, marked[i - from] ? 2 : 1);
        if (c == NULL) {
            break;
        }

        if (marked[i - from]) {
            argv[0] = "ZADD";
            argvlen[0] = 4;
            argv[1] = key;
            argvlen[1] = keylen;
            argv[2] = "0";
            argvlen[2] = 1;
            argv[3] = member;
            argvlen[3] = PHOTO_ID_MAX_DIGITS;

            rc = redisAppendCommandArgv(c, 4, argv, argvlen);
            photo_list_trim(c, key, keylen, cap);
            done++;

        } else {
            /* EVAL[SHA] script 2 key pending cap id */
            argv[0] = eval ? "EVAL" : "EVALSHA";
            argvlen[0] = eval ? 4 : 7;
            argv[1] = eval ? photo_list_add_script : photo_list_sha;
            argvlen[1] = eval ? sizeof(photo_list_add_script) - 1
                              : sizeof(photo_list_sha) - 1;
            argv[2] = "2";
            argvlen[2] = 1;
            argv[3] = key;
            argvlen[3] = keylen;
            argv[4] = pending;
            argvlen[4] = (size_t) snprintf(pending, sizeof(pending), "%s%s",
                                           key, PHOTO_LIST_PENDING);
            argv[5] = capstr;
            argv[6] = member;
            argvlen[6] = PHOTO_ID_MAX_DIGITS;

            rc = redisAppendCommandArgv(c, 7, argv, argvlen);
        }

        if (rc != REDIS_OK) {
            photo_log_error("redis: %s", c->errstr);
            p->failed = 1;
            break;
        }
    }

    noscript = 0;
    rc = photo_list_replies(p, NULL, &noscript);

    if (p->failed) {
        return p->away ? PHOTO_LIST_AWAY : -1;
    }

    if (rc != 0) {
        return rc;
    }

    if (noscript && !eval) {
        eval = 1;               /* ZADD and the trim again do no harm */
        goto again;
    }

    if (added) {
        *added += done;
    }

    return 0;
}


/*
 * ZRANGE key 0 0 of each owner's list: its lowest member, the marker when
 * it is complete; marked[i - from] says which.
 */
static int
photo_list_complete(photo_redis_pipe_t *p, const char *prefix,
    const int64_t *owners, size_t from, size_t to, unsigned char *marked)
{
    int             rc;
    char            key[PHOTO_LIST_KEY];
    size_t          i, k, n, keylen, *cur;
    redisReply     *r, *e;
    const char     *argv[4];
    size_t          argvlen[4];
    redisContext   *c;
    unsigned char   node[PHOTO_LIST_BATCH];
    size_t          next[PHOTO_REDIS_CLUSTER_NODES];

    n = to - from;

    argv[0] = "ZRANGE";
    argvlen[0] = 6;
    argv[1] = key;
    argv[2] = "0";
    argvlen[2] = 1;
    argv[3] = "0";
    argvlen[3] = 1;

    for (i = 0; i < n; i++) {
        marked[i] = 0;
        keylen = (size_t) photo_key_list(key, sizeof(key), prefix,
                                         owners[from + i]);
        argvlen[1] = keylen;

        c = photo_redis_pipe_key(p, key, keylen, 1);
        if (c == NULL) {
            break;
        }

        /* the node's place in the pipe: its replies come in our order */
        for (k = 0; p->node[k].c != c; k++) { /* void */ }
        node[i] = (unsigned char) k;

        if (redisAppendCommandArgv(c, 4, argv, argvlen) != REDIS_OK) {
            photo_log_error("redis: %s", c->errstr);
            p->failed = 1;
            break;
        }
    }

    for (k = 0; k < PHOTO_REDIS_CLUSTER_NODES; k++) {
        next[k] = 0;
    }

    rc = 0;

    /* p->next: the node the reply came from (photo_redis.h) */
    while (photo_redis_pipe_reply(p, &r) == 1) {
        cur = &next[p->next];

        while (*cur < n && node[*cur] != p->next) {
            (*cur)++;
        }

        if (r->type == REDIS_REPLY_ARRAY) {
            e = r->elements == 1 ? r->element[0] : NULL;

            if (*cur < n && e && e->type == REDIS_REPLY_STRING
                && e->len == sizeof(PHOTO_LIST_COMPLETE) - 1
                && memcmp(e->str, PHOTO_LIST_COMPLETE, e->len) == 0)
            {
                marked[*cur] = 1;
            }

        } else if (r->type == REDIS_REPLY_ERROR) {
            photo_log_error("redis: %s", r->str);
            (void) photo_redis_failed(p->rd, r);
            rc = -1;                    /* read the rest: keep the stream */
        }

        (*cur)++;
        freeReplyObject(r);
    }

    if (p->failed) {
        return p->away ? PHOTO_LIST_AWAY : -1;
    }

    return rc;
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


/*
 * EVAL PHOTO_LIST_ADD_SCRIPT 2 key pending cap id id ... (ZADD; the whole
 * script: these are one call each, for one list), or ZREM key id id ...
 */
static int
photo_list_ids(photo_redis_t *rd, const char *cmd, const char *key,
    const int64_t *ids, size_t n, int cap)
{
    int                  zadd, rc, noscript;
    char                *members, pending[PHOTO_LIST_KEY], capstr[16];
    size_t               i, argc, *argvlen;
    const char         **argv;
    redisContext        *c;
    photo_redis_pipe_t   p;

    if (n == 0) {
        return 0;
    }

    zadd = strcmp(cmd, "ZADD") == 0;

    argv = malloc((n + 6) * sizeof(char *));
    argvlen = malloc((n + 6) * sizeof(size_t));
    members = malloc(n * PHOTO_ID_BUF);

    if (argv == NULL || argvlen == NULL || members == NULL) {
        photo_log_error("redis: out of memory for %zu ids", n);
        rc = -1;
        goto done;
    }

    if (zadd) {
        argv[0] = "EVAL";
        argvlen[0] = 4;
        argv[1] = photo_list_add_script;
        argvlen[1] = sizeof(photo_list_add_script) - 1;
        argv[2] = "2";
        argvlen[2] = 1;
        argv[3] = key;
        argvlen[3] = strlen(key);
        argv[4] = pending;
        argvlen[4] = (size_t) snprintf(pending, sizeof(pending), "%s%s",
                                       key, PHOTO_LIST_PENDING);
        argv[5] = capstr;
        argvlen[5] = (size_t) snprintf(capstr, sizeof(capstr), "%d", cap);
        argc = 6;

    } else {
        argv[0] = cmd;
        argvlen[0] = strlen(cmd);
        argv[1] = key;
        argvlen[1] = strlen(key);
        argc = 2;
    }

    for (i = 0; i < n; i++) {
        photo_id_pad(members + i * PHOTO_ID_BUF, ids[i]);
        argv[argc] = members + i * PHOTO_ID_BUF;
        argvlen[argc++] = PHOTO_ID_MAX_DIGITS;
    }

    photo_redis_pipe_init(&p, rd);

    c = photo_redis_pipe_key(&p, key, strlen(key), 1);
    if (c == NULL) {
        rc = PHOTO_LIST_AWAY;
        goto done;
    }

    if (redisAppendCommandArgv(c, (int) argc, argv, argvlen) != REDIS_OK) {
        photo_log_error("redis: %s", c->errstr);
        rc = -1;
        goto done;
    }

    rc = photo_list_replies(&p, NULL, &noscript);

done:

    free(argv);
    free(argvlen);
    free(members);

    return rc;
}


/*
 * ZREMRANGEBYRANK key 1 -(cap+1): rank 0 is the lowest member, the marker,
 * and stays with the cap newest ids.  An append that fails shows in c->err
 * and in the next read.
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


/*
 * Reads the pipelined replies; -1 if Redis cannot be used now.  added
 * (when given) counts the scripts' 1s: ids that went to a list;
 * *noscript is set when an EVALSHA found no script.
 */
static int
photo_list_replies(photo_redis_pipe_t *p, size_t *added, int *noscript)
{
    int               rc;
    redisReply       *r;
    struct timespec   start;

    rc = 0;
    photo_metrics_call_begin(&start);

    while (photo_redis_pipe_reply(p, &r) == 1) {
        if (r->type == REDIS_REPLY_INTEGER) {
            if (added && r->integer == 1) {
                (*added)++;
            }

        } else if (r->type == REDIS_REPLY_ERROR) {
            if (strncmp(r->str, "NOSCRIPT", 8) == 0) {
                *noscript = 1;

            /* MOVED, ASK: the map is learned again for the retry */
            } else if (photo_redis_failed(p->rd, r)
                       || photo_list_transient(r))
            {
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
