/* A worker's backends, as its jobs use them (see photo_ctx.h). */

#include "photo_ctx.h"
#include "photo_contract.h"
#include "photo_gearman.h"
#include "photo_log.h"
#include "photo_memcached.h"
#include "photo_object.h"
#include "photo_pg.h"
#include "photo_redis.h"
#include "photo_route.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>


/*
 * A memcached server that failed a set is left alone this long: a new
 * object is then stored without its cached copy at no cost (a server that
 * accepts connections but does not answer would cost the poll timeout on
 * every job; libmemcached's own failure limit counts only connection
 * errors).
 */
#define PHOTO_CTX_MC_SKIP_MS  1000


static photo_job_rc_t photo_ctx_mc(photo_ctx_t *ctx, photo_job_t *job);
static long long photo_ctx_now_ms(void);
static photo_job_rc_t photo_ctx_pg_failed(photo_ctx_t *ctx, photo_job_t *job,
    PGresult *res);


int
photo_ctx_init(photo_ctx_t *ctx, photo_config_t *cf)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->cf = cf;
    photo_redis_init(&ctx->redis, cf);

    if (cf->media_link_secret_file[0] != '\0') {
        ctx->link_secret_len = photo_media_secret_read(
                                   cf->media_link_secret_file,
                                   ctx->link_secret);
        if (ctx->link_secret_len == 0) {
            photo_log_error("PHOTO_MEDIA_LINK_SECRET_FILE %s: %s (16 to %d "
                            "printable characters)",
                            cf->media_link_secret_file, strerror(errno),
                            PHOTO_MEDIA_SECRET_MAX);
            return -1;
        }
    }

    return 0;
}


void
photo_ctx_free(photo_ctx_t *ctx)
{
    int  i;

    PQfinish(ctx->pg);
    photo_redis_free(&ctx->redis);

    if (ctx->mc) {
        memcached_free(ctx->mc);
    }

    for (i = 0; i < PHOTO_CTX_MC_SERVERS; i++) {
        if (ctx->mc_one[i]) {
            memcached_free(ctx->mc_one[i]);
        }
    }

    for (i = 0; i < PHOTO_GEARMAN_MAX; i++) {
        if (ctx->gearman[i]) {
            gearman_client_free(ctx->gearman[i]);
        }
    }

    memset(ctx, 0, sizeof(*ctx));
}


PGresult *
photo_ctx_pg(photo_ctx_t *ctx, photo_job_t *job, const char *sql,
    int nparams, const char *const *params, photo_job_rc_t *rc)
{
    PGresult         *res;
    ExecStatusType    status;
    struct timespec   start;

    photo_metrics_call_begin(&start);

    if (photo_pg_ensure(ctx->cf, &ctx->pg) == NULL) {
        photo_metrics_call_end(PHOTO_BACKEND_POSTGRES, &start);
        *rc = photo_ctx_failed(job, PHOTO_BACKEND_POSTGRES, "unreachable");
        return NULL;
    }

    res = PQexecParams(ctx->pg, sql, nparams, NULL, params, NULL, NULL, 0);
    status = PQresultStatus(res);
    photo_metrics_call_end(PHOTO_BACKEND_POSTGRES, &start);

    if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) {
        *rc = PHOTO_JOB_DONE;
        return res;
    }

    *rc = photo_ctx_pg_failed(ctx, job, res);
    PQclear(res);

    return NULL;
}


photo_job_rc_t
photo_ctx_pg_begin(photo_ctx_t *ctx, photo_job_t *job)
{
    PGresult        *res;
    photo_job_rc_t   rc;

    res = photo_ctx_pg(ctx, job, "begin", 0, NULL, &rc);
    PQclear(res);

    return rc;
}


photo_job_rc_t
photo_ctx_pg_end(photo_ctx_t *ctx, photo_job_t *job, photo_job_rc_t rc)
{
    PGresult        *res;
    photo_job_rc_t   crc;

    if (rc == PHOTO_JOB_DONE) {
        res = photo_ctx_pg(ctx, job, "commit", 0, NULL, &crc);
        PQclear(res);
        return crc;
    }

    /* a lost connection is not made again for this: the server rolled
       the transaction back when the session ended */
    if (ctx->pg != NULL && PQstatus(ctx->pg) == CONNECTION_OK) {
        PQclear(PQexec(ctx->pg, "rollback"));
    }

    return rc;
}


