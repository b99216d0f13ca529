
/*
 * The photo id generator; see the header for the layout.  State is the
 * last id given (its millisecond and sequence): the next one is the
 * current millisecond with sequence 0 when the clock has moved on, else
 * the next sequence number of the last millisecond, or the millisecond
 * after it.  So the generator never waits for the clock, and when it
 * cannot stay both increasing and close to the clock, it refuses.
 */

#include "ngx_photo_id.h"


#define NGX_PHOTO_ID_SHARD_SHIFT  PHOTO_ID_SEQ_BITS
#define NGX_PHOTO_ID_MS_SHIFT     (PHOTO_ID_SHARD_BITS + PHOTO_ID_SEQ_BITS)


int
ngx_photo_id_init(ngx_photo_id_gen_t *g, uint32_t shard,
    uint64_t max_ahead_ms)
{
    if (shard > NGX_PHOTO_ID_SHARD_MAX) {
        return -1;
    }

    g->last_ms = 0;
    g->seq = 0;
    g->shard = shard;
    g->max_ahead_ms = max_ahead_ms;

    return 0;
}


int
ngx_photo_id_next(ngx_photo_id_gen_t *g, uint64_t now_ms, int64_t *id)
{
    uint32_t  seq;
    uint64_t  ms;

    /* the epoch's own millisecond is not used: it could give id 0 */

    if (now_ms <= PHOTO_ID_EPOCH_MS) {
        return -1;
    }

    if (now_ms > g->last_ms) {
        ms = now_ms;
        seq = 0;

    } else if (g->seq < NGX_PHOTO_ID_SEQ_MAX) {
        /* the same millisecond, or the clock went back: keep counting */
        ms = g->last_ms;
        seq = g->seq + 1;

    } else {
        /* this millisecond is used up: borrow the next one */
        ms = g->last_ms + 1;
        seq = 0;
    }

    if (ms - now_ms > g->max_ahead_ms
        || ms - PHOTO_ID_EPOCH_MS >= NGX_PHOTO_ID_MS_LIMIT)
    {
        return -1;
    }

    g->last_ms = ms;
    g->seq = seq;

    *id = (int64_t) ((ms - PHOTO_ID_EPOCH_MS) << NGX_PHOTO_ID_MS_SHIFT
                     | (uint64_t) g->shard << NGX_PHOTO_ID_SHARD_SHIFT
                     | seq);

    return 0;
}


int
ngx_photo_id_decode(int64_t id, uint64_t *ms, uint32_t *shard,
    uint32_t *seq)
{
    uint64_t  u;

    if (id <= 0) {
        return -1;
    }

    u = (uint64_t) id;

    *ms = (u >> NGX_PHOTO_ID_MS_SHIFT) + PHOTO_ID_EPOCH_MS;
    *shard = (uint32_t) (u >> NGX_PHOTO_ID_SHARD_SHIFT)
             & NGX_PHOTO_ID_SHARD_MAX;
    *seq = (uint32_t) u & NGX_PHOTO_ID_SEQ_MAX;

    return 0;
}


int
ngx_photo_id_set_shard(ngx_photo_id_gen_t *g, uint32_t shard)
{
    if (shard > NGX_PHOTO_ID_SHARD_MAX) {
        return -1;
    }

    /*
     * The shard bits lie above the sequence: in the same millisecond an id
     * of a lower shard would be lower.  The last millisecond counts as
     * used up, so the next id is in a later one and still the greatest.
     */
    g->shard = shard;
    g->seq = NGX_PHOTO_ID_SEQ_MAX;

    return 0;
}
