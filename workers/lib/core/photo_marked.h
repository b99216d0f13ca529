/*
 * Redis lists the social worker keeps whole: likes:{uid} and
 * activity:{uid} (photo_contract.h).  Unlike the feeds (photo_list.h),
 * which the module rebuilds on a read, nothing but the worker rebuilds
 * these, so it never changes one that lacks the completeness marker (never
 * built, or evicted): it rebuilds it from Postgres instead, the change
 * included, and the readers trust it again.
 *
 * The caller changes Postgres and the list in one transaction, holding
 * the list's lock (photo_ctx_pg_lock() on the key) from before its change
 * until its COMMIT: a rebuild then reads the caller's own change, and no
 * other writer of the list changes it meanwhile, so what the rebuild reads
 * is what the list must hold.  Redis is written before the COMMIT: a
 * worker that dies in between leaves the job to gearmand, whose replay
 * writes the same again.
 */

#ifndef PHOTO_MARKED_H
#define PHOTO_MARKED_H

#include <stddef.h>

#include "photo_ctx.h"

typedef enum {
    PHOTO_MARKED_ADD = 0,       /* ZADD member, then trim to cap */
    PHOTO_MARKED_REM,           /* ZREM member */
    PHOTO_MARKED_REM_ID         /* every "<member><PHOTO_ACTIVITY_SEP>...":
                                   an activity entry by its padded id */
} photo_marked_op_t;

typedef struct {
    const char         *key;
    int                 cap;        /* members kept beside the marker, by
                                       rank from the newest; 0: all */
    const char         *sql;        /* the members, one a row, column 0:
                                       written as the list holds them */
    int                 nparams;
    const char *const  *params;
} photo_marked_t;

/*
 * op on the list when it holds the marker; else the list made again from
 * Postgres (the marker and what sql gives, replacing whatever the key
 * held), atomically.  PHOTO_JOB_RETRY when Redis or Postgres failed.
 */
photo_job_rc_t photo_marked_change(photo_ctx_t *ctx, photo_job_t *job,
    const photo_marked_t *list, photo_marked_op_t op, const char *member,
    size_t len);

#endif /* PHOTO_MARKED_H */