photo_job_rc_t
photo_ctx_pg_lock(photo_ctx_t *ctx, photo_job_t *job, const char *name)
{
    PGresult        *res;
    photo_job_rc_t   rc;

    res = photo_ctx_pg(ctx, job,
                       "select pg_advisory_xact_lock(hashtextextended($1, 0))",
                       1, &name, &rc);
    PQclear(res);

    return rc;
}


/* a failed statement: the data refused (dead), or the server (retry) */
static photo_job_rc_t
photo_ctx_pg_failed(photo_ctx_t *ctx, photo_job_t *job, PGresult *res)
{
    size_t       len;
    const char  *state, *msg;

    state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;

    if (msg == NULL) {
        msg = PQerrorMessage(ctx->pg);
        len = strcspn(msg, "\n");
    } else {
        len = strlen(msg);
    }

    if (state && (strncmp(state, "22", 2) == 0
                  || strncmp(state, "23", 2) == 0))
    {
        return photo_job_dead(job, "postgres refused the data: %.*s "
                              "(SQLSTATE %s)", (int) len, msg, state);
    }

    return photo_ctx_failed(job, PHOTO_BACKEND_POSTGRES, "%.*s%s%s%s",
                            (int) len, msg, state ? " (SQLSTATE " : "",
                            state ? state : "", state ? ")" : "");
}


redisContext *
photo_ctx_redis_key(photo_ctx_t *ctx, photo_job_t *job, const char *key,
    size_t len)
{
    redisContext     *c;
    struct timespec   start;

    photo_metrics_call_begin(&start);

    c = photo_redis_key(&ctx->redis, key, len);

    if (c == NULL) {
        photo_metrics_call_end(PHOTO_BACKEND_REDIS, &start);
        photo_ctx_failed(job, PHOTO_BACKEND_REDIS, "unreachable");
    }

    return c;
}


photo_job_rc_t
photo_ctx_cache(photo_ctx_t *ctx, photo_job_t *job, const char *key,
    int64_t id, const unsigned char *value, size_t len)
{
    uint32_t            server;
    long long           now;
    struct timespec     start;
    memcached_return_t  mrc;

    if (photo_ctx_mc(ctx, job) != PHOTO_JOB_DONE) {
        return PHOTO_JOB_RETRY;
    }

    now = photo_ctx_now_ms();

    server = memcached_generate_hash(ctx->mc, key, strlen(key))
             % PHOTO_CTX_MC_SERVERS;

    if (now < ctx->mc_skip[server]) {
        photo_log_debug("%s %s: memcached server %u failed lately; %s not "
                        "cached", job->name, job->unique, server, key);
        return PHOTO_JOB_DONE;
    }

    /*
     * A new object that cannot be cached is no reason to hold the job: the
     * module reads a miss through from Postgres and writes it back.  The
     * key's server is never replaced by another (photo_memcached.c).
     */
    photo_metrics_call_begin(&start);
    mrc = memcached_set(ctx->mc, key, strlen(key), (const char *) value, len,
                        (time_t) photo_media_cache_until(id, time(NULL)),
                        photo_object_flags(value, len));
    photo_metrics_call_end(PHOTO_BACKEND_MEMCACHED, &start);

    if (mrc != MEMCACHED_SUCCESS) {
        ctx->mc_skip[server] = now + PHOTO_CTX_MC_SKIP_MS;
        photo_metrics_backend_error(PHOTO_BACKEND_MEMCACHED);
        photo_log_warn("memcached: set %s: %s; not cached, server left "
                       "alone for %d ms", key,
                       memcached_last_error_message(ctx->mc),
                       PHOTO_CTX_MC_SKIP_MS);
    }

    return PHOTO_JOB_DONE;
}


