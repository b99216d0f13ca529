/*
 * photo_index: a photo with a location into Apache Solr, or out of it
 * (background job, from the persist worker; conf/solr/README.md).
 *
 *   add:    the document {"id","user_id","caption","created_at",
 *           "location":"lat,lng"} (Solr replaces a document with the same
 *           id, so a replay is harmless);
 *   delete: {"delete":{"id":…}} (deleting what is not there is no error).
 *
 * One document per job, on one kept-alive connection, made searchable by
 * commitWithin.  Batching several jobs into one update would need the jobs
 * held unanswered until Solr took the batch; libgearman v1's callback
 * worker (workers/lib/photo_worker.c) answers each job when its handler
 * returns, and answering before Solr took the document could lose it.
 * gearman_worker_grab_job could hold them, but in libgearman 1.1.20,
 * called outside gearman_worker_work(), a NO_JOB that follows a job leaves
 * the worker in its GRAB_JOB_SEND state with no connection selected, and
 * the next call dereferences NULL (seen here: SIGSEGV); it also returns
 * NO_JOBS without sending PRE_SLEEP, so the caller would poll gearmand.
 *
 * Solr away or answering 5xx: the job waits and is tried again (the worker
 * loop's backoff, with jitter), never dropped.  Solr refusing the document
 * (400): dead_letter:photo_index with Solr's own message.
 */

#include "photo_worker.h"
#include "photo_id.h"
#include "photo_log.h"
#include "photo_solr.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>


#define PHOTO_CAPTION_MAX_BYTES  (2200 * 4)     /* as photo_persist */
#define PHOTO_TEXT_MAX_BYTES     2048
#define PHOTO_CREATED_MAX        253402300799LL /* 9999-12-31T23:59:59Z */


static photo_job_rc_t photo_index(photo_ctx_t *ctx, photo_job_t *job);
static int photo_index_delete(photo_job_t *job, int *del);
static photo_job_rc_t photo_index_gen_add(photo_job_t *job, yajl_gen g,
    const char *id);
static photo_job_rc_t photo_index_send(photo_job_t *job, yajl_gen g,
    const char *id);


/* the worker's one Solr connection (a worker does one job at a time) */
static photo_solr_t  photo_index_solr;


static const photo_worker_function_t  photo_index_functions[] = {
    { PHOTO_JOB_INDEX, photo_index, PHOTO_JOB_BACKGROUND, NULL },
    { NULL, NULL, 0, NULL }
};


int
main(int argc, char **argv)
{
    int             rc;
    photo_worker_t  w;

    if (photo_worker_init(&w, argc, argv, "photo_index",
                          "Indexes photos with a location in Apache Solr "
                          "(PHOTO_SOLR_URL, the core's URL),\nfor nearby "
                          "search; deletes them from it.",
                          photo_index_functions)
        != 0)
    {
        return w.exit_code;
    }

    if (photo_solr_init(&photo_index_solr, w.cf.solr_url) != 0) {
        photo_worker_done(&w);
        return 1;
    }

    rc = photo_worker_run(&w);

    photo_worker_done(&w);
    photo_solr_free(&photo_index_solr);

    return rc;
}


static photo_job_rc_t
photo_index(photo_ctx_t *ctx, photo_job_t *job)
{
    int              del;
    char             sid[PHOTO_ID_BUF];
    int64_t          id;
    yajl_gen         g;
    const char      *unique;
    photo_job_rc_t   rc;

    if (photo_job_string(job, PHOTO_JOB_F_UNIQUE, 1, PHOTO_TEXT_MAX_BYTES,
                         &unique, NULL)
        || photo_job_id(job, PHOTO_JOB_F_ID, &id)
        || photo_index_delete(job, &del))
    {
        return PHOTO_JOB_DEAD;
    }

    photo_id_format(sid, id);

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return photo_job_retry(job, "out of memory");
    }

    if (del) {
        rc = yajl_gen_map_open(g) == yajl_gen_status_ok
             && yajl_gen_string(g, (const unsigned char *) "delete", 6)
                == yajl_gen_status_ok
             && photo_job_gen_pairs(g, "id", sid, NULL) == yajl_gen_status_ok
             && yajl_gen_map_close(g) == yajl_gen_status_ok
             ? PHOTO_JOB_DONE
             : photo_job_retry(job, "cannot write the delete request");

    } else {
        rc = photo_index_gen_add(job, g, sid);
    }

    if (rc == PHOTO_JOB_DONE) {
        rc = photo_index_send(job, g, sid);
    }

    yajl_gen_free(g);

    return rc;
}


