
/*
 * New photo ids, Instagram-style (photo_contract.h):
 *
 *     63              23 22          10 9         0
 *     [ milliseconds    ][ shard       ][ sequence ]
 *       since PHOTO_ID_EPOCH_MS, 13 bits, 10 bits
 *
 * so ids sort by time and need no coordination: each generator owns a
 * shard, and issues at most 1024 ids per millisecond in it.  The top bit
 * of the 41 time bits is the sign bit of the int64: ids stay positive
 * for 2^40 ms (about 34.8 years, until 2060-11) after the epoch, and the
 * generator refuses from then on.
 *
 * Plain C with no nginx headers, so that it can be unit-tested.  The
 * caller passes the time in: it never reads a clock and never waits.
 *
 * Shards.  Ids are unique as long as no two live generators share a
 * shard.  The module's workers lease theirs from Redis, each for a while
 * (ngx_photo_shard.c, PHOTO_REDIS_ID_SHARD), and move to another shard
 * when their lease is over (ngx_photo_id_set_shard()).
 */

#ifndef _NGX_PHOTO_ID_H_INCLUDED_
#define _NGX_PHOTO_ID_H_INCLUDED_


#include <stdint.h>

#include "photo_contract.h"


#define NGX_PHOTO_ID_SHARD_MAX   ((1U << PHOTO_ID_SHARD_BITS) - 1)
#define NGX_PHOTO_ID_SEQ_MAX     ((1U << PHOTO_ID_SEQ_BITS) - 1)

/* milliseconds since the epoch: below this, the id is positive */
#define NGX_PHOTO_ID_MS_LIMIT                                                \
    (1ULL << (63 - PHOTO_ID_SHARD_BITS - PHOTO_ID_SEQ_BITS))


typedef struct {
    uint64_t             last_ms;       /* Unix ms of the last id, 0: none */
    uint32_t             seq;           /* its sequence number */
    uint32_t             shard;
    uint64_t             max_ahead_ms;  /* how far last_ms may run ahead of
                                           the clock */
} ngx_photo_id_gen_t;


/*
 * max_ahead_ms bounds what the generator borrows from the future, when
 * more than 1024 ids are asked for in a millisecond or the clock steps
 * back.  It is also how far ahead a generator that dies may have been: a
 * new one in its shard is safe once the clock has passed that.
 * Returns 0, or -1 when shard is over NGX_PHOTO_ID_SHARD_MAX.
 */
int ngx_photo_id_init(ngx_photo_id_gen_t *g, uint32_t shard,
    uint64_t max_ahead_ms);

/*
 * The next id, greater than every id g gave before.  now_ms: the wall
 * clock in milliseconds since the Unix epoch.  Returns 0 with *id set, or
 * -1 with g unchanged when no id can be given now: the clock is not after
 * PHOTO_ID_EPOCH_MS or is past the positive ids, or g would have to run more
 * than max_ahead_ms ahead of it (too many ids this millisecond, or the
 * clock stepped back that far).  Ids are never repeated: after a refusal
 * the generator gives ids again once the clock has caught up.
 */
int ngx_photo_id_next(ngx_photo_id_gen_t *g, uint64_t now_ms, int64_t *id);

/*
 * The parts of an id: Unix milliseconds, shard, sequence.  Returns 0, or
 * -1 for an id that is not positive.
 */
int ngx_photo_id_decode(int64_t id, uint64_t *ms, uint32_t *shard,
    uint32_t *seq);

/*
 * Moves g to another shard (its lease of the last one is over).  Its ids
 * go on growing: the next one is in a later millisecond than the last it
 * gave.  Returns 0, or -1 with g unchanged when shard is over
 * NGX_PHOTO_ID_SHARD_MAX.
 */
int ngx_photo_id_set_shard(ngx_photo_id_gen_t *g, uint32_t shard);


#endif /* _NGX_PHOTO_ID_H_INCLUDED_ */
