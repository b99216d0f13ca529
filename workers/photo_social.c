/*
 * photo_social: likes, comments and the activity feed (background jobs
 * photo_like, photo_comment and photo_social_purge; photo_contract.h,
 * "Likes and the activity feed").
 *
 * photo_like, in one transaction:
 *
 *   1. the photo's row locked (none: the photo is gone, nothing to do);
 *   2. the likes row set when the job's request id is newer than the one
 *      applied last (an older job that gearmand replays late changes
 *      nothing), and photos.like_count moved by what that changed;
 *   3. likes:{liker} made to say what the row says now;
 *   4. for another's photo, the owner's activity: while the row is liked,
 *      one entry, that of the like that made it so (a second like keeps
 *      it); once unliked, none;
 *
 * then the COMMIT, the photo object rewritten (photo_object_store.h) and,
 * when this job's like made that entry, the owner told (photo_notify
 * "like"), once per like_notified: key.
 *
 * photo_comment: a comment (its id is nginx's: a replay inserts nothing,
 * and an id in comment_deletions never comes back), comment_count and the
 * owner's activity entry in one transaction, then the object and the
 * owner told; or a comment deleted: the row out and into
 * comment_deletions, the count, its entry out, then the object.
 *
 * photo_social_purge: a deleted photo's likes and activity entries out of
 * Redis and Postgres, a batch per transaction, then its comments.
 *
 * Everything after the likes row is made from what the rows say then, not
 * from what the job asks: a replay, or a job that a newer one overtook,
 * writes the same again.  Redis is written before the COMMIT, under the
 * list's lock (photo_marked.h): a worker that dies before it leaves
 * nothing that gearmand's replay does not write again.
 */

#include "photo_worker.h"
#include "photo_activity.h"
#include "photo_id.h"
#include "photo_keys.h"
#include "photo_list.h"
#include "photo_log.h"
#include "photo_marked.h"
#include "photo_notify_event.h"
#include "photo_object_store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#define PHOTO_SOCIAL_UNIQUE_MAX   2048
#define PHOTO_SOCIAL_TEXT_MAX     (PHOTO_COMMENT_MAX_CHARS * 4)  /* bytes;
                                                    Postgres counts chars */
#define PHOTO_SOCIAL_CREATED_MAX  253402300799LL  /* 9999-12-31T23:59:59Z */
#define PHOTO_SOCIAL_PURGE_BATCH  500             /* rows, and list locks,
                                                     per transaction */

enum { PHOTO_LIKE = 0, PHOTO_UNLIKE };

static const char  *photo_like_actions[] = { "like", "unlike", NULL };


/* the photo a job is about, locked, and the user acting on it */
typedef struct {
    PGresult       *res;
    int64_t         owner;
    const char     *image_url;
    size_t          image_url_len;
    const char     *actor_name;     /* "" when the user is unknown */
    size_t          actor_name_len;
} photo_social_photo_t;

/* a (photo, user) likes row after a job: what it holds now */
typedef struct {
    int             liked;
    int64_t         action_id;      /* the job applied last */
    int             delta;          /* what this job did to like_count */
    int64_t         entry_id;       /* the like whose activity entry the
                                       owner has; 0: none */
} photo_like_state_t;


static photo_job_rc_t photo_like(photo_ctx_t *ctx, photo_job_t *job);
static photo_job_rc_t photo_like_apply(photo_ctx_t *ctx, photo_job_t *job,
    int64_t request, int64_t liker, int64_t photo, int action,
    photo_social_photo_t *ph, photo_like_state_t *st);
static photo_job_rc_t photo_like_row(photo_ctx_t *ctx, photo_job_t *job,
    int64_t request, int64_t liker, int64_t photo, int action,
    photo_like_state_t *st);
static photo_job_rc_t photo_like_list(photo_ctx_t *ctx, photo_job_t *job,
    int64_t liker, int64_t photo, int liked);
static photo_job_rc_t photo_like_activity(photo_ctx_t *ctx, photo_job_t *job,
    int64_t request, int64_t liker, int64_t photo,
    const photo_social_photo_t *ph, photo_like_state_t *st);
static photo_job_rc_t photo_like_notify(photo_ctx_t *ctx, photo_job_t *job,
    int64_t request, int64_t liker, int64_t photo, int64_t owner);
static photo_job_rc_t photo_comment(photo_ctx_t *ctx, photo_job_t *job);
static photo_job_rc_t photo_comment_add(photo_ctx_t *ctx, photo_job_t *job);
static photo_job_rc_t photo_comment_apply(photo_ctx_t *ctx, photo_job_t *job,
    int64_t id, int64_t author, int64_t photo, const char *text,
    int64_t created, photo_social_photo_t *ph, int *present);
static photo_job_rc_t photo_comment_delete(photo_ctx_t *ctx,
    photo_job_t *job);
