/*
 * photo_persist: a new photo, or a photo deleted, from nginx (background
 * jobs photo_persist and photo_delete).
 *
 * A new photo:
 *
 *   1. the row in photos (the id is nginx's: a replay inserts nothing, nor
 *      does a replay after the photo was deleted: photo_deletions);
 *   2. the photo object in memcached, made from the row as stored;
 *   3. the id into the poster's own list, user_photos:<user>;
 *   4. a photo_fanout job, unique fanout:<id>, for the followers' feeds;
 *   5. when the photo has a location and PHOTO_SOLR_URL is set, a
 *      photo_index job, unique index:<id>, for nearby search.
 *
 * A deleted photo (nginx checked that it is the user's own):
 *
 *   1. the row out of photos and into photo_deletions, in one statement;
 *   2. a tombstone at photo:<id> in memcached (PHOTO_MC_DELETED), which
 *      readers leave out and a late read-through cannot overwrite;
 *   3. the id out of user_photos:<user>;
 *   4. a photo_fanout job with "delete", unique unfanout:<id>, for the
 *      followers' feeds (a reader skips an id whose photo is gone, so the
 *      feeds may lag);
 *   5. a photo_social_purge job, unique unsocial:<id>, for its likes,
 *      comments and activity entries (photo_social.c);
 *   6. when PHOTO_SOLR_URL is set, a photo_index delete, unique
 *      unindex:<id>;
 *   7. its stored file, once no photo uses it, where this worker sees the
 *      files (PHOTO_MEDIA_ROOT).
 *
 * Each step is idempotent, so a retry or a replay runs them all again and
 * changes nothing that is already right.
 *
 * New photos are stored in groups (photo_worker.h, group commit): the
 * worker holds up to PHOTO_PERSIST_BATCH jobs at once, and the posts that
 * arrived while one group was stored are stored together: their rows in
 * one statement (a column each as an array, unnest()), read back with one
 * query, their list entries in one Redis round trip.  A poster
 * with at most PHOTO_FANOUT_INLINE followers has the photo fanned out to
 * them right here, in the same Redis round trip, instead of by a
 * photo_fanout job: gearmand, whose every job costs two writes to its
 * Redis queue, is what limits how many posts a second the stack applies.
 * A group that fails is retried job by job as any job is; a row the table
 * refuses sends the group through the one-by-one path, so that only that
 * job is dead-lettered.
 */

#include "photo_worker.h"
#include "photo_id.h"
#include "photo_keys.h"
#include "photo_list.h"
#include "photo_log.h"
#include "photo_notify_event.h"
#include "photo_object.h"
#include "photo_object_store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


#define PHOTO_CAPTION_MAX_BYTES  (2200 * 4)     /* Postgres counts chars */
#define PHOTO_TEXT_MAX_BYTES     2048
#define PHOTO_SIDE_MAX           100000
#define PHOTO_CREATED_MAX        253402300799LL /* 9999-12-31T23:59:59Z */

/* photo_persist_store(): the photo was deleted, nothing more to do */
#define PHOTO_JOB_DELETED        ((photo_job_rc_t) -1)

#define PHOTO_PERSIST_COLUMNS    10


typedef struct {
    char            id[PHOTO_ID_BUF];
    char            user_id[PHOTO_ID_BUF];
    char            width[16];
    char            height[16];
    char            lat[32];
    char            lng[32];
    char            created_at[24];
    const char     *caption;
    const char     *media_path;
    const char     *image_url;
    int             has_location;
} photo_persist_row_t;


/* a post of a group, as it goes through */
typedef struct {
    photo_job_t          *job;
    photo_persist_row_t   row;
    int64_t               id;
    int64_t               user_id;
    yajl_gen              object;
    int                   sized;         /* its upload's sizes are made */
    long                  followers;     /* of the poster */
    int64_t              *fans;          /* them, when fanned out here */
} photo_persist_item_t;


/*
 * An upload posted again has the sizes its first photo has (the media
 * worker made them; the bucket's keys are the upload's): the new row takes
 * them, and no photo_media job is queued for it.
 */
#define PHOTO_PERSIST_SIZED(mp)                                              \
    "(select q.images from photos q where q.media_path = " mp                \
    " and q.images is not null limit 1)"

/* a row (nothing when the id is there, or was deleted): $1..$10 */
static const char  *photo_persist_insert =
    "insert into photos (id, user_id, caption, media_path, image_url,"
    " width, height, lat, lng, created_at, images)"
    " select $1, u.id, $3, $4, $5, $6, $7, $8, $9, to_timestamp($10),"
    " " PHOTO_PERSIST_SIZED("$4")
    " from users u where u.id = $2"
    " and not exists (select 1 from photo_deletions d where d.id = $1)"
    " on conflict (id) do nothing";

/* the same for many rows at once: each parameter an array (a column) */
static const char  *photo_persist_insert_many =
    "insert into photos (id, user_id, caption, media_path, image_url,"
    " width, height, lat, lng, created_at, images)"
    " select t.id, u.id, t.caption, t.media_path, t.image_url, t.width,"
    " t.height, t.lat, t.lng, to_timestamp(t.created_at),"
    " " PHOTO_PERSIST_SIZED("t.media_path")
    " from unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[],"
    " $5::text[], $6::int[], $7::int[], $8::float8[], $9::float8[],"
    " $10::bigint[]) as t(id, user_id, caption, media_path, image_url,"
    " width, height, lat, lng, created_at)"
    " join users u on u.id = t.user_id"
    " where not exists (select 1 from photo_deletions d where d.id = t.id)"
    " on conflict (id) do nothing";

/*
 * photos as stored, with their owner's name and their counts: 0 for a new
 * photo, and what the social worker counted since for a replayed job
 * (photo_persist_object())
 */
static const char  *photo_persist_select_one =
    PHOTO_OBJECT_SELECT " where p.id = $1";
static const char  *photo_persist_select_any =
    PHOTO_OBJECT_SELECT " where p.id = any($1::bigint[])";


static photo_job_rc_t photo_persist(photo_ctx_t *ctx, photo_job_t *job);
static void photo_persist_batch(photo_ctx_t *ctx, photo_job_t **jobs,
    size_t n);
