/*
 * The photo object from Postgres, and into memcached over a copy that may
 * be there.
 *
 * Its counts change (photo_like, photo_comment), and several workers may
 * write one photo's object at once, each with the counts its own
 * transaction saw.  So a rewrite is a compare-and-swap: the cached copy
 * read (gets), then the row (the counts as they are now, every commit
 * before it included), then the object written back only if nobody wrote
 * it since (cas), else all again.  Whoever writes last read the counts
 * after every commit before its write.  An absent object is added (add
 * fails to another's add: again); a tombstone (PHOTO_MC_DELETED) is left
 * alone, and so is a photo that has left Postgres.
 */

#ifndef PHOTO_OBJECT_STORE_H
#define PHOTO_OBJECT_STORE_H

#include <libpq-fe.h>
#include <stdint.h>

#include "photo_ctx.h"
#include "photo_object.h"

/*
 * The object's columns, in photo_object_row()'s order; add the where
 * clause.
 */
#define PHOTO_OBJECT_SELECT                                                  \
    "select p.id, p.user_id, u.username, p.caption, p.image_url, p.width,"  \
    " p.height, p.lat, p.lng,"                                              \
    " floor(extract(epoch from p.created_at))::bigint,"                     \
    " p.like_count, p.comment_count, p.media_path, p.images"               \
    " from photos p join users u on u.id = p.user_id"

/*
 * row of a PHOTO_OBJECT_SELECT result as an object (pointing into res),
 * its links signed with ctx's secret (NULL or none: unsigned)
 */
void photo_object_row(photo_ctx_t *ctx, PGresult *res, int row,
    photo_object_t *p);

/*
 * photo:<id> written again with what Postgres holds now, by
 * compare-and-swap (above).  PHOTO_JOB_RETRY when memcached or Postgres
 * failed, or the object kept changing under it.
 */
photo_job_rc_t photo_object_store(photo_ctx_t *ctx, photo_job_t *job,
    int64_t id);

#endif /* PHOTO_OBJECT_STORE_H */