static photo_job_rc_t photo_comment_remove(photo_ctx_t *ctx,
    photo_job_t *job, int64_t id, int64_t who, int64_t *photo);
static photo_job_rc_t photo_social_purge(photo_ctx_t *ctx, photo_job_t *job);
static photo_job_rc_t photo_purge_likes(photo_ctx_t *ctx, photo_job_t *job,
    int64_t photo, int *more);
static photo_job_rc_t photo_purge_activities(photo_ctx_t *ctx,
    photo_job_t *job, int64_t photo, int *more);
static photo_job_rc_t photo_social_photo(photo_ctx_t *ctx, photo_job_t *job,
    int64_t photo, int64_t actor, photo_social_photo_t *ph);
static photo_job_rc_t photo_social_lock_lists(photo_ctx_t *ctx,
    photo_job_t *job, const char *prefix, const char *users);
static char *photo_social_ids(PGresult *res, int col);


static const photo_worker_function_t  photo_social_functions[] = {
    { .name = PHOTO_JOB_LIKE, .handler = photo_like,
      .kind = PHOTO_JOB_BACKGROUND },
    { .name = PHOTO_JOB_COMMENT, .handler = photo_comment,
      .kind = PHOTO_JOB_BACKGROUND },
    { .name = PHOTO_JOB_SOCIAL_PURGE, .handler = photo_social_purge,
      .kind = PHOTO_JOB_BACKGROUND },
    { .name = NULL }
};


int
main(int argc, char **argv)
{
    return photo_worker_main(argc, argv, "photo_social",
                             "Applies likes and comments: the rows and "
                             "counts in Postgres, the likes and\nactivity "
                             "lists in Redis, the photo object in "
                             "memcached; and purges a deleted\nphoto's.",
                             photo_social_functions);
}


/* ------------------------------------------------------------------ likes */


static photo_job_rc_t
photo_like(photo_ctx_t *ctx, photo_job_t *job)
{
    int                   action;
    int64_t               request, liker, photo;
    photo_job_rc_t        rc;
    photo_like_state_t    st;
    photo_social_photo_t  ph;

    /* the request id orders a user's likes and unlikes of a photo */
    if (photo_job_id(job, PHOTO_JOB_F_UNIQUE, &request)
        || photo_job_id(job, PHOTO_JOB_F_USER_ID, &liker)
        || photo_job_id(job, PHOTO_JOB_F_PHOTO_ID, &photo)
        || photo_job_oneof(job, PHOTO_JOB_F_ACTION, photo_like_actions,
                           &action))
    {
        return PHOTO_JOB_DEAD;
    }

    memset(&ph, 0, sizeof(ph));
    memset(&st, 0, sizeof(st));

    rc = photo_ctx_pg_begin(ctx, job);

    if (rc == PHOTO_JOB_DONE) {
        rc = photo_like_apply(ctx, job, request, liker, photo, action, &ph,
                              &st);
        rc = photo_ctx_pg_end(ctx, job, rc);
    }

    PQclear(ph.res);

    if (rc != PHOTO_JOB_DONE) {
        return rc;
    }

    if (ph.owner == 0) {
        photo_log_info("photo %" PRId64 " is gone: %s of user %" PRId64
                       " not applied", photo, photo_like_actions[action],
                       liker);
        return PHOTO_JOB_DONE;
    }

    rc = photo_object_store(ctx, job, photo);

    /* told of the like that made it liked, on a replay too */
    if (rc == PHOTO_JOB_DONE && st.entry_id == request
        && photo_notify_enabled(ctx->cf))
    {
        rc = photo_like_notify(ctx, job, request, liker, photo, ph.owner);
    }

    if (rc == PHOTO_JOB_DONE) {
        photo_log_info("user %" PRId64 " %ss photo %" PRId64 ": %s (%+d)",
                       liker, photo_like_actions[action], photo,
                       st.action_id == request ? "applied"
                       : "older than the one applied", st.delta);
    }

    return rc;
}


/* steps 1 to 4, in the transaction; ph->owner stays 0 for a photo gone */
static photo_job_rc_t
photo_like_apply(photo_ctx_t *ctx, photo_job_t *job, int64_t request,
    int64_t liker, int64_t photo, int action, photo_social_photo_t *ph,
    photo_like_state_t *st)
{
    photo_job_rc_t  rc;

    rc = photo_social_photo(ctx, job, photo, liker, ph);
    if (rc != PHOTO_JOB_DONE || ph->owner == 0) {
        return rc;
    }

    rc = photo_like_row(ctx, job, request, liker, photo, action, st);

    if (rc == PHOTO_JOB_DONE) {
        rc = photo_like_list(ctx, job, liker, photo, st->liked);
    }

    if (rc == PHOTO_JOB_DONE && ph->owner != liker) {
        rc = photo_like_activity(ctx, job, request, liker, photo, ph, st);
    }

    return rc;
}