static int photo_persist_read_back(photo_ctx_t *ctx,
    photo_persist_item_t *items, size_t n);
static int photo_persist_followers(photo_ctx_t *ctx,
    photo_persist_item_t *items, size_t n);
static int photo_persist_lists(photo_ctx_t *ctx, photo_persist_item_t *items,
    size_t n);
static void photo_persist_params(const photo_persist_row_t *row,
    const char **params);
static photo_job_rc_t photo_persist_object(photo_ctx_t *ctx,
    photo_job_t *job, PGresult *res, int i, int64_t user_id,
    yajl_gen object, int *sized);
static char *photo_persist_id_array(photo_persist_item_t *items, size_t n,
    int posters);
static photo_job_rc_t photo_persist_insert_rows(photo_ctx_t *ctx,
    photo_job_t *job, const char **params, size_t n);
static int photo_persist_located(photo_ctx_t *ctx, photo_persist_item_t *it);
static int photo_persist_index_queue(photo_ctx_t *ctx,
    photo_persist_item_t *items, size_t n);
static photo_job_rc_t photo_persist_index_kick(photo_ctx_t *ctx,
    photo_job_t *job);
static int photo_persist_decode(photo_job_t *job, photo_persist_row_t *row,
    int64_t *id, int64_t *user_id);
static photo_job_rc_t photo_persist_store(photo_ctx_t *ctx, photo_job_t *job,
    const photo_persist_row_t *row, int64_t user_id, yajl_gen object,
    int *sized);
static photo_job_rc_t photo_persist_cache(photo_ctx_t *ctx, photo_job_t *job,
    int64_t id, yajl_gen object);
static photo_job_rc_t photo_persist_list(photo_ctx_t *ctx, photo_job_t *job,
    int64_t id, int64_t user_id);
static yajl_gen photo_persist_index_payload(const photo_persist_row_t *row);
static photo_job_rc_t photo_persist_index(photo_ctx_t *ctx,
    photo_job_t *job, const photo_persist_row_t *row);
static photo_job_rc_t photo_delete(photo_ctx_t *ctx, photo_job_t *job);
static photo_job_rc_t photo_health(photo_ctx_t *ctx, photo_job_t *job);
static photo_job_rc_t photo_delete_row(photo_ctx_t *ctx, photo_job_t *job,
    const char *id, const char *user_id, int *deleted, char *media_path);
static photo_job_rc_t photo_delete_followups(photo_ctx_t *ctx,
    photo_job_t *job, int64_t id, int64_t user_id);
static photo_job_rc_t photo_delete_media(photo_ctx_t *ctx, photo_job_t *job,
    const char *media_path);
static photo_job_rc_t photo_persist_submit(photo_ctx_t *ctx,
    photo_job_t *job, const char *function, const char *prefix, int64_t id,
    int64_t user_id, int del);


static const photo_worker_function_t  photo_persist_functions[] = {
    { .name = PHOTO_JOB_PERSIST, .handler = photo_persist,
      .kind = PHOTO_JOB_BACKGROUND, .batch = photo_persist_batch },
    { .name = PHOTO_JOB_DELETE, .handler = photo_delete,
      .kind = PHOTO_JOB_BACKGROUND },
    { .name = PHOTO_JOB_HEALTH, .handler = photo_health,
      .kind = PHOTO_JOB_BACKGROUND },
    { .name = NULL }
};


int
main(int argc, char **argv)
{
    int             rc;
    photo_worker_t  w;

    if (photo_worker_init(&w, argc, argv, "photo_persist",
                          "Stores new photos: the row in Postgres, the "
                          "object in memcached, the\nposter's list in "
                          "Redis, then the fan-out to the followers (here "
                          "for a few,\nelse queued); and takes deleted "
                          "photos out of all of them.",
                          photo_persist_functions)
        != 0)
    {
        return w.exit_code;
    }

    /* it fans out the photos of posters with few followers itself */
    photo_list_metrics();

    /* the most posts stored at once: one Gearman connection each */
    w.threads = (unsigned) (w.cf.persist_batch < PHOTO_WORKER_MAX_THREADS
                            ? w.cf.persist_batch : PHOTO_WORKER_MAX_THREADS);

    rc = photo_worker_run(&w);

    photo_worker_done(&w);

    return rc;
}


static photo_job_rc_t
photo_persist(photo_ctx_t *ctx, photo_job_t *job)
{
    int                   sized;
    int64_t               id, user_id;
    yajl_gen              object;
    photo_job_rc_t        rc;
    photo_persist_row_t   row;

    sized = 0;

    if (photo_persist_decode(job, &row, &id, &user_id) != 0) {
        return PHOTO_JOB_DEAD;
    }

    object = yajl_gen_alloc(NULL);
    if (object == NULL) {
        return photo_job_retry(job, "out of memory");
    }

    rc = photo_persist_store(ctx, job, &row, user_id, object, &sized);

    if (rc == PHOTO_JOB_DELETED) {
        photo_log_info("photo %" PRId64 " was deleted: not stored again",
                       id);
        yajl_gen_free(object);
        return PHOTO_JOB_DONE;
    }

    if (rc == PHOTO_JOB_DONE) {
        rc = photo_persist_cache(ctx, job, id, object);
    }

    if (rc == PHOTO_JOB_DONE) {
        rc = photo_persist_list(ctx, job, id, user_id);
    }

    if (rc == PHOTO_JOB_DONE) {
        rc = photo_persist_submit(ctx, job, PHOTO_JOB_FANOUT,
                                  PHOTO_FANOUT_UNIQUE, id, user_id, 0);
    }

    if (rc == PHOTO_JOB_DONE && row.has_location
        && ctx->cf->solr_url[0] != '\0')
    {
        rc = photo_persist_index(ctx, job, &row);
    }

    if (rc == PHOTO_JOB_DONE && ctx->cf->s3_url[0] != '\0' && !sized) {
        rc = photo_persist_submit(ctx, job, PHOTO_JOB_MEDIA,
                                  PHOTO_MEDIA_UNIQUE, id, user_id, 0);
    }

    if (rc == PHOTO_JOB_DONE) {
        photo_log_info("photo %" PRId64 " of user %" PRId64 " stored",
                       id, user_id);
    }

    yajl_gen_free(object);

    return rc;
}


