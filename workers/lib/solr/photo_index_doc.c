/* A photo as Solr indexes it (see photo_index_doc.h). */

#include "photo_index_doc.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>


#define PHOTO_CAPTION_MAX_BYTES  (2200 * 4)     /* as photo_persist */
#define PHOTO_TEXT_MAX_BYTES     2048
#define PHOTO_CREATED_MAX        253402300799LL /* 9999-12-31T23:59:59Z */


int
photo_index_doc_parse(photo_job_t *job, photo_index_doc_t *d)
{
    int          has_lat, has_lng;
    double       lat, lng;
    int64_t      id, user_id, created_at;
    const char  *unique, *caption;

    if (photo_job_object(job) != 0
        || photo_job_string(job, PHOTO_JOB_F_UNIQUE, 1, PHOTO_TEXT_MAX_BYTES,
                            &unique, NULL)
        || photo_job_id(job, PHOTO_JOB_F_ID, &id)
        || photo_job_flag(job, PHOTO_JOB_F_DELETE, &d->del))
    {
        return -1;
    }

    if (d->del) {
        photo_id_format(d->id, id);
        return 0;
    }

    if (photo_job_id(job, PHOTO_JOB_F_USER_ID, &user_id)
        || photo_job_string(job, PHOTO_JOB_F_CAPTION, 0,
                            PHOTO_CAPTION_MAX_BYTES, &caption, NULL)
        || photo_job_coord(job, PHOTO_JOB_F_LAT, -90, 90, &lat, &has_lat)
        || photo_job_coord(job, PHOTO_JOB_F_LNG, -180, 180, &lng, &has_lng)
        || photo_job_integer(job, PHOTO_JOB_F_CREATED_AT, 0,
                             PHOTO_CREATED_MAX, &created_at))
    {
        return -1;
    }

    if (!has_lat || !has_lng) {
        /* the index is for nearby search: persist queues located photos */
        photo_job_dead(job, "fields \"%s\" and \"%s\" are required",
                       PHOTO_JOB_F_LAT, PHOTO_JOB_F_LNG);
        return -1;
    }

    if (photo_index_doc_set(d, id, user_id, caption, lat, lng, created_at)
        != 0)
    {
        photo_job_dead(job, "created_at %" PRId64 " is not a date",
                       created_at);
        return -1;
    }

    return 0;
}


int
photo_index_doc_set(photo_index_doc_t *d, int64_t id, int64_t user_id,
    const char *caption, double lat, double lng, int64_t created_at)
{
    time_t     t;
    struct tm  tm;

    d->del = 0;
    d->caption = caption;

    t = (time_t) created_at;
    if (gmtime_r(&t, &tm) == NULL
        || strftime(d->created, sizeof(d->created), "%Y-%m-%dT%H:%M:%SZ",
                    &tm)
           == 0)
    {
        return -1;
    }

    photo_id_format(d->id, id);
    photo_id_format(d->user_id, user_id);
    /* %.10g as the photo object: about 1 cm, no float noise */
    snprintf(d->location, sizeof(d->location), "%.10g,%.10g", lat, lng);

    return 0;
}


yajl_gen_status
photo_index_doc_gen(yajl_gen g, const photo_index_doc_t *d)
{
    yajl_gen_status  st;

    if (d->del) {
        st = yajl_gen_string(g, (const unsigned char *) "delete", 6);
        return st != yajl_gen_status_ok
               ? st : photo_job_gen_pairs(g, "id", d->id, NULL);
    }

    if ((st = yajl_gen_string(g, (const unsigned char *) "add", 3))
            != yajl_gen_status_ok
        || (st = yajl_gen_map_open(g)) != yajl_gen_status_ok
        || (st = yajl_gen_string(g, (const unsigned char *) "doc", 3))
           != yajl_gen_status_ok
        || (st = photo_job_gen_pairs(g, "id", d->id, "user_id", d->user_id,
                                     "created_at", d->created,
                                     "caption", d->caption,
                                     "location", d->location, NULL))
           != yajl_gen_status_ok)
    {
        return st;
    }

    return yajl_gen_map_close(g);
}
