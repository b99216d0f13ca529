/*
 * photo_fanout: a new photo's id into the feed of every follower of its
 * poster, or a deleted photo's out of them (background job, queued by
 * photo_persist; "delete":true).
 *
 * The followers are read in pages by keyset (follower > the last one done,
 * in the order of the (followee, follower) index), so that 100,000 of them
 * are neither one result in memory nor one long transaction; each page goes
 * to Redis in pipelined batches of ZADD + trim.
 *
 * Idempotent by construction: adding an id twice is a no-op.  A worker
 * killed in the middle leaves some feeds done; gearmand gives the job to
 * the next worker, which adds the id to all of them again, and each feed
 * ends up with it exactly once.  Within one process a retry resumes after
 * the last page that went through (job->progress).
 */

#include "photo_worker.h"
#include "photo_id.h"
#include "photo_list.h"
#include "photo_log.h"
#include "photo_notify_event.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>


#define PHOTO_FANOUT_PAGE  10000


static photo_job_rc_t photo_fanout(photo_ctx_t *ctx, photo_job_t *job);
static photo_job_rc_t photo_fanout_page(photo_ctx_t *ctx, photo_job_t *job,
    int64_t id, const char *poster, int del, int64_t *followers, size_t *n);
static double photo_fanout_now(void);


static const photo_worker_function_t  photo_fanout_functions[] = {
    { .name = PHOTO_JOB_FANOUT, .handler = photo_fanout,
      .kind = PHOTO_JOB_BACKGROUND },
    { .name = NULL }
};


int
main(int argc, char **argv)
{
    int             rc;
    photo_worker_t  w;

    if (photo_worker_init(&w, argc, argv, "photo_fanout",
                          "Puts a new photo's id into the feed of every "
                          "follower of its poster.", photo_fanout_functions)
        != 0)
    {
        return w.exit_code;
    }

    photo_list_metrics();

    rc = photo_worker_run(&w);

    photo_worker_done(&w);

    return rc;
}


static photo_job_rc_t
photo_fanout(photo_ctx_t *ctx, photo_job_t *job)
{
    char             poster[PHOTO_ID_BUF];
    size_t           n, total;
    double           start, secs;
    int              del;
    int64_t          id, user_id, *followers;
    const char      *unique;
    photo_job_rc_t   rc;

    if (photo_job_string(job, PHOTO_JOB_F_UNIQUE, 1, 128, &unique, NULL)
        || photo_job_id(job, PHOTO_JOB_F_ID, &id)
        || photo_job_id(job, PHOTO_JOB_F_USER_ID, &user_id)
        || photo_job_flag(job, PHOTO_JOB_F_DELETE, &del))
    {
        return PHOTO_JOB_DEAD;
    }

    followers = malloc(PHOTO_FANOUT_PAGE * sizeof(int64_t));
    if (followers == NULL) {
        return photo_job_retry(job, "out of memory");
    }

    photo_id_format(poster, user_id);
    start = photo_fanout_now();
    total = 0;

    do {
        rc = photo_fanout_page(ctx, job, id, poster, del, followers, &n);
        total += n;
    } while (rc == PHOTO_JOB_DONE && n == PHOTO_FANOUT_PAGE);

    free(followers);

    if (rc == PHOTO_JOB_DONE) {
        secs = photo_fanout_now() - start;
        photo_log_info("photo %" PRId64 " of user %" PRId64 ": %s %zu "
                       "feeds%s in %.0f ms (%.0f/s)", id, user_id,
                       del ? "out of" : "into", total,
                       job->attempt > 1 ? " (after a retry)" : "",
                       secs * 1000, secs > 0 ? total / secs : 0.0);
    }

    return rc;
}


/* the next page of followers after job->progress, into their feeds */
static photo_job_rc_t
photo_fanout_page(photo_ctx_t *ctx, photo_job_t *job, int64_t id,
    const char *poster, int del, int64_t *followers, size_t *n)
{
    int             i, rows, failed;
    char            after[PHOTO_ID_BUF], limit[16];
    PGresult       *res;
    photo_job_rc_t  rc;
    const char     *params[3];

    static const char  *sql =
        "select follower from follows where followee = $1 and follower > $2"
        " order by follower limit $3";

    *n = 0;

    snprintf(after, sizeof(after), "%" PRId64, job->progress);
    snprintf(limit, sizeof(limit), "%d", PHOTO_FANOUT_PAGE);

    params[0] = poster;
    params[1] = after;
    params[2] = limit;

    res = photo_ctx_pg(ctx, job, sql, 3, params, &rc);
    if (res == NULL) {
        return rc;
    }

    rows = PQntuples(res);

    for (i = 0; i < rows; i++) {
        followers[i] = strtoll(PQgetvalue(res, i, 0), NULL, 10);
    }

    PQclear(res);

    if (rows == 0) {
        return PHOTO_JOB_DONE;
    }

    /* each follower's feed on its node (photo_list.h) */
    failed = del ? photo_list_unfanout(&ctx->redis, PHOTO_REDIS_FEED,
                                       followers, (size_t) rows, id)
                 : photo_list_fanout(&ctx->redis, PHOTO_REDIS_FEED,
                                     followers, (size_t) rows, id,
                                     ctx->cf->feed_cap);

    if (failed == PHOTO_LIST_AWAY) {
        return photo_ctx_failed(job, PHOTO_BACKEND_REDIS, "unreachable");
    }

    if (failed) {
        return photo_ctx_failed(job, PHOTO_BACKEND_REDIS,
                                "feeds after follower %" PRId64
                                " not updated", job->progress);
    }

    /* one push job per follower: off unless PHOTO_NOTIFY_PHOTOS=1; a
       retried page submits the same unique keys, which gearmand and the
       notify worker take once */
    for (i = 0; i < rows && !del && photo_notify_photos(ctx->cf); i++) {
        rc = photo_notify_submit(ctx, job, "photo", followers[i],
                                 strtoll(poster, NULL, 10), id);
        if (rc != PHOTO_JOB_DONE) {
            return rc;
        }
    }

    job->progress = followers[rows - 1];
    *n = (size_t) rows;

    return PHOTO_JOB_DONE;
}


static double
photo_fanout_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec + ts.tv_nsec / 1e9;
}
