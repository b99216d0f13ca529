/*
 * photo_index: photos with a location into Apache Solr, or out of it
 * (background job, from the persist worker; conf/solr/README.md).
 *
 *   add:    the document {"id","user_id","caption","created_at",
 *           "location":"lat,lng"} (Solr replaces a document with the same
 *           id, so a replay is harmless);
 *   delete: by id (deleting what is not there is no error).
 *
 * Batches.  Jobs that come close together go to Solr as one update
 * request — {"add":{"doc":…},"add":…,"delete":…}, Solr's JSON commands,
 * applied in order — of up to PHOTO_INDEX_BATCH documents, none waiting
 * more than PHOTO_INDEX_DELAY_MS.  A thread of its own sends them, with
 * its own Redis connection: it sleeps until something is queued, and keeps
 * a timer only while something waits.  A job is checked, then appended to the
 * Redis list index:pending:<core URL> and completed: gearmand's queue is in Redis
 * too, so the job is no less durable there, and libgearman v1 answers each
 * job when its handler returns (holding several unanswered would need
 * gearman_worker_grab_job, which in libgearman 1.1.20 dereferences NULL
 * after a NO_JOB, seen here).  The list is sent from its head and trimmed
 * only once Solr took what was sent; a crash in between sends it again,
 * which Solr's replace-by-id makes harmless.  One worker at a time flushes
 * (index:flush, a lock with an expiry, checked again at each trim), so
 * several index workers never trim what another sent.
 *
 * Solr away or answering 5xx: the batch waits in Redis and is tried again
 * with a growing delay and jitter, while jobs keep being taken; nothing is
 * dropped.  Solr refusing a batch (400): each document is sent alone, and
 * the one Solr refuses goes to dead_letter:photo_index with Solr's message,
 * the others are indexed.
 */

#include "photo_worker.h"
#include "photo_id.h"
#include "photo_index_doc.h"
#include "photo_log.h"
#include "photo_redis.h"
#include "photo_solr.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>


/* the flush lock outlives a Solr request (10 s) several times over */
#define PHOTO_INDEX_LOCK_MS      60000


/*
 * The worker's batch: what the job handler (the Gearman thread) and the
 * sender (a thread of its own, with its own backends and the one Solr
 * connection) share, under lock.
 */
typedef struct {
    photo_solr_t      solr;
    photo_ctx_t       ctx;           /* the sender's */
    const char       *me;            /* the flush lock's value */
    char              pending[PHOTO_CONFIG_STR + 32];  /* the keys */
    char              lock[PHOTO_CONFIG_STR + 32];
    long              batch;
    long              delay_ms;
    unsigned          failures;      /* flushes failed in a row */
    unsigned          wait_ms;       /* then, before the next one */

    pthread_t         sender;
    pthread_mutex_t   mutex;
    pthread_cond_t    wake;
    int               queued;        /* something waits in the list */
    int               full;          /* a whole batch waits */
    int               stop;
    struct timespec   due;           /* CLOCK_MONOTONIC: send then */
} photo_index_t;


static photo_job_rc_t photo_index(photo_ctx_t *ctx, photo_job_t *job);
static void *photo_index_sender(void *data);
static void photo_index_due_in(photo_index_t *b, long ms);
static int photo_index_flush(photo_ctx_t *ctx);
static int photo_index_send(photo_ctx_t *ctx, redisReply **e, size_t n,
    size_t *taken);
static int photo_index_refused(photo_ctx_t *ctx, redisReply *e,
    const char *why);
static redisContext *photo_index_redis(photo_ctx_t *ctx);
static int photo_index_trim(photo_ctx_t *ctx, size_t n);
static void photo_index_unlock(photo_ctx_t *ctx);


static photo_index_t  photo_index_batch;


static const photo_worker_function_t  photo_index_functions[] = {
    { .name = PHOTO_JOB_INDEX, .handler = photo_index,
      .kind = PHOTO_JOB_BACKGROUND },
    { .name = NULL }
};