/*
 * The likes row: set when the job's request id is newer than the one it
 * holds, and like_count moved by the change.  The photo's row is locked
 * (photo_social_photo()), so no other like of this photo runs meanwhile.
 */
static photo_job_rc_t
photo_like_row(photo_ctx_t *ctx, photo_job_t *job, int64_t request,
    int64_t liker, int64_t photo, int action, photo_like_state_t *st)
{
    int              was, changed;
    char             ids[3][PHOTO_ID_BUF], delta[8];
    PGresult        *res;
    const char      *params[4];
    photo_job_rc_t   rc;

    /* old: the row before (the statement's snapshot); up: the row set,
       when it was */
    static const char  *set =
        "with old as (select liked, action_id from likes"
        " where photo_id = $1::bigint and user_id = $2::bigint),"
        " up as (insert into likes (photo_id, user_id, liked, action_id)"
        " values ($1::bigint, $2::bigint, $3::boolean, $4::bigint)"
        " on conflict (photo_id, user_id) do update"
        " set liked = excluded.liked, action_id = excluded.action_id"
        " where likes.action_id < excluded.action_id returning liked)"
        " select (select liked from old), (select action_id from old),"
        " (select liked from up)";

    photo_id_format(ids[0], photo);
    photo_id_format(ids[1], liker);
    photo_id_format(ids[2], request);

    params[0] = ids[0];
    params[1] = ids[1];
    params[2] = action == PHOTO_LIKE ? "t" : "f";
    params[3] = ids[2];

    res = photo_ctx_pg(ctx, job, set, 4, params, &rc);
    if (res == NULL) {
        return rc;
    }

    was = !PQgetisnull(res, 0, 0) && PQgetvalue(res, 0, 0)[0] == 't';
    changed = !PQgetisnull(res, 0, 2);

    if (changed) {
        st->liked = PQgetvalue(res, 0, 2)[0] == 't';
        st->action_id = request;
        st->delta = st->liked - was;

    } else {
        st->liked = was;
        st->action_id = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
        st->delta = 0;
    }

    PQclear(res);

    if (st->delta == 0) {
        return PHOTO_JOB_DONE;
    }

    snprintf(delta, sizeof(delta), "%d", st->delta);
    params[1] = delta;

    res = photo_ctx_pg(ctx, job, "update photos set like_count ="
                       " like_count + $2::integer where id = $1::bigint",
                       2, params, &rc);
    PQclear(res);

    return rc;
}


/* likes:{liker} saying what the row says now (rebuilt when incomplete) */
static photo_job_rc_t
photo_like_list(photo_ctx_t *ctx, photo_job_t *job, int64_t liker,
    int64_t photo, int liked)
{
    char            key[PHOTO_KEY_MAX], user[PHOTO_ID_BUF],
                    member[PHOTO_ID_BUF];
    const char     *params[1];
    photo_job_rc_t  rc;
    photo_marked_t  list;

    /* photo_id_pad() in SQL */
    static const char  *rebuild =
        "select lpad(photo_id::text, 19, '0') from likes"
        " where user_id = $1 and liked";

    (void) photo_key_list(key, sizeof(key), PHOTO_REDIS_LIKES, liker);

    rc = photo_ctx_pg_lock(ctx, job, key);
    if (rc != PHOTO_JOB_DONE) {
        return rc;
    }

    photo_id_format(user, liker);
    params[0] = user;

    list.key = key;
    list.cap = 0;
    list.sql = rebuild;
    list.nparams = 1;
    list.params = params;

    photo_id_pad(member, photo);

    return photo_marked_change(ctx, job, &list,
                               liked ? PHOTO_MARKED_ADD : PHOTO_MARKED_REM,
                               member, PHOTO_ID_MAX_DIGITS);
}


/*
 * The owner's activity: while the row is liked, the entry of the like that
 * made it so (kept by a second like; made by this job when it is that
 * like: the row holds it and there is none yet); once unliked, none.
 * st->entry_id: the like whose entry it is.
 */