/* the monotonic clock in ms, for the servers' skip windows (mc_skip) */
static long long
photo_ctx_now_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


photo_job_rc_t
photo_ctx_tombstone(photo_ctx_t *ctx, photo_job_t *job, const char *key)
{
    uint32_t            server, i, n;
    long long           now;
    struct timespec     start;
    memcached_return_t  mrc;

    if (photo_ctx_mc(ctx, job) != PHOTO_JOB_DONE) {
        return PHOTO_JOB_RETRY;
    }

    /* unlike an object, a tombstone must be there: a stale object would
       be served again (a partitioned server keeps its keys) */
    photo_metrics_call_begin(&start);
    mrc = memcached_set(ctx->mc, key, strlen(key), PHOTO_MC_TOMBSTONE,
                        sizeof(PHOTO_MC_TOMBSTONE) - 1,
                        PHOTO_MC_TOMBSTONE_TTL, PHOTO_MC_DELETED);
    photo_metrics_call_end(PHOTO_BACKEND_MEMCACHED, &start);

    if (mrc != MEMCACHED_SUCCESS) {
        return photo_ctx_failed(job, PHOTO_BACKEND_MEMCACHED,
                                "tombstone %s: %s", key,
                                memcached_last_error_message(ctx->mc));
    }

    /*
     * And on every other server: when the pool grows or shrinks, a key
     * maps to another server, and a copy of the object left on the one it
     * mapped to before (or will map to again) would be served after the
     * change.  Objects never change otherwise, so a deletion is all that
     * can make such a copy stale.  Best effort: the key's own server, the
     * one readers ask now, has it.
     */

    n = memcached_server_count(ctx->mc);
    server = memcached_generate_hash(ctx->mc, key, strlen(key));

    now = photo_ctx_now_ms();

    for (i = 0; i < n && i < PHOTO_CTX_MC_SERVERS; i++) {
        if (i == server || now < ctx->mc_skip[i]) {
            continue;
        }

        if (ctx->mc_one[i] == NULL) {
            ctx->mc_one[i] = photo_memcached_server(ctx->cf, i);
            if (ctx->mc_one[i] == NULL) {
                continue;
            }
        }

        photo_metrics_call_begin(&start);
        mrc = memcached_set(ctx->mc_one[i], key, strlen(key),
                            PHOTO_MC_TOMBSTONE,
                            sizeof(PHOTO_MC_TOMBSTONE) - 1,
                            PHOTO_MC_TOMBSTONE_TTL, PHOTO_MC_DELETED);
        photo_metrics_call_end(PHOTO_BACKEND_MEMCACHED, &start);

        if (mrc != MEMCACHED_SUCCESS) {
            ctx->mc_skip[i] = now + PHOTO_CTX_MC_SKIP_MS;
            photo_metrics_backend_error(PHOTO_BACKEND_MEMCACHED);
            photo_log_warn("memcached: tombstone %s on server %u: %s; server "
                           "left alone for %d ms", key, i,
                           memcached_last_error_message(ctx->mc_one[i]),
                           PHOTO_CTX_MC_SKIP_MS);
        }
    }

    return PHOTO_JOB_DONE;
}


memcached_st *
photo_ctx_memcached(photo_ctx_t *ctx, photo_job_t *job)
{
    return photo_ctx_mc(ctx, job) == PHOTO_JOB_DONE ? ctx->mc : NULL;
}


static photo_job_rc_t
photo_ctx_mc(photo_ctx_t *ctx, photo_job_t *job)
{
    if (ctx->mc == NULL) {
        ctx->mc = photo_memcached_pool(ctx->cf);
        if (ctx->mc == NULL) {
            return photo_ctx_failed(job, PHOTO_BACKEND_MEMCACHED,
                                    "the pool cannot be set up");
        }
    }

    return PHOTO_JOB_DONE;
}