/* the payload into SQL parameters (text), checked as the table would */
static int
photo_persist_decode(photo_job_t *job, photo_persist_row_t *row,
    int64_t *id, int64_t *user_id)
{
    int64_t      width, height, created;
    double       lat, lng;
    int          has_lat, has_lng;
    const char  *unique;

    if (photo_job_string(job, PHOTO_JOB_F_UNIQUE, 1, PHOTO_TEXT_MAX_BYTES,
                         &unique, NULL)
        || photo_job_id(job, PHOTO_JOB_F_ID, id)
        || photo_job_id(job, PHOTO_JOB_F_USER_ID, user_id)
        || photo_job_string(job, PHOTO_JOB_F_CAPTION, 0,
                            PHOTO_CAPTION_MAX_BYTES, &row->caption, NULL)
        || photo_job_string(job, PHOTO_JOB_F_MEDIA_PATH, 1,
                            PHOTO_TEXT_MAX_BYTES, &row->media_path, NULL)
        || photo_job_string(job, PHOTO_JOB_F_IMAGE_URL, 1,
                            PHOTO_TEXT_MAX_BYTES, &row->image_url, NULL)
        || photo_job_integer(job, PHOTO_JOB_F_WIDTH, 1, PHOTO_SIDE_MAX,
                             &width)
        || photo_job_integer(job, PHOTO_JOB_F_HEIGHT, 1, PHOTO_SIDE_MAX,
                             &height)
        || photo_job_coord(job, PHOTO_JOB_F_LAT, -90, 90, &lat, &has_lat)
        || photo_job_coord(job, PHOTO_JOB_F_LNG, -180, 180, &lng, &has_lng)
        || photo_job_integer(job, PHOTO_JOB_F_CREATED_AT, 0,
                             PHOTO_CREATED_MAX, &created))
    {
        return -1;
    }

    if (has_lat != has_lng) {
        photo_job_dead(job, "fields \"%s\" and \"%s\" come together",
                       PHOTO_JOB_F_LAT, PHOTO_JOB_F_LNG);
        return -1;
    }

    photo_id_format(row->id, *id);
    photo_id_format(row->user_id, *user_id);
    snprintf(row->width, sizeof(row->width), "%" PRId64, width);
    snprintf(row->height, sizeof(row->height), "%" PRId64, height);
    snprintf(row->created_at, sizeof(row->created_at), "%" PRId64, created);

    /* %.17g: the double exactly, as the object's %.10g is made from it */
    row->has_location = has_lat;
    snprintf(row->lat, sizeof(row->lat), "%.17g", lat);
    snprintf(row->lng, sizeof(row->lng), "%.17g", lng);

    return 0;
}


/* the parameters of photo_persist_insert, from a decoded row */
static void
photo_persist_params(const photo_persist_row_t *row, const char **params)
{
    params[0] = row->id;
    params[1] = row->user_id;
    params[2] = row->caption;
    params[3] = row->media_path;
    params[4] = row->image_url;
    params[5] = row->width;
    params[6] = row->height;
    params[7] = row->has_location ? row->lat : NULL;
    params[8] = row->has_location ? row->lng : NULL;
    params[9] = row->created_at;
}


/*
 * A group of new photos (see the top of this file).  Each job's rc says
 * what became of it; a step that fails leaves the jobs it did not finish
 * to be retried (every step is idempotent).
 */
static void
photo_persist_batch(photo_ctx_t *ctx, photo_job_t **jobs, size_t n)
{
    int                    located;
    size_t                 i, live, stored;
    photo_job_rc_t         rc, kick;
    photo_persist_item_t  *items, *it;
    const char           **params;

    items = calloc(n, sizeof(photo_persist_item_t));
    params = calloc(n * PHOTO_PERSIST_COLUMNS, sizeof(char *));

    if (items == NULL || params == NULL) {
        for (i = 0; i < n; i++) {
            jobs[i]->rc = photo_job_retry(jobs[i], "out of memory");
        }

        goto done;
    }

    live = 0;

    for (i = 0; i < n; i++) {
        it = &items[live];
        it->job = jobs[i];

        if (photo_persist_decode(jobs[i], &it->row, &it->id, &it->user_id)
            != 0)
        {
            jobs[i]->rc = PHOTO_JOB_DEAD;
            continue;
        }

        jobs[i]->rc = PHOTO_JOB_RETRY;
        photo_persist_params(&it->row,
                             &params[live * PHOTO_PERSIST_COLUMNS]);
        live++;
    }

    if (live == 0) {
        goto done;
    }

    rc = photo_persist_insert_rows(ctx, items[0].job, params, live);

    if (rc == PHOTO_JOB_DEAD) {
        /* a row the table refuses: each alone, so that only it is dead */
        photo_log_warn("a group of %zu posts was refused (%s): storing each "
                       "alone", live, items[0].job->reason);

        for (i = 0; i < live; i++) {
            items[i].job->attempt = items[0].job->attempt;
            items[i].job->rc = photo_persist(ctx, items[i].job);
        }

        goto done;
    }

    if (rc != PHOTO_JOB_DONE
        || photo_persist_read_back(ctx, items, live) != 0
        || photo_persist_followers(ctx, items, live) != 0)
    {
        goto retry;
    }

    /* the objects, best effort (photo_ctx_cache) */
    for (i = 0; i < live; i++) {
        if (items[i].object) {
            photo_persist_cache(ctx, items[i].job, items[i].id,
                                items[i].object);
        }
    }

    if (photo_persist_lists(ctx, items, live) != 0) {
        goto retry;
    }

    /* the located ones wait for Solr in index:pending; one job wakes the
       index worker for all of them */
    located = photo_persist_index_queue(ctx, items, live);
    if (located < 0) {
        goto retry;
    }

    kick = located ? photo_persist_index_kick(ctx, items[0].job)
                   : PHOTO_JOB_DONE;

    /* follow-up jobs: each post's own outcome from here */
    stored = 0;

    for (i = 0; i < live; i++) {
        it = &items[i];

        if (it->object == NULL) {
            continue;               /* dead, or deleted (done) */
        }

        rc = PHOTO_JOB_DONE;

        if (it->fans == NULL && it->followers > 0) {
            rc = photo_persist_submit(ctx, it->job, PHOTO_JOB_FANOUT,
                                      PHOTO_FANOUT_UNIQUE, it->id,
                                      it->user_id, 0);
        }

        if (rc == PHOTO_JOB_DONE && kick != PHOTO_JOB_DONE
            && photo_persist_located(ctx, it))
        {
            rc = photo_job_retry(it->job, "%s", items[0].job->reason);
        }

        /* its sized copies (photo_media.h), unless its upload has them */
        if (rc == PHOTO_JOB_DONE && ctx->cf->s3_url[0] != '\0'
            && !it->sized)
        {
            rc = photo_persist_submit(ctx, it->job, PHOTO_JOB_MEDIA,
                                      PHOTO_MEDIA_UNIQUE, it->id,
                                      it->user_id, 0);
        }

        it->job->rc = rc;
        stored += rc == PHOTO_JOB_DONE;
    }

    photo_log_info("%zu of %zu photos stored together", stored, n);

    goto done;

retry:

    for (i = 0; i < live; i++) {
        if (items[i].job->rc == PHOTO_JOB_RETRY && i > 0) {
            photo_job_retry(items[i].job, "%s", items[0].job->reason);
        }
    }

done:

    for (i = 0; items && i < n; i++) {
        if (items[i].object) {
            yajl_gen_free(items[i].object);
        }

        free(items[i].fans);
    }

    free(items);
    free(params);
}


