/*
 * photo_follow: one user follows or unfollows another (background job,
 * from nginx).
 *
 *   follow:   the row in follows (nothing if it is there), then the
 *             followee's recent photos (newest first, up to the cap) into
 *             the follower's feed, then a "follow" entry in the followee's
 *             activity (photo_activity.h; its id the job's request id,
 *             once per follower: none when the follower has one there);
 *   unfollow: the row deleted, then those same photos out of the feed.
 *
 * The feed is changed whether or not it is complete, as fan-out does (see
 * photo_list.h): the reader rebuilds an incomplete one from Postgres,
 * where the follow is already committed.  Following oneself, or a user
 * that does not exist, can never succeed: dead letter.
 */

#include "photo_worker.h"
#include "photo_activity.h"
#include "photo_id.h"
#include "photo_keys.h"
#include "photo_list.h"
#include "photo_log.h"
#include "photo_notify_event.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


enum { PHOTO_FOLLOW = 0, PHOTO_UNFOLLOW };

static const char  *photo_follow_actions[] = { "follow", "unfollow", NULL };


static photo_job_rc_t photo_follow(photo_ctx_t *ctx, photo_job_t *job);
static photo_job_rc_t photo_follow_row(photo_ctx_t *ctx, photo_job_t *job,
    int action, const char *const *params);
static photo_job_rc_t photo_follow_feed(photo_ctx_t *ctx, photo_job_t *job,
    int action, int64_t follower, const char *followee);
static photo_job_rc_t photo_follow_activity(photo_ctx_t *ctx,
    photo_job_t *job, int64_t request, int64_t follower, int64_t followee);
static photo_job_rc_t photo_follow_entry(photo_ctx_t *ctx, photo_job_t *job,
    int64_t request, int64_t follower, int64_t followee);


static const photo_worker_function_t  photo_follow_functions[] = {
    { .name = PHOTO_JOB_FOLLOW, .handler = photo_follow,
      .kind = PHOTO_JOB_BACKGROUND },
    { .name = NULL }
};


int
main(int argc, char **argv)
{
    return photo_worker_main(argc, argv, "photo_follow",
                             "Applies follows and unfollows: the row in "
                             "Postgres, then the follower's feed.",
                             photo_follow_functions);
}


static photo_job_rc_t
photo_follow(photo_ctx_t *ctx, photo_job_t *job)
{
    int              action;
    char             follower_s[PHOTO_ID_BUF], followee_s[PHOTO_ID_BUF];
    int64_t          request, follower, followee;
    const char      *params[2];
    photo_job_rc_t   rc;

    /* the request id: the follow's activity entry's */
    if (photo_job_id(job, PHOTO_JOB_F_UNIQUE, &request)
        || photo_job_id(job, PHOTO_JOB_F_FOLLOWER, &follower)
        || photo_job_id(job, PHOTO_JOB_F_FOLLOWEE, &followee)
        || photo_job_oneof(job, PHOTO_JOB_F_ACTION, photo_follow_actions,
                           &action))
    {
        return PHOTO_JOB_DEAD;
    }

    if (follower == followee) {
        return photo_job_dead(job, "user %" PRId64 " cannot %s themselves",
                              follower, photo_follow_actions[action]);
    }

    photo_id_format(follower_s, follower);
    photo_id_format(followee_s, followee);
    params[0] = follower_s;
    params[1] = followee_s;

    rc = photo_follow_row(ctx, job, action, params);

    if (rc == PHOTO_JOB_DONE) {
        rc = photo_follow_feed(ctx, job, action, follower, followee_s);
    }

    if (rc == PHOTO_JOB_DONE && action == PHOTO_FOLLOW) {
        rc = photo_follow_activity(ctx, job, request, follower, followee);
    }

    /* the followee hears of it (push notifications, when enabled) */
    if (rc == PHOTO_JOB_DONE && action == PHOTO_FOLLOW
        && photo_notify_enabled(ctx->cf))
    {
        rc = photo_notify_submit(ctx, job, "follow", followee, follower, 0);
    }

    if (rc == PHOTO_JOB_DONE) {
        photo_log_info("user %s %ss user %s", follower_s,
                       photo_follow_actions[action], followee_s);
    }

    return rc;
}


