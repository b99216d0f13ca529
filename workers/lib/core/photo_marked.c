/* Lists kept whole, rebuilt from Postgres (see photo_marked.h). */

#include "photo_marked.h"
#include "photo_contract.h"
#include "photo_log.h"
#include "photo_metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#define PHOTO_MARKED_CHUNK  1000        /* members per ZADD of a rebuild */


static photo_job_rc_t photo_marked_rebuild(photo_ctx_t *ctx,
    photo_job_t *job, const photo_marked_t *list);
static photo_job_rc_t photo_marked_failed(photo_ctx_t *ctx, photo_job_t *job,
    redisContext *c, redisReply *r, const char *what, const char *key);


/*
 * One script: the marker looked for and the change made with nothing in
 * between (a list evicted between the two would get a member without its
 * marker).  0 when the marker is not there, and nothing was done.
 */
static const char  photo_marked_script[] =
    "if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end "
    "if ARGV[2] == 'add' then "
    "  redis.call('ZADD', KEYS[1], 0, ARGV[3]) "
    "  local cap = tonumber(ARGV[4]) "
    "  if cap > 0 then "
    "    redis.call('ZREMRANGEBYRANK', KEYS[1], 1, -(cap + 1)) "
    "  end "
    "elseif ARGV[2] == 'rem' then "
    "  redis.call('ZREM', KEYS[1], ARGV[3]) "
    "else "
    "  redis.call('ZREMRANGEBYLEX', KEYS[1], ARGV[3], ARGV[4]) "
    "end "
    "return 1";


photo_job_rc_t
photo_marked_change(photo_ctx_t *ctx, photo_job_t *job,
    const photo_marked_t *list, photo_marked_op_t op, const char *member,
    size_t len)
{
    int               applied;
    char              cap[16], min[64], max[64];
    const char       *argv[8];
    size_t            argvlen[8];
    redisReply       *r;
    redisContext     *c;
    struct timespec   start;

    c = photo_ctx_redis_key(ctx, job, list->key, strlen(list->key));
    if (c == NULL) {
        return PHOTO_JOB_RETRY;
    }

    argv[0] = "EVAL";
    argv[1] = photo_marked_script;
    argv[2] = "1";
    argv[3] = list->key;
    argv[4] = PHOTO_LIST_COMPLETE;

    switch (op) {

    case PHOTO_MARKED_ADD:
        argv[5] = "add";
        argv[6] = member;
        argvlen[6] = len;
        argv[7] = cap;
        argvlen[7] = (size_t) snprintf(cap, sizeof(cap), "%d", list->cap);
        break;

    case PHOTO_MARKED_REM:
        argv[5] = "rem";
        argv[6] = member;
        argvlen[6] = len;
        argv[7] = "";
        argvlen[7] = 0;
        break;

    default:
        /* "<id>:" up to "<id>;", ';' following ':' (PHOTO_ACTIVITY_SEP) */
        argv[5] = "range";
        argv[6] = min;
        argvlen[6] = (size_t) snprintf(min, sizeof(min), "[%.*s%c",
                                       (int) len, member,
                                       PHOTO_ACTIVITY_SEP);
        argv[7] = max;
        argvlen[7] = (size_t) snprintf(max, sizeof(max), "(%.*s%c",
                                       (int) len, member,
                                       PHOTO_ACTIVITY_SEP + 1);
    }

    argvlen[0] = 4;
    argvlen[1] = sizeof(photo_marked_script) - 1;
    argvlen[2] = 1;
    argvlen[3] = strlen(list->key);
    argvlen[4] = sizeof(PHOTO_LIST_COMPLETE) - 1;
    argvlen[5] = strlen(argv[5]);

    photo_metrics_call_begin(&start);
    r = redisCommandArgv(c, 8, argv, argvlen);
    photo_metrics_call_end(PHOTO_BACKEND_REDIS, &start);

    if (r == NULL || r->type != REDIS_REPLY_INTEGER) {
        return photo_marked_failed(ctx, job, c, r, "EVAL", list->key);
    }

    applied = r->integer == 1;
    freeReplyObject(r);

    if (applied) {
        return PHOTO_JOB_DONE;
    }

    photo_log_info("%s has no marker: rebuilt from postgres", list->key);

    return photo_marked_rebuild(ctx, job, list);
}


/*
 * MULTI, DEL, ZADD the marker and the members (in chunks), EXEC: readers
 * see the old list or the whole new one.  The caller's transaction holds
 * the list's lock, so what Postgres gives is what it must hold.
 */