/* "delete": absent (an add) or true */
static int
photo_index_delete(photo_job_t *job, int *del)
{
    yajl_val  v;

    const char  *path[] = { PHOTO_JOB_F_DELETE, NULL };

    v = yajl_tree_get(job->root, path, yajl_t_any);
    *del = v != NULL;

    if (v && !YAJL_IS_TRUE(v)) {
        photo_job_dead(job, "field \"%s\" is true or absent",
                       PHOTO_JOB_F_DELETE);
        return -1;
    }

    return 0;
}


/* [{"id","user_id","created_at","caption","location"}], checked first */
static photo_job_rc_t
photo_index_gen_add(photo_job_t *job, yajl_gen g, const char *id)
{
    int          has_lat, has_lng;
    char         suser[PHOTO_ID_BUF], created[32], location[64];
    double       lat, lng;
    time_t       t;
    int64_t      user_id, created_at;
    struct tm    tm;
    const char  *caption;

    if (photo_job_id(job, PHOTO_JOB_F_USER_ID, &user_id)
        || photo_job_string(job, PHOTO_JOB_F_CAPTION, 0,
                            PHOTO_CAPTION_MAX_BYTES, &caption, NULL)
        || photo_job_coord(job, PHOTO_JOB_F_LAT, -90, 90, &lat, &has_lat)
        || photo_job_coord(job, PHOTO_JOB_F_LNG, -180, 180, &lng, &has_lng)
        || photo_job_integer(job, PHOTO_JOB_F_CREATED_AT, 0,
                             PHOTO_CREATED_MAX, &created_at))
    {
        return PHOTO_JOB_DEAD;
    }

    if (!has_lat || !has_lng) {
        /* the index is for nearby search: persist queues located photos */
        return photo_job_dead(job, "fields \"%s\" and \"%s\" are required",
                              PHOTO_JOB_F_LAT, PHOTO_JOB_F_LNG);
    }

    t = (time_t) created_at;
    if (gmtime_r(&t, &tm) == NULL
        || strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm)
           == 0)
    {
        return photo_job_dead(job, "created_at %" PRId64 " is not a date",
                              created_at);
    }

    photo_id_format(suser, user_id);
    /* %.10g as the photo object: about 1 cm, no float noise */
    snprintf(location, sizeof(location), "%.10g,%.10g", lat, lng);

    if (yajl_gen_array_open(g) != yajl_gen_status_ok
        || photo_job_gen_pairs(g, "id", id, "user_id", suser,
                               "created_at", created, "caption", caption,
                               "location", location, NULL)
           != yajl_gen_status_ok
        || yajl_gen_array_close(g) != yajl_gen_status_ok)
    {
        return photo_job_retry(job, "cannot write the document");
    }

    return PHOTO_JOB_DONE;
}


static photo_job_rc_t
photo_index_send(photo_job_t *job, yajl_gen g, const char *id)
{
    char                  err[PHOTO_JOB_REASON];
    size_t                len;
    const unsigned char  *buf;

    yajl_gen_get_buf(g, &buf, &len);

    switch (photo_solr_update(&photo_index_solr, buf, len, err,
                              sizeof(err)))
    {
    case PHOTO_SOLR_OK:
        photo_log_info("photo %s %s solr", id,
                       buf[0] == '[' ? "added to" : "deleted from");
        return PHOTO_JOB_DONE;

    case PHOTO_SOLR_REJECTED:
        return photo_job_dead(job, "solr refused the document: %s", err);

    default:
        return photo_job_retry(job, "solr: %s", err);
    }
}