photo_job_rc_t
photo_ctx_submit(photo_ctx_t *ctx, photo_job_t *job, const char *function,
    const char *unique, const unsigned char *payload, size_t len)
{
    int                      attempt;
    unsigned                 first;
    struct timespec          start;
    gearman_return_t         grc;
    gearman_client_st       *c;
    photo_gearman_server_t   servers[PHOTO_GEARMAN_MAX];

    if (ctx->ngearman == 0) {
        ctx->ngearman = photo_gearman_servers(ctx->cf, servers,
                                              PHOTO_GEARMAN_MAX);
        if (ctx->ngearman == -1) {
            ctx->ngearman = 0;
            return photo_ctx_failed(job, PHOTO_BACKEND_GEARMAN,
                                    "no servers");
        }
    }

    /* where the module would send it: a retried submission stays one job */
    first = photo_route_gearman((const unsigned char *) unique,
                                strlen(unique), (unsigned) ctx->ngearman);

    if (ctx->gearman[first] == NULL) {
        ctx->gearman[first] = photo_gearman_client(ctx->cf, first);
        if (ctx->gearman[first] == NULL) {
            return photo_ctx_failed(job, PHOTO_BACKEND_GEARMAN,
                                    "the client cannot be set up");
        }
    }

    c = ctx->gearman[first];

    /*
     * Twice, but after a timeout: a kept connection to a gearmand that
     * restarted or died fails the first attempt; the second connects again
     * (to the next server in order when that one is down).
     */

    for (attempt = 0; attempt < 2; attempt++) {
        photo_metrics_call_begin(&start);
        grc = gearman_client_do_background(c, function, unique, payload, len,
                                           NULL);
        photo_metrics_call_end(PHOTO_BACKEND_GEARMAN, &start);

        if (grc == GEARMAN_SUCCESS) {
            return PHOTO_JOB_DONE;
        }

        if (grc == GEARMAN_TIMEOUT) {
            break;
        }
    }

    return photo_ctx_failed(job, PHOTO_BACKEND_GEARMAN,
                            "submitting %s %s: %s", function, unique,
                            gearman_client_error(c));
}


int
photo_ctx_dead_letter(photo_ctx_t *ctx, photo_job_t *job)
{
    int                   rc;
    char                  key[128];
    size_t                len;
    yajl_gen              g;
    redisReply           *r;
    redisContext         *c;
    struct timespec       start;
    const unsigned char  *buf;

    snprintf(key, sizeof(key), "%s%s", PHOTO_REDIS_DEAD_LETTER, job->name);

    /* not photo_ctx_redis_key(): job->reason is the letter's, keep it */
    c = photo_redis_key(&ctx->redis, key, strlen(key));
    if (c == NULL) {
        photo_metrics_backend_error(PHOTO_BACKEND_REDIS);
        return -1;
    }

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return -1;
    }

    rc = -1;

    if (photo_job_dead_letter(job, g) != yajl_gen_status_ok
        || yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok)
    {
        photo_log_error("cannot write the dead letter");
        goto done;
    }

    photo_metrics_call_begin(&start);
    r = redisCommand(c, "LPUSH %s %b", key, buf, len);
    photo_metrics_call_end(PHOTO_BACKEND_REDIS, &start);

    if (r == NULL) {
        photo_metrics_backend_error(PHOTO_BACKEND_REDIS);
        photo_log_error("redis: %s", c->errstr);
        (void) photo_redis_failed(&ctx->redis, r);

    } else if (r->type == REDIS_REPLY_ERROR) {
        photo_log_error("redis: LPUSH %s: %s", key, r->str);
        (void) photo_redis_failed(&ctx->redis, r);

    } else {
        rc = 0;
    }

    freeReplyObject(r);

done:

    yajl_gen_free(g);

    return rc;
}


photo_job_rc_t
photo_ctx_failed(photo_job_t *job, photo_backend_t b, const char *fmt, ...)
{
    int      n;
    va_list  args;

    photo_metrics_backend_error(b);

    n = snprintf(job->reason, sizeof(job->reason), "%s: ",
                 photo_backend_names[b]);

    va_start(args, fmt);
    vsnprintf(job->reason + n, sizeof(job->reason) - (size_t) n, fmt, args);
    va_end(args);

    return PHOTO_JOB_RETRY;
}
