/*
 * Events that become push notifications: the follow, fan-out and social
 * workers hand each one to photo_notify as a background job.  Off unless
 * PHOTO_NOTIFY_ENABLED=1 (or PHOTO_APNS_URL / PHOTO_FCM_URL is set and
 * PHOTO_NOTIFY_ENABLED is not 0); a photo notifies each follower only with
 * PHOTO_NOTIFY_PHOTOS=1 as well, since it is one job per follower.
 */

#ifndef PHOTO_NOTIFY_EVENT_H
#define PHOTO_NOTIFY_EVENT_H

#include <stdint.h>

#include "photo_config.h"
#include "photo_ctx.h"

int photo_notify_enabled(const photo_config_t *cf);
int photo_notify_photos(const photo_config_t *cf);

/*
 * A photo_notify job for recipient: event "follow" or "photo", photo_id 0
 * when there is none.  The event id (follow:<actor>:<recipient>,
 * photo:<photo>:<recipient>) is the job's unique key, so a replayed
 * follow or fan-out queues nothing new, and the notify worker sends once.
 */
photo_job_rc_t photo_notify_submit(photo_ctx_t *ctx, photo_job_t *job,
    const char *event, int64_t recipient, int64_t actor, int64_t photo_id);

/*
 * The same for an event that is its own thing, about: a like (its request
 * id: like:<request id>:<recipient>) or a comment (its id), the photo's
 * id, and for a comment the start of its text ("" for none; at most
 * PHOTO_NOTIFY_TEXT_MAX bytes of it go, cut between characters).
 */
#define PHOTO_NOTIFY_TEXT_MAX  100

photo_job_rc_t photo_notify_submit_about(photo_ctx_t *ctx, photo_job_t *job,
    const char *event, int64_t about, int64_t recipient, int64_t actor,
    int64_t photo_id, const char *text);

#endif /* PHOTO_NOTIFY_EVENT_H */
