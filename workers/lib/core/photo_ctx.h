/*
 * A worker process's backends, connected on first use and again after they
 * went away, and the calls a job handler makes through them.  Each call
 * sorts a failure into the two kinds a job cares about:
 *
 *   PHOTO_JOB_RETRY  the backend is unreachable or refuses work for now
 *                    (connection lost, shutting down, out of memory,
 *                    serialization failure...): try the job again later;
 *   PHOTO_JOB_DEAD   Postgres refused the data itself (SQLSTATE class 22,
 *                    data exception, or 23, integrity constraint: unknown
 *                    user, check failed): it never will succeed.
 *
 * and leaves the reason in job->reason.
 */

#ifndef PHOTO_CTX_H
#define PHOTO_CTX_H

#include <hiredis/hiredis.h>
#include <libmemcached/memcached.h>
#include <libpq-fe.h>

#include "photo_config.h"
#include "photo_media.h"
#include "photo_gearman.h"
#include "photo_job.h"
#include "photo_metrics.h"
#include "photo_redis.h"

#define PHOTO_CTX_MC_SERVERS  64

typedef struct {
    photo_config_t     *cf;
    PGconn             *pg;
    photo_redis_t       redis;        /* the server, or the cluster's
                                         masters (photo_redis.h) */
    memcached_st       *mc;
    memcached_st       *mc_one[PHOTO_CTX_MC_SERVERS];  /* each server
                                          alone, made when first needed */
    long long           mc_skip[PHOTO_CTX_MC_SERVERS];  /* ms: a server
                                          that failed, left alone till then */
    /* for follow-up jobs: by the gearmand each tries first (the job's
       unique key's, photo_route_gearman()); made when first needed */
    gearman_client_st  *gearman[PHOTO_GEARMAN_MAX];
    int                 ngearman;     /* servers; 0: not yet known */
    /* the photo objects' links are signed with it (photo_media.h) */
    unsigned char       link_secret[PHOTO_MEDIA_SECRET_MAX];
    size_t              link_secret_len;   /* 0: unsigned */
} photo_ctx_t;

/* -1 (logged) when the links' secret file is named but cannot be read */
int photo_ctx_init(photo_ctx_t *ctx, photo_config_t *cf);
void photo_ctx_free(photo_ctx_t *ctx);

/*
 * One statement with text parameters.  The result (PGRES_TUPLES_OK or
 * PGRES_COMMAND_OK; PQclear it), or NULL and *rc says what to do.
 */
PGresult *photo_ctx_pg(photo_ctx_t *ctx, photo_job_t *job, const char *sql,
    int nparams, const char *const *params, photo_job_rc_t *rc);

/*
 * A transaction: photo_ctx_pg_begin(), its statements, then
 * photo_ctx_pg_end() with the job's outcome so far, which COMMITs when it
 * is PHOTO_JOB_DONE (the COMMIT's own failure is then the outcome) and
 * ROLLBACKs otherwise.  The caller runs nothing after a failed statement
 * but the end: photo_ctx_pg() connects again when the connection was
 * lost, and the rest of a transaction must never run without its start.
 */
photo_job_rc_t photo_ctx_pg_begin(photo_ctx_t *ctx, photo_job_t *job);
photo_job_rc_t photo_ctx_pg_end(photo_ctx_t *ctx, photo_job_t *job,
    photo_job_rc_t rc);

/*
 * A lock on name held until the transaction ends (pg_advisory_xact_lock
 * of its hash): the writers of one Redis list that is rebuilt from
 * Postgres hold it while they change both, so that a rebuild never reads
 * Postgres before another's change and writes Redis after it.
 */
photo_job_rc_t photo_ctx_pg_lock(photo_ctx_t *ctx, photo_job_t *job,
    const char *name);

/*
 * The Redis connection serving key (photo_redis_key()), or NULL (reason
 * set; the job is to be retried).  A reply that is not the one expected
 * goes through photo_redis_failed(&ctx->redis, r): a MOVED or ASK
 * redirection, or no reply, has the cluster's slot map learned again.
 */
redisContext *photo_ctx_redis_key(photo_ctx_t *ctx, photo_job_t *job,
    const char *key, size_t len);

/* photo id's object as key = value in the memcached pool, till its links
   are due (photo_media_cache_until()), its flags photo_object_flags();
   best effort: a memcached that is away is logged and costs the job
   ~nothing */
photo_job_rc_t photo_ctx_cache(photo_ctx_t *ctx, photo_job_t *job,
    const char *key, int64_t id, const unsigned char *value, size_t len);

/* the memcached pool, made on first use; NULL (reason set: retry) */
memcached_st *photo_ctx_memcached(photo_ctx_t *ctx, photo_job_t *job);

/* a deleted photo's tombstone at key (PHOTO_MC_DELETED, for a while), on
   the key's server, and on every other server of the pool best effort */
photo_job_rc_t photo_ctx_tombstone(photo_ctx_t *ctx, photo_job_t *job,
    const char *key);

/* a background job for gearmand; a retried submission is one job (unique) */
photo_job_rc_t photo_ctx_submit(photo_ctx_t *ctx, photo_job_t *job,
    const char *function, const char *unique, const unsigned char *payload,
    size_t len);

/* LPUSH dead_letter:<job name> {"reason","payload"}: 0, or -1 (retry) */
int photo_ctx_dead_letter(photo_ctx_t *ctx, photo_job_t *job);

/*
 * A backend failed the job for now: counted in
 * photo_worker_backend_errors_total, reason "<backend>: <fmt...>",
 * PHOTO_JOB_RETRY.  "return photo_ctx_failed(job, PHOTO_BACKEND_REDIS,
 * ...)" wherever a handler meets an unusable backend.
 */
photo_job_rc_t photo_ctx_failed(photo_job_t *job, photo_backend_t b,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif /* PHOTO_CTX_H */
