/* The photo object, rewritten by compare-and-swap (photo_object_store.h). */

#include "photo_object_store.h"
#include "photo_contract.h"
#include "photo_id.h"
#include "photo_log.h"
#include "photo_metrics.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


/*
 * Writers that keep overtaking each other on one photo: each round that
 * loses is one more gets and row read, so give the job back for a retry
 * (after a pause) rather than spin.
 */
#define PHOTO_OBJECT_STORE_ROUNDS  16


typedef struct {
    int             found;
    uint32_t        flags;
    uint64_t        cas;
    char           *value;          /* malloc */
    size_t          len;
} photo_object_cached_t;


static photo_job_rc_t photo_object_gets(memcached_st *mc, photo_job_t *job,
    const char *key, photo_object_cached_t *cached);
static photo_job_rc_t photo_object_round(photo_ctx_t *ctx, photo_job_t *job,
    memcached_st *mc, const char *key, const char *sid, int *again);


void
photo_object_row(photo_ctx_t *ctx, PGresult *res, int row,
    photo_object_t *p)
{
    memset(p, 0, sizeof(*p));

    p->id = strtoll(PQgetvalue(res, row, 0), NULL, 10);
    p->user_id = strtoll(PQgetvalue(res, row, 1), NULL, 10);
    p->username = PQgetvalue(res, row, 2);
    p->username_len = (size_t) PQgetlength(res, row, 2);
    p->caption = PQgetvalue(res, row, 3);
    p->caption_len = (size_t) PQgetlength(res, row, 3);
    p->image_url = PQgetvalue(res, row, 4);
    p->image_url_len = (size_t) PQgetlength(res, row, 4);
    p->width = atoi(PQgetvalue(res, row, 5));
    p->height = atoi(PQgetvalue(res, row, 6));
    p->has_location = !PQgetisnull(res, row, 7);
    p->lat = strtod(PQgetvalue(res, row, 7), NULL);
    p->lng = strtod(PQgetvalue(res, row, 8), NULL);
    p->created_at = strtoll(PQgetvalue(res, row, 9), NULL, 10);
    p->like_count = strtoll(PQgetvalue(res, row, 10), NULL, 10);
    p->comment_count = strtoll(PQgetvalue(res, row, 11), NULL, 10);
    p->media_path = PQgetvalue(res, row, 12);
    p->media_path_len = (size_t) PQgetlength(res, row, 12);

    if (!PQgetisnull(res, row, 13)
        && photo_object_images(p, PQgetvalue(res, row, 13),
                               (size_t) PQgetlength(res, row, 13)) != 0)
    {
        photo_log_warn("photo %" PRId64 ": images %s: not sizes, left out",
                       p->id, PQgetvalue(res, row, 13));
    }

    if (ctx != NULL && ctx->link_secret_len) {
        p->link_secret = ctx->link_secret;
        p->link_secret_len = ctx->link_secret_len;
        p->link_expires = photo_media_link_expires(p->id, time(NULL));
    }
}


photo_job_rc_t
photo_object_store(photo_ctx_t *ctx, photo_job_t *job, int64_t id)
{
    int              round, again;
    char             key[64], sid[PHOTO_ID_BUF];
    memcached_st    *mc;
    photo_job_rc_t   rc;

    mc = photo_ctx_memcached(ctx, job);
    if (mc == NULL) {
        return PHOTO_JOB_RETRY;
    }

    /* gets: each value comes with its CAS unique */
    (void) memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_SUPPORT_CAS, 1);

    snprintf(key, sizeof(key), "%s%" PRId64, PHOTO_MC_PHOTO, id);
    photo_id_format(sid, id);

    for (round = 0; round < PHOTO_OBJECT_STORE_ROUNDS; round++) {
        rc = photo_object_round(ctx, job, mc, key, sid, &again);

        if (rc != PHOTO_JOB_DONE || !again) {
            return rc;
        }

        photo_log_debug("%s: written by another meanwhile: again", key);
    }

    return photo_job_retry(job, "%s: overtaken by other writers %d times",
                           key, PHOTO_OBJECT_STORE_ROUNDS);
}


