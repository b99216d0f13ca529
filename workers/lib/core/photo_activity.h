/*
 * The activity feed (photo_contract.h, "Likes and the activity feed"):
 * what happened to a user's photos and account, one row in activities per
 * entry, and the newest PHOTO_ACTIVITY_CAP of them in activity:{owner} as
 * "<padded id>:<entry>", the entry's JSON exactly as the API returns it.
 * The JSON is made once, when the row is, and read back from the row
 * ever after: a replay adds the same member, never a second one.
 *
 * Each call runs in the caller's transaction, after photo_activity_lock()
 * (photo_marked.h: the list is rebuilt from the rows when its marker is
 * missing).
 */

#ifndef PHOTO_ACTIVITY_H
#define PHOTO_ACTIVITY_H

#include <stddef.h>
#include <stdint.h>
#include <yajl/yajl_gen.h>

#include "photo_ctx.h"

typedef struct {
    int64_t         id;             /* a like's or a follow's request id, a
                                       comment's id */
    const char     *type;           /* "like", "comment", "follow" */
    int64_t         actor_id;
    const char     *actor_name;
    size_t          actor_name_len;
    int64_t         photo_id;       /* 0: no "photo" */
    const char     *image_url;
    size_t          image_url_len;
    int64_t         comment_id;     /* 0: no "comment" */
    const char     *text;
    size_t          text_len;
    int64_t         created_at;     /* seconds since the Unix epoch */
} photo_activity_t;

/* the entry's JSON, UTF-8 checked; anything but ok is an error */
yajl_gen_status photo_activity_gen(yajl_gen g, const photo_activity_t *a);

/* when an id was made (seconds since the Unix epoch): its top bits */
int64_t photo_activity_time(int64_t id);

/* activity:{owner}'s lock, until the transaction ends */
photo_job_rc_t photo_activity_lock(photo_ctx_t *ctx, photo_job_t *job,
    int64_t owner);

/*
 * a's row for owner (nothing when its id has one: that row's entry is
 * used), then its entry into activity:{owner}.  once: no row, and nothing
 * added, when a's actor has an entry of a's type for owner already (a
 * follow is told once per follower).  A photo_activity_t that cannot be
 * written (text not UTF-8) is a dead letter.
 */
photo_job_rc_t photo_activity_add(photo_ctx_t *ctx, photo_job_t *job,
    int64_t owner, const photo_activity_t *a, int once);

/* entry id out of activity:{owner} (the row is the caller's to delete) */
photo_job_rc_t photo_activity_pull(photo_ctx_t *ctx, photo_job_t *job,
    int64_t owner, int64_t id);

#endif /* PHOTO_ACTIVITY_H */