/*
 * The group's rows as stored: each post gets its object, or its outcome
 * (deleted meanwhile: done; no such user: dead).  0, or -1 (retry).
 */
static int
photo_persist_read_back(photo_ctx_t *ctx, photo_persist_item_t *items,
    size_t n)
{
    int              row, rows;
    char            *ids;
    size_t           i;
    int64_t          id;
    PGresult        *res, *gone;
    photo_job_rc_t   rc;
    const char      *params[1];

    ids = photo_persist_id_array(items, n, 0);
    if (ids == NULL) {
        photo_job_retry(items[0].job, "out of memory");
        return -1;
    }

    params[0] = ids;

    res = photo_ctx_pg(ctx, items[0].job, photo_persist_select_any, 1,
                       params, &rc);
    gone = NULL;

    if (res != NULL && PQntuples(res) < (int) n) {
        /* the insert selected no user, or the photo was deleted */
        gone = photo_ctx_pg(ctx, items[0].job, "select id from"
                            " photo_deletions where id = any($1::bigint[])",
                            1, params, &rc);
    }

    free(ids);

    if (res == NULL || (gone == NULL && PQntuples(res) < (int) n)) {
        PQclear(res);
        return -1;
    }

    rows = PQntuples(res);

    for (i = 0; i < n; i++) {
        items[i].job->rc = PHOTO_JOB_RETRY;

        for (row = 0; row < rows; row++) {
            id = strtoll(PQgetvalue(res, row, 0), NULL, 10);

            if (id == items[i].id) {
                break;
            }
        }

        if (row < rows) {
            items[i].object = yajl_gen_alloc(NULL);

            if (items[i].object == NULL) {
                photo_job_retry(items[i].job, "out of memory");

            } else if (photo_persist_object(ctx, items[i].job, res, row,
                                            items[i].user_id,
                                            items[i].object,
                                            &items[i].sized)
                       != PHOTO_JOB_DONE)
            {
                items[i].job->rc = PHOTO_JOB_DEAD;
                yajl_gen_free(items[i].object);
                items[i].object = NULL;
            }

            continue;
        }

        for (row = 0; gone && row < PQntuples(gone); row++) {
            if (strtoll(PQgetvalue(gone, row, 0), NULL, 10) == items[i].id) {
                break;
            }
        }

        if (gone && row < PQntuples(gone)) {
            photo_log_info("photo %" PRId64 " was deleted: not stored "
                           "again", items[i].id);
            items[i].job->rc = PHOTO_JOB_DONE;

        } else {
            items[i].job->rc = photo_job_dead(items[i].job,
                                              "unknown user %s",
                                              items[i].row.user_id);
        }
    }

    PQclear(res);
    PQclear(gone);

    return 0;
}


/*
 * How many followers each poster has, and who they are when they are few
 * enough to be fanned out here (PHOTO_FANOUT_INLINE).  With push
 * notifications for photos on, the fan-out worker does it all (it queues
 * them).  0, or -1 (retry).
 */
static int
photo_persist_followers(photo_ctx_t *ctx, photo_persist_item_t *items,
    size_t n)
{
    int              row;
    char            *ids, *p, *end, limit[16];
    size_t           i, k;
    int64_t          poster;
    PGresult        *res;
    photo_job_rc_t   rc;
    const char      *params[2];

    static const char  *sql =
        "select followee, count(*),"
        " case when count(*) <= $2 then string_agg(follower::text, ',') end"
        " from follows where followee = any($1::bigint[]) group by followee";

    if (photo_notify_photos(ctx->cf)) {
        for (i = 0; i < n; i++) {
            items[i].followers = 1;     /* a fan-out job, whatever */
        }

        return 0;
    }

    ids = photo_persist_id_array(items, n, 1);
    if (ids == NULL) {
        photo_job_retry(items[0].job, "out of memory");
        return -1;
    }

    snprintf(limit, sizeof(limit), "%d", ctx->cf->fanout_inline);
    params[0] = ids;
    params[1] = limit;

    res = photo_ctx_pg(ctx, items[0].job, sql, 2, params, &rc);
    free(ids);

    if (res == NULL) {
        return -1;
    }

    for (row = 0; row < PQntuples(res); row++) {
        poster = strtoll(PQgetvalue(res, row, 0), NULL, 10);

        for (i = 0; i < n; i++) {
            if (items[i].user_id != poster || items[i].object == NULL) {
                continue;
            }

            items[i].followers = strtol(PQgetvalue(res, row, 1), NULL, 10);

            if (PQgetisnull(res, row, 2)) {
                continue;               /* too many: a fan-out job */
            }

            items[i].fans = malloc(items[i].followers * sizeof(int64_t));
            if (items[i].fans == NULL) {
                PQclear(res);
                photo_job_retry(items[0].job, "out of memory");
                return -1;
            }

            p = PQgetvalue(res, row, 2);

            for (k = 0; k < (size_t) items[i].followers && *p; k++) {
                items[i].fans[k] = strtoll(p, &end, 10);
                p = *end ? end + 1 : end;
            }

            items[i].followers = (long) k;
        }
    }

    PQclear(res);

    return 0;
}