int
main(int argc, char **argv)
{
    int             rc;
    photo_index_t  *b;
    photo_worker_t  w;

    if (photo_worker_init(&w, argc, argv, "photo_index",
                          "Indexes photos with a location in Apache Solr "
                          "(PHOTO_SOLR_URL, the core's URL),\nfor nearby "
                          "search, in batches (PHOTO_INDEX_BATCH documents, "
                          "PHOTO_INDEX_DELAY_MS);\ndeletes them from it.",
                          photo_index_functions)
        != 0)
    {
        return w.exit_code;
    }

    b = &photo_index_batch;

    if (photo_solr_init(&b->solr, w.cf.solr_url) != 0) {
        photo_worker_done(&w);
        return 1;
    }

    b->me = w.id;                       /* photo_index-<pid> */
    /* one hash tag: the trim script takes both */
    snprintf(b->pending, sizeof(b->pending), "%s{%s}",
             PHOTO_REDIS_INDEX_PENDING, w.cf.solr_url);
    snprintf(b->lock, sizeof(b->lock), "%s{%s}", PHOTO_REDIS_INDEX_FLUSH,
             w.cf.solr_url);
    b->batch = w.cf.index_batch;
    b->delay_ms = w.cf.index_delay_ms;

    (void) photo_ctx_init(&b->ctx, &w.cf);      /* writes no objects */
    pthread_mutex_init(&b->mutex, NULL);

    /* its timed waits on the monotonic clock: a clock step is no delay */
    {
        pthread_condattr_t  attr;

        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&b->wake, &attr);
        pthread_condattr_destroy(&attr);
    }

    /* what a worker before this one left in the list goes first */
    b->queued = 1;
    photo_index_due_in(b, 0);

    photo_log_info("batches of up to %ld documents, %ld ms at most",
                   b->batch, b->delay_ms);

    if (pthread_create(&b->sender, NULL, photo_index_sender, b) != 0) {
        photo_log_error("cannot start the sender: %s", strerror(errno));
        rc = 1;

    } else {
        rc = photo_worker_run(&w);

        pthread_mutex_lock(&b->mutex);
        b->stop = 1;
        pthread_cond_signal(&b->wake);
        pthread_mutex_unlock(&b->mutex);

        pthread_join(b->sender, NULL);
    }

    photo_worker_done(&w);
    photo_ctx_free(&b->ctx);
    photo_solr_free(&b->solr);

    return rc;
}


/* checked, then queued in index:pending; sent now if the batch is due */
static photo_job_rc_t
photo_index(photo_ctx_t *ctx, photo_job_t *job)
{
    long long           len;
    redisReply         *r;
    redisContext       *c;
    photo_index_t      *b;
    photo_job_rc_t      rc;
    photo_index_doc_t   d;

    b = &photo_index_batch;

    if (strcmp(job->unique, PHOTO_INDEX_KICK_UNIQUE) == 0) {
        /* the persist worker queued documents itself: send them now */
        pthread_mutex_lock(&b->mutex);
        b->queued = 1;
        b->full = 1;
        pthread_cond_signal(&b->wake);
        pthread_mutex_unlock(&b->mutex);

        return PHOTO_JOB_DONE;
    }

    if (photo_index_doc_parse(job, &d) != 0) {
        return PHOTO_JOB_DEAD;
    }

    c = photo_ctx_redis_key(ctx, job, b->pending, strlen(b->pending));
    if (c == NULL) {
        return PHOTO_JOB_RETRY;
    }

    r = redisCommand(c, "RPUSH %s %b", b->pending, job->payload,
                     job->payload_len);

    if (r == NULL || r->type != REDIS_REPLY_INTEGER) {
        (void) photo_redis_failed(&ctx->redis, r);
        rc = photo_ctx_failed(job, PHOTO_BACKEND_REDIS,
                              "RPUSH %s: %s", b->pending,
                              r == NULL ? c->errstr
                              : r->type == REDIS_REPLY_ERROR ? r->str
                              : "unexpected reply");
        freeReplyObject(r);
        return rc;
    }

    len = r->integer;
    freeReplyObject(r);

    /* the sender's turn: now for a whole batch, else after the delay */
    pthread_mutex_lock(&b->mutex);

    if (!b->queued) {
        b->queued = 1;
        photo_index_due_in(b, b->delay_ms);
        pthread_cond_signal(&b->wake);
    }

    if (len >= b->batch && !b->full) {
        b->full = 1;
        pthread_cond_signal(&b->wake);
    }

    pthread_mutex_unlock(&b->mutex);

    return PHOTO_JOB_DONE;
}


/*
 * The sender: asleep while nothing waits; else until the batch is full
 * or due, then index:pending to Solr.  What could not be sent (Solr away,
 * another worker holding the flush lock) is tried again after the backoff,
 * or the delay.  A last flush before the process exits.
 */
static void *
photo_index_sender(void *data)
{
    photo_index_t  *b = data;

    int              rc, stop;
    struct timespec  now;

    pthread_mutex_lock(&b->mutex);

    for ( ;; ) {
        while (!b->stop && !b->queued) {
            pthread_cond_wait(&b->wake, &b->mutex);
        }

        while (!b->stop && !b->full) {
            clock_gettime(CLOCK_MONOTONIC, &now);

            if (now.tv_sec > b->due.tv_sec
                || (now.tv_sec == b->due.tv_sec
                    && now.tv_nsec >= b->due.tv_nsec))
            {
                break;
            }

            pthread_cond_timedwait(&b->wake, &b->mutex, &b->due);
        }

        stop = b->stop;
        b->queued = 0;
        b->full = 0;

        pthread_mutex_unlock(&b->mutex);

        rc = photo_index_flush(&b->ctx);

        pthread_mutex_lock(&b->mutex);

        if (stop) {
            break;
        }

        if (rc != 0 && !b->queued) {
            b->queued = 1;
            photo_index_due_in(b, b->failures ? (long) b->wait_ms
                                              : b->delay_ms);
        }
    }

    pthread_mutex_unlock(&b->mutex);

    return NULL;
}


