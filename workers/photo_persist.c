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
 *   5. when PHOTO_SOLR_URL is set, a photo_index delete, unique
 *      unindex:<id>;
 *   6. its stored file, once no photo uses it, where this worker sees the
 *      files (PHOTO_MEDIA_ROOT).
 *
 * Each step is idempotent, so a retry or a replay runs them all again and
 * changes nothing that is already right.
 */

#include "photo_worker.h"
#include "photo_id.h"
#include "photo_list.h"
#include "photo_log.h"
#include "photo_object.h"

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


static photo_job_rc_t photo_persist(photo_ctx_t *ctx, photo_job_t *job);
static int photo_persist_decode(photo_job_t *job, photo_persist_row_t *row,
    int64_t *id, int64_t *user_id);
static photo_job_rc_t photo_persist_store(photo_ctx_t *ctx, photo_job_t *job,
    const photo_persist_row_t *row, int64_t user_id, yajl_gen object);
static photo_job_rc_t photo_persist_cache(photo_ctx_t *ctx, photo_job_t *job,
    int64_t id, yajl_gen object);
static photo_job_rc_t photo_persist_list(photo_ctx_t *ctx, photo_job_t *job,
    int64_t id, int64_t user_id);
static photo_job_rc_t photo_persist_index(photo_ctx_t *ctx,
    photo_job_t *job, const photo_persist_row_t *row);
static photo_job_rc_t photo_delete(photo_ctx_t *ctx, photo_job_t *job);
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
    { PHOTO_JOB_PERSIST, photo_persist, PHOTO_JOB_BACKGROUND, NULL },
    { PHOTO_JOB_DELETE, photo_delete, PHOTO_JOB_BACKGROUND, NULL },
    { NULL, NULL, 0, NULL }
};


int
main(int argc, char **argv)
{
    return photo_worker_main(argc, argv, "photo_persist",
                             "Stores new photos: the row in Postgres, the "
                             "object in memcached, the\nposter's list in "
                             "Redis, then queues the fan-out to the followers;"
                             "\nand takes deleted photos out of all of them.",
                             photo_persist_functions);
}