static photo_job_rc_t
photo_like_activity(photo_ctx_t *ctx, photo_job_t *job, int64_t request,
    int64_t liker, int64_t photo, const photo_social_photo_t *ph,
    photo_like_state_t *st)
{
    int               i;
    char              ids[2][PHOTO_ID_BUF];
    PGresult         *res;
    const char       *params[2];
    photo_job_rc_t    rc;
    photo_activity_t  a;

    static const char  *sql[] = {
        "select id from activities where actor_id = $1 and kind = 'like'"
        " and photo_id = $2",
        "delete from activities where actor_id = $1 and kind = 'like'"
        " and photo_id = $2 returning id"
    };

    rc = photo_activity_lock(ctx, job, ph->owner);
    if (rc != PHOTO_JOB_DONE) {
        return rc;
    }

    photo_id_format(ids[0], liker);
    photo_id_format(ids[1], photo);
    params[0] = ids[0];
    params[1] = ids[1];

    res = photo_ctx_pg(ctx, job, sql[!st->liked], 2, params, &rc);
    if (res == NULL) {
        return rc;
    }

    if (st->liked) {
        if (PQntuples(res) > 0) {
            st->entry_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        }

        PQclear(res);

        if (st->entry_id != 0 || st->action_id != request) {
            /* it has one, or the newer like made it */
            return PHOTO_JOB_DONE;
        }

        st->entry_id = request;

        memset(&a, 0, sizeof(a));
        a.id = request;
        a.type = "like";
        a.actor_id = liker;
        a.actor_name = ph->actor_name;
        a.actor_name_len = ph->actor_name_len;
        a.photo_id = photo;
        a.image_url = ph->image_url;
        a.image_url_len = ph->image_url_len;
        a.created_at = photo_activity_time(request);

        return photo_activity_add(ctx, job, ph->owner, &a, 0);
    }

    for (i = 0; rc == PHOTO_JOB_DONE && i < PQntuples(res); i++) {
        rc = photo_activity_pull(ctx, job, ph->owner,
                                 strtoll(PQgetvalue(res, i, 0), NULL, 10));
    }

    PQclear(res);

    return rc;
}


/*
 * The owner told of a like, once per like_notified: key (a like, unlike
 * and like again is one push).  The key holds the request id of the like
 * that set it: a replay of that like finds its own id and submits again
 * (gearmand or the notify worker's marks make that one push).
 */
static photo_job_rc_t
photo_like_notify(photo_ctx_t *ctx, photo_job_t *job, int64_t request,
    int64_t liker, int64_t photo, int64_t owner)
{
    int            n, ours;
    char           key[PHOTO_KEY_MAX + 2 * PHOTO_ID_BUF], value[PHOTO_ID_BUF],
                   ttl[16];
    redisReply    *r;
    redisContext  *c;

    static const char  *script =
        "local v = redis.call('GET', KEYS[1]) "
        "if not v then "
        "  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) "
        "  return 1 "
        "end "
        "if v == ARGV[1] then return 1 end "
        "return 0";

    n = photo_key_list(key, PHOTO_KEY_MAX, PHOTO_REDIS_LIKE_NOTIFIED, owner);
    snprintf(key + n, sizeof(key) - (size_t) n, ":%" PRId64 ":%" PRId64,
             photo, liker);
    photo_id_format(value, request);
    snprintf(ttl, sizeof(ttl), "%d", PHOTO_LIKE_NOTIFY_TTL);

    c = photo_ctx_redis_key(ctx, job, key, strlen(key));
    if (c == NULL) {
        return PHOTO_JOB_RETRY;
    }

    r = redisCommand(c, "EVAL %s 1 %s %s %s", script, key, value, ttl);

    if (r == NULL || r->type != REDIS_REPLY_INTEGER) {
        (void) photo_redis_failed(&ctx->redis, r);
        photo_ctx_failed(job, PHOTO_BACKEND_REDIS, "%s: %s", key,
                         r == NULL ? c->errstr
                         : r->type == REDIS_REPLY_ERROR ? r->str
                         : "unexpected reply");
        freeReplyObject(r);
        return PHOTO_JOB_RETRY;
    }

    ours = r->integer == 1;
    freeReplyObject(r);

    if (!ours) {
        photo_log_debug("%s: told of an earlier like", key);
        return PHOTO_JOB_DONE;
    }

    return photo_notify_submit_about(ctx, job, "like", request, owner, liker,
                                     photo, "");
}


/* --------------------------------------------------------------- comments */


static photo_job_rc_t
photo_comment(photo_ctx_t *ctx, photo_job_t *job)
{
    int  del;

    if (photo_job_object(job) != 0
        || photo_job_flag(job, PHOTO_JOB_F_DELETE, &del) != 0)
    {
        return PHOTO_JOB_DEAD;
    }

    return del ? photo_comment_delete(ctx, job)
               : photo_comment_add(ctx, job);
}