static void
photo_index_due_in(photo_index_t *b, long ms)
{
    clock_gettime(CLOCK_MONOTONIC, &b->due);

    b->due.tv_sec += ms / 1000;
    b->due.tv_nsec += (ms % 1000) * 1000000;

    if (b->due.tv_nsec >= 1000000000) {
        b->due.tv_sec++;
        b->due.tv_nsec -= 1000000000;
    }
}


/*
 * index:pending to Solr from its head, a batch at a time, while this
 * worker holds the flush lock.  0: the list is sent; -1: something is
 * left to try again later.
 */
static int
photo_index_flush(photo_ctx_t *ctx)
{
    int             rc, left;
    size_t          n, taken;
    redisReply     *r;
    redisContext   *c;
    photo_index_t  *b;

    b = &photo_index_batch;

    c = photo_index_redis(ctx);
    if (c == NULL) {
        b->failures++;
        b->wait_ms = photo_worker_delay(b->failures);
        return -1;
    }

    r = redisCommand(c, "SET %s %s NX PX %d", b->lock, b->me,
                     PHOTO_INDEX_LOCK_MS);

    rc = r && r->type == REDIS_REPLY_STATUS;

    if (!rc) {
        /* no reply, or MOVED: the cluster's map is learned again */
        (void) photo_redis_failed(&ctx->redis, r);
    }

    freeReplyObject(r);

    if (!rc) {
        /* another worker is sending the list (or Redis failed): again
           after the delay, in case it ended before what we queued */
        return -1;
    }

    left = -1;

    for ( ;; ) {
        /* again each time: a dead letter on the way may have had the
           cluster's map learned again (photo_redis_key()) */
        c = photo_index_redis(ctx);
        if (c == NULL) {
            break;
        }

        r = redisCommand(c, "LRANGE %s 0 %ld", b->pending, b->batch - 1);

        if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
            (void) photo_redis_failed(&ctx->redis, r);
            photo_log_error("redis: LRANGE %s: %s", b->pending,
                            r == NULL ? c->errstr
                            : r->type == REDIS_REPLY_ERROR ? r->str
                            : "unexpected reply");
            freeReplyObject(r);
            break;
        }

        n = r->elements;
        taken = 0;
        rc = n ? photo_index_send(ctx, r->element, n, &taken) : 0;
        freeReplyObject(r);

        if (taken && photo_index_trim(ctx, taken) != 0) {
            break;
        }

        if (rc != 0) {
            b->failures++;
            b->wait_ms = photo_worker_delay(b->failures);
            break;
        }

        if (b->failures) {
            photo_log_info("solr: updates taken again after %u failures",
                           b->failures);
            b->failures = 0;
        }

        /* a short batch was the tail */
        if (n < (size_t) b->batch || photo_worker_stopping()) {
            left = 0;
            break;
        }
    }

    photo_index_unlock(ctx);

    return left;
}


/* the connection serving index:pending and its lock, which share a hash
   tag (one node), or NULL (logged) */
static redisContext *
photo_index_redis(photo_ctx_t *ctx)
{
    return photo_redis_key(&ctx->redis, photo_index_batch.lock,
                           strlen(photo_index_batch.lock));
}


/*
 * n payloads as one update; *taken: how many, from the first, Solr took
 * or refused for good (dead-lettered).  0, or -1: try again later.
 */