/*
 * The posters' own lists and the feeds of the followers fanned out here,
 * in one pipelined Redis round trip for the lists.  0, or -1 (retry).
 */
static int
photo_persist_lists(photo_ctx_t *ctx, photo_persist_item_t *items, size_t n)
{
    int       rc;
    size_t    i, m;
    int64_t  *owners, *ids;

    owners = malloc(n * sizeof(int64_t));
    ids = malloc(n * sizeof(int64_t));

    if (owners == NULL || ids == NULL) {
        free(owners);
        free(ids);
        photo_job_retry(items[0].job, "out of memory");
        return -1;
    }

    for (i = 0, m = 0; i < n; i++) {
        if (items[i].object) {
            owners[m] = items[i].user_id;
            ids[m++] = items[i].id;
        }
    }

    /* each list on its node (photo_list.h) */
    rc = photo_list_add_each(&ctx->redis, PHOTO_REDIS_USER_PHOTOS, owners,
                             ids, m, ctx->cf->feed_cap);

    free(owners);
    free(ids);

    if (rc != 0) {
        photo_ctx_failed(items[0].job, PHOTO_BACKEND_REDIS, "%s",
                         rc == PHOTO_LIST_AWAY
                         ? "unreachable" : "the posters' lists not updated");
        return -1;
    }

    for (i = 0; i < n; i++) {
        if (items[i].object == NULL || items[i].fans == NULL
            || items[i].followers == 0)
        {
            continue;
        }

        rc = photo_list_fanout(&ctx->redis, PHOTO_REDIS_FEED, items[i].fans,
                               (size_t) items[i].followers, items[i].id,
                               ctx->cf->feed_cap);

        if (rc == PHOTO_LIST_AWAY) {
            photo_ctx_failed(items[0].job, PHOTO_BACKEND_REDIS,
                             "unreachable");
            return -1;
        }

        if (rc != 0) {
            photo_ctx_failed(items[0].job, PHOTO_BACKEND_REDIS,
                             "feeds of the followers of user %" PRId64
                             " not updated", items[i].user_id);
            return -1;
        }
    }

    return 0;
}


/*
 * n rows (params: n × PHOTO_PERSIST_COLUMNS, as photo_persist_params()
 * makes them) in one statement: a column each as an array literal.  One
 * plan, one executor run and one WAL flush for the group.
 */
static photo_job_rc_t
photo_persist_insert_rows(photo_ctx_t *ctx, photo_job_t *job,
    const char **params, size_t n)
{
    int              col;
    char            *p, *columns[PHOTO_PERSIST_COLUMNS];
    size_t           i, size;
    PGresult        *res;
    const char      *v, *arrays[PHOTO_PERSIST_COLUMNS];
    photo_job_rc_t   rc;

    rc = PHOTO_JOB_DONE;

    for (col = 0; col < PHOTO_PERSIST_COLUMNS; col++) {
        size = 3;

        for (i = 0; i < n; i++) {
            v = params[i * PHOTO_PERSIST_COLUMNS + col];
            size += v ? 2 * strlen(v) + 3 : sizeof("NULL,");
        }

        columns[col] = malloc(size);
        if (columns[col] == NULL) {
            rc = photo_job_retry(job, "out of memory");
            n = 0;
            break;
        }

        /* {"v","v",NULL}: each quoted, with \ before " and \ */
        p = columns[col];
        *p++ = '{';

        for (i = 0; i < n; i++) {
            v = params[i * PHOTO_PERSIST_COLUMNS + col];

            if (i) {
                *p++ = ',';
            }

            if (v == NULL) {
                memcpy(p, "NULL", 4);
                p += 4;
                continue;
            }

            *p++ = '"';

            for ( /* void */ ; *v; v++) {
                if (*v == '"' || *v == '\\') {
                    *p++ = '\\';
                }

                *p++ = *v;
            }

            *p++ = '"';
        }

        *p++ = '}';
        *p = '\0';
        arrays[col] = columns[col];
    }

    if (rc == PHOTO_JOB_DONE) {
        res = photo_ctx_pg(ctx, job, photo_persist_insert_many,
                           PHOTO_PERSIST_COLUMNS, arrays, &rc);
        PQclear(res);
    }

    while (col-- > 0) {
        free(columns[col]);
    }

    return rc;
}


/* a stored post that goes to Solr */
static int
photo_persist_located(photo_ctx_t *ctx, photo_persist_item_t *it)
{
    return it->object != NULL && it->row.has_location
           && ctx->cf->solr_url[0] != '\0';
}


/*
 * The located posts' photo_index payloads onto index:pending:<core>, as
 * the index worker itself queues the documents of photo_index jobs, in one
 * Redis round trip.  How many, or -1 (retry).
 */