static photo_job_rc_t
photo_persist(photo_ctx_t *ctx, photo_job_t *job)
{
    int64_t               id, user_id;
    yajl_gen              object;
    photo_job_rc_t        rc;
    photo_persist_row_t   row;

    if (photo_persist_decode(job, &row, &id, &user_id) != 0) {
        return PHOTO_JOB_DEAD;
    }

    object = yajl_gen_alloc(NULL);
    if (object == NULL) {
        return photo_job_retry(job, "out of memory");
    }

    rc = photo_persist_store(ctx, job, &row, user_id, object);

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


/*
 * Insert the row (nothing when the id is there already), then read the
 * photo back as stored with its owner's name: the object is made from
 * what Postgres holds, so a replay, or a payload that differs from the row,
 * caches exactly what the module would make on a miss.
 */
static photo_job_rc_t
photo_persist_store(photo_ctx_t *ctx, photo_job_t *job,
    const photo_persist_row_t *row, int64_t user_id, yajl_gen object)
{
    PGresult        *res;
    photo_job_rc_t   rc;
    photo_object_t   p;
    const char      *params[10];

    static const char  *insert =
        "insert into photos (id, user_id, caption, media_path, image_url,"
        " width, height, lat, lng, created_at)"
        " select $1, u.id, $3, $4, $5, $6, $7, $8, $9, to_timestamp($10)"
        " from users u where u.id = $2"
        " and not exists (select 1 from photo_deletions d where d.id = $1)"
        " on conflict (id) do nothing";

    static const char  *select =
        "select p.user_id, u.username, p.caption, p.image_url, p.width,"
        " p.height, p.lat, p.lng,"
        " floor(extract(epoch from p.created_at))::bigint"
        " from photos p join users u on u.id = p.user_id where p.id = $1";

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

    res = photo_ctx_pg(ctx, job, insert, 10, params, &rc);
    if (res == NULL) {
        return rc;
    }

    PQclear(res);

    res = photo_ctx_pg(ctx, job, select, 1, params, &rc);
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

    memset(&p, 0, sizeof(p));
    p.id = strtoll(row->id, NULL, 10);
    p.user_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    p.username = PQgetvalue(res, 0, 1);
    p.username_len = (size_t) PQgetlength(res, 0, 1);
    p.caption = PQgetvalue(res, 0, 2);
    p.caption_len = (size_t) PQgetlength(res, 0, 2);
    p.image_url = PQgetvalue(res, 0, 3);
    p.image_url_len = (size_t) PQgetlength(res, 0, 3);
    p.width = atoi(PQgetvalue(res, 0, 4));
    p.height = atoi(PQgetvalue(res, 0, 5));
    p.has_location = !PQgetisnull(res, 0, 6);
    p.lat = strtod(PQgetvalue(res, 0, 6), NULL);
    p.lng = strtod(PQgetvalue(res, 0, 7), NULL);
    p.created_at = strtoll(PQgetvalue(res, 0, 8), NULL, 10);

    if (p.user_id != user_id) {
        PQclear(res);
        return photo_job_dead(job, "photo %s exists already, posted by "
                              "user %" PRId64 ", not by user %s", row->id,
                              p.user_id, row->user_id);
    }

    rc = photo_object_gen(object, &p) == yajl_gen_status_ok
         ? PHOTO_JOB_DONE
         : photo_job_dead(job, "the photo object cannot be written "
                          "(created_at out of range?)");

    PQclear(res);

    return rc;
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

    return photo_ctx_cache(ctx, job, key, buf, len);
}


static photo_job_rc_t
photo_persist_list(photo_ctx_t *ctx, photo_job_t *job, int64_t id,
    int64_t user_id)
{
    char           key[64];
    redisContext  *c;

    c = photo_ctx_redis(ctx, job);
    if (c == NULL) {
        return PHOTO_JOB_RETRY;
    }

    snprintf(key, sizeof(key), "%s%" PRId64, PHOTO_REDIS_USER_PHOTOS,
             user_id);

    if (photo_list_add(c, key, &id, 1, ctx->cf->feed_cap) != 0) {
        return photo_job_retry(job, "redis: %s not updated", key);
    }

    return PHOTO_JOB_DONE;
}


/* the payload of photo_index (contract/photo_contract.h), from the job's */
static photo_job_rc_t
photo_persist_index(photo_ctx_t *ctx, photo_job_t *job,
    const photo_persist_row_t *row)
{
    char                  unique[64];
    size_t                len;
    yajl_gen              g;
    photo_job_rc_t        rc;
    const unsigned char  *buf;

#define photo_persist_key(k)  (const unsigned char *) k, sizeof(k) - 1

    snprintf(unique, sizeof(unique), "%s%s", PHOTO_INDEX_UNIQUE, row->id);

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return photo_job_retry(job, "out of memory");
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
        || yajl_gen_map_close(g)
        || yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok)
    {
        rc = photo_job_retry(job, "cannot write the index payload");

    } else {
        rc = photo_ctx_submit(ctx, job, PHOTO_JOB_INDEX, unique, buf, len);
    }

#undef photo_persist_key

#undef photo_persist_str

    yajl_gen_free(g);

    return rc;
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
    char           key[64];
    redisContext  *c;

    snprintf(key, sizeof(key), "%s%" PRId64, PHOTO_MC_PHOTO, id);

    if (photo_ctx_tombstone(ctx, job, key) != PHOTO_JOB_DONE) {
        return PHOTO_JOB_RETRY;
    }

    c = photo_ctx_redis(ctx, job);
    if (c == NULL) {
        return PHOTO_JOB_RETRY;
    }

    snprintf(key, sizeof(key), "%s%" PRId64, PHOTO_REDIS_USER_PHOTOS,
             user_id);

    if (photo_list_remove(c, key, &id, 1) != 0) {
        return photo_job_retry(job, "redis: %s not updated", key);
    }

    if (photo_persist_submit(ctx, job, PHOTO_JOB_FANOUT,
                             PHOTO_UNFANOUT_UNIQUE, id, user_id, 1)
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


/* {"unique":"<prefix><id>","id","user_id"[,"delete":true]} to function */
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
        || photo_persist_str(PHOTO_JOB_F_USER_ID) || photo_persist_str(suser)
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