static int
photo_index_send(photo_ctx_t *ctx, redisReply **e, size_t n, size_t *taken)
{
    int                   rc, bad;
    char                  err[PHOTO_JOB_REASON];
    size_t                i, len, docs;
    yajl_gen              g;
    photo_job_t           job;
    photo_index_doc_t     d;
    const unsigned char  *buf;

    g = yajl_gen_alloc(NULL);
    if (g == NULL || yajl_gen_map_open(g) != yajl_gen_status_ok) {
        photo_log_error("out of memory");
        yajl_gen_free(g);
        return -1;
    }

    docs = 0;

    for (i = 0; i < n; i++) {
        if (photo_job_init(&job, PHOTO_JOB_INDEX, "", e[i]->str, e[i]->len)
            != 0)
        {
            yajl_gen_free(g);
            return -1;
        }

        bad = photo_index_doc_parse(&job, &d) != 0;

        if (bad) {
            /* checked when queued: only a list changed by hand gets here */
            rc = photo_index_refused(ctx, e[i], job.reason);

        } else {
            rc = photo_index_doc_gen(g, &d) == yajl_gen_status_ok ? 0 : -1;
            docs++;
        }

        photo_job_free(&job);

        if (rc != 0) {
            yajl_gen_free(g);
            return -1;
        }
    }

    if (docs == 0) {
        yajl_gen_free(g);
        *taken = n;
        return 0;
    }

    yajl_gen_map_close(g);
    yajl_gen_get_buf(g, &buf, &len);

    switch (photo_solr_update(&photo_index_batch.solr, buf, len, err,
                              sizeof(err)))
    {
    case PHOTO_SOLR_OK:
        yajl_gen_free(g);
        photo_log_info("solr took %zu updates", docs);
        *taken = n;
        return 0;

    case PHOTO_SOLR_REJECTED:
        yajl_gen_free(g);

        if (n == 1) {
            if (photo_index_refused(ctx, e[0], err) != 0) {
                return -1;
            }

            *taken = 1;
            return 0;
        }

        /* which one: each alone (Solr replaces by id, so sending again
           the ones before the bad one is harmless) */
        photo_log_warn("solr refused a batch of %zu (%s): sending each "
                       "alone", n, err);

        for (i = 0; i < n; i++) {
            if (photo_index_send(ctx, &e[i], 1, taken) != 0) {
                *taken = i;
                return -1;
            }
        }

        *taken = n;
        return 0;

    default:
        yajl_gen_free(g);
        photo_log_warn("solr: %s; %zu updates wait in %s, attempt %u", err, n,
                       photo_index_batch.pending,
                       photo_index_batch.failures + 1);
        return -1;
    }
}


/* dead_letter:photo_index gets the payload and why: 0, or -1 */
static int
photo_index_refused(photo_ctx_t *ctx, redisReply *e, const char *why)
{
    int           rc;
    yajl_val      unique;
    photo_job_t   job, *jobs[1];
    const char   *path[] = { PHOTO_JOB_F_UNIQUE, NULL };

    if (photo_job_init(&job, PHOTO_JOB_INDEX, "", e->str, e->len) != 0) {
        return -1;
    }

    /* the line names the job it came from, as a job handler's do */
    unique = job.root ? yajl_tree_get(job.root, path, yajl_t_string) : NULL;
    if (unique) {
        job.unique = YAJL_GET_STRING(unique);
    }

    jobs[0] = &job;
    photo_log_jobs(jobs, 1);

    snprintf(job.reason, sizeof(job.reason), "solr refused the document: %s",
             why);
    photo_log_error("%s: %.*s", job.reason, (int) e->len, e->str);

    rc = photo_ctx_dead_letter(ctx, &job);
    photo_log_jobs(NULL, 0);
    photo_job_free(&job);

    return rc;
}


/* LTRIM the n sent, if the lock is still ours (and renew it): 0, or -1 */
static int
photo_index_trim(photo_ctx_t *ctx, size_t n)
{
    int            rc;
    redisReply    *r;
    redisContext  *c;

    static const char  *script =
        "if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end "
        "redis.call('LTRIM', KEYS[1], ARGV[2], -1) "
        "redis.call('PEXPIRE', KEYS[2], ARGV[3]) "
        "return 1";

    c = photo_index_redis(ctx);
    if (c == NULL) {
        return -1;
    }

    /* hiredis's format knows no %zu */
    r = redisCommand(c, "EVAL %s 2 %s %s %s %lu %d", script,
                     photo_index_batch.pending, photo_index_batch.lock,
                     photo_index_batch.me, (unsigned long) n,
                     PHOTO_INDEX_LOCK_MS);

    rc = r && r->type == REDIS_REPLY_INTEGER && r->integer == 1 ? 0 : -1;

    if (rc != 0) {
        (void) photo_redis_failed(&ctx->redis, r);

        /* sent again by whoever flushes next: harmless, never lost */
        photo_log_error("redis: cannot trim %s: %s", photo_index_batch.pending,
                        r == NULL ? c->errstr
                        : r->type == REDIS_REPLY_ERROR ? r->str
                        : "the flush lock expired");
    }

    freeReplyObject(r);

    return rc;
}


/* the flush lock given up, if it is still ours (else it expires) */
static void
photo_index_unlock(photo_ctx_t *ctx)
{
    redisContext  *c;

    static const char  *script =
        "if redis.call('GET', KEYS[1]) == ARGV[1] then "
        "return redis.call('DEL', KEYS[1]) end return 0";

    c = photo_index_redis(ctx);
    if (c == NULL) {
        return;
    }

    freeReplyObject(redisCommand(c, "EVAL %s 1 %s %s", script,
                                 photo_index_batch.lock,
                                 photo_index_batch.me));
}