static int
photo_persist_index_queue(photo_ctx_t *ctx, photo_persist_item_t *items,
    size_t n)
{
    int                   queued, failed;
    char                  key[PHOTO_CONFIG_STR + 32];
    size_t                i, len;
    yajl_gen              g;
    redisReply           *r;
    redisContext         *c;
    const unsigned char  *buf;

    snprintf(key, sizeof(key), "%s{%s}", PHOTO_REDIS_INDEX_PENDING,
             ctx->cf->solr_url);

    c = NULL;
    queued = 0;

    for (i = 0; i < n; i++) {
        if (!photo_persist_located(ctx, &items[i])) {
            continue;
        }

        if (c == NULL) {
            c = photo_ctx_redis_key(ctx, items[0].job, key, strlen(key));
            if (c == NULL) {
                return -1;
            }
        }

        g = photo_persist_index_payload(&items[i].row);
        if (g == NULL) {
            photo_job_retry(items[0].job, "cannot write an index payload");
            return -1;
        }

        yajl_gen_get_buf(g, &buf, &len);
        failed = redisAppendCommand(c, "RPUSH %s %b", key, buf, len)
                 != REDIS_OK;
        yajl_gen_free(g);

        if (failed) {
            photo_ctx_failed(items[0].job, PHOTO_BACKEND_REDIS,
                             "%s", c->errstr);
            return -1;
        }

        queued++;
    }

    for (i = 0; i < (size_t) queued; i++) {
        if (redisGetReply(c, (void **) &r) != REDIS_OK
            || r->type != REDIS_REPLY_INTEGER)
        {
            photo_ctx_failed(items[0].job, PHOTO_BACKEND_REDIS,
                             "RPUSH %s: %s", key,
                             r && r->type == REDIS_REPLY_ERROR ? r->str
                                                               : c->errstr);
            (void) photo_redis_failed(&ctx->redis, r);
            freeReplyObject(r);
            return -1;
        }

        freeReplyObject(r);
    }

    return queued;
}


/* the index worker, told that documents wait: one job while one waits */
static photo_job_rc_t
photo_persist_index_kick(photo_ctx_t *ctx, photo_job_t *job)
{
    static const char  payload[] =
        "{\"" PHOTO_JOB_F_UNIQUE "\":\"" PHOTO_INDEX_KICK_UNIQUE "\"}";

    return photo_ctx_submit(ctx, job, PHOTO_JOB_INDEX,
                            PHOTO_INDEX_KICK_UNIQUE,
                            (const unsigned char *) payload,
                            sizeof(payload) - 1);
}


/* "{id,id,...}" of the posts (or of their posters), as a Postgres array
   literal (malloc) */
static char *
photo_persist_id_array(photo_persist_item_t *items, size_t n, int posters)
{
    char    *a, *p;
    size_t   i;

    a = malloc(n * (PHOTO_ID_BUF + 1) + 3);
    if (a == NULL) {
        return NULL;
    }

    p = a;
    *p++ = '{';

    for (i = 0; i < n; i++) {
        p += sprintf(p, "%s%s", i ? "," : "",
                     posters ? items[i].row.user_id : items[i].row.id);
    }

    *p++ = '}';
    *p = '\0';

    return a;
}


/*
 * Insert the row (nothing when the id is there already), then read the
 * photo back as stored with its owner's name: the object is made from
 * what Postgres holds, so a replay, or a payload that differs from the row,
 * caches exactly what the module would make on a miss.
 */
static photo_job_rc_t
photo_persist_store(photo_ctx_t *ctx, photo_job_t *job,
    const photo_persist_row_t *row, int64_t user_id, yajl_gen object,
    int *sized)
{
    PGresult        *res;
    photo_job_rc_t   rc;
    const char      *params[PHOTO_PERSIST_COLUMNS];

    photo_persist_params(row, params);

    res = photo_ctx_pg(ctx, job, photo_persist_insert, PHOTO_PERSIST_COLUMNS,
                       params, &rc);
    if (res == NULL) {
        return rc;
    }

    PQclear(res);

    res = photo_ctx_pg(ctx, job, photo_persist_select_one, 1, params, &rc);
    if (res == NULL) {
        return rc;
    }

    if (PQntuples(res) != 1) {
        PQclear(res);

        /* the insert selected no user, or the photo was deleted */
        res = photo_ctx_pg(ctx, job, "select 1 from photo_deletions"
                           " where id = $1", 1, params, &rc);
        if (res == NULL) {
            return rc;
        }

        rc = PQntuples(res) ? PHOTO_JOB_DELETED
                            : photo_job_dead(job, "unknown user %s",
                                             row->user_id);
        PQclear(res);

        return rc;
    }

    rc = photo_persist_object(ctx, job, res, 0, user_id, object, sized);

    PQclear(res);

    return rc;
}


/*
 * Row i of a read back (PHOTO_OBJECT_SELECT) as the photo object, into
 * object.
 */
static photo_job_rc_t
photo_persist_object(photo_ctx_t *ctx, photo_job_t *job, PGresult *res,
    int i, int64_t user_id, yajl_gen object, int *sized)
{
    photo_object_t  p;

    photo_object_row(ctx, res, i, &p);
    *sized = p.has_images;

    if (p.user_id != user_id) {
        return photo_job_dead(job, "photo %" PRId64 " exists already, posted "
                              "by user %" PRId64 ", not by user %" PRId64,
                              p.id, p.user_id, user_id);
    }

    return photo_object_gen(object, &p) == yajl_gen_status_ok
           ? PHOTO_JOB_DONE
           : photo_job_dead(job, "the photo object cannot be written "
                            "(created_at out of range?)");
}


static photo_job_rc_t
photo_persist_cache(photo_ctx_t *ctx, photo_job_t *job, int64_t id,
    yajl_gen object)
{
    char                  key[64];
    size_t                len;
    const unsigned char  *buf;

    yajl_gen_get_buf(object, &buf, &len);

    if (len > PHOTO_MC_MAX_VALUE) {
        /* the module reads through from Postgres on a miss */
        photo_log_warn("photo %" PRId64 ": object of %zu bytes is too big "
                       "to cache", id, len);
        return PHOTO_JOB_DONE;
    }

    snprintf(key, sizeof(key), "%s%" PRId64, PHOTO_MC_PHOTO, id);

    return photo_ctx_cache(ctx, job, key, id, buf, len);
}


static photo_job_rc_t
photo_persist_list(photo_ctx_t *ctx, photo_job_t *job, int64_t id,
    int64_t user_id)
{
    int   rc;
    char  key[64];

    (void) photo_key_list(key, sizeof(key), PHOTO_REDIS_USER_PHOTOS, user_id);

    rc = photo_list_add(&ctx->redis, key, &id, 1, ctx->cf->feed_cap);

    if (rc == PHOTO_LIST_AWAY) {
        return photo_ctx_failed(job, PHOTO_BACKEND_REDIS, "unreachable");
    }

    if (rc != 0) {
        return photo_ctx_failed(job, PHOTO_BACKEND_REDIS,
                                "%s not updated", key);
    }

    return PHOTO_JOB_DONE;
}