static photo_job_rc_t
photo_marked_rebuild(photo_ctx_t *ctx, photo_job_t *job,
    const photo_marked_t *list)
{
    int               i, n, k, argc, bad;
    size_t           *argvlen, klen, replies;
    PGresult         *res;
    const char      **argv;
    redisReply       *r, *exec;
    redisContext     *c;
    photo_job_rc_t    rc;
    struct timespec   start;

    res = photo_ctx_pg(ctx, job, list->sql, list->nparams, list->params,
                       &rc);
    if (res == NULL) {
        return rc;
    }

    c = photo_ctx_redis_key(ctx, job, list->key, strlen(list->key));

    argv = malloc((2 * PHOTO_MARKED_CHUNK + 4) * sizeof(char *));
    argvlen = malloc((2 * PHOTO_MARKED_CHUNK + 4) * sizeof(size_t));

    if (c == NULL || argv == NULL || argvlen == NULL) {
        rc = c ? photo_job_retry(job, "out of memory") : PHOTO_JOB_RETRY;
        goto done;
    }

    n = PQntuples(res);
    klen = strlen(list->key);

    (void) redisAppendCommand(c, "MULTI");
    (void) redisAppendCommand(c, "DEL %b", list->key, klen);
    replies = 2;

    /* the marker first, then the members, PHOTO_MARKED_CHUNK at a time */
    for (i = -1; i < n; /* void */) {
        argv[0] = "ZADD";
        argvlen[0] = 4;
        argv[1] = list->key;
        argvlen[1] = klen;
        argc = 2;

        for (k = 0; k < PHOTO_MARKED_CHUNK && i < n; k++, i++) {
            argv[argc] = "0";
            argvlen[argc++] = 1;

            if (i == -1) {
                argv[argc] = PHOTO_LIST_COMPLETE;
                argvlen[argc++] = sizeof(PHOTO_LIST_COMPLETE) - 1;
            } else {
                argv[argc] = PQgetvalue(res, i, 0);
                argvlen[argc++] = (size_t) PQgetlength(res, i, 0);
            }
        }

        (void) redisAppendCommandArgv(c, argc, argv, argvlen);
        replies++;
    }

    (void) redisAppendCommand(c, "EXEC");
    replies++;

    /* every reply read, whatever came, so the connection stays in step */
    photo_metrics_call_begin(&start);

    bad = 0;
    exec = NULL;

    while (replies--) {
        if (redisGetReply(c, (void **) &r) != REDIS_OK) {
            photo_metrics_call_end(PHOTO_BACKEND_REDIS, &start);
            freeReplyObject(exec);
            rc = photo_marked_failed(ctx, job, c, NULL, "rebuild",
                                     list->key);
            goto done;
        }

        if (replies == 0) {
            exec = r;

        } else {
            if (r->type != REDIS_REPLY_STATUS && !bad) {
                /* a MOVED or ASK: the slot map is learned again */
                (void) photo_redis_failed(&ctx->redis, r);
                bad = 1;
                photo_log_error("redis: rebuilding %s: %s", list->key,
                                r->type == REDIS_REPLY_ERROR ? r->str : "?");
            }

            freeReplyObject(r);
        }
    }

    photo_metrics_call_end(PHOTO_BACKEND_REDIS, &start);

    for (i = 0; !bad && exec->type == REDIS_REPLY_ARRAY
                && (size_t) i < exec->elements; i++)
    {
        bad = exec->element[i]->type == REDIS_REPLY_ERROR;
    }

    if (bad || exec->type != REDIS_REPLY_ARRAY) {
        rc = photo_marked_failed(ctx, job, c, exec, "rebuild", list->key);
        goto done;
    }

    freeReplyObject(exec);
    rc = PHOTO_JOB_DONE;

done:

    PQclear(res);
    free(argv);
    free(argvlen);

    return rc;
}


/* r not what was expected (freed here): the job is retried */
static photo_job_rc_t
photo_marked_failed(photo_ctx_t *ctx, photo_job_t *job, redisContext *c,
    redisReply *r, const char *what, const char *key)
{
    photo_job_rc_t  rc;

    (void) photo_redis_failed(&ctx->redis, r);

    rc = photo_ctx_failed(job, PHOTO_BACKEND_REDIS, "%s %s: %s", what, key,
                          r == NULL ? c->errstr
                          : r->type == REDIS_REPLY_ERROR ? r->str
                          : "unexpected reply");
    freeReplyObject(r);

    return rc;
}
