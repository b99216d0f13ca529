/* Events for photo_notify (see photo_notify_event.h). */

#include "photo_notify_event.h"
#include "photo_contract.h"
#include "photo_id.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>


int
photo_notify_enabled(const photo_config_t *cf)
{
    if (cf->notify_enabled[0] != '\0') {
        return strcmp(cf->notify_enabled, "1") == 0;
    }

    /* configuring a push service says as much */
    return cf->apns_url[0] != '\0' || cf->fcm_url[0] != '\0';
}


int
photo_notify_photos(const photo_config_t *cf)
{
    return strcmp(cf->notify_photos, "1") == 0 && photo_notify_enabled(cf);
}


photo_job_rc_t
photo_notify_submit(photo_ctx_t *ctx, photo_job_t *job, const char *event,
    int64_t recipient, int64_t actor, int64_t photo_id)
{
    return photo_notify_submit_about(ctx, job, event,
                                     photo_id ? photo_id : actor, recipient,
                                     actor, photo_id, "");
}


photo_job_rc_t
photo_notify_submit_about(photo_ctx_t *ctx, photo_job_t *job,
    const char *event, int64_t about, int64_t recipient, int64_t actor,
    int64_t photo_id, const char *text)
{
    char                  unique[128], to[PHOTO_ID_BUF], from[PHOTO_ID_BUF],
                          photo[PHOTO_ID_BUF],
                          start[PHOTO_NOTIFY_TEXT_MAX + 1];
    size_t                len;
    yajl_gen              g;
    photo_job_rc_t        rc;
    const unsigned char  *buf;

    photo_id_format(to, recipient);
    photo_id_format(from, actor);
    photo_id_format(photo, photo_id);

    /* at most 7 + 8 + 2 * 19 + 2 bytes: within gearmand's 64 */
    snprintf(unique, sizeof(unique), "%s%s:%" PRId64 ":%s",
             PHOTO_NOTIFY_UNIQUE, event, about, to);

    /* the text's start, never half a UTF-8 character */
    len = strlen(text);

    if (len > PHOTO_NOTIFY_TEXT_MAX) {
        len = PHOTO_NOTIFY_TEXT_MAX;

        while (len > 0 && ((unsigned char) text[len] & 0xc0) == 0x80) {
            len--;
        }
    }

    memcpy(start, text, len);
    start[len] = '\0';

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return photo_job_retry(job, "out of memory");
    }

    /* a photo_id pair only when there is a photo, a text only when one
       was given (each ends the list early) */
    if (photo_job_gen_pairs(g, PHOTO_JOB_F_UNIQUE, unique,
                            PHOTO_JOB_F_USER_ID, to,
                            PHOTO_JOB_F_EVENT, event,
                            PHOTO_JOB_F_ACTOR, from,
                            photo_id ? PHOTO_JOB_F_PHOTO_ID : NULL, photo,
                            start[0] ? PHOTO_JOB_F_TEXT : NULL, start,
                            NULL)
        != yajl_gen_status_ok
        || yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok)
    {
        yajl_gen_free(g);
        return photo_job_retry(job, "out of memory");
    }

    rc = photo_ctx_submit(ctx, job, PHOTO_JOB_NOTIFY, unique, buf, len);

    yajl_gen_free(g);

    return rc;
}