static photo_job_rc_t
photo_comment_add(photo_ctx_t *ctx, photo_job_t *job)
{
    int                   present;
    int64_t               id, author, photo, created;
    const char           *unique, *text;
    photo_job_rc_t        rc;
    photo_social_photo_t  ph;

    if (photo_job_string(job, PHOTO_JOB_F_UNIQUE, 1, PHOTO_SOCIAL_UNIQUE_MAX,
                         &unique, NULL)
        || photo_job_id(job, PHOTO_JOB_F_ID, &id)
        || photo_job_id(job, PHOTO_JOB_F_USER_ID, &author)
        || photo_job_id(job, PHOTO_JOB_F_PHOTO_ID, &photo)
        || photo_job_string(job, PHOTO_JOB_F_TEXT, 1, PHOTO_SOCIAL_TEXT_MAX,
                            &text, NULL)
        || photo_job_integer(job, PHOTO_JOB_F_CREATED_AT, 0,
                             PHOTO_SOCIAL_CREATED_MAX, &created))
    {
        return PHOTO_JOB_DEAD;
    }

    memset(&ph, 0, sizeof(ph));
    present = 0;

    rc = photo_ctx_pg_begin(ctx, job);

    if (rc == PHOTO_JOB_DONE) {
        rc = photo_comment_apply(ctx, job, id, author, photo, text, created,
                                 &ph, &present);
        rc = photo_ctx_pg_end(ctx, job, rc);
    }

    PQclear(ph.res);

    if (rc != PHOTO_JOB_DONE) {
        return rc;
    }

    if (!present) {
        photo_log_info("comment %" PRId64 " not applied: photo %" PRId64
                       " is gone, or the comment was deleted", id, photo);
        return PHOTO_JOB_DONE;
    }

    rc = photo_object_store(ctx, job, photo);

    if (rc == PHOTO_JOB_DONE && ph.owner != author
        && photo_notify_enabled(ctx->cf))
    {
        rc = photo_notify_submit_about(ctx, job, "comment", id, ph.owner,
                                       author, photo, text);
    }

    if (rc == PHOTO_JOB_DONE) {
        photo_log_info("comment %" PRId64 " of user %" PRId64 " on photo %"
                       PRId64 " stored", id, author, photo);
    }

    return rc;
}


/*
 * The comment, unless its id was deleted, and the count when it is new;
 * *present: the comment is there now (new, or stored by an earlier run of
 * this job), so its entry is made (again: the row's).
 */
static photo_job_rc_t
photo_comment_apply(photo_ctx_t *ctx, photo_job_t *job, int64_t id,
    int64_t author, int64_t photo, const char *text, int64_t created,
    photo_social_photo_t *ph, int *present)
{
    char              ids[3][PHOTO_ID_BUF], stamp[24];
    PGresult         *res;
    const char       *params[5];
    photo_job_rc_t    rc;
    photo_activity_t  a;

    /* exists (ins), exists (before): both from the statement's snapshot,
       so the second says whether an earlier run stored it */
    static const char  *insert =
        "with ins as (insert into comments (id, photo_id, user_id, text,"
        " created_at)"
        " select $1::bigint, $2::bigint, $3::bigint, $4::text,"
        " to_timestamp($5::bigint)"
        " where not exists (select 1 from comment_deletions"
        " where id = $1::bigint)"
        " on conflict (id) do nothing returning id),"
        " cnt as (update photos set comment_count = comment_count + 1"
        " where id = $2::bigint and exists (select 1 from ins))"
        " select exists (select 1 from ins), exists (select 1 from comments"
        " where id = $1::bigint and photo_id = $2::bigint"
        " and user_id = $3::bigint)";

    rc = photo_social_photo(ctx, job, photo, author, ph);
    if (rc != PHOTO_JOB_DONE || ph->owner == 0) {
        return rc;
    }

    photo_id_format(ids[0], id);
    photo_id_format(ids[1], photo);
    photo_id_format(ids[2], author);
    snprintf(stamp, sizeof(stamp), "%" PRId64, created);

    params[0] = ids[0];
    params[1] = ids[1];
    params[2] = ids[2];
    params[3] = text;
    params[4] = stamp;

    res = photo_ctx_pg(ctx, job, insert, 5, params, &rc);
    if (res == NULL) {
        return rc;
    }

    *present = PQgetvalue(res, 0, 0)[0] == 't'
               || PQgetvalue(res, 0, 1)[0] == 't';
    PQclear(res);

    if (!*present || ph->owner == author) {
        return PHOTO_JOB_DONE;
    }

    rc = photo_activity_lock(ctx, job, ph->owner);
    if (rc != PHOTO_JOB_DONE) {
        return rc;
    }

    memset(&a, 0, sizeof(a));
    a.id = id;
    a.type = "comment";
    a.actor_id = author;
    a.actor_name = ph->actor_name;
    a.actor_name_len = ph->actor_name_len;
    a.photo_id = photo;
    a.image_url = ph->image_url;
    a.image_url_len = ph->image_url_len;
    a.comment_id = id;
    a.text = text;
    a.text_len = strlen(text);
    a.created_at = created;

    return photo_activity_add(ctx, job, ph->owner, &a, 0);
}