/* one gets, row, cas; *again: another writer came first */
static photo_job_rc_t
photo_object_round(photo_ctx_t *ctx, photo_job_t *job, memcached_st *mc,
    const char *key, const char *sid, int *again)
{
    size_t                 len;
    time_t                 until;
    uint32_t               flags;
    yajl_gen               g;
    PGresult              *res;
    photo_job_rc_t         rc;
    photo_object_t         p;
    struct timespec        start;
    memcached_return_t     mrc;
    photo_object_cached_t  cached;
    const unsigned char   *buf;

    *again = 0;

    rc = photo_object_gets(mc, job, key, &cached);
    if (rc != PHOTO_JOB_DONE) {
        return rc;
    }

    if (cached.found && cached.flags == PHOTO_MC_DELETED) {
        free(cached.value);
        return PHOTO_JOB_DONE;              /* the photo was deleted */
    }

    /* read after the gets: a commit before it is in what we write */
    res = photo_ctx_pg(ctx, job, PHOTO_OBJECT_SELECT " where p.id = $1", 1,
                       &sid, &rc);
    if (res == NULL) {
        free(cached.value);
        return rc;
    }

    g = yajl_gen_alloc(NULL);

    if (PQntuples(res) == 0 || g == NULL) {
        /* gone from Postgres: its delete leaves the tombstone */
        rc = g ? PHOTO_JOB_DONE : photo_job_retry(job, "out of memory");
        goto done;
    }

    photo_object_row(ctx, res, 0, &p);

    if (photo_object_gen(g, &p) != yajl_gen_status_ok
        || yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok)
    {
        /* the persist worker could not write it either: never cached */
        photo_log_warn("%s: the object cannot be written: not cached", key);
        rc = PHOTO_JOB_DONE;
        goto done;
    }

    if (cached.found && cached.len == len
        && memcmp(cached.value, buf, len) == 0)
    {
        rc = PHOTO_JOB_DONE;                /* as it is already */
        goto done;
    }

    if (len > PHOTO_MC_MAX_VALUE) {
        photo_log_warn("%s: object of %zu bytes is too big to cache", key,
                       len);
        rc = PHOTO_JOB_DONE;
        goto done;
    }

    flags = photo_object_flags(buf, len);
    until = (time_t) photo_media_cache_until(p.id, time(NULL));

    photo_metrics_call_begin(&start);

    if (cached.found) {
        mrc = memcached_cas(mc, key, strlen(key), (const char *) buf, len,
                            until, flags, cached.cas);
    } else {
        mrc = memcached_add(mc, key, strlen(key), (const char *) buf, len,
                            until, flags);
    }

    photo_metrics_call_end(PHOTO_BACKEND_MEMCACHED, &start);

    switch (mrc) {

    case MEMCACHED_SUCCESS:
        rc = PHOTO_JOB_DONE;
        break;

    /* another's cas or add came first, or the copy left (evicted): the
       next round reads what is there now */
    case MEMCACHED_DATA_EXISTS:
    case MEMCACHED_NOTSTORED:
    case MEMCACHED_NOTFOUND:
        *again = 1;
        rc = PHOTO_JOB_DONE;
        break;

    default:
        rc = photo_ctx_failed(job, PHOTO_BACKEND_MEMCACHED, "%s %s: %s",
                              cached.found ? "cas" : "add", key,
                              memcached_last_error_message(mc));
    }

done:

    if (g) {
        yajl_gen_free(g);
    }

    PQclear(res);
    free(cached.value);

    return rc;
}


/* the copy at key, if any, with its flags and CAS unique */
static photo_job_rc_t
photo_object_gets(memcached_st *mc, photo_job_t *job, const char *key,
    photo_object_cached_t *cached)
{
    size_t                klen;
    const char           *keys[1];
    struct timespec       start;
    memcached_result_st  *r;
    memcached_return_t    mrc;

    memset(cached, 0, sizeof(*cached));

    keys[0] = key;
    klen = strlen(key);

    photo_metrics_call_begin(&start);

    mrc = memcached_mget(mc, keys, &klen, 1);
    r = mrc == MEMCACHED_SUCCESS ? memcached_fetch_result(mc, NULL, &mrc)
                                 : NULL;

    if (r != NULL) {
        cached->found = 1;
        cached->flags = memcached_result_flags(r);
        cached->cas = memcached_result_cas(r);
        cached->len = memcached_result_length(r);
        cached->value = malloc(cached->len + 1);

        if (cached->value != NULL) {
            memcpy(cached->value, memcached_result_value(r), cached->len);
        }

        memcached_result_free(r);

        /* up to the END, so that the connection is ready for the cas */
        while ((r = memcached_fetch_result(mc, NULL, &mrc)) != NULL) {
            memcached_result_free(r);
        }

        mrc = MEMCACHED_END;
    }

    photo_metrics_call_end(PHOTO_BACKEND_MEMCACHED, &start);

    if (mrc != MEMCACHED_END && mrc != MEMCACHED_NOTFOUND
        && mrc != MEMCACHED_SUCCESS)
    {
        return photo_ctx_failed(job, PHOTO_BACKEND_MEMCACHED, "gets %s: %s",
                                key, memcached_last_error_message(mc));
    }

    if (cached->found && cached->value == NULL) {
        return photo_job_retry(job, "out of memory");
    }

    return PHOTO_JOB_DONE;
}