/* the payload of photo_index (contract/photo_contract.h), from the job's;
   g holds it (the caller frees g); NULL when out of memory */
static yajl_gen
photo_persist_index_payload(const photo_persist_row_t *row)
{
    char      unique[64];
    yajl_gen  g;

#define photo_persist_key(k)  (const unsigned char *) k, sizeof(k) - 1

    snprintf(unique, sizeof(unique), "%s%s", PHOTO_INDEX_UNIQUE, row->id);

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return NULL;
    }

    /* lat, lng, created_at: numbers, as the persist payload has them */
    if (yajl_gen_map_open(g) != yajl_gen_status_ok
        || yajl_gen_string(g, photo_persist_key(PHOTO_JOB_F_UNIQUE))
        || yajl_gen_string(g, (const unsigned char *) unique, strlen(unique))
        || yajl_gen_string(g, photo_persist_key(PHOTO_JOB_F_ID))
        || yajl_gen_string(g, (const unsigned char *) row->id,
                           strlen(row->id))
        || yajl_gen_string(g, photo_persist_key(PHOTO_JOB_F_USER_ID))
        || yajl_gen_string(g, (const unsigned char *) row->user_id,
                           strlen(row->user_id))
        || yajl_gen_string(g, photo_persist_key(PHOTO_JOB_F_CAPTION))
        || yajl_gen_string(g, (const unsigned char *) row->caption,
                           strlen(row->caption))
        || yajl_gen_string(g, photo_persist_key(PHOTO_JOB_F_LAT))
        || yajl_gen_number(g, row->lat, strlen(row->lat))
        || yajl_gen_string(g, photo_persist_key(PHOTO_JOB_F_LNG))
        || yajl_gen_number(g, row->lng, strlen(row->lng))
        || yajl_gen_string(g, photo_persist_key(PHOTO_JOB_F_CREATED_AT))
        || yajl_gen_number(g, row->created_at, strlen(row->created_at))
        || yajl_gen_map_close(g))
    {
        yajl_gen_free(g);
        return NULL;
    }

#undef photo_persist_key

    return g;
}


/* a photo_index job for one photo (the one-by-one path) */
static photo_job_rc_t
photo_persist_index(photo_ctx_t *ctx, photo_job_t *job,
    const photo_persist_row_t *row)
{
    char                  unique[64];
    size_t                len;
    yajl_gen              g;
    photo_job_rc_t        rc;
    const unsigned char  *buf;

    g = photo_persist_index_payload(row);
    if (g == NULL) {
        return photo_job_retry(job, "cannot write the index payload");
    }

    snprintf(unique, sizeof(unique), "%s%s", PHOTO_INDEX_UNIQUE, row->id);
    yajl_gen_get_buf(g, &buf, &len);

    rc = photo_ctx_submit(ctx, job, PHOTO_JOB_INDEX, unique, buf, len);

    yajl_gen_free(g);

    return rc;
}


/* nginx's /health showed gearmand stores jobs: nothing more to do */
static photo_job_rc_t
photo_health(photo_ctx_t *ctx, photo_job_t *job)
{
    return PHOTO_JOB_DONE;
}


static photo_job_rc_t
photo_delete(photo_ctx_t *ctx, photo_job_t *job)
{
    int              deleted;
    char             sid[PHOTO_ID_BUF], suser[PHOTO_ID_BUF];
    char             media_path[PHOTO_TEXT_MAX_BYTES + 1];
    int64_t          id, user_id;
    const char      *unique;
    photo_job_rc_t   rc;

    if (photo_job_string(job, PHOTO_JOB_F_UNIQUE, 1, PHOTO_TEXT_MAX_BYTES,
                         &unique, NULL)
        || photo_job_id(job, PHOTO_JOB_F_ID, &id)
        || photo_job_id(job, PHOTO_JOB_F_USER_ID, &user_id))
    {
        return PHOTO_JOB_DEAD;
    }

    photo_id_format(sid, id);
    photo_id_format(suser, user_id);

    rc = photo_delete_row(ctx, job, sid, suser, &deleted, media_path);
    if (rc != PHOTO_JOB_DONE) {
        return rc;
    }

    if (!deleted) {
        /* nginx saw it was theirs: another user's photo gets here only
           through a forged job, and is left alone */
        return photo_job_dead(job, "photo %s is not a photo of user %s",
                              sid, suser);
    }

    rc = photo_delete_followups(ctx, job, id, user_id);

    if (rc == PHOTO_JOB_DONE) {
        rc = photo_delete_media(ctx, job, media_path);
    }

    if (rc == PHOTO_JOB_DONE) {
        photo_log_info("photo %s of user %s deleted", sid, suser);
    }

    return rc;
}


/*
 * The row out of photos and into photo_deletions, with its media path.
 * *deleted: the photo is the user's and is gone now (deleted by this job,
 * or by an earlier run of it, whose follow-ups are then run again);
 * media_path (PHOTO_TEXT_MAX_BYTES + 1): its file, or "" when unknown.
 */
static photo_job_rc_t
photo_delete_row(photo_ctx_t *ctx, photo_job_t *job, const char *id,
    const char *user_id, int *deleted, char *media_path)
{
    PGresult        *res;
    photo_job_rc_t   rc;
    const char      *params[2];

    static const char  *sql =
        "with d as (delete from photos where id = $1 and user_id = $2"
        " returning id, user_id, media_path),"
        " t as (insert into photo_deletions (id, user_id, media_path)"
        " select id, user_id, media_path from d on conflict (id) do nothing)"
        " select media_path from d"
        " union all select media_path from photo_deletions"
        " where id = $1 and user_id = $2"
        " limit 1";

    *deleted = 0;
    media_path[0] = '\0';

    params[0] = id;
    params[1] = user_id;

    res = photo_ctx_pg(ctx, job, sql, 2, params, &rc);
    if (res == NULL) {
        return rc;
    }

    *deleted = PQntuples(res) == 1;

    if (*deleted && PQgetlength(res, 0, 0) <= PHOTO_TEXT_MAX_BYTES) {
        memcpy(media_path, PQgetvalue(res, 0, 0), PQgetlength(res, 0, 0) + 1);
    }

    PQclear(res);

    return PHOTO_JOB_DONE;
}