static photo_job_rc_t
photo_comment_delete(photo_ctx_t *ctx, photo_job_t *job)
{
    int64_t          id, who, photo;
    const char      *unique;
    photo_job_rc_t   rc;

    if (photo_job_string(job, PHOTO_JOB_F_UNIQUE, 1, PHOTO_SOCIAL_UNIQUE_MAX,
                         &unique, NULL)
        || photo_job_id(job, PHOTO_JOB_F_ID, &id)
        || photo_job_id(job, PHOTO_JOB_F_USER_ID, &who))
    {
        return PHOTO_JOB_DEAD;
    }

    photo = 0;

    rc = photo_ctx_pg_begin(ctx, job);

    if (rc == PHOTO_JOB_DONE) {
        rc = photo_comment_remove(ctx, job, id, who, &photo);
        rc = photo_ctx_pg_end(ctx, job, rc);
    }

    /* also when an earlier run deleted it: it may have stopped here */
    if (rc == PHOTO_JOB_DONE && photo != 0) {
        rc = photo_object_store(ctx, job, photo);
    }

    if (rc == PHOTO_JOB_DONE) {
        photo_log_info("comment %" PRId64 " deleted by user %" PRId64, id,
                       who);
    }

    return rc;
}


/*
 * The comment out of comments and into comment_deletions (so that its
 * add, replayed, never brings it back; a delete that comes first leaves
 * the id there too), the count down, its entry out.  *photo: the photo
 * whose object is to be written again, 0 for none.
 */
static photo_job_rc_t
photo_comment_remove(photo_ctx_t *ctx, photo_job_t *job, int64_t id,
    int64_t who, int64_t *photo)
{
    int                   deleted;
    char                  ids[2][PHOTO_ID_BUF];
    int64_t               author;
    PGresult             *res;
    const char           *params[2];
    photo_job_rc_t        rc;
    photo_social_photo_t  ph;

    photo_id_format(ids[0], id);
    params[0] = ids[0];

    res = photo_ctx_pg(ctx, job, "select photo_id, user_id from comments"
                       " where id = $1", 1, params, &rc);
    if (res == NULL) {
        return rc;
    }

    if (PQntuples(res) == 0) {
        PQclear(res);

        /* deleted by an earlier run (its photo's object written again
           after), or never stored (the id kept out from now on) */
        res = photo_ctx_pg(ctx, job, "with ins as (insert into"
                           " comment_deletions (id) values ($1::bigint)"
                           " on conflict (id) do nothing)"
                           " select photo_id from comment_deletions"
                           " where id = $1::bigint", 1, params, &rc);
        if (res == NULL) {
            return rc;
        }

        if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0)) {
            *photo = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        }

        PQclear(res);

        return PHOTO_JOB_DONE;
    }

    *photo = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    author = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
    PQclear(res);

    memset(&ph, 0, sizeof(ph));

    rc = photo_social_photo(ctx, job, *photo, who, &ph);
    PQclear(ph.res);

    if (rc != PHOTO_JOB_DONE) {
        return rc;
    }

    if (ph.owner == 0) {
        /* the photo's purge takes its comments */
        *photo = 0;
        return PHOTO_JOB_DONE;
    }

    if (who != author && who != ph.owner) {
        /* nginx saw it was theirs to delete: a forged job */
        return photo_job_dead(job, "user %" PRId64 " may not delete comment "
                              "%" PRId64, who, id);
    }

    photo_id_format(ids[1], *photo);
    params[1] = ids[1];

    res = photo_ctx_pg(ctx, job, "with d as (delete from comments"
                       " where id = $1::bigint returning id),"
                       " ins as (insert into comment_deletions (id, photo_id)"
                       " values ($1::bigint, $2::bigint)"
                       " on conflict (id) do nothing)"
                       " select count(*) from d", 2, params, &rc);
    if (res == NULL) {
        return rc;
    }

    deleted = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);

    if (deleted) {
        res = photo_ctx_pg(ctx, job, "update photos set comment_count ="
                           " comment_count - 1 where id = $1", 1,
                           &params[1], &rc);
        PQclear(res);

        if (rc != PHOTO_JOB_DONE) {
            return rc;
        }
    }

    /* its entry: the photo's owner's, when it was another's comment */
    rc = photo_activity_lock(ctx, job, ph.owner);
    if (rc != PHOTO_JOB_DONE) {
        return rc;
    }

    res = photo_ctx_pg(ctx, job, "delete from activities where id = $1"
                       " and kind = 'comment' returning owner_id", 1, params,
                       &rc);
    if (res == NULL) {
        return rc;
    }

    if (PQntuples(res) == 1) {
        rc = photo_activity_pull(ctx, job,
                                 strtoll(PQgetvalue(res, 0, 0), NULL, 10),
                                 id);
    }

    PQclear(res);

    return rc;
}


/* ------------------------------------------------------------------ purge */