static photo_job_rc_t
photo_follow_row(photo_ctx_t *ctx, photo_job_t *job, int action,
    const char *const *params)
{
    PGresult        *res;
    photo_job_rc_t   rc;

    static const char  *both_exist =
        "select count(*) from users where id in ($1, $2)";

    static const char  *sql[] = {
        "insert into follows (follower, followee) values ($1, $2)"
        " on conflict do nothing",
        "delete from follows where follower = $1 and followee = $2"
    };

    /* an unfollow of nobody would delete nothing: still a bad job */
    res = photo_ctx_pg(ctx, job, both_exist, 2, params, &rc);
    if (res == NULL) {
        return rc;
    }

    if (atoi(PQgetvalue(res, 0, 0)) != 2) {
        PQclear(res);
        return photo_job_dead(job, "unknown user: %s or %s", params[0],
                              params[1]);
    }

    PQclear(res);

    /* a user deleted since: foreign key violation, a dead letter too */
    res = photo_ctx_pg(ctx, job, sql[action], 2, params, &rc);
    if (res == NULL) {
        return rc;
    }

    PQclear(res);

    return PHOTO_JOB_DONE;
}


static photo_job_rc_t
photo_follow_feed(photo_ctx_t *ctx, photo_job_t *job, int action,
    int64_t follower, const char *followee)
{
    int              i, rows, failed;
    char             key[64], cap[16];
    int64_t         *ids;
    PGresult        *res;
    photo_job_rc_t   rc;
    const char      *params[2];

    static const char  *recent =
        "select id from photos where user_id = $1 order by id desc limit $2";

    snprintf(cap, sizeof(cap), "%d", ctx->cf->feed_cap);
    params[0] = followee;
    params[1] = cap;

    res = photo_ctx_pg(ctx, job, recent, 2, params, &rc);
    if (res == NULL) {
        return rc;
    }

    rows = PQntuples(res);
    if (rows == 0) {
        PQclear(res);
        return PHOTO_JOB_DONE;
    }

    ids = malloc((size_t) rows * sizeof(int64_t));
    if (ids == NULL) {
        PQclear(res);
        return photo_job_retry(job, "out of memory");
    }

    for (i = 0; i < rows; i++) {
        ids[i] = strtoll(PQgetvalue(res, i, 0), NULL, 10);
    }

    PQclear(res);

    (void) photo_key_list(key, sizeof(key), PHOTO_REDIS_FEED, follower);

    if (action == PHOTO_FOLLOW) {
        failed = photo_list_add(&ctx->redis, key, ids, (size_t) rows,
                                ctx->cf->feed_cap);
    } else {
        failed = photo_list_remove(&ctx->redis, key, ids, (size_t) rows);
    }

    free(ids);

    if (failed == PHOTO_LIST_AWAY) {
        return photo_ctx_failed(job, PHOTO_BACKEND_REDIS, "unreachable");
    }

    return failed ? photo_ctx_failed(job, PHOTO_BACKEND_REDIS,
                                     "%s not updated", key)
                  : PHOTO_JOB_DONE;
}


/* the followee's "follow" entry, in a transaction of its own */
static photo_job_rc_t
photo_follow_activity(photo_ctx_t *ctx, photo_job_t *job, int64_t request,
    int64_t follower, int64_t followee)
{
    photo_job_rc_t  rc;

    rc = photo_ctx_pg_begin(ctx, job);
    if (rc != PHOTO_JOB_DONE) {
        return rc;
    }

    rc = photo_follow_entry(ctx, job, request, follower, followee);

    return photo_ctx_pg_end(ctx, job, rc);
}


static photo_job_rc_t
photo_follow_entry(photo_ctx_t *ctx, photo_job_t *job, int64_t request,
    int64_t follower, int64_t followee)
{
    char              id[PHOTO_ID_BUF];
    PGresult         *res;
    const char       *params[1];
    photo_job_rc_t    rc;
    photo_activity_t  a;

    /* the list's lock first: a follow told twice at once is told once */
    rc = photo_activity_lock(ctx, job, followee);
    if (rc != PHOTO_JOB_DONE) {
        return rc;
    }

    photo_id_format(id, follower);
    params[0] = id;

    res = photo_ctx_pg(ctx, job, "select username from users where id = $1",
                       1, params, &rc);
    if (res == NULL) {
        return rc;
    }

    if (PQntuples(res) == 0) {
        PQclear(res);
        return photo_job_dead(job, "unknown user: %s", id);
    }

    memset(&a, 0, sizeof(a));
    a.id = request;
    a.type = "follow";
    a.actor_id = follower;
    a.actor_name = PQgetvalue(res, 0, 0);
    a.actor_name_len = (size_t) PQgetlength(res, 0, 0);
    a.created_at = photo_activity_time(request);

    rc = photo_activity_add(ctx, job, followee, &a, 1);

    PQclear(res);

    return rc;
}