static photo_job_rc_t
photo_delete_followups(photo_ctx_t *ctx, photo_job_t *job, int64_t id,
    int64_t user_id)
{
    int   rc;
    char  key[64];

    snprintf(key, sizeof(key), "%s%" PRId64, PHOTO_MC_PHOTO, id);

    if (photo_ctx_tombstone(ctx, job, key) != PHOTO_JOB_DONE) {
        return PHOTO_JOB_RETRY;
    }

    (void) photo_key_list(key, sizeof(key), PHOTO_REDIS_USER_PHOTOS, user_id);

    rc = photo_list_remove(&ctx->redis, key, &id, 1);

    if (rc == PHOTO_LIST_AWAY) {
        return photo_ctx_failed(job, PHOTO_BACKEND_REDIS, "unreachable");
    }

    if (rc != 0) {
        return photo_ctx_failed(job, PHOTO_BACKEND_REDIS,
                                "%s not updated", key);
    }

    if (photo_persist_submit(ctx, job, PHOTO_JOB_FANOUT,
                             PHOTO_UNFANOUT_UNIQUE, id, user_id, 1)
        != PHOTO_JOB_DONE)
    {
        return PHOTO_JOB_RETRY;
    }

    /* its likes, comments and activity entries (no user_id: the photo's
       likers and owners are in the rows) */
    if (photo_persist_submit(ctx, job, PHOTO_JOB_SOCIAL_PURGE,
                             PHOTO_UNSOCIAL_UNIQUE, id, 0, 0)
        != PHOTO_JOB_DONE)
    {
        return PHOTO_JOB_RETRY;
    }

    /* its objects in the bucket, once no photo uses the upload */
    if (ctx->cf->s3_url[0] != '\0'
        && photo_persist_submit(ctx, job, PHOTO_JOB_MEDIA,
                                PHOTO_UNMEDIA_UNIQUE, id, 0, 1)
           != PHOTO_JOB_DONE)
    {
        return PHOTO_JOB_RETRY;
    }

    if (ctx->cf->solr_url[0] == '\0') {
        return PHOTO_JOB_DONE;
    }

    /* whether it had a location is gone with the row: deleting a document
       that is not there is no error */
    return photo_persist_submit(ctx, job, PHOTO_JOB_INDEX,
                                PHOTO_UNINDEX_UNIQUE, id, user_id, 1);
}


/*
 * The deleted photo's file, once no photo uses it any more (a media id may
 * be posted more than once).  Asked after the row left photos, in a
 * statement of its own: of two deletes of the last two photos of a file,
 * the one asking last sees the other's row gone.  A worker that does not
 * see the files (another machine, another mount) leaves them, and says so.
 */
static photo_job_rc_t
photo_delete_media(photo_ctx_t *ctx, photo_job_t *job,
    const char *media_path)
{
    int              used;
    char             file[PHOTO_CONFIG_STR + PHOTO_TEXT_MAX_BYTES + 2];
    PGresult        *res;
    const char      *root, *params[1];
    struct stat      st;
    photo_job_rc_t   rc;

    root = ctx->cf->media_root;

    if (root[0] == '\0' || media_path[0] == '\0') {
        return PHOTO_JOB_DONE;
    }

    /* nginx writes <aa>/<name><ext>: nothing else is removed */
    if (media_path[0] == '/' || strstr(media_path, "..") != NULL) {
        photo_log_warn("media path \"%s\" is not under PHOTO_MEDIA_ROOT: "
                       "left", media_path);
        return PHOTO_JOB_DONE;
    }

    params[0] = media_path;

    res = photo_ctx_pg(ctx, job, "select exists (select 1 from photos"
                                 " where media_path = $1)",
                       1, params, &rc);
    if (res == NULL) {
        return rc;
    }

    used = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);

    if (used) {
        photo_log_debug("%s is used by another photo: kept", media_path);
        return PHOTO_JOB_DONE;
    }

    snprintf(file, sizeof(file), "%s/%s", root, media_path);

    if (unlink(file) == 0) {
        photo_log_info("%s removed", file);
        return PHOTO_JOB_DONE;
    }

    if (errno == ENOENT && stat(root, &st) == 0) {
        /* removed by an earlier run of this job */
        photo_log_debug("%s is gone already", file);
        return PHOTO_JOB_DONE;
    }

    photo_log_warn("cannot remove %s, left: %s", file, strerror(errno));

    return PHOTO_JOB_DONE;
}


/* {"unique":"<prefix><id>","id"[,"user_id"][,"delete":true]} to function
   (user_id 0: none) */
static photo_job_rc_t
photo_persist_submit(photo_ctx_t *ctx, photo_job_t *job,
    const char *function, const char *prefix, int64_t id, int64_t user_id,
    int del)
{
    char                  unique[64], sid[PHOTO_ID_BUF], suser[PHOTO_ID_BUF];
    size_t                len;
    yajl_gen              g;
    photo_job_rc_t        rc;
    const unsigned char  *buf;

    snprintf(unique, sizeof(unique), "%s%" PRId64, prefix, id);
    photo_id_format(sid, id);
    photo_id_format(suser, user_id);

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return photo_job_retry(job, "out of memory");
    }

#define photo_persist_str(s)                                                 \
    yajl_gen_string(g, (const unsigned char *) s, strlen(s))

    if (yajl_gen_map_open(g)
        || photo_persist_str(PHOTO_JOB_F_UNIQUE) || photo_persist_str(unique)
        || photo_persist_str(PHOTO_JOB_F_ID) || photo_persist_str(sid)
        || (user_id && (photo_persist_str(PHOTO_JOB_F_USER_ID)
                        || photo_persist_str(suser)))
        || (del && (photo_persist_str(PHOTO_JOB_F_DELETE)
                    || yajl_gen_bool(g, 1)))
        || yajl_gen_map_close(g)
        || yajl_gen_get_buf(g, &buf, &len))
    {
        rc = photo_job_retry(job, "cannot write the %s payload", function);

    } else {
        rc = photo_ctx_submit(ctx, job, function, unique, buf, len);
    }

#undef photo_persist_str

    yajl_gen_free(g);

    return rc;
}