static photo_job_rc_t
photo_social_purge(photo_ctx_t *ctx, photo_job_t *job)
{
    int              more, exists;
    char             sid[PHOTO_ID_BUF];
    int64_t          photo;
    PGresult        *res;
    const char      *unique, *params[1];
    photo_job_rc_t   rc;

    if (photo_job_string(job, PHOTO_JOB_F_UNIQUE, 1, PHOTO_SOCIAL_UNIQUE_MAX,
                         &unique, NULL)
        || photo_job_id(job, PHOTO_JOB_F_ID, &photo))
    {
        return PHOTO_JOB_DEAD;
    }

    photo_id_format(sid, photo);
    params[0] = sid;

    res = photo_ctx_pg(ctx, job, "select exists (select 1 from photos"
                       " where id = $1)", 1, params, &rc);
    if (res == NULL) {
        return rc;
    }

    exists = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);

    if (exists) {
        /* the persist worker queues it once the row is gone */
        return photo_job_dead(job, "photo %s is not deleted", sid);
    }

    /* each batch in Redis, then its rows: a retry finds the rest */
    do {
        rc = photo_purge_likes(ctx, job, photo, &more);
    } while (rc == PHOTO_JOB_DONE && more);

    while (rc == PHOTO_JOB_DONE) {
        rc = photo_purge_activities(ctx, job, photo, &more);
        if (!more) {
            break;
        }
    }

    if (rc != PHOTO_JOB_DONE) {
        return rc;
    }

    res = photo_ctx_pg(ctx, job, "delete from comments where photo_id = $1",
                       1, params, &rc);
    if (res == NULL) {
        return rc;
    }

    photo_log_info("photo %s: likes, comments (%s) and activity purged",
                   sid, PQcmdTuples(res));
    PQclear(res);

    return PHOTO_JOB_DONE;
}


/* a batch of the photo's likers: out of their likes:{uid}, rows deleted */
static photo_job_rc_t
photo_purge_likes(photo_ctx_t *ctx, photo_job_t *job, int64_t photo,
    int *more)
{
    int              i, n, failed;
    char             sid[PHOTO_ID_BUF], batch[16], *users;
    int64_t         *likers;
    PGresult        *res;
    const char      *params[2];
    photo_job_rc_t   rc;

    *more = 0;

    rc = photo_ctx_pg_begin(ctx, job);
    if (rc != PHOTO_JOB_DONE) {
        return rc;
    }

    photo_id_format(sid, photo);
    snprintf(batch, sizeof(batch), "%d", PHOTO_SOCIAL_PURGE_BATCH);
    params[0] = sid;
    params[1] = batch;

    res = photo_ctx_pg(ctx, job, "select user_id from likes"
                       " where photo_id = $1 order by user_id limit $2", 2,
                       params, &rc);
    if (res == NULL) {
        return photo_ctx_pg_end(ctx, job, rc);
    }

    n = PQntuples(res);
    users = photo_social_ids(res, 0);
    likers = malloc((size_t) (n ? n : 1) * sizeof(int64_t));

    if (users == NULL || likers == NULL) {
        rc = photo_job_retry(job, "out of memory");
        goto done;
    }

    for (i = 0; i < n; i++) {
        likers[i] = strtoll(PQgetvalue(res, i, 0), NULL, 10);
    }

    rc = photo_social_lock_lists(ctx, job, PHOTO_REDIS_LIKES, users);
    if (rc != PHOTO_JOB_DONE || n == 0) {
        goto done;
    }

    /* ZREM from each, pipelined per node: nothing is rebuilt for a
       member that leaves (the list's rebuild reads the rows, gone too) */
    failed = photo_list_unfanout(&ctx->redis, PHOTO_REDIS_LIKES, likers,
                                 (size_t) n, photo);
    if (failed) {
        rc = photo_ctx_failed(job, PHOTO_BACKEND_REDIS, "%s",
                              failed == PHOTO_LIST_AWAY ? "unreachable"
                              : "the likers' lists not updated");
        goto done;
    }

    params[1] = users;

    PQclear(res);
    res = photo_ctx_pg(ctx, job, "delete from likes where photo_id = $1"
                       " and user_id = any($2::bigint[])", 2, params, &rc);

    *more = n == PHOTO_SOCIAL_PURGE_BATCH;

done:

    PQclear(res);
    free(users);
    free(likers);

    return photo_ctx_pg_end(ctx, job, rc);
}


/* a batch of the photo's activity entries: out of their lists, deleted */
static photo_job_rc_t
photo_purge_activities(photo_ctx_t *ctx, photo_job_t *job, int64_t photo,
    int *more)
{
    int              i, n;
    char             sid[PHOTO_ID_BUF], batch[16], *owners;
    PGresult        *res, *gone;
    const char      *params[2];
    photo_job_rc_t   rc;

    *more = 0;
    gone = NULL;
    owners = NULL;

    rc = photo_ctx_pg_begin(ctx, job);
    if (rc != PHOTO_JOB_DONE) {
        return rc;
    }

    photo_id_format(sid, photo);
    snprintf(batch, sizeof(batch), "%d", PHOTO_SOCIAL_PURGE_BATCH);
    params[0] = sid;
    params[1] = batch;

    res = photo_ctx_pg(ctx, job, "select owner_id from activities"
                       " where photo_id = $1 order by id limit $2", 2,
                       params, &rc);
    if (res == NULL) {
        return photo_ctx_pg_end(ctx, job, rc);
    }

    n = PQntuples(res);
    if (n == 0) {
        goto done;
    }

    owners = photo_social_ids(res, 0);
    if (owners == NULL) {
        rc = photo_job_retry(job, "out of memory");
        goto done;
    }

    rc = photo_social_lock_lists(ctx, job, PHOTO_REDIS_ACTIVITY, owners);
    if (rc != PHOTO_JOB_DONE) {
        goto done;
    }

    /* the rows first: a list rebuilt on the way reads them gone */
    gone = photo_ctx_pg(ctx, job, "delete from activities where id in"
                        " (select id from activities where photo_id = $1"
                        " order by id limit $2) returning id, owner_id", 2,
                        params, &rc);
    if (gone == NULL) {
        goto done;
    }

    for (i = 0; rc == PHOTO_JOB_DONE && i < PQntuples(gone); i++) {
        rc = photo_activity_pull(ctx, job,
                                 strtoll(PQgetvalue(gone, i, 1), NULL, 10),
                                 strtoll(PQgetvalue(gone, i, 0), NULL, 10));
    }

    *more = n == PHOTO_SOCIAL_PURGE_BATCH;

done:

    PQclear(res);
    PQclear(gone);
    free(owners);

    return photo_ctx_pg_end(ctx, job, rc);
}


/* ---------------------------------------------------------------- helpers */


/*
 * The photo's row, locked until the transaction ends, its owner and
 * image, and the actor's name.  FOR NO KEY UPDATE, not FOR SHARE: the
 * transaction then changes the row's counts, and two that each held a
 * share lock would wait for each other to update it (a deadlock).  It
 * also holds the photo's deletion back until the COMMIT, so its purge
 * finds what the transaction wrote.  ph->owner stays 0 when the photo is
 * gone; ph->res is the caller's to clear.
 */
static photo_job_rc_t
photo_social_photo(photo_ctx_t *ctx, photo_job_t *job, int64_t photo,
    int64_t actor, photo_social_photo_t *ph)
{
    char             ids[2][PHOTO_ID_BUF];
    const char      *params[2];
    photo_job_rc_t   rc;

    static const char  *sql =
        "select p.user_id, p.image_url,"
        " coalesce((select username from users where id = $2), '')"
        " from photos p where p.id = $1 for no key update";

    photo_id_format(ids[0], photo);
    photo_id_format(ids[1], actor);
    params[0] = ids[0];
    params[1] = ids[1];

    ph->res = photo_ctx_pg(ctx, job, sql, 2, params, &rc);
    if (ph->res == NULL) {
        return rc;
    }

    if (PQntuples(ph->res) == 0) {
        return PHOTO_JOB_DONE;
    }

    ph->owner = strtoll(PQgetvalue(ph->res, 0, 0), NULL, 10);
    ph->image_url = PQgetvalue(ph->res, 0, 1);
    ph->image_url_len = (size_t) PQgetlength(ph->res, 0, 1);
    ph->actor_name = PQgetvalue(ph->res, 0, 2);
    ph->actor_name_len = (size_t) PQgetlength(ph->res, 0, 2);

    return PHOTO_JOB_DONE;
}


/*
 * The lists <prefix>{<user>} of the users (an array literal) locked, in
 * one order for all (the lock's number), so that two purges never wait
 * for each other.
 */
static photo_job_rc_t
photo_social_lock_lists(photo_ctx_t *ctx, photo_job_t *job,
    const char *prefix, const char *users)
{
    PGresult        *res;
    const char      *params[2];
    photo_job_rc_t   rc;

    /* the names photo_key_list() makes, as photo_ctx_pg_lock() hashes */
    static const char  *sql =
        "select pg_advisory_xact_lock(h) from"
        " (select distinct hashtextextended($1 || '{' || u || '}', 0) h"
        " from unnest($2::bigint[]) u order by 1) s";

    params[0] = prefix;
    params[1] = users;

    res = photo_ctx_pg(ctx, job, sql, 2, params, &rc);
    PQclear(res);

    return rc;
}


/* column col of res as a Postgres array literal, "{1,2,...}" (malloc) */
static char *
photo_social_ids(PGresult *res, int col)
{
    int      i, n;
    char    *a, *p;

    n = PQntuples(res);

    a = malloc((size_t) n * (PHOTO_ID_BUF + 1) + 3);
    if (a == NULL) {
        return NULL;
    }

    p = a;
    *p++ = '{';

    for (i = 0; i < n; i++) {
        p += sprintf(p, "%s%s", i ? "," : "", PQgetvalue(res, i, col));
    }

    *p++ = '}';
    *p = '\0';

    return a;
}
